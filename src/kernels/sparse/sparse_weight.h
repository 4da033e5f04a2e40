// Sparse weights for unstructured sparsity, and the sparse GEMM/GEMV behind the sparse MatMul,
// Gemm and FusedMatMul kernels (docs/sparse.md).
//
// Format: B [K, N] is stored as W = Bᵀ in CSR, one row per output column n (the nonzeros of
// B[:, n], ascending k): row_ptr [N+1], column indices (uint16 when K ≤ 65536, else uint32)
// and float values. Chosen over block-CSR because magnitude pruning is unstructured (1×4 blocks
// of a 90%-sparse random matrix are ~70% zeros: 3.4× more values read and multiplied) and over
// bitmask+values (a K·N/8 mask read at every sparsity, and the GEMM needs each nonzero's k,
// which CSR stores directly). Per nonzero: 4 bytes of value + 2 of index (K ≤ 65536).
//   GEMV (M = 1): y[n] = Σ val·a[idx], 16 nonzeros per step with a vector gather.
//   GEMM (M > 1): A is packed per tile of Mb rows as Aᵀ [K, Mb]; for each nonzero (k, v) of
//   column n, acc[0:Mb] += v·Aᵀ[k, 0:Mb] (broadcast FMA on contiguous rows, no gather).
// Both are OpenMP-threaded over output columns and compiled for AVX-512, AVX2 and plain x86-64
// (the widest the CPU supports is picked at run time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pare::kernels::sparse {

struct SparseWeight {
  int64_t k = 0, n = 0;
  std::vector<int64_t> row_ptr;  // n + 1
  std::vector<uint16_t> idx16;   // K ≤ 65536
  std::vector<uint32_t> idx32;   // otherwise
  std::vector<float> val;

  int64_t nnz() const { return static_cast<int64_t>(val.size()); }
  size_t bytes() const {
    return row_ptr.size() * 8 + idx16.size() * 2 + idx32.size() * 4 + val.size() * 4;
  }
  // From a dense B: [k, n] row-major, or [n, k] when `transposed` (Gemm transB = 1).
  static SparseWeight from_dense(const float* b, int64_t k, int64_t n, bool transposed);
};

// Crossovers: the largest density (nonzeros / entries) at which the sparse kernel is used,
// from the sparsity where it started to beat the dense oneDNN kernel (prepacked FusedMatMul)
// on 4096×4096 here (AMD EPYC, AVX-512; docs/sparse.md):
//   OMP_WAIT_POLICY=passive build/sparse_bench --rounds 9 --threads 1   (and --threads 2)
// GEMV (M = 1): loses at 60% sparsity in one run, wins from 70% in both → used from 70%.
// GEMM: M = 64 wins from 70%, M = 8 from 80% (85% in the noisier 2-thread run) → from 80%.
inline constexpr double kMaxDensityGemv = 0.30;
inline constexpr double kMaxDensityGemm = 0.20;
// Below this many weights the kernels were not measured; dense is kept.
inline constexpr int64_t kMinWeights = 16384;

// The largest density the CSR kernel is used at, for A's row count (rows_known: statically
// known; unknown rows take the stricter of the two).
inline double csr_density_limit(bool rows_known, int64_t rows) {
  if (!rows_known) return kMaxDensityGemv < kMaxDensityGemm ? kMaxDensityGemv : kMaxDensityGemm;
  return rows == 1 ? kMaxDensityGemv : kMaxDensityGemm;
}

// Fraction of nonzero entries.
double density(const float* p, int64_t count);

// y[M, N] = alpha·A[M, K]·B + bias (bias [N] or null), threads: OpenMP threads. False when
// the packing buffer cannot be allocated.
bool sparse_matmul(const SparseWeight& w, const float* a, int64_t m, float* y, const float* bias,
                   float alpha, int threads);

// Which instruction set the kernels run with here ("avx512", "avx2", "generic").
const char* sparse_isa();
// Tests: run the kernels with another instruction set ("avx512", "avx2", "generic"; "" for
// the automatic choice). False when this CPU lacks it.
bool force_sparse_isa(const char* name);

// Arguments of the per-ISA implementations (spmm_impl.h).
struct SpmmArgs {
  int64_t k, n, m;
  const int64_t* row_ptr;
  const uint16_t* idx16;
  const uint32_t* idx32;
  const float* val;
  const float* a;
  float* y;
  const float* bias;
  float alpha;
  int threads;
  float* panel;  // 64-byte aligned, k·kMaxPanel floats (GEMM only)
};
inline constexpr int64_t kMaxPanel = 64;

}  // namespace pare::kernels::sparse
