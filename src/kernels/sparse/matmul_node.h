// What the sparse (CSR) and nm kernels share about the node they run: MatMul, Gemm or
// com.pare.FusedMatMul with a constant float B, its attributes, the plan-time conditions on A,
// B and the bias, the bias folded with Gemm's beta, the FusedMatMul activation epilogue, and the
// kernel around a packed weight (PackedWeightMatMul).
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "ops/fused/activation.h"
#include "ops/kernel.h"

namespace pare::kernels::sparse {

struct MatMulSpec {
  bool gemm = false, fused = false, trans_b = false;
  float alpha = 1.0f, beta = 1.0f;
};

inline MatMulSpec spec_of(const ir::Node& n) {
  MatMulSpec s;
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
inline bool bias_ok(const ops::KernelInit& init, int64_t n) {
  if (!init.has_input(2)) return true;
  const Tensor* c = init.constant_input(2);
  if (!c || c->dtype() != DataType::kFloat32 || c->numel() != n || c->rank() < 1 || c->rank() > 2) return false;
  return c->dim(c->rank() - 1) == n;
}

// The plan-time view of a node both kernels can run: B [K, N] a constant float matrix of at
// least `min_weights` entries, A float of rank ≥ 2 (2 for Gemm, no transA), a usable bias.
struct MatMulShape {
  const Tensor* b = nullptr;
  int64_t k = 0, n = 0;
  bool rows_known = false;
  int64_t rows = 0;  // product of A's leading dims when known
};

inline bool matmul_shape(const ops::KernelInit& init, int64_t min_weights, MatMulShape& out) {
  const MatMulSpec s = spec_of(init.node);
  const Tensor* w = init.constant_input(1);
  const ir::TypeInfo* t = init.input_type(0);
  if (!w || w->rank() != 2 || w->dtype() != DataType::kFloat32 || w->numel() < min_weights) return false;
  if (!t || t->kind != ir::TypeInfo::Kind::kTensor || t->dtype != DataType::kFloat32 || !t->shape) return false;
  const auto& dims = *t->shape;
  if (dims.size() < 2 || (s.gemm && dims.size() != 2)) return false;
  if (s.gemm && init.node.attr_int("transA", 0) != 0) return false;
  out.b = w;
  out.k = s.trans_b ? w->dim(1) : w->dim(0);
  out.n = s.trans_b ? w->dim(0) : w->dim(1);
  if ((s.gemm || s.fused) && !bias_ok(init, out.n)) return false;
  if (!s.gemm && !s.fused && init.num_inputs() > 2) return false;
  out.rows_known = true;
  out.rows = 1;
  for (size_t i = 0; i + 1 < dims.size(); ++i) {
    out.rows_known = out.rows_known && dims[i].known();
    if (dims[i].known()) out.rows *= dims[i].value;
  }
  return true;
}

// The bias scaled by Gemm's beta (empty when there is none).
inline Result<std::vector<float>> folded_bias(const ops::KernelInit& init, const MatMulSpec& s, int64_t n) {
  std::vector<float> bias;
  if (!init.has_input(2)) return bias;
  const Tensor* c = init.constant_input(2);
  if (!c || c->dtype() != DataType::kFloat32 || c->numel() != n) {
    return invalid_input("{}: bias must be a constant float with {} entries", init.node.describe(), n);
  }
  const float scale = s.gemm ? s.beta : 1.0f;
  bias.resize(n);
  for (int64_t j = 0; j < n; ++j) bias[j] = scale * c->data<float>()[j];
  return bias;
}

// The FusedMatMul activation, in place.
inline void apply_activation(const ops::ActivationSpec& act, Tensor& y, int threads) {
  if (act.kind == ops::Activation::kNone) return;
  float* p = y.data<float>();
  const int64_t count = y.numel();
  if (act.kind == ops::Activation::kRelu) {
    for (int64_t i = 0; i < count; ++i) p[i] = p[i] > 0.0f ? p[i] : 0.0f;
    return;
  }
#pragma omp parallel for num_threads(threads) if (count >= 16384)
  for (int64_t i = 0; i < count; ++i) p[i] = static_cast<float>(ops::apply_activation(act, p[i]));
}

// The kernel both formats share: at plan time B is read as [K, N] and handed to
// Derived::pack(w, k, n, trans_b, node) → Result<Weight> (Weight has members k and n); the
// bias is folded and the activation parsed; B and the bias are released from the graph. At run
// time A [..., M, K] is checked, Y allocated (Y = bias when K = 0) and
// Derived::multiply(ctx, a, rows, y, bias) → Status computes A·B + bias into Y, then the
// activation.
template <class Derived, class Weight>
class PackedWeightMatMul : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<Derived>();
    const ir::Node& n = init.node;
    k->spec_ = spec_of(n);
    if (k->spec_.fused) {
      PARE_ASSIGN_OR_RETURN(k->act_, ops::parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    }
    const Tensor* w = init.constant_input(1);
    if (!w || w->rank() != 2 || w->dtype() != DataType::kFloat32) return invalid_input("{}: B must be a constant float matrix", n.describe());
    const bool tb = k->spec_.trans_b;
    const int64_t kk = tb ? w->dim(1) : w->dim(0), nn = tb ? w->dim(0) : w->dim(1);
    PARE_ASSIGN_OR_RETURN(k->w_, Derived::pack(w->data<float>(), kk, nn, tb, n));
    PARE_ASSIGN_OR_RETURN(k->bias_, folded_bias(init, k->spec_, nn));
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
    float* py = y->data<float>();
    if (k == 0) {  // empty product: y = bias
      for (int64_t i = 0; i < y->numel(); ++i) py[i] = bias_.empty() ? 0.0f : bias_[i % n];
    } else {
      PARE_RETURN_IF_ERROR(static_cast<Derived*>(this)->multiply(ctx, a->data<float>(), a->numel() / k, py,
                                                                 bias_.empty() ? nullptr : bias_.data()));
    }
    apply_activation(act_, *y, ctx.num_threads());
    return ok_status();
  }

 protected:
  MatMulSpec spec_;
  ops::ActivationSpec act_;
  Weight w_;
  std::vector<float> bias_;
};

}  // namespace pare::kernels::sparse
