// Body of the LLM kernels, included once per ISA by matmul_{generic,avx2,vnni}.cc with
// PARE_KERN_NS set to the namespace; the intrinsics paths follow the compiler's target macros.
// Preconditions (callers guarantee): K is a multiple of the weight type's block, QA (when used)
// has the same K and at least T rows.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "llm/kernels/kernels.h"

namespace pare::llm::PARE_KERN_NS {
namespace {

using gguf::BlockQ4_0;
using gguf::BlockQ8_0;
using gguf::GgmlType;

constexpr int kTileT = 4;    // tokens per micro-kernel call (weights decoded once for all)
constexpr int kTileN = 16;   // weight rows per cache block in prompt processing

inline float h2f(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return Float16::to_float(h);
#endif
}

#if defined(__AVX2__)
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// Σ over groups of four u8×s8 products into int32 lanes.
inline __m256i dot_u8s8(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}
#endif

template <int NT>
void q8_0_row(const BlockQ8_0* w, int64_t nb, const QActs& a, int64_t t0, float* out) {
  const int8_t* xq[NT];
  const float* xd[NT];
  for (int t = 0; t < NT; ++t) xq[t] = a.q.data() + (t0 + t) * a.k, xd[t] = a.d.data() + (t0 + t) * nb;
#if defined(__AVX2__)
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs));
    const __m256i wa = _mm256_sign_epi8(wv, wv);
    const float dw = h2f(w[b].d);
    for (int t = 0; t < NT; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[t] + 32 * b));
      const __m256i dot = dot_u8s8(wa, _mm256_sign_epi8(xv, wv));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dw * xd[t][b]), acc[t]);
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]);
#else
  for (int t = 0; t < NT; ++t) {
    float s = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int32_t d = 0;
      for (int j = 0; j < 32; ++j) d += w[b].qs[j] * xq[t][32 * b + j];
      s += h2f(w[b].d) * xd[t][b] * static_cast<float>(d);
    }
    out[t] = s;
  }
#endif
}

template <int NT>
void q4_0_row(const BlockQ4_0* w, int64_t nb, const QActs& a, int64_t t0, float* out) {
  const int8_t* xq[NT];
  const float *xd[NT], *xs[NT];
  for (int t = 0; t < NT; ++t)
    xq[t] = a.q.data() + (t0 + t) * a.k, xd[t] = a.d.data() + (t0 + t) * nb, xs[t] = a.ds.data() + (t0 + t) * nb;
  float corr[NT] = {};
#if defined(__AVX2__)
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs));
    const __m256i wu = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), lo4);
    const float dw = h2f(w[b].d);
    for (int t = 0; t < NT; ++t) {
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[t] + 32 * b));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8s8(wu, xv)), _mm256_set1_ps(dw * xd[t][b]), acc[t]);
      corr[t] += dw * xs[t][b];
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = hsum(acc[t]) - 8 * corr[t];
#else
  for (int t = 0; t < NT; ++t) {
    float s = 0;
    for (int64_t b = 0; b < nb; ++b) {
      int32_t d = 0;
      for (int j = 0; j < 16; ++j) d += (w[b].qs[j] & 0xF) * xq[t][32 * b + j] + (w[b].qs[j] >> 4) * xq[t][32 * b + 16 + j];
      const float dw = h2f(w[b].d);
      s += dw * xd[t][b] * static_cast<float>(d);
      corr[t] += dw * xs[t][b];
    }
    out[t] = s - 8 * corr[t];
  }
#endif
}

#include "llm/kernels/kquant_impl.h"

float dot_f32(const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  float s = 0;
#if defined(__AVX2__)
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  s = hsum(_mm256_add_ps(acc0, acc1));
#endif
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_f16_impl(const uint16_t* a, const float* b, int64_t n) {
  int64_t i = 0;
  float s = 0;
#if defined(__AVX2__) && defined(__F16C__)
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    const __m256 a0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    const __m256 a1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i + 8)));
    acc0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b + i + 8), acc1);
  }
  s = hsum(_mm256_add_ps(acc0, acc1));
