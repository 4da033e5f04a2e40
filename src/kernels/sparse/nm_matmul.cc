// MatMul, Gemm and com.pare.FusedMatMul whose weight B is a constant holding an N:M pattern
// along K (`pare prune --method nm`), on the kernels of nm_weight.h. Priority 25, over oneDNN
// (10) and the CSR kernel (20): on an N:M weight nm was measured faster than both (1:4 at
// 75% zeros: ~4× CSR). The plan picks it where B holds a pattern of density N/M ≤
// kNmMaxDensity (measured faster than oneDNN for 1 to 128 rows; stricter without AVX-512,
// never on the scalar build); it leaves B to CSR where
// that applies and B holds under kNmMinFill of the nonzeros the pattern stores (unstructured
// sparsity whose runs happen to fit a pattern).
// B is packed once at plan time and the dense initializer is released.
#include "kernels/sparse/matmul_node.h"
#include "kernels/sparse/nm_weight.h"
#include "kernels/sparse/sparse_weight.h"

namespace pare::kernels {
namespace {

using sparse::NmWeight;

bool applies(const ops::KernelInit& init) {
  const std::string isa = sparse::sparse_isa();
  if (isa == "generic") return false;  // the scalar build: slower than oneDNN
  sparse::MatMulShape sh;
  if (!sparse::matmul_shape(init, sparse::kMinWeights, sh)) return false;
  const auto p = NmWeight::detect(sh.b->data<float>(), sh.k, sh.n, sparse::spec_of(init.node).trans_b);
  if (!p) return false;
  const double nm_density = static_cast<double>(p->n) / p->m;
  const bool gemv = sh.rows_known && sh.rows == 1;
  if (nm_density > (isa == "avx512" || gemv ? sparse::kNmMaxDensity : sparse::kNmMaxDensityAvx2Gemm)) return false;
  // Leave B to the CSR kernel where that applies and B has under half the nonzeros the pattern
  // stores (unstructured sparsity whose runs happen to fit a pattern): CSR skips more.
  const double d = sparse::density(sh.b->data<float>(), sh.b->numel());
  return !(d <= sparse::csr_density_limit(sh.rows_known, sh.rows) && d < sparse::kNmMinFill * nm_density);
}

class NmMatMul final : public sparse::PackedWeightMatMul<NmMatMul, NmWeight> {
 public:
  static Result<NmWeight> pack(const float* w, int64_t k, int64_t n, bool trans_b, const ir::Node& node) {
    const auto p = NmWeight::detect(w, k, n, trans_b);
    if (!p) return invalid_input("{}: B [{}, {}] holds no N:M pattern (M = 4 or 8, N ≤ M/2) along K", node.describe(), k, n);
    auto packed = NmWeight::pack(w, k, n, trans_b, *p);
    if (!packed) return resource_exhausted("{}: cannot allocate the {}:{} weight", node.describe(), p->n, p->m);
    return std::move(*packed);
  }
  Status multiply(ops::KernelContext& ctx, const float* a, int64_t rows, float* y, const float* bias) {
    sparse::nm_matmul(w_, a, rows, y, bias, spec_.alpha, ctx.num_threads());
    return ok_status();
  }
};

}  // namespace

void register_nm_matmul(ops::KernelRegistry& r) {
  r.add({"MatMul", "", 1, ops::kMaxOpset, &ops::make_kernel<NmMatMul>, "nm", 25, applies});
  r.add({"Gemm", "", 1, ops::kMaxOpset, &ops::make_kernel<NmMatMul>, "nm", 25, applies});
  r.add({"FusedMatMul", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<NmMatMul>, "nm", 25, applies});
}

}  // namespace pare::kernels
