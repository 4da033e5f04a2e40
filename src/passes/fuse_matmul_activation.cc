// MatMul(A, B) → [Add(·, bias)] → [activation]  ⇒  com.pare.FusedMatMul(A, B, bias; activation)
//   y = act(A·B + bias)
// for float A of rank ≥ 2, B a constant 2-D [K, N] matrix and bias a constant with N
// elements broadcast along the last axis ([N], [1, N], …); activations as in
// fuse_activation.h (GELU included, after fuse_gelu). The fused kernel prepacks B once
// and runs the bias and activation as the GEMM's epilogue.
//
// Gemm(A, B, C; transA = 0, transB, alpha, beta) → [activation] is the same with
// B' = alpha·op(B) made [K, N] and bias = beta·C, for a constant B and a constant C of N
// elements along the rows ([N] or [1, N]): PyTorch exports every nn.Linear on 2-D input so.
#include <algorithm>

#include "passes/fuse_activation.h"
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

struct Match {
  ir::Node* mm = nullptr;
  ir::Value* bias = nullptr;
  Epilogue epi;
};

bool match_gemm(ir::Node* gemm, Match& m) {
  if (!is_op(*gemm, "Gemm") || gemm->attr_int("transA", 0) != 0) return false;
  const Tensor* b = constant_value(gemm->input(1));
  const ir::Value* a = gemm->input(0);
  if (!b || b->rank() != 2 || b->dtype() != DataType::kFloat32 || !a || a->type().dtype != DataType::kFloat32) {
    return false;
  }
  const int64_t n = gemm->attr_int("transB", 0) != 0 ? b->dim(0) : b->dim(1);
  m = Match{gemm};
  if (gemm->input(2)) {
    const Tensor* c = constant_value(gemm->input(2));
    if (!c || c->dtype() != DataType::kFloat32 || c->numel() != n || c->rank() < 1 || c->rank() > 2 ||
        c->dim(c->rank() - 1) != n) {
      return false;  // C per element or per row: not a bias
    }
    m.bias = gemm->input(2);
  }
  absorb_activation(gemm->output(0), m.epi);
  return true;
}

bool match(ir::Node* mm, Match& m) {
  if (!is_op(*mm, "MatMul")) return false;
  const Tensor* b = constant_value(mm->input(1));
  const ir::Value* a = mm->input(0);
  if (!b || b->rank() != 2 || b->dtype() != DataType::kFloat32 || !a || a->type().dtype != DataType::kFloat32 ||
      !a->type().shape || a->type().shape->size() < 2) {
    return false;
  }
  m = Match{mm};
  ir::Value* cur = mm->output(0);
  if (ir::Node* add = sole_consumer(cur); add && is_op(*add, "Add")) {
    ir::Value* c = add->input(0) == cur ? add->input(1) : add->input(0);
    const Tensor* ct = constant_value(c);
    if (ct && ct->dtype() == DataType::kFloat32 && ct->numel() == b->dim(1) && ct->rank() >= 1 &&
        ct->dim(ct->rank() - 1) == b->dim(1) && static_cast<size_t>(ct->rank()) <= a->type().shape->size()) {
      m.bias = c;
      m.epi.nodes.push_back(add);
      cur = add->output(0);
    }
  }
  absorb_activation(cur, m.epi);
  return true;  // even a bare MatMul gains: its constant B is prepacked once
}

}  // namespace

Result<bool> fuse_matmul_activation(ir::Model& model) {
  return rewrite_to_fixpoint(model, [](ir::Graph& g, ir::Node* n) -> Result<bool> {
    Match m;
    const bool gemm = match_gemm(n, m);
    if (!gemm && !match(n, m)) return false;
    std::vector<ir::Value*> ins{m.mm->input(0), m.mm->input(1)};
    if (gemm) {  // B' = alpha·op(B) as [K, N]
      const Tensor& b = *constant_value(m.mm->input(1));
      const bool tb = m.mm->attr_int("transB", 0) != 0;
      const float alpha = m.mm->attr_float("alpha", 1.0f);
      const int64_t k = tb ? b.dim(1) : b.dim(0), nn = tb ? b.dim(0) : b.dim(1);
      if (tb || alpha != 1.0f) {
        Tensor w = Tensor::create(DataType::kFloat32, {k, nn}).value();
        const float* pb = b.data<float>();
        float* pw = w.data<float>();
        for (int64_t i = 0; i < k; ++i)
          for (int64_t j = 0; j < nn; ++j) pw[i * nn + j] = alpha * (tb ? pb[j * k + i] : pb[i * nn + j]);
        ins[1] = g.add_initializer(g.unique_name(m.mm->input(1)->name() + "/kn"), std::move(w));
      }
    }
    if (m.bias) {
      const Tensor& c = *constant_value(m.bias);
      const float beta = gemm ? m.mm->attr_float("beta", 1.0f) : 1.0f;
      Tensor v = Tensor::create(DataType::kFloat32, {c.numel()}).value();
      std::transform(c.data<float>(), c.data<float>() + c.numel(), v.data<float>(), [&](float x) { return beta * x; });
      ins.push_back(g.add_initializer(g.unique_name(m.bias->name() + "/vector"), std::move(v)));
    }
    std::vector<ir::Node*> nodes{m.mm};
    nodes.insert(nodes.end(), m.epi.nodes.begin(), m.epi.nodes.end());
    PARE_ASSIGN_OR_RETURN(ir::Node * f, replace_pattern(g, nodes, m.epi.out, "FusedMatMul", "com.pare", ins, m.mm->name()));
    set_activation_attrs(*f, m.epi.act);
    return true;
  });
}

}  // namespace pare::passes
