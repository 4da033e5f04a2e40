// MatMul, Gemm and com.pare.FusedMatMul whose weight B is a sparse constant, on the CSR
// kernels of sparse_weight.h. The plan picks them over oneDNN (priority 20 > 10) only where
// they were measured faster: B's density at or below the crossover for the row count (GEMV
// when A's rows are statically 1, GEMM otherwise; the stricter of the two when unknown).
// B (and the bias) are converted once at plan time and the dense initializer is released.
#include "kernels/sparse/matmul_node.h"
#include "kernels/sparse/sparse_weight.h"

namespace pare::kernels {
namespace {

using sparse::MatMulSpec;
using sparse::SparseWeight;

bool applies(const ops::KernelInit& init) {
  sparse::MatMulShape sh;
  if (!sparse::matmul_shape(init, sparse::kMinWeights, sh)) return false;
  const double limit = sparse::csr_density_limit(sh.rows_known, sh.rows);
  return sparse::density(sh.b->data<float>(), sh.b->numel()) <= limit;
}

class SparseMatMul final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<SparseMatMul>();
    const ir::Node& n = init.node;
    k->spec_ = sparse::spec_of(n);
    if (k->spec_.fused) {
      PARE_ASSIGN_OR_RETURN(k->act_, ops::parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    }
    const Tensor* w = init.constant_input(1);
    if (!w || w->rank() != 2 || w->dtype() != DataType::kFloat32) return invalid_input("{}: B must be a constant float matrix", n.describe());
    const bool tb = k->spec_.trans_b;
    const int64_t kk = tb ? w->dim(1) : w->dim(0), nn = tb ? w->dim(0) : w->dim(1);
    k->w_ = SparseWeight::from_dense(w->data<float>(), kk, nn, tb);
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
    const int64_t rows = k == 0 ? 0 : a->numel() / k;
    float* py = y->data<float>();
    if (k == 0) {  // empty product: y = bias
      for (int64_t i = 0; i < y->numel(); ++i) py[i] = bias_.empty() ? 0.0f : bias_[i % n];
    } else if (!sparse::sparse_matmul(w_, a->data<float>(), rows, py, bias_.empty() ? nullptr : bias_.data(), spec_.alpha,
                                      ctx.num_threads())) {
      return resource_exhausted("{}: cannot allocate the packing buffer", ctx.node().describe());
    }
    sparse::apply_activation(act_, *y, ctx.num_threads());
    return ok_status();
  }

 private:
  MatMulSpec spec_;
  ops::ActivationSpec act_;
  SparseWeight w_;
  std::vector<float> bias_;
};

}  // namespace

void register_sparse_matmul(ops::KernelRegistry& r) {
  r.add({"MatMul", "", 1, ops::kMaxOpset, &ops::make_kernel<SparseMatMul>, "sparse", 20, applies});
  r.add({"Gemm", "", 1, ops::kMaxOpset, &ops::make_kernel<SparseMatMul>, "sparse", 20, applies});
  r.add({"FusedMatMul", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<SparseMatMul>, "sparse", 20, applies});
}

}  // namespace pare::kernels
