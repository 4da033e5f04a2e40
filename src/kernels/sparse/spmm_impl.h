// The sparse GEMV/GEMM of sparse_weight.h, compiled once per instruction set: included by
// spmm_avx512.cc, spmm_avx2.cc and spmm_generic.cc with PARE_SPMM_NS naming the namespace (each
// file has its own -m flags). Only raw pointers cross the boundary, so no inline function of
// another header is instantiated with wider instructions than the CPU may have.
// GCC 12 reports its own intrinsics (pmovzx, gather) as maybe-uninitialized: a known false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/sparse/sparse_weight.h"

namespace pare::kernels::sparse::PARE_SPMM_NS {
namespace {

#if defined(__AVX512F__)
constexpr int kW = 16;    // floats per vector
constexpr int kSets = 4;  // independent accumulator sets (FMA latency)
constexpr int kMaxMb = 64;
#elif defined(__AVX2__)
constexpr int kW = 8;
constexpr int kSets = 2;
constexpr int kMaxMb = 32;
#else
constexpr int kW = 4;
constexpr int kSets = 2;
constexpr int kMaxMb = 16;
#endif
inline int64_t min64(int64_t x, int64_t y) { return x < y ? x : y; }
typedef float vec __attribute__((vector_size(kW * 4)));

inline vec fma_v(vec x, float s, vec acc) {
#if defined(__AVX512F__)
  return (vec)_mm512_fmadd_ps((__m512)x, _mm512_set1_ps(s), (__m512)acc);
#elif defined(__AVX2__)
  return (vec)_mm256_fmadd_ps((__m256)x, _mm256_set1_ps(s), (__m256)acc);
#else
  return acc + x * s;
#endif
}

// Σ val[p..e)·a[idx[p..e)].
template <typename I>
inline float row_dot(const float* a, const I* idx, const float* val, int64_t p, int64_t e) {
  float s = 0.0f;
#if defined(__AVX512F__)
  auto load = [&](int64_t q) {
    if constexpr (sizeof(I) == 2) return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + q)));
    else return _mm512_loadu_si512(idx + q);
  };
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  for (; p + 32 <= e; p += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(val + p), _mm512_i32gather_ps(load(p), a, 4), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(val + p + 16), _mm512_i32gather_ps(load(p + 16), a, 4), acc1);
  }
  if (p + 16 <= e) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(val + p), _mm512_i32gather_ps(load(p), a, 4), acc0);
    p += 16;
  }
  s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
#elif defined(__AVX2__)
  auto load = [&](int64_t q) {
    if constexpr (sizeof(I) == 2) return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(idx + q)));
    else return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + q));
  };
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; p + 16 <= e; p += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(val + p), _mm256_i32gather_ps(a, load(p), 4), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(val + p + 8), _mm256_i32gather_ps(a, load(p + 8), 4), acc1);
  }
  __m256 t = _mm256_add_ps(acc0, acc1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  s = _mm_cvtss_f32(h);
#else
  float s1 = 0, s2 = 0, s3 = 0;
  for (; p + 4 <= e; p += 4) {
    s += val[p] * a[idx[p]];
    s1 += val[p + 1] * a[idx[p + 1]];
    s2 += val[p + 2] * a[idx[p + 2]];
    s3 += val[p + 3] * a[idx[p + 3]];
  }
  s += s1 + s2 + s3;
#endif
  for (; p < e; ++p) s += val[p] * a[idx[p]];
  return s;
}

template <typename I>
void gemv(const SpmmArgs& g, const I* idx) {
  const int64_t n = g.n;
  const int64_t* rp = g.row_ptr;
#pragma omp parallel for num_threads(g.threads) schedule(dynamic, 32) if (rp[n] >= 65536)
  for (int64_t j = 0; j < n; ++j) {
    const float s = row_dot(g.a, idx, g.val, rp[j], rp[j + 1]);
    g.y[j] = g.alpha * s + (g.bias ? g.bias[j] : 0.0f);
  }
}

