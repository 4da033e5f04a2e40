// The N:M GEMV/GEMM of nm_weight.h, compiled once per instruction set: included by
// nm_avx512.cc, nm_avx2.cc and nm_generic.cc with PARE_NM_NS naming the namespace (each file
// has its own -m flags, as spmm_impl.h). Only raw pointers cross the boundary.
//
// Lanes are the 16 output columns of a block. For each group g of M k's, the M values
// x[g·M .. g·M+M) of a row of A are broadcast into one register (M = 4: every 128-bit lane;
// M = 8: the low 256 bits); each of the N slots expands its code word into per-lane positions
// (one broadcast + one variable shift) and permutes x by them, then one FMA with its 16 values.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/sparse/nm_weight.h"

namespace pare::kernels::sparse::PARE_NM_NS {
namespace {

constexpr int64_t L = kNmLanes;
inline int64_t min64(int64_t x, int64_t y) { return x < y ? x : y; }

#if defined(__AVX512F__) || defined(__AVX2__)

#if defined(__AVX512F__)
constexpr int kW = 16;    // floats per vector
constexpr int kMaxR = 8;  // rows of A per tile
using V = __m512;
using I = __m512i;
inline V zero() { return _mm512_setzero_ps(); }
inline V load(const float* p) { return _mm512_load_ps(p); }
inline void store(float* p, V v) { _mm512_store_ps(p, v); }
inline V add(V x, V y) { return _mm512_add_ps(x, y); }
inline V fma(V x, V y, V acc) { return _mm512_fmadd_ps(x, y, acc); }
inline V bcast(float s) { return _mm512_set1_ps(s); }
template <int MM>
inline V xgroup(const float* p) {
  if constexpr (MM == 4) {
    return _mm512_broadcast_f32x4(_mm_loadu_ps(p));
  } else {
    return _mm512_castps256_ps512(_mm256_loadu_ps(p));  // vpermps reads index bits 0-3; bit 3 is 0
  }
}
template <int MM>
inline I ctrl(const void* code, int64_t s, int /*h*/) {
  if constexpr (MM == 4) {
    const I sh = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_srlv_epi32(_mm512_set1_epi32(static_cast<const int*>(code)[s]), sh);
  } else {
    const I sh = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
    return _mm512_srlv_epi32(_mm512_set1_epi64(static_cast<const long long*>(code)[s]), sh);
  }
}
template <int MM>
inline V perm(V xb, I c) {
  if constexpr (MM == 4) {
    return _mm512_permutevar_ps(xb, c);  // vpermilps: bits 0-1, within each 128-bit lane
  } else {
    return _mm512_permutexvar_ps(c, xb);  // vpermps: bits 0-3
  }
}
#else
constexpr int kW = 8;
constexpr int kMaxR = 4;  // 16 ymm registers
using V = __m256;
using I = __m256i;
inline V zero() { return _mm256_setzero_ps(); }
inline V load(const float* p) { return _mm256_load_ps(p); }
inline void store(float* p, V v) { _mm256_store_ps(p, v); }
inline V add(V x, V y) { return _mm256_add_ps(x, y); }
inline V fma(V x, V y, V acc) { return _mm256_fmadd_ps(x, y, acc); }
inline V bcast(float s) { return _mm256_set1_ps(s); }
template <int MM>
inline V xgroup(const float* p) {
  if constexpr (MM == 4) {
    return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(p));
  } else {
    return _mm256_loadu_ps(p);
  }
}
template <int MM>
inline I ctrl(const void* code, int64_t s, int h) {
  if constexpr (MM == 4) {
    const I sh = h == 0 ? _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14) : _mm256_setr_epi32(16, 18, 20, 22, 24, 26, 28, 30);
    return _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<const int*>(code)[s]), sh);
  } else {
    const I sh = h == 0 ? _mm256_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12) : _mm256_setr_epi32(16, 16, 20, 20, 24, 24, 28, 28);
    return _mm256_srlv_epi32(_mm256_set1_epi64x(static_cast<const long long*>(code)[s]), sh);
  }
}
template <int MM>
inline V perm(V xb, I c) {
  if constexpr (MM == 4) {
    return _mm256_permutevar_ps(xb, c);  // bits 0-1 within each 128-bit lane
  } else {
    return _mm256_permutevar8x32_ps(xb, c);  // bits 0-2
  }
}
#endif

