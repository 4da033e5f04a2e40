#include "passes/pass_util.h"

#include <algorithm>

namespace pare::passes {

bool is_graph_output(const ir::Value* v) {
  const auto& outs = v->owner()->outputs();
  return std::find(outs.begin(), outs.end(), v) != outs.end();
}

bool has_single_consumer(const ir::Value* v) { return v->uses().size() == 1 && !is_graph_output(v); }

const Tensor* constant_value(const ir::Value* v) { return v && v->initializer() ? &*v->initializer() : nullptr; }

bool is_op(const ir::Node& n, const char* op_type) {
  return n.op_type() == op_type && (n.domain().empty() || n.domain() == "ai.onnx");
}

ir::Node* producer_of_type(const ir::Value* v, const char* op_type) {
  if (!v || !v->producer()) return nullptr;
  return is_op(*v->producer(), op_type) ? v->producer() : nullptr;
}

bool can_bypass(const ir::Node* n, const ir::Value* replacement) {
  const ir::Value* out = n->output(0);
  if (!out || !replacement) return false;
  for (size_t i = 1; i < n->outputs().size(); ++i) {
    if (n->output(i) && (!n->output(i)->uses().empty() || is_graph_output(n->output(i)))) return false;
  }
  if (!is_graph_output(out)) return true;
  // A graph output must keep its name: the replacement takes it, so it must be a plain node
  // output of the same graph.
  return !replacement->is_graph_input() && !is_graph_output(replacement) && replacement->owner() == out->owner() &&
         !replacement->initializer() && replacement->producer() != nullptr;
}

Status bypass_node(ir::Graph& g, ir::Node* n, ir::Value* replacement) {
  if (!can_bypass(n, replacement)) return internal_error("cannot bypass {}", n->describe());
  ir::Value* out = n->output(0);
  const bool output = is_graph_output(out);
  g.replace_all_uses(out, replacement);
  for (size_t i = 0; i < n->outputs().size(); ++i) {
    if (n->output(i) && !n->output(i)->uses().empty()) {
      return invalid_input("cannot bypass {}: output {} is used", n->describe(), i);
    }
  }
  const std::string name = out->name();
  for (size_t i = 0; i < n->inputs().size(); ++i) n->set_input(i, nullptr);
  PARE_RETURN_IF_ERROR(g.erase_node(n));
  if (output) {
    g.rename_value(out, g.unique_name(name + "/removed"));
    g.rename_value(replacement, name);
  }
  return ok_status();
}

}  // namespace pare::passes