// Y rows in tiles of Mb = V·kW: A's tile is packed as Aᵀ [K, Mb] (zero-padded), then every
// output column accumulates v·Aᵀ[k] over its nonzeros, kSets nonzeros at a time.
template <int V, typename I>
void gemm(const SpmmArgs& g, const I* idx) {
  constexpr int64_t Mb = V * kW;
  constexpr int64_t kCols = 16;  // output columns per work item
  const int64_t K = g.k, N = g.n, M = g.m;
  const int64_t* rp = g.row_ptr;
  const float* val = g.val;
  float* panel = g.panel;
  const int64_t blocks = (N + kCols - 1) / kCols;
#pragma omp parallel num_threads(g.threads)
  {
    alignas(64) float tile[kCols][Mb];
    for (int64_t m0 = 0; m0 < M; m0 += Mb) {
      const int64_t mb = min64(Mb, M - m0);
      // Aᵀ in 16×16 blocks: the 16 A rows' cache lines of a block are read once from memory.
#pragma omp for schedule(static)
      for (int64_t k0 = 0; k0 < K; k0 += 16) {
        const int64_t kn = min64(16, K - k0);
        for (int64_t i0 = 0; i0 < Mb; i0 += 16) {
          const int64_t in = i0 < mb ? min64(16, mb - i0) : 0;
          for (int64_t kk = 0; kk < kn; ++kk) {
            float* dst = panel + (k0 + kk) * Mb + i0;
            const float* src = g.a + (m0 + i0) * K + k0 + kk;
            int64_t i = 0;
            for (; i < in; ++i) dst[i] = src[i * K];
            for (; i < 16; ++i) dst[i] = 0.0f;
          }
        }
      }
#pragma omp for schedule(dynamic, 1)
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t j0 = b * kCols, jn = min64(kCols, N - j0);
        for (int64_t jj = 0; jj < jn; ++jj) {
          vec acc[kSets][V];
#pragma GCC unroll 8
          for (int s = 0; s < kSets; ++s)
#pragma GCC unroll 8
            for (int t = 0; t < V; ++t) acc[s][t] = vec{};
          int64_t p = rp[j0 + jj];
          const int64_t e = rp[j0 + jj + 1];
          for (; p + kSets <= e; p += kSets) {
#pragma GCC unroll 8
            for (int s = 0; s < kSets; ++s) {
              const vec* r = reinterpret_cast<const vec*>(panel + static_cast<int64_t>(idx[p + s]) * Mb);
              const float v = val[p + s];
#pragma GCC unroll 8
              for (int t = 0; t < V; ++t) acc[s][t] = fma_v(r[t], v, acc[s][t]);
            }
          }
          for (; p < e; ++p) {
            const vec* r = reinterpret_cast<const vec*>(panel + static_cast<int64_t>(idx[p]) * Mb);
#pragma GCC unroll 8
            for (int t = 0; t < V; ++t) acc[0][t] = fma_v(r[t], val[p], acc[0][t]);
          }
#pragma GCC unroll 8
          for (int t = 0; t < V; ++t) {
            vec sum = acc[0][t];
#pragma GCC unroll 8
            for (int s = 1; s < kSets; ++s) sum += acc[s][t];
            *reinterpret_cast<vec*>(&tile[jj][t * kW]) = sum;
          }
        }
        for (int64_t i = 0; i < mb; ++i) {
          float* yr = g.y + (m0 + i) * N + j0;
          for (int64_t jj = 0; jj < jn; ++jj) yr[jj] = g.alpha * tile[jj][i] + (g.bias ? g.bias[j0 + jj] : 0.0f);
        }
      }
    }
  }
}

template <typename I>
void run(const SpmmArgs& g, const I* idx) {
  if (g.m == 1) return gemv(g, idx);
  constexpr int V1 = 16 / kW;  // 16-row tiles
  if (g.m <= 16 || kMaxMb == 16) return gemm<V1>(g, idx);
  if constexpr (kMaxMb >= 32) {
    if (g.m <= 32 || kMaxMb == 32) return gemm<2 * V1>(g, idx);
  }
  if constexpr (kMaxMb >= 64) return gemm<4 * V1>(g, idx);
}

}  // namespace

void spmm(const SpmmArgs& g) {
  if (g.idx16) {
    run(g, g.idx16);
  } else {
    run(g, g.idx32);
  }
}

}  // namespace pare::kernels::sparse::PARE_SPMM_NS