constexpr int H = static_cast<int>(L / kW);  // vectors per block

// Rows r0 .. r0+R of A times the CB column blocks b .. b+CB; S independent accumulator sets
// (over groups). NN: the pattern's N when it is 1, 2 or 4 (unrolled), 0 for any other.
template <int MM, int NN, int R, int S, int CB = 1>
void tile(const NmArgs& g, int64_t b, int64_t r0) {
  constexpr int HB = CB * H;  // vectors per row of the tile
  const int64_t K = g.k, N = g.n, G = g.groups;
  const int nn = NN > 0 ? NN : g.nn;
  const float* val[CB];
  const void* code[CB];
#pragma GCC unroll 2
  for (int cb = 0; cb < CB; ++cb) {
    val[cb] = g.val + (b + cb) * G * nn * L;
    code[cb] = static_cast<const char*>(g.code) + (b + cb) * G * nn * (MM == 4 ? 4 : 8);
  }
  const float* a = g.a + r0 * K;
  V acc[S][R][HB];
#pragma GCC unroll 8
  for (int s = 0; s < S; ++s)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int h = 0; h < HB; ++h) acc[s][r][h] = zero();
  auto group = [&](int64_t gi, V(&ac)[R][HB]) __attribute__((always_inline)) {
    V xb[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) xb[r] = xgroup<MM>(a + r * K + gi * MM);
#pragma GCC unroll 4
    for (int i = 0; i < nn; ++i) {
      V vv[HB];
      I c[HB];
#pragma GCC unroll 4
      for (int h = 0; h < HB; ++h) {
        vv[h] = load(val[h / H] + (gi * nn + i) * L + (h % H) * kW);
        c[h] = ctrl<MM>(code[h / H], gi * nn + i, h % H);
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int h = 0; h < HB; ++h) ac[r][h] = fma(vv[h], perm<MM>(xb[r], c[h]), ac[r][h]);
    }
  };
  int64_t gi = 0;
  for (; gi + S <= G; gi += S) {
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s) group(gi + s, acc[s]);
  }
  for (; gi < G; ++gi) group(gi, acc[0]);
  for (int64_t t = 0; t < g.tail; ++t) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V xs = bcast(a[r * K + G * MM + t]);
#pragma GCC unroll 4
      for (int h = 0; h < HB; ++h) {
        const float* tv = g.tail_val + ((b + h / H) * g.tail + t) * L + (h % H) * kW;
        acc[0][r][h] = fma(load(tv), xs, acc[0][r][h]);
      }
    }
  }
  const int64_t j0 = b * L, lanes = min64(CB * L, N - j0);
  alignas(64) float out[CB * L];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int h = 0; h < HB; ++h) {
      V sum = acc[0][r][h];
#pragma GCC unroll 8
      for (int s = 1; s < S; ++s) sum = add(sum, acc[s][r][h]);
      store(out + h * kW, sum);
    }
    float* yr = g.y + (r0 + r) * N + j0;
    for (int64_t l = 0; l < lanes; ++l) yr[l] = g.alpha * out[l] + (g.bias ? g.bias[j0 + l] : 0.0f);
  }
}

// GEMM tiles: rows r .. r1 in tiles of kMaxR (then 4, 2, 1) over CB column blocks.
template <int MM, int NN, int CB>
void rows(const NmArgs& g, int64_t b, int64_t r, int64_t r1) {
  for (; r + kMaxR <= r1; r += kMaxR) tile<MM, NN, kMaxR, 1, CB>(g, b, r);
  if constexpr (kMaxR > 4) {
    if (r1 - r >= 4) {
      tile<MM, NN, 4, 1, CB>(g, b, r);
      r += 4;
    }
  }
  if (r1 - r >= 2) {
    tile<MM, NN, 2, 2, CB>(g, b, r);
    r += 2;
  }
  if (r1 - r >= 1) tile<MM, NN, 1, 4, CB>(g, b, r);
}

