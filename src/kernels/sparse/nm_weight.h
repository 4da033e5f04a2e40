// N:M structured-sparse weights (e.g. 2:4 from `pare prune --method nm`) and the GEMV/GEMM
// behind the `nm` MatMul, Gemm and FusedMatMul kernel (docs/sparse.md).
//
// Pattern: B [K, N] where, for every output column n, each run of M consecutive k (a group,
// k = g·M .. g·M+M−1) holds at most N nonzeros; M ∈ {4, 8}, N ≤ M/2. K need not be a multiple
// of M: the last K mod M rows (the tail) are stored dense.
//
// Format: columns in blocks of 16 (the last block zero-padded). For block b, group g and slot
// i < N: 16 float values (one per column of the block) and one code word holding the 16
// in-group positions — 2 bits each (uint32) for M = 4, 4 bits each (uint64, a 3-bit position per
// nibble) for M = 8. A group with fewer than N nonzeros pads with value 0. Per stored value:
// 4 bytes + 2 (M = 4) or 4 (M = 8) bits, so 2:4 costs 0.53 of dense, 1:4 0.27, 2:8 0.28.
// Code bit layout (chosen so that one broadcast + one variable shift gives every lane its
// position in the low bits, which the permute instructions read):
//   M = 4: lane l at bits 2l.          M = 8: lane l in dword (l & 1), at bit 4·(l >> 1).
//
// Kernels (nm_impl.h, compiled per ISA like spmm_impl.h): lanes are the 16 output columns of a
// block; for each group the M x values of a row of A are broadcast into a register and every
// slot permutes them by its code (vpermilps for M = 4, vpermps for M = 8), then one FMA with the
// 16 values: no gather, and y is written without horizontal sums. GEMM runs tiles of up to 8
// rows of A over the same values and codes. OpenMP over column blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace pare::kernels::sparse {

struct NmPattern {
  int n = 0, m = 0;  // at most n nonzeros in every run of m
};

inline constexpr int64_t kNmLanes = 16;  // output columns per block

struct NmWeight {
  int64_t k = 0, n = 0;
  int nn = 0, mm = 0;         // the pattern N:M
  int64_t groups = 0;         // K / M (full groups)
  int64_t tail = 0;           // K mod M (dense rows at the end)
  int64_t blocks = 0;         // ceil(n / 16)
  // [blocks][groups][nn][16] values, then the tail as [blocks][tail][16]; 64-byte aligned.
  std::unique_ptr<float, void (*)(void*)> val{nullptr, nullptr};
  std::unique_ptr<void, void (*)(void*)> code{nullptr, nullptr};  // [blocks][groups][nn] uint32/uint64

  const float* tail_val() const { return val.get() + blocks * groups * nn * kNmLanes; }
  size_t code_bytes() const { return static_cast<size_t>(blocks * groups * nn) * (mm == 4 ? 4 : 8); }
  // Bytes the kernels read per product (values + codes + tail).
  size_t bytes() const {
    return static_cast<size_t>(blocks * (groups * nn + tail) * kNmLanes) * 4 + code_bytes();
  }

  // The cheapest N:M pattern B holds along K (M ∈ {4, 8}, N ≤ M/2), or nullopt. B: [k, n]
  // row-major, or [n, k] when `transposed` (Gemm transB = 1). Needs at least one full group.
  static std::optional<NmPattern> detect(const float* b, int64_t k, int64_t n, bool transposed);
  // Packs B, which must hold pattern p (detect); nullopt when memory cannot be allocated.
  static std::optional<NmWeight> pack(const float* b, int64_t k, int64_t n, bool transposed, NmPattern p);
};

// The plan uses the nm kernel (AVX-512) when B holds an N:M pattern of density N/M at most
// this: every such pattern was measured faster than the dense oneDNN kernel on 4096×4096 for A
// with 1 to 128 rows (docs/sparse.md, build/nm_bench), so there is no row limit.
inline constexpr double kNmMaxDensity = 0.5;
// Without AVX-512 (the AVX2 build, measured by forcing it here) 2:4 wins only for GEMV, so A
// with more (or unknown) rows needs N/M at most this; the scalar build is never used.
inline constexpr double kNmMaxDensityAvx2Gemm = 0.25;
// On a weight the CSR kernel also takes, nm is used only when B holds at least this fraction
// of the N/M density its pattern stores (else B is unstructured and CSR skips more zeros).
inline constexpr double kNmMinFill = 0.5;

// y[M, N] = alpha·A[M, K]·B + bias (bias [N] or null), threads: OpenMP threads. Uses the ISA of
// sparse_isa() (force_sparse_isa applies to these kernels too).
void nm_matmul(const NmWeight& w, const float* a, int64_t m, float* y, const float* bias, float alpha, int threads);

// Arguments of the per-ISA implementations (nm_impl.h).
struct NmArgs {
  int64_t k, n, m, groups, tail, blocks;
  int nn, mm;
  const float* val;
  const void* code;
  const float* tail_val;
  const float* a;
  float* y;
  const float* bias;
  float alpha;
  int threads;
};

}  // namespace pare::kernels::sparse