#endif
  for (; i < n; ++i) s += h2f(a[i]) * b[i];
  return s;
}

void axpy_f16_impl(float alpha, const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
#if defined(__AVX2__) && defined(__F16C__)
  const __m256 av = _mm256_set1_ps(alpha);
  for (; i + 8 <= n; i += 8) {
    const __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, xv, _mm256_loadu_ps(y + i)));
  }
#endif
  for (; i < n; ++i) y[i] += alpha * h2f(x[i]);
}

void store_f16_impl(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
#endif
  for (; i < n; ++i) y[i] = Float16::from_float(x[i]);
}

float dot_q8_impl(const void* a, const float* b, int64_t n) {
  const auto* blk = static_cast<const BlockQ8_0*>(a);
  float s = 0;
#if defined(__AVX2__)
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / 32; ++i) {
    __m256 part = _mm256_setzero_ps();
    for (int j = 0; j < 32; j += 8) {
      const __m256 w = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk[i].qs + j))));
      part = _mm256_fmadd_ps(w, _mm256_loadu_ps(b + 32 * i + j), part);
    }
    acc = _mm256_fmadd_ps(part, _mm256_set1_ps(h2f(blk[i].d)), acc);
  }
  s = hsum(acc);
#else
  for (int64_t i = 0; i < n / 32; ++i) {
    float p = 0;
    for (int j = 0; j < 32; ++j) p += blk[i].qs[j] * b[32 * i + j];
    s += h2f(blk[i].d) * p;
  }
#endif
  return s;
}

void axpy_q8_impl(float alpha, const void* x, float* y, int64_t n) {
  const auto* blk = static_cast<const BlockQ8_0*>(x);
  for (int64_t i = 0; i < n / 32; ++i) {
    const float a = alpha * h2f(blk[i].d);
#if defined(__AVX2__)
    const __m256 av = _mm256_set1_ps(a);
    for (int j = 0; j < 32; j += 8) {
      const __m256 w = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk[i].qs + j))));
      _mm256_storeu_ps(y + 32 * i + j, _mm256_fmadd_ps(av, w, _mm256_loadu_ps(y + 32 * i + j)));
    }
#else
    for (int j = 0; j < 32; ++j) y[32 * i + j] += a * blk[i].qs[j];
#endif
  }
}

void quantize_acts_impl(const float* x, int64_t rows, int64_t k, QActs* out) {
  const int64_t nb = k / 32;
  out->rows = rows;
  out->k = k;
  out->q.resize(rows * k);
  out->d.resize(rows * nb);
  out->ds.resize(rows * nb);
  out->sum.resize(rows * nb);
#pragma omp parallel for schedule(static) if (rows * k >= 65536)
  for (int64_t i = 0; i < rows * nb; ++i) {
    const float* v = x + i * 32;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(v[j]));
    // As ggml's q8_0 rows: q = round-to-even(x·127/amax), the scale kept at half precision, so
    // that greedy outputs match llama.cpp's token for token.
    const float id = amax > 0 ? 127.0f / amax : 0.0f;
    int8_t* q = out->q.data() + i * 32;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      q[j] = static_cast<int8_t>(std::nearbyint(v[j] * id));
      sum += q[j];
    }
    const float d = h2f(Float16::from_float(amax / 127));
    out->d[i] = d;
    out->ds[i] = d * static_cast<float>(sum);
    out->sum[i] = sum;
  }
}

