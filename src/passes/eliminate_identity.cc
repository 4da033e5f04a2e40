// Identity(x) → x;  Dropout(x) → x at inference (no mask consumer, training_mode absent or
// false). Both are no-ops at inference, so every use of the output may read the input.
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

bool match(const ir::Node& n) {
  if (!n.input(0) || n.input(0)->type().kind == ir::TypeInfo::Kind::kSequence) return false;
  if (is_op(n, "Identity")) return true;
  if (!is_op(n, "Dropout")) return false;
  if (n.input(2)) {  // training_mode must be a constant false
    const Tensor* t = constant_value(n.input(2));
    if (!t || t->numel() != 1 || t->dtype() != DataType::kBool || t->data<bool>()[0]) return false;
  }
  return true;
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
  for (ir::Node* n : todo) {
    if (!can_bypass(n, n->input(0))) continue;
    PARE_RETURN_IF_ERROR(bypass_node(g, n, n->input(0)));
    changed = true;
  }
  return changed;
}

}  // namespace

Result<bool> eliminate_identity(ir::Model& model) { return run_graph(*model.graph); }

}  // namespace pare::passes
