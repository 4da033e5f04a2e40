// Conv(x, W, b) → BatchNormalization(γ, β, μ, σ², ε)  ⇒  Conv(x, W·s, (b − μ)·s + β),
// s = γ / √(σ² + ε), per output channel. Valid at inference (BN uses its running statistics),
// when W, b and the BN parameters are constant and the Conv output feeds only the BN.
#include <cmath>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

bool match(const ir::Node& bn) {
  if (!is_op(bn, "BatchNormalization") || bn.attr_int("training_mode", 0) != 0) return false;
  for (size_t i = 1; i < bn.outputs().size(); ++i) {
    if (bn.output(i) && (!bn.output(i)->uses().empty() || is_graph_output(bn.output(i)))) return false;
  }
  ir::Node* conv = producer_of_type(bn.input(0), "Conv");
  if (!conv || !has_single_consumer(bn.input(0))) return false;
  const Tensor* w = constant_value(conv->input(1));
  if (!w || w->dtype() != DataType::kFloat32 || w->rank() < 3) return false;
  if (conv->input(2) && !constant_value(conv->input(2))) return false;
  for (size_t i = 1; i <= 4; ++i) {
    const Tensor* p = constant_value(bn.input(i));
    if (!p || p->dtype() != DataType::kFloat32 || p->numel() != w->dim(0)) return false;
  }
  return true;
}

Status rewrite(ir::Graph& g, ir::Node* bn) {
  ir::Node* conv = bn->input(0)->producer();
  const Tensor& w = *constant_value(conv->input(1));
  const int64_t oc = w.dim(0), per = w.numel() / oc;
  const float* gamma = constant_value(bn->input(1))->data<float>();
  const float* beta = constant_value(bn->input(2))->data<float>();
  const float* mean = constant_value(bn->input(3))->data<float>();
  const float* var = constant_value(bn->input(4))->data<float>();
  const float eps = bn->attr_float("epsilon", 1e-5f);
  PARE_ASSIGN_OR_RETURN(Tensor nw, Tensor::create(DataType::kFloat32, w.shape()));
  PARE_ASSIGN_OR_RETURN(Tensor nb, Tensor::create(DataType::kFloat32, {oc}));
  const Tensor* b = constant_value(conv->input(2));
  for (int64_t c = 0; c < oc; ++c) {
    const double s = gamma[c] / std::sqrt(static_cast<double>(var[c]) + eps);
    for (int64_t k = 0; k < per; ++k) nw.data<float>()[c * per + k] = static_cast<float>(w.data<float>()[c * per + k] * s);
    const double bias = b ? b->data<float>()[c] : 0.0;
    nb.data<float>()[c] = static_cast<float>((bias - mean[c]) * s + beta[c]);
  }
  conv->set_input(1, g.add_initializer(g.unique_name(conv->input(1)->name() + "_bn"), std::move(nw)));
  if (conv->inputs().size() < 3) conv->add_input(nullptr);
  conv->set_input(2, g.add_initializer(g.unique_name(conv->name() + "_bn_bias"), std::move(nb)));
  return bypass_node(g, bn, bn->input(0));
}

Result<bool> run_graph(ir::Graph& g) {
  bool changed = false;
  std::vector<ir::Node*> todo;
  for (const auto& n : g.nodes()) {
    for (ir::Graph* sg : n->subgraphs()) {
      PARE_ASSIGN_OR_RETURN(bool c, run_graph(*sg));
      changed |= c;
    }
    if (match(*n) && can_bypass(n.get(), n->input(0))) todo.push_back(n.get());
  }
  for (ir::Node* bn : todo) {
    PARE_RETURN_IF_ERROR(rewrite(g, bn));
    changed = true;
  }
  if (changed) g.remove_dead_values();
  return changed;
}

}  // namespace

Result<bool> fuse_conv_batchnorm(ir::Model& model) { return run_graph(*model.graph); }

}  // namespace pare::passes
