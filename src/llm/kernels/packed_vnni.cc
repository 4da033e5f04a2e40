// Q4_0 / Q8_0 matmul on weights repacked 16 rows at a time, AVX-512 VNNI (compiled with
// -mavx512f/bw/vl/vnni; used only when the CPU has them).
//
// Packed tile (16 rows × one 32-value block), the same size as the 16 source blocks:
//   Q4_0: 4 × 64 B — dword g of lane r = bytes 4g..4g+3 of row r's qs (k-group g: low nibbles,
//         k-group g+4: high nibbles), then 16 × f16 scales                          = 288 B
//   Q8_0: 8 × 64 B — dword g of lane r = row r's values 4g..4g+3 stored as q+128 (unsigned),
//         then 16 × f16 scales                                                      = 544 B
// One zmm lane accumulates one row, so activations are broadcast 4 bytes at a time and no
// horizontal sums are needed:  y[r] = Σ_b dw[r]·dx·(Σ u·x − off·Σx),  off = 8 (Q4_0) / 128 (Q8_0),
// u the unsigned weight codes; Σx per block comes with the quantized activations.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "llm/kernels/kernels.h"

// GCC 12 warns about the masked-intrinsic fallbacks inside its own AVX-512 headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pare::llm {
namespace {

constexpr int kRows = 16;
constexpr int kTokens = 8;

int64_t tile_bytes(gguf::GgmlType t) { return t == gguf::GgmlType::kQ4_0 ? 288 : 544; }

template <bool kQ4, int NT>
void tile_kernel(const uint8_t* w, int64_t nb, const QActs& a, int64_t t0, float* y, int64_t ldy) {
  __m512 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
  const int8_t* xq = a.q.data() + t0 * a.k;
  const float* xd = a.d.data() + t0 * nb;
  const int32_t* xs = a.sum.data() + t0 * nb;
  const int off = kQ4 ? 8 : 128;
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b, w += kQ4 ? 288 : 544) {
    // Two partial sums per token halve the dpbusd dependency chain (matters for few tokens).
    __m512i dot[NT], dot2[NT];
    for (int t = 0; t < NT; ++t) dot[t] = dot2[t] = _mm512_setzero_si512();
    if constexpr (kQ4) {
      for (int g = 0; g < 4; ++g) {
        const __m512i raw = _mm512_loadu_si512(w + 64 * g);
        const __m512i wl = _mm512_and_si512(raw, lo4), wh = _mm512_and_si512(_mm512_srli_epi16(raw, 4), lo4);
        for (int t = 0; t < NT; ++t) {
          const int8_t* x = xq + t * a.k + 32 * b;
          int32_t xl, xh;
          std::memcpy(&xl, x + 4 * g, 4);
          std::memcpy(&xh, x + 16 + 4 * g, 4);
          dot[t] = _mm512_dpbusd_epi32(dot[t], wl, _mm512_set1_epi32(xl));
          dot2[t] = _mm512_dpbusd_epi32(dot2[t], wh, _mm512_set1_epi32(xh));
        }
      }
    } else {
      for (int g = 0; g < 8; g += 2) {
        const __m512i wu = _mm512_loadu_si512(w + 64 * g), wu2 = _mm512_loadu_si512(w + 64 * g + 64);
        for (int t = 0; t < NT; ++t) {
          int32_t xv, xv2;
          std::memcpy(&xv, xq + t * a.k + 32 * b + 4 * g, 4);
          std::memcpy(&xv2, xq + t * a.k + 32 * b + 4 * g + 4, 4);
          dot[t] = _mm512_dpbusd_epi32(dot[t], wu, _mm512_set1_epi32(xv));
          dot2[t] = _mm512_dpbusd_epi32(dot2[t], wu2, _mm512_set1_epi32(xv2));
        }
      }
    }
    for (int t = 0; t < NT; ++t) dot[t] = _mm512_add_epi32(dot[t], dot2[t]);
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + (kQ4 ? 256 : 512))));
    for (int t = 0; t < NT; ++t) {
      const __m512i corr = _mm512_set1_epi32(off * xs[t * nb + b]);
      const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(dot[t], corr));
      acc[t] = _mm512_fmadd_ps(v, _mm512_mul_ps(dw, _mm512_set1_ps(xd[t * nb + b])), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) _mm512_storeu_ps(y + t * ldy, acc[t]);
}

