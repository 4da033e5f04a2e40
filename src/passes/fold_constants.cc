// Constant folding: a node whose inputs are all initializers (and that is deterministic and
// holds no subgraph) is evaluated once with its reference kernel, and its outputs become
// initializers:  Transpose(W) → Wᵀ,  Shape-arithmetic on static shapes, Constant → initializer.
// Outputs beyond kMaxFoldBytes are left alone (the model would grow on disk).
#include <set>

#include "ops/kernel.h"
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

constexpr size_t kMaxFoldBytes = size_t{64} << 20;

bool foldable(const ir::Node& n) {
  static const std::set<std::string> kNondeterministic = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                                          "RandomUniformLike", "Bernoulli", "Multinomial"};
  if (kNondeterministic.count(n.op_type()) || !n.subgraphs().empty()) return false;
  if (n.outputs().empty()) return false;
  for (const ir::Value* v : n.outputs()) {
    if (v && (is_graph_output(v) || v->type().kind == ir::TypeInfo::Kind::kSequence)) return false;
  }
  for (const ir::Value* v : n.inputs()) {
    if (v && !v->initializer()) return false;
  }
  return true;
}

Result<bool> run_graph(ir::Model& model, ir::Graph& g) {
  bool changed = false;
  auto order_r = g.topological_order();
  if (!order_r.ok()) return order_r.status();
  for (ir::Node* n : *order_r) {
    for (ir::Graph* sg : n->subgraphs()) {
      PARE_ASSIGN_OR_RETURN(bool c, run_graph(model, *sg));
      changed |= c;
    }
    if (!foldable(*n)) continue;
    int64_t opset = model.opset(n->domain());
    if (opset < 0 && n->domain().empty()) opset = model.opset("");
    ops::KernelInit init{*n, opset, 1};
    auto kernel = ops::KernelRegistry::reference().create(init);
    if (!kernel.ok()) continue;  // reported when the session plans the node
    std::vector<RunValue> in_values;
    for (const ir::Value* v : n->inputs()) in_values.push_back(v ? RunValue(*v->initializer()) : RunValue());
    std::vector<const RunValue*> ptrs;
    for (const auto& v : in_values) ptrs.push_back(&v);
    std::vector<RunValue> outs(n->outputs().size());
    ops::KernelContext ctx(*n, ptrs, &outs, nullptr, 1);
    if (!(*kernel)->run(ctx).ok()) continue;  // the same error will surface at run time
    bool ok = true;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (n->output(i) && (!outs[i].is_tensor() || outs[i].tensor.nbytes() > kMaxFoldBytes)) ok = false;
    }
    if (!ok) continue;
    // The node's outputs become initializers of the same name.
    std::vector<std::pair<ir::Value*, Tensor>> results;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (n->output(i)) results.emplace_back(n->output(i), outs[i].tensor);
    }
    for (size_t i = 0; i < n->inputs().size(); ++i) n->set_input(i, nullptr);
    PARE_RETURN_IF_ERROR(g.erase_node_keep_outputs(n));
    for (auto& [v, t] : results) g.add_initializer(v->name(), t);
    changed = true;
  }
  if (changed) g.remove_dead_values();
  return changed;
}

}  // namespace

Result<bool> fold_constants(ir::Model& model) { return run_graph(model, *model.graph); }

}  // namespace pare::passes
