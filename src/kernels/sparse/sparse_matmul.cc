// MatMul, Gemm and com.pare.FusedMatMul whose weight B is a sparse constant, on the CSR
// kernels of sparse_weight.h. The plan picks them over oneDNN (priority 20 > 10) only where
// they were measured faster: B's density at or below the crossover for the row count (GEMV
// when A's rows are statically 1, GEMM otherwise; the stricter of the two when unknown).
// B (and the bias) are converted once at plan time and the dense initializer is released.
#include "kernels/sparse/matmul_node.h"
#include "kernels/sparse/sparse_weight.h"

namespace pare::kernels {
namespace {

using sparse::SparseWeight;

bool applies(const ops::KernelInit& init) {
  sparse::MatMulShape sh;
  if (!sparse::matmul_shape(init, sparse::kMinWeights, sh)) return false;
  const double limit = sparse::csr_density_limit(sh.rows_known, sh.rows);
  return sparse::density(sh.b->data<float>(), sh.b->numel()) <= limit;
}

class SparseMatMul final : public sparse::PackedWeightMatMul<SparseMatMul, SparseWeight> {
 public:
  static Result<SparseWeight> pack(const float* w, int64_t k, int64_t n, bool trans_b, const ir::Node&) {
    return SparseWeight::from_dense(w, k, n, trans_b);
  }
  Status multiply(ops::KernelContext& ctx, const float* a, int64_t rows, float* y, const float* bias) {
    if (!sparse::sparse_matmul(w_, a, rows, y, bias, spec_.alpha, ctx.num_threads())) {
      return resource_exhausted("{}: cannot allocate the packing buffer", ctx.node().describe());
    }
    return ok_status();
  }
};

}  // namespace

void register_sparse_matmul(ops::KernelRegistry& r) {
  r.add({"MatMul", "", 1, ops::kMaxOpset, &ops::make_kernel<SparseMatMul>, "sparse", 20, applies});
  r.add({"Gemm", "", 1, ops::kMaxOpset, &ops::make_kernel<SparseMatMul>, "sparse", 20, applies});
  r.add({"FusedMatMul", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<SparseMatMul>, "sparse", 20, applies});
}

}  // namespace pare::kernels
