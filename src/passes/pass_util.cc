#include "passes/pass_util.h"

#include <algorithm>
#include <cmath>

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

Result<ir::Node*> replace_pattern(ir::Graph& g, const std::vector<ir::Node*>& nodes, ir::Value* out,
                                  const std::string& op_type, const std::string& domain,
                                  const std::vector<ir::Value*>& inputs, std::string name) {
  ir::Node* last = out->producer();
  if (!last || std::find(nodes.begin(), nodes.end(), last) == nodes.end()) {
    return internal_error("replace_pattern: {} is not produced inside the pattern", out->name());
  }
  for (ir::Node* n : nodes) {
    for (size_t i = 0; i < n->inputs().size(); ++i) n->set_input(i, nullptr);
  }
  PARE_RETURN_IF_ERROR(g.erase_node_keep_outputs(last));
  for (ir::Node* n : nodes) {
    if (n != last) PARE_RETURN_IF_ERROR(g.erase_node(n));
  }
  return g.add_node(op_type, inputs, {out}, domain, name);
}

Result<bool> rewrite_to_fixpoint(ir::Model& model, const std::function<Result<bool>(ir::Graph&, ir::Node*)>& rewrite_at,
                                 bool pare_ops) {
  ir::Graph& g = *model.graph;
  bool changed = false;
  for (bool again = true; again;) {
    again = false;
    for (const auto& n : g.nodes()) {
      PARE_ASSIGN_OR_RETURN(bool rewrote, rewrite_at(g, n.get()));
      if (rewrote) {
        changed = again = true;
        break;
      }
    }
  }
  if (changed) {
    g.remove_dead_values();
    if (pare_ops && model.opset("com.pare") < 0) model.opsets.push_back({"com.pare", 1});
  }
  return changed;
}

ir::Node* sole_consumer(const ir::Value* v) { return v && has_single_consumer(v) ? v->uses()[0].node : nullptr; }

ir::Node* single_use_producer(const ir::Value* v, const char* op_type) {
  ir::Node* p = producer_of_type(v, op_type);
  return p && has_single_consumer(v) ? p : nullptr;
}

bool is_scalar_near(const ir::Value* v, float c) {
  const Tensor* t = constant_value(v);
  if (!t || t->numel() != 1 || t->dtype() != DataType::kFloat32) return false;
  const float x = t->data<float>()[0];
  return std::abs(x - c) <= 1e-4f * std::max(1.0f, std::abs(c));
}

ir::Value* other_than_scalar(const ir::Node& n, float c) {
  if (n.inputs().size() != 2) return nullptr;
  if (is_scalar_near(n.input(1), c)) return n.input(0);
  if (is_scalar_near(n.input(0), c)) return n.input(1);
  return nullptr;
}

}  // namespace pare::passes