template <bool kQ4>
void run_tile(const uint8_t* w, int64_t nb, const QActs& a, int64_t t0, int64_t nt, float* y, int64_t ldy) {
  switch (nt) {
    case 8: return tile_kernel<kQ4, 8>(w, nb, a, t0, y, ldy);
    case 7: return tile_kernel<kQ4, 7>(w, nb, a, t0, y, ldy);
    case 6: return tile_kernel<kQ4, 6>(w, nb, a, t0, y, ldy);
    case 5: return tile_kernel<kQ4, 5>(w, nb, a, t0, y, ldy);
    case 4: return tile_kernel<kQ4, 4>(w, nb, a, t0, y, ldy);
    case 3: return tile_kernel<kQ4, 3>(w, nb, a, t0, y, ldy);
    case 2: return tile_kernel<kQ4, 2>(w, nb, a, t0, y, ldy);
    default: return tile_kernel<kQ4, 1>(w, nb, a, t0, y, ldy);
  }
}

}  // namespace

namespace vnni {

int64_t packed_bytes(const WeightRef& w) {
  if ((w.type != gguf::GgmlType::kQ4_0 && w.type != gguf::GgmlType::kQ8_0) || w.n < kRows) return 0;
  return (w.n / kRows) * (w.k / 32) * tile_bytes(w.type);
}

void pack(const WeightRef& w, uint8_t* dst) {
  const int64_t nb = w.k / 32, tiles = w.n / kRows;
  const bool q4 = w.type == gguf::GgmlType::kQ4_0;
#pragma omp parallel for schedule(static)
  for (int64_t tile = 0; tile < tiles; ++tile) {
    uint8_t* o = dst + tile * nb * tile_bytes(w.type);
    for (int64_t b = 0; b < nb; ++b, o += tile_bytes(w.type)) {
      for (int r = 0; r < kRows; ++r) {
        const uint8_t* blk = w.data + (tile * kRows + r) * w.row_bytes + b * (q4 ? 18 : 34);
        const uint8_t* qs = blk + 2;
        for (int g = 0; g < (q4 ? 4 : 8); ++g)
          for (int j = 0; j < 4; ++j) o[64 * g + 4 * r + j] = q4 ? qs[4 * g + j] : static_cast<uint8_t>(qs[4 * g + j] + 128);
        std::memcpy(o + (q4 ? 256 : 512) + 2 * r, blk, 2);
      }
    }
  }
}

// Rows [0, 16·⌊N/16⌋) from the packed copy; the caller does the remaining rows.
void packed_matmul(const WeightRef& w, const QActs& a, int64_t T, float* y) {
  const int64_t nb = w.k / 32, tiles = w.n / kRows;
  const bool q4 = w.type == gguf::GgmlType::kQ4_0;
  const int64_t tb = nb * tile_bytes(w.type);
#pragma omp parallel if (w.n * w.k * T >= (1 << 18))
  {
    float buf[kTokens * kRows];
#pragma omp for schedule(static)
    for (int64_t tile = 0; tile < tiles; ++tile) {
      for (int64_t t0 = 0; t0 < T; t0 += kTokens) {
        const int64_t nt = std::min<int64_t>(kTokens, T - t0);
        if (q4) run_tile<true>(w.packed + tile * tb, nb, a, t0, nt, buf, kRows);
        else run_tile<false>(w.packed + tile * tb, nb, a, t0, nt, buf, kRows);
        for (int64_t t = 0; t < nt; ++t) std::memcpy(y + (t0 + t) * w.n + tile * kRows, buf + t * kRows, kRows * 4);
      }
    }
  }
}

}  // namespace vnni
}  // namespace pare::llm
