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

using sparse::MatMulSpec;
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

class NmMatMul final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<NmMatMul>();
    const ir::Node& n = init.node;
    k->spec_ = sparse::spec_of(n);
    if (k->spec_.fused) {
      PARE_ASSIGN_OR_RETURN(k->act_, ops::parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    }
    const Tensor* w = init.constant_input(1);
    if (!w || w->rank() != 2 || w->dtype() != DataType::kFloat32) return invalid_input("{}: B must be a constant float matrix", n.describe());
    const bool tb = k->spec_.trans_b;
    const int64_t kk = tb ? w->dim(1) : w->dim(0), nn = tb ? w->dim(0) : w->dim(1);
    const auto p = NmWeight::detect(w->data<float>(), kk, nn, tb);
    if (!p) return invalid_input("{}: B {} holds no N:M pattern (M = 4 or 8, N ≤ M/2) along K", n.describe(), w->type_string());
    auto packed = NmWeight::pack(w->data<float>(), kk, nn, tb, *p);
    if (!packed) return resource_exhausted("{}: cannot allocate the {}:{} weight", n.describe(), p->n, p->m);
    k->w_ = std::move(*packed);
    PARE_ASSIGN_OR_RETURN(k->bias_, sparse::folded_bias(init, k->spec_, nn));
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  bool prepacked_input(size_t i) const override { return i == 1 || i == 2; }

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
    const int64_t k = w_.k, n = w_.n;
    if (a->dtype() != DataType::kFloat32 || a->rank() < 2 || (spec_.gemm && a->rank() != 2) || a->dim(a->rank() - 1) != k) {
      return ctx.error("A {} must be float [..., M, {}]", a->type_string(), k);
    }
    Shape ys = a->shape();
    ys.back() = n;
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, ys));
    if (y->numel() == 0) return ok_status();
    sparse::nm_matmul(w_, a->data<float>(), a->numel() / k, y->data<float>(), bias_.empty() ? nullptr : bias_.data(),
                      spec_.alpha, ctx.num_threads());
    sparse::apply_activation(act_, *y, ctx.num_threads());
    return ok_status();
  }

 private:
  MatMulSpec spec_;
  ops::ActivationSpec act_;
  NmWeight w_;
  std::vector<float> bias_;
};

}  // namespace

void register_nm_matmul(ops::KernelRegistry& r) {
  r.add({"MatMul", "", 1, ops::kMaxOpset, &ops::make_kernel<NmMatMul>, "nm", 25, applies});
  r.add({"Gemm", "", 1, ops::kMaxOpset, &ops::make_kernel<NmMatMul>, "nm", 25, applies});
  r.add({"FusedMatMul", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<NmMatMul>, "nm", 25, applies});
}

}  // namespace pare::kernels