// One weight row against tokens [t0, t0+NT).
template <int NT>
void row_tile(const WeightRef& w, const uint8_t* row, const float* x, const QActs* qa, int64_t t0, float* deq, float* out) {
  const int64_t nb = w.k / 32;
  switch (w.type) {
    case GgmlType::kQ8_0: return q8_0_row<NT>(reinterpret_cast<const BlockQ8_0*>(row), nb, *qa, t0, out);
    case GgmlType::kQ4_0: return q4_0_row<NT>(reinterpret_cast<const BlockQ4_0*>(row), nb, *qa, t0, out);
    case GgmlType::kQ4_K: case GgmlType::kQ5_K: case GgmlType::kQ6_K: return qk_row<NT>(w.type, row, w.k / 256, *qa, t0, out);
    case GgmlType::kF32:
      for (int t = 0; t < NT; ++t) out[t] = dot_f32(reinterpret_cast<const float*>(row), x + (t0 + t) * w.k, w.k);
      return;
    case GgmlType::kF16:
      for (int t = 0; t < NT; ++t) out[t] = dot_f16_impl(reinterpret_cast<const uint16_t*>(row), x + (t0 + t) * w.k, w.k);
      return;
    default:
      (void)gguf::dequantize(w.type, row, deq, w.k);  // type validated when the model was built
      for (int t = 0; t < NT; ++t) out[t] = dot_f32(deq, x + (t0 + t) * w.k, w.k);
  }
}

void matmul_rows(const WeightRef& w, int64_t n_begin, const float* x, const QActs* qa, int64_t T, float* y);

void matmul_impl(const WeightRef& w, const float* x, const QActs* qa, int64_t T, float* y) {
#if defined(__AVX512VNNI__)
  if (w.packed && qa) {
    vnni::packed_matmul(w, *qa, T, y);
    const int64_t done = w.n / 16 * 16;
    if (done < w.n) matmul_rows(w, done, x, qa, T, y);
    return;
  }
#endif
  matmul_rows(w, 0, x, qa, T, y);
}

// Rows [n_begin, N) of Y, row by row (Y keeps its full row stride N).
void matmul_rows(const WeightRef& w, int64_t n_begin, const float* x, const QActs* qa, int64_t T, float* y) {
  const int64_t N = w.n;
  const bool needs_deq = !(uses_qacts(w.type) || w.type == GgmlType::kF32 || w.type == GgmlType::kF16);
  // Deq rows are dequantized once per (row, token tile); for those types tile tokens widely.
  const int64_t tile_n = T == 1 ? 1 : kTileN;
  const int64_t n_tiles = (N - n_begin + tile_n - 1) / tile_n;
  // Small products run on the calling thread: a fork/join costs more than they do.
#pragma omp parallel if ((N - n_begin) * w.k * T >= (1 << 18))
  {
    std::vector<float> deq(needs_deq ? w.k : 0);
#pragma omp for schedule(static)
    for (int64_t tile = 0; tile < n_tiles; ++tile) {
      const int64_t n0 = n_begin + tile * tile_n, n1 = std::min(N, n0 + tile_n);
      for (int64_t t0 = 0; t0 < T; t0 += kTileT) {
        const int64_t nt = std::min<int64_t>(kTileT, T - t0);
        for (int64_t n = n0; n < n1; ++n) {
          const uint8_t* row = w.data + n * w.row_bytes;
          float out[kTileT];
          switch (nt) {
            case 4: row_tile<4>(w, row, x, qa, t0, deq.data(), out); break;
            case 3: row_tile<3>(w, row, x, qa, t0, deq.data(), out); break;
            case 2: row_tile<2>(w, row, x, qa, t0, deq.data(), out); break;
            default: row_tile<1>(w, row, x, qa, t0, deq.data(), out); break;
          }
          for (int64_t t = 0; t < nt; ++t) y[(t0 + t) * N + n] = out[t];
        }
      }
    }
  }
}

}  // namespace

const KernelTable& table() {
  static const KernelTable t{PARE_KERN_NAME, matmul_impl, quantize_acts_impl, dot_f16_impl, axpy_f16_impl, store_f16_impl, dot_q8_impl, axpy_q8_impl};
  return t;
}

}  // namespace pare::llm::PARE_KERN_NS
