// Removes nodes none of whose outputs is used (in this graph, a subgraph, or as a graph
// output), repeatedly, then values nothing refers to. Every op pare runs is free of side
// effects, so an unused result can go.
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

bool dead(const ir::Node& n) {
  for (const ir::Value* v : n.outputs()) {
    if (v && (!v->uses().empty() || is_graph_output(v))) return false;
  }
  return true;
}

Result<bool> run_graph(ir::Graph& g) {
  bool changed = false;
  for (const auto& n : g.nodes()) {
    for (ir::Graph* sg : n->subgraphs()) {
      PARE_ASSIGN_OR_RETURN(bool c, run_graph(*sg));
      changed |= c;
    }
  }
  for (bool again = true; again;) {
    again = false;
    std::vector<ir::Node*> victims;
    for (const auto& n : g.nodes()) {
      if (dead(*n)) victims.push_back(n.get());
    }
    for (ir::Node* n : victims) {
      for (size_t i = 0; i < n->inputs().size(); ++i) n->set_input(i, nullptr);
      PARE_RETURN_IF_ERROR(g.erase_node(n));
      again = changed = true;
    }
  }
  if (changed) g.remove_dead_values();
  return changed;
}

}  // namespace

Result<bool> eliminate_dead_code(ir::Model& model) { return run_graph(*model.graph); }

}  // namespace pare::passes
