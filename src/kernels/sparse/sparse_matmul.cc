// MatMul, Gemm and com.pare.FusedMatMul whose weight B is a sparse constant, on the CSR
// kernels of sparse_weight.h. The plan picks them over oneDNN (priority 20 > 10) only where
// they were measured faster: B's density at or below the crossover for the row count (GEMV
// when A's rows are statically 1, GEMM otherwise; the stricter of the two when unknown).
// B (and the bias) are converted once at plan time and the dense initializer is released.
#include "kernels/sparse/sparse_weight.h"
#include "ops/fused/activation.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

using sparse::SparseWeight;

struct Spec {
  bool gemm = false, fused = false, trans_b = false;
  float alpha = 1.0f, beta = 1.0f;
};

Spec spec_of(const ir::Node& n) {
  Spec s;
  s.gemm = n.op_type() == "Gemm";
  s.fused = n.op_type() == "FusedMatMul";
  if (s.gemm) {
    s.trans_b = n.attr_int("transB", 0) != 0;
    s.alpha = n.attr_float("alpha", 1.0f);
    s.beta = n.attr_float("beta", 1.0f);
  }
  return s;
}

// The bias input (Gemm's C, FusedMatMul's bias): absent, or a constant float with N entries
// along the last axis (any leading dims 1).
bool bias_ok(const ops::KernelInit& init, int64_t n) {
  if (!init.has_input(2)) return true;
  const Tensor* c = init.constant_input(2);
  if (!c || c->dtype() != DataType::kFloat32 || c->numel() != n || c->rank() < 1 || c->rank() > 2) return false;
  return c->dim(c->rank() - 1) == n;
}

bool applies(const ops::KernelInit& init) {
  const Spec s = spec_of(init.node);
  const Tensor* w = init.constant_input(1);
  const ir::TypeInfo* t = init.input_type(0);
  if (!w || w->rank() != 2 || w->dtype() != DataType::kFloat32 || w->numel() < sparse::kMinWeights) return false;
  if (!t || t->kind != ir::TypeInfo::Kind::kTensor || t->dtype != DataType::kFloat32 || !t->shape) return false;
  const auto& dims = *t->shape;
  if (dims.size() < 2 || (s.gemm && dims.size() != 2)) return false;
  if (s.gemm && init.node.attr_int("transA", 0) != 0) return false;
  const int64_t n = s.trans_b ? w->dim(0) : w->dim(1);
  if ((s.gemm || s.fused) && !bias_ok(init, n)) return false;
  if (!s.gemm && !s.fused && init.num_inputs() > 2) return false;
  bool rows_known = true;
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    rows_known = rows_known && dims[i].known();
    if (dims[i].known()) rows *= dims[i].value;
  }
  const double limit = rows_known && rows == 1 ? sparse::kMaxDensityGemv
                       : rows_known            ? sparse::kMaxDensityGemm
                                               : std::min(sparse::kMaxDensityGemv, sparse::kMaxDensityGemm);
  return sparse::density(w->data<float>(), w->numel()) <= limit;
}

class SparseMatMul final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<SparseMatMul>();
    const ir::Node& n = init.node;
    k->spec_ = spec_of(n);
    if (k->spec_.fused) {
      PARE_ASSIGN_OR_RETURN(k->act_, ops::parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    }
    const Tensor* w = init.constant_input(1);
    if (!w || w->rank() != 2 || w->dtype() != DataType::kFloat32) return invalid_input("{}: B must be a constant float matrix", n.describe());
    const bool tb = k->spec_.trans_b;
    const int64_t kk = tb ? w->dim(1) : w->dim(0), nn = tb ? w->dim(0) : w->dim(1);
    k->w_ = SparseWeight::from_dense(w->data<float>(), kk, nn, tb);
    if (init.has_input(2)) {
      const Tensor* c = init.constant_input(2);
      if (!c || c->dtype() != DataType::kFloat32 || c->numel() != nn) {
        return invalid_input("{}: bias must be a constant float with {} entries", n.describe(), nn);
      }
      const float scale = k->spec_.gemm ? k->spec_.beta : 1.0f;
      k->bias_.resize(nn);
      for (int64_t j = 0; j < nn; ++j) k->bias_[j] = scale * c->data<float>()[j];
    }
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
    apply_activation(*y, ctx.num_threads());
    return ok_status();
  }

 private:
  void apply_activation(Tensor& y, int threads) const {
    if (act_.kind == ops::Activation::kNone) return;
    float* p = y.data<float>();
    const int64_t count = y.numel();
    if (act_.kind == ops::Activation::kRelu) {
      for (int64_t i = 0; i < count; ++i) p[i] = p[i] > 0.0f ? p[i] : 0.0f;
      return;
    }
#pragma omp parallel for num_threads(threads) if (count >= 16384)
    for (int64_t i = 0; i < count; ++i) p[i] = static_cast<float>(ops::apply_activation(act_, p[i]));
  }

  Spec spec_;
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
