// What the sparse (CSR) and nm kernels share about the node they run: MatMul, Gemm or
// com.pare.FusedMatMul with a constant float B, its attributes, the plan-time conditions on A,
// B and the bias, the bias folded with Gemm's beta, and the FusedMatMul activation epilogue.
#pragma once

#include <algorithm>
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

}  // namespace pare::kernels::sparse
