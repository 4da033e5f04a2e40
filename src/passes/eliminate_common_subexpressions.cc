// Common-subexpression elimination: two nodes with the same op, domain, inputs and attributes
// compute the same outputs, so the second's outputs are replaced by the first's. Nodes with
// subgraphs or nondeterministic ops are left alone. One pass in topological order catches
// chains (once a's duplicate is merged, consumers of both become duplicates too).
#include <cstring>
#include <map>
#include <set>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

bool same_attr(const ir::Attribute& a, const ir::Attribute& b) {
  if (a.type != b.type || a.f != b.f || a.i != b.i || a.s != b.s || a.floats != b.floats || a.ints != b.ints ||
      a.strings != b.strings) {
    return false;
  }
  if (a.type == ir::AttrType::kTensor) {
    if (a.t.dtype() != b.t.dtype() || a.t.shape() != b.t.shape()) return false;
    if (a.t.dtype() == DataType::kString) {
      for (int64_t i = 0; i < a.t.numel(); ++i) {
        if (a.t.data<std::string>()[i] != b.t.data<std::string>()[i]) return false;
      }
      return true;
    }
    return std::memcmp(a.t.raw_data(), b.t.raw_data(), a.t.nbytes()) == 0;
  }
  return a.type != ir::AttrType::kGraph && a.type != ir::AttrType::kGraphs && a.type != ir::AttrType::kTensors;
}

bool same_node(const ir::Node& a, const ir::Node& b) {
  if (a.op_type() != b.op_type() || a.domain() != b.domain() || a.inputs() != b.inputs() ||
      a.outputs().size() != b.outputs().size() || a.attributes().size() != b.attributes().size()) {
    return false;
  }
  for (const auto& [k, v] : a.attributes()) {
    auto it = b.attributes().find(k);
    if (it == b.attributes().end() || !same_attr(v, it->second)) return false;
  }
  for (size_t i = 0; i < a.outputs().size(); ++i) {
    if ((a.output(i) == nullptr) != (b.output(i) == nullptr)) return false;
  }
  return true;
}

Result<bool> run_graph(ir::Graph& g) {
  static const std::set<std::string> kNondeterministic = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                                          "RandomUniformLike", "Bernoulli", "Multinomial", "Dropout"};
  bool changed = false;
  PARE_ASSIGN_OR_RETURN(auto order, g.topological_order());
  // Candidates bucketed by (op, first input) to keep the search short.
  std::map<std::pair<std::string, const ir::Value*>, std::vector<ir::Node*>> seen;
  std::vector<ir::Node*> dead;
  for (ir::Node* n : order) {
    for (ir::Graph* sg : n->subgraphs()) {
      PARE_ASSIGN_OR_RETURN(bool c, run_graph(*sg));
      changed |= c;
    }
    if (!n->subgraphs().empty() || kNondeterministic.count(n->op_type()) || n->outputs().empty()) continue;
    bool output = false;
    for (const ir::Value* v : n->outputs()) output |= v && is_graph_output(v);
    auto& bucket = seen[{n->op_type(), n->input(0)}];
    ir::Node* twin = nullptr;
    for (ir::Node* m : bucket) {
      if (same_node(*m, *n)) twin = m;
    }
    if (!twin || output) {
      bucket.push_back(n);
      continue;
    }
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      if (n->output(i)) g.replace_all_uses(n->output(i), twin->output(i));
    }
    dead.push_back(n);
    changed = true;
  }
  for (ir::Node* n : dead) {
    for (size_t i = 0; i < n->inputs().size(); ++i) n->set_input(i, nullptr);
    PARE_RETURN_IF_ERROR(g.erase_node(n));
  }
  if (changed) g.remove_dead_values();
  return changed;
}

}  // namespace

Result<bool> eliminate_common_subexpressions(ir::Model& model) { return run_graph(*model.graph); }

}  // namespace pare::passes