template <int MM, int NN>
void run(const NmArgs& g) {
  const int64_t M = g.m;
  const bool big = g.blocks * (g.groups * g.nn + g.tail) * L * M >= 65536;
  if (M == 1) {  // GEMV: 4 accumulator sets for FMA latency
#pragma omp parallel for num_threads(g.threads) schedule(dynamic, 4) if (big)
    for (int64_t b = 0; b < g.blocks; ++b) tile<MM, NN, 1, 4>(g, b, 0);
    return;
  }
  // GEMM: pairs of column blocks with AVX-512 (the x broadcasts serve 32 columns), else one.
  // With few column units per thread (small N), rows are split too, in multiples of kMaxR.
  constexpr int CB = kW == 16 ? 2 : 1;
  const int64_t units = (g.blocks + CB - 1) / CB;
  const int64_t want = 4 * static_cast<int64_t>(g.threads);
  int64_t chunk = M;
  if (g.threads > 1 && units < want) {
    const int64_t per = (M * units + want - 1) / want;
    chunk = min64(M, (per + kMaxR - 1) / kMaxR * kMaxR);
  }
  const int64_t chunks = (M + chunk - 1) / chunk;
#pragma omp parallel for num_threads(g.threads) schedule(dynamic, 1) if (big)
  for (int64_t item = 0; item < units * chunks; ++item) {
    const int64_t b = item / chunks * CB, r0 = item % chunks * chunk, r1 = min64(M, r0 + chunk);
    if (b + CB <= g.blocks) {
      rows<MM, NN, CB>(g, b, r0, r1);
    } else {
      rows<MM, NN, 1>(g, b, r0, r1);
    }
  }
}

template <int MM>
void run_n(const NmArgs& g) {
  switch (g.nn) {
    case 1: return run<MM, 1>(g);
    case 2: return run<MM, 2>(g);
    case 4: return run<MM, 4>(g);
    default: return run<MM, 0>(g);
  }
}

void dispatch(const NmArgs& g) {
  if (g.mm == 4) {
    run_n<4>(g);
  } else {
    run_n<8>(g);
  }
}

#else  // plain x86-64: scalar (correct everywhere; the plan does not pick nm on this build)

void dispatch(const NmArgs& g) {
  const int64_t K = g.k, N = g.n, G = g.groups, M = g.m;
  const int nn = g.nn, mm = g.mm;
  const bool big = g.blocks * (G * nn + g.tail) * L * M >= 65536;
#pragma omp parallel for num_threads(g.threads) schedule(dynamic, 4) if (big)
  for (int64_t b = 0; b < g.blocks; ++b) {
    const int64_t j0 = b * L, lanes = min64(L, N - j0);
    for (int64_t r = 0; r < M; ++r) {
      const float* a = g.a + r * K;
      float acc[L] = {};
      for (int64_t gi = 0; gi < G; ++gi) {
        for (int i = 0; i < nn; ++i) {
          const int64_t s = (b * G + gi) * nn + i;
          const float* v = g.val + s * L;
          for (int64_t l = 0; l < L; ++l) {
            const int pos = mm == 4 ? (static_cast<const uint32_t*>(g.code)[s] >> (2 * l)) & 3
                                    : (static_cast<const uint64_t*>(g.code)[s] >> ((l & 1) * 32 + (l >> 1) * 4)) & 7;
            acc[l] += v[l] * a[gi * mm + pos];
          }
        }
      }
      const float* tv = g.tail_val + b * g.tail * L;
      for (int64_t t = 0; t < g.tail; ++t)
        for (int64_t l = 0; l < L; ++l) acc[l] += tv[t * L + l] * a[G * mm + t];
      float* yr = g.y + r * N + j0;
      for (int64_t l = 0; l < lanes; ++l) yr[l] = g.alpha * acc[l] + (g.bias ? g.bias[j0 + l] : 0.0f);
    }
  }
}

#endif

}  // namespace

void nm(const NmArgs& g) {
  if (g.m < 1 || g.n < 1) return;
  dispatch(g);
}

}  // namespace pare::kernels::sparse::PARE_NM_NS
