// Lowers ai.onnx.preview.training.Gradient (ONNX training preview, opset 1) to explicit
// backward nodes built from per-op gradients (ops/grad/):
//
//   c = Add(a, b); d = Mul(c, a); [da, db] = Gradient[xs=[a,b], y=d](a, b)
//   ⇒ dd = ConstantOfShape(Shape(d), 1); dc = SumToShape(dd·a); da = SumToShape(dd·c) + dc; ...
//
// Reverse-mode accumulation over the nodes between xs and y, in reverse topological order;
// gradients of a value used several times are summed. xs that y does not depend on get zeros.
#include <set>
#include <unordered_map>

#include "ops/grad/gradient.h"
#include "passes/pass.h"

namespace pare::passes {
namespace {

constexpr const char* kTrainingDomain = "ai.onnx.preview.training";

Status lower_one(ir::Model& model, ir::Graph& g, ir::Node* grad_node, const std::vector<ir::Node*>& order) {
  const ir::Attribute* xs_attr = grad_node->attr("xs");
  const std::string y_name = grad_node->attr_string("y", "");
  if (!xs_attr || xs_attr->strings.empty() || y_name.empty()) {
    return invalid_model("{}: attributes 'xs' and 'y' are required", grad_node->describe());
  }
  ir::Value* y = g.find_value(y_name);
  if (!y) return invalid_model("{}: y '{}' is not a value of the graph", grad_node->describe(), y_name);
  std::vector<ir::Value*> xs;
  for (const std::string& name : xs_attr->strings) {
    ir::Value* v = g.find_value(name);
    if (!v) return invalid_model("{}: xs '{}' is not a value of the graph", grad_node->describe(), name);
    xs.push_back(v);
  }
  if (grad_node->outputs().size() != xs.size()) {
    return invalid_model("{}: {} outputs for {} xs", grad_node->describe(), grad_node->outputs().size(), xs.size());
  }
  // Nodes that lie on a path from some x to y: forward-reachable from xs and backward from y.
  std::set<const ir::Value*> from_x(xs.begin(), xs.end());
  std::set<const ir::Node*> on_path;
  for (ir::Node* n : order) {
    if (n == grad_node) continue;
    for (ir::Value* in : n->inputs()) {
      if (in && from_x.count(in)) {
        for (ir::Value* o : n->outputs()) if (o) from_x.insert(o);
        on_path.insert(n);
        break;
      }
    }
  }
  ops::GradBuilder b(g, grad_node->name().empty() ? "gradient" : grad_node->name());
  std::unordered_map<const ir::Value*, ir::Value*> grad;
  auto accumulate = [&](const ir::Value* v, ir::Value* d) {
    if (!d) return;
    auto it = grad.find(v);
    grad[v] = it == grad.end() ? d : b.add("Add", {it->second, d});
  };
  accumulate(y, b.ones_like(y));
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    ir::Node* n = *it;
    if (!on_path.count(n)) continue;
    std::vector<ir::Value*> dys;
    bool any = false;
    for (ir::Value* o : n->outputs()) {
      auto g_it = o ? grad.find(o) : grad.end();
      dys.push_back(g_it == grad.end() ? nullptr : g_it->second);
      any |= dys.back() != nullptr;
    }
    if (!any) continue;
    ops::GradientFn fn = ops::find_gradient(n->domain(), n->op_type());
    if (!fn) return unsupported("{}: no gradient is defined for {} (needed by the Gradient op)", grad_node->describe(), n->describe());
    std::vector<ir::Value*> dxs(n->inputs().size(), nullptr);
    PARE_RETURN_IF_ERROR(fn(b, *n, dys, dxs));
    for (size_t i = 0; i < dxs.size(); ++i) {
      if (n->input(i)) accumulate(n->input(i), dxs[i]);
    }
  }
  for (size_t i = 0; i < xs.size(); ++i) {
    ir::Value* out = grad_node->output(i);
    if (!out) continue;
    auto it = grad.find(xs[i]);
    ir::Value* d = it == grad.end() ? b.zeros_like(xs[i]) : it->second;
    // Keep the output's name (it may be a graph output): route through Identity.
    ir::Value* named = b.add("Identity", {d});
    g.replace_all_uses(out, named);
    const std::string name = out->name();
    g.rename_value(out, g.unique_name(name + "/replaced"));
    g.rename_value(named, name);
  }
  for (size_t i = 0; i < grad_node->inputs().size(); ++i) grad_node->set_input(i, nullptr);
  PARE_RETURN_IF_ERROR(g.erase_node(grad_node));
  bool imported = false;
  for (const auto& o : model.opsets) imported |= o.domain == ops::kPareDomain;
  if (!imported) model.opsets.push_back({ops::kPareDomain, 1});
  return ok_status();
}

}  // namespace

Result<bool> lower_gradient(ir::Model& model) {
  ir::Graph& g = *model.graph;
  bool changed = false;
  for (;;) {
    ir::Node* target = nullptr;
    for (const auto& n : g.nodes()) {
      if (n->op_type() == "Gradient" && n->domain() == kTrainingDomain) target = n.get();
    }
    if (!target) break;
    PARE_ASSIGN_OR_RETURN(auto order, g.topological_order());
    PARE_RETURN_IF_ERROR(lower_one(model, g, target, order));
    changed = true;
  }
  return changed;
}

}  // namespace pare::passes
