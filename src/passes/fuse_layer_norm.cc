// The decomposed layer normalization PyTorch exports below opset 17:
//   m = ReduceMean(x, axes=[-1]); d = x − m; v = ReduceMean(d², axes=[-1])
//   y = d / √(v + ε) · γ + β            (the · γ and + β optional; d² as Pow(d, 2) or d·d)
//   ⇒ com.pare.LayerNormalization(x, γ, β; axis = −1, epsilon = ε)
// which is ONNX LayerNormalization-17's formula. γ and β must be constant vectors over the
// last axis; d must feed only the variance and the division, the rest only the next step.
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

// A ReduceMean over the last axis only, keeping dims.
bool reduces_last_axis(const ir::Node* n) {
  if (!n || !is_op(*n, "ReduceMean") || n->attr_int("keepdims", 1) != 1 || n->inputs().size() != 1) return false;
  const auto axes = n->attr_ints("axes");
  if (axes.size() != 1) return false;
  const ir::Value* x = n->input(0);
  const int64_t rank = x->type().shape ? static_cast<int64_t>(x->type().shape->size()) : -1;
  return axes[0] == -1 || (rank > 0 && axes[0] == rank - 1);
}

int64_t last_dim(const ir::Value* v) {
  if (!v->type().shape || v->type().shape->empty() || !v->type().shape->back().known()) return -1;
  return v->type().shape->back().value;
}

// A constant float vector of n elements (any leading 1s).
bool vector_of(const ir::Value* v, int64_t n) {
  const Tensor* t = constant_value(v);
  return t && t->dtype() == DataType::kFloat32 && t->numel() == n && t->rank() >= 1 && t->dim(t->rank() - 1) == n;
}

struct Match {
  std::vector<ir::Node*> nodes;
  ir::Value *x = nullptr, *gamma = nullptr, *beta = nullptr, *out = nullptr;
  float eps = 0;
};

bool match(ir::Node* div, Match& m) {
  if (!is_op(*div, "Div")) return false;
  ir::Value* d = div->input(0);
  ir::Node* sub = producer_of_type(d, "Sub");
  ir::Node* sqrt = single_use_producer(div->input(1), "Sqrt");
  if (!sub || !sqrt || d->uses().size() != 2 || is_graph_output(d)) return false;
  ir::Node* mean = producer_of_type(sub->input(1), "ReduceMean");
  if (!reduces_last_axis(mean) || mean->input(0) != sub->input(0) || !has_single_consumer(sub->input(1))) return false;
  ir::Node* add_eps = single_use_producer(sqrt->input(0), "Add");
  if (!add_eps) return false;
  ir::Value* var = add_eps->input(0);
  ir::Value* eps = add_eps->input(1);
  if (!constant_value(eps)) std::swap(var, eps);
  const Tensor* e = constant_value(eps);
  ir::Node* var_mean = single_use_producer(var, "ReduceMean");
  if (!e || e->numel() != 1 || e->dtype() != DataType::kFloat32 || !reduces_last_axis(var_mean)) return false;
  ir::Node* sq = var_mean->input(0)->producer();
  if (!sq || !has_single_consumer(var_mean->input(0))) return false;
  const bool square = (is_op(*sq, "Pow") && sq->input(0) == d && is_scalar_near(sq->input(1), 2.0f)) ||
                      (is_op(*sq, "Mul") && sq->input(0) == d && sq->input(1) == d);
  if (!square) return false;
  m = Match{{mean, sub, sq, var_mean, add_eps, sqrt, div}, sub->input(0)};
  m.eps = e->data<float>()[0];
  const int64_t c = last_dim(m.x);
  if (c <= 0) return false;
  ir::Value* cur = div->output(0);
  if (ir::Node* mul = sole_consumer(cur); mul && is_op(*mul, "Mul")) {
    ir::Value* g = mul->input(0) == cur ? mul->input(1) : mul->input(0);
    if (vector_of(g, c)) {
      m.gamma = g;
      m.nodes.push_back(mul);
      cur = mul->output(0);
      if (ir::Node* add = sole_consumer(cur); add && is_op(*add, "Add")) {
        ir::Value* b = add->input(0) == cur ? add->input(1) : add->input(0);
        if (vector_of(b, c)) {
          m.beta = b;
          m.nodes.push_back(add);
          cur = add->output(0);
        }
      }
    }
  }
  m.out = cur;
  return true;
}

// γ / β as the 1-D [C] tensors LayerNormalization takes (ones when absent).
ir::Value* as_vector(ir::Graph& g, ir::Value* v, int64_t c, float fill) {
  Tensor t = Tensor::create(DataType::kFloat32, {c}).value();
  for (int64_t i = 0; i < c; ++i) t.data<float>()[i] = v ? constant_value(v)->data<float>()[i] : fill;
  return g.add_initializer(g.unique_name(v ? v->name() + "/vector" : "layer_norm/ones"), std::move(t));
}

}  // namespace

Result<bool> fuse_layer_norm(ir::Model& model) {
  return rewrite_to_fixpoint(model, [](ir::Graph& g, ir::Node* n) -> Result<bool> {
    Match m;
    if (!match(n, m)) return false;
    const int64_t c = last_dim(m.x);
    ir::Value* gamma = as_vector(g, m.gamma, c, 1.0f);
    ir::Value* beta = as_vector(g, m.beta, c, 0.0f);
    PARE_ASSIGN_OR_RETURN(ir::Node * ln, replace_pattern(g, m.nodes, m.out, "LayerNormalization", "com.pare",
                                                         {m.x, gamma, beta}, m.nodes.front()->name() + "/layer_norm"));
    ln->attributes()["epsilon"] = ir::Attribute::of(m.eps);
    ln->attributes()["axis"] = ir::Attribute::of(int64_t{-1});
    return true;
  });
}

}  // namespace pare::passes
