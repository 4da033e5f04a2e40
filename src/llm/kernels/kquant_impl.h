// K-quant rows (Q4_K, Q5_K, Q6_K) against int8 activations quantized per 32 values, included by
// matmul_impl.h inside the per-ISA namespace. Every 32-value activation block meets one Q4_K/Q5_K
// sub-block (6-bit scale sc, min m) or two Q6_K 16-value groups (int8 scales):
//   Q4_K/Q5_K: Σ_b dx_b·(d·sc_b·Σ q·qx − dmin·m_b·Σ qx)     q ∈ [0,15] / [0,31] unsigned
//   Q6_K:      Σ_b dx_b·d·(sc_2b·Σ_{16} w·qx + sc_2b+1·Σ_{16} w·qx),   w = q − 32 ∈ [−32,31]
// AVX2: u8×s8 byte dot products (VNNI dpbusd when compiled for it), one float FMA per block;
// Q6_K's signed codes use the sign trick |w|·sign(qx, w). Generic builds run the scalar loops.
#pragma once

template <int NT>
void qk_row(GgmlType type, const uint8_t* row, int64_t nsb, const QActs& a, int64_t t0, float* out) {
  const int64_t nb = nsb * 8;  // 32-value activation blocks per row
  const int8_t* xq[NT];
  const float *xd[NT], *xs[NT];
  for (int t = 0; t < NT; ++t)
    xq[t] = a.q.data() + (t0 + t) * a.k, xd[t] = a.d.data() + (t0 + t) * nb, xs[t] = a.ds.data() + (t0 + t) * nb;
  float corr[NT] = {};
#if defined(__AVX2__)
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
#else
  float acc[NT] = {};
#endif
  if (type == GgmlType::kQ6_K) {
    const auto* blk = reinterpret_cast<const gguf::BlockQ6_K*>(row);
    for (int64_t s = 0; s < nsb; ++s) {
      const float d = h2f(blk[s].d);
      for (int n2 = 0; n2 < 2; ++n2) {
        const uint8_t* ql = blk[s].ql + 64 * n2;
        const uint8_t* qh = blk[s].qh + 32 * n2;
        const int8_t* sc = blk[s].scales + 8 * n2;
#if defined(__AVX2__)
        const __m256i qh32 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
#endif
        for (int g = 0; g < 4; ++g) {
          const int64_t b = s * 8 + n2 * 4 + g;
#if defined(__AVX2__)
          const __m256i l32 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + (g & 1) * 32));
          const __m256i lo = g < 2 ? _mm256_and_si256(l32, lo4) : _mm256_and_si256(_mm256_srli_epi16(l32, 4), lo4);
          const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh32, 2 * g), _mm256_set1_epi8(3)), 4);
          const __m256i w = _mm256_sub_epi8(_mm256_or_si256(lo, hi), _mm256_set1_epi8(32));
          const __m256i wa = _mm256_sign_epi8(w, w);
          const __m256 s0 = _mm256_set_m128(_mm_set1_ps(d * sc[2 * g + 1]), _mm_set1_ps(d * sc[2 * g]));
          for (int t = 0; t < NT; ++t) {
            const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[t] + 32 * b));
            const __m256i dot = dot_u8s8(wa, _mm256_sign_epi8(xv, w));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(s0, _mm256_set1_ps(xd[t][b])), acc[t]);
          }
#else
          for (int t = 0; t < NT; ++t) {
            int32_t sum[2] = {0, 0};
            for (int l = 0; l < 32; ++l) {
              const int lo = g < 2 ? (ql[(g & 1) * 32 + l] & 0xF) : (ql[(g & 1) * 32 + l] >> 4);
              const int q = (lo | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
              sum[l / 16] += q * xq[t][32 * b + l];
            }
            acc[t] += xd[t][b] * d * (static_cast<float>(sc[2 * g]) * static_cast<float>(sum[0]) + static_cast<float>(sc[2 * g + 1]) * static_cast<float>(sum[1]));
          }
#endif
        }
      }
    }
  } else {  // Q4_K, Q5_K
    const bool five = type == GgmlType::kQ5_K;
    const int64_t bytes = five ? 176 : 144;
    for (int64_t s = 0; s < nsb; ++s) {
      const uint8_t* blk = row + s * bytes;
      const float d = h2f(static_cast<uint16_t>(blk[0] | (blk[1] << 8))), dmin = h2f(static_cast<uint16_t>(blk[2] | (blk[3] << 8)));
      const uint8_t* scales = blk + 4;
      const uint8_t* qh = blk + 16;
      const uint8_t* qs = blk + (five ? 48 : 16);
#if defined(__AVX2__)
      const __m256i qh32 = five ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh)) : _mm256_setzero_si256();
#endif
      for (int c = 0; c < 4; ++c) {
#if defined(__AVX2__)
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * c));
#endif
        for (int half = 0; half < 2; ++half) {
          const int64_t b = s * 8 + 2 * c + half;
          uint8_t sc, m;
          gguf::k_scale_min(2 * c + half, scales, &sc, &m);
          const float d1 = d * sc, m1 = dmin * m;
#if defined(__AVX2__)
          __m256i q = half ? _mm256_and_si256(_mm256_srli_epi16(raw, 4), lo4) : _mm256_and_si256(raw, lo4);
          if (five)
            q = _mm256_or_si256(q, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh32, 2 * c + half), 4), _mm256_set1_epi8(16)));
          for (int t = 0; t < NT; ++t) {
            const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[t] + 32 * b));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8s8(q, xv)), _mm256_set1_ps(d1 * xd[t][b]), acc[t]);
            corr[t] += m1 * xs[t][b];
          }
#else
          for (int t = 0; t < NT; ++t) {
            int32_t sum = 0;
            for (int l = 0; l < 32; ++l) {
              int q = half ? (qs[32 * c + l] >> 4) : (qs[32 * c + l] & 0xF);
              if (five && ((qh[l] >> (2 * c + half)) & 1)) q += 16;
              sum += q * xq[t][32 * b + l];
            }
            acc[t] += d1 * xd[t][b] * static_cast<float>(sum);
            corr[t] += m1 * xs[t][b];
          }
#endif
        }
      }
    }
  }
#if defined(__AVX2__)
  for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]) - corr[t];
#else
  for (int t = 0; t < NT; ++t) out[t] = acc[t] - corr[t];
#endif
}
