// Reshape and Transpose chains:
//   Reshape(Reshape(x, s1), s2)       ⇒  Reshape(x, s2)        (s2 constant, no 0 / -1 kept
//                                                               relative to the first; allowzero 0)
//   Transpose(Transpose(x, p1), p2)   ⇒  Transpose(x, p1∘p2),  y[i] = x[p1[p2[i]]]
//   Transpose(x, identity)            ⇒  x
// when the inner result feeds only the outer op. A Reshape result only depends on the
// element order and the final shape, so the intermediate shape never matters — except that
// 0 in s2 copies a dim of the intermediate, so s2 must be free of 0s.
#include <numeric>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

std::vector<int64_t> perm_of(const ir::Node& t) {
  std::vector<int64_t> p = t.attr_ints("perm");
  if (p.empty() && t.input(0)->type().shape) {
    p.resize(t.input(0)->type().shape->size());
    std::iota(p.rbegin(), p.rend(), 0);
  }
  return p;
}

bool no_zero_dims(const ir::Value* shape) {
  const Tensor* s = constant_value(shape);
  if (!s || s->dtype() != DataType::kInt64) return false;
  for (int64_t i = 0; i < s->numel(); ++i) {
    if (s->data<int64_t>()[i] == 0) return false;
  }
  return true;
}

Result<bool> run_graph(ir::Graph& g) {
  bool changed = false;
  for (bool again = true; again;) {
    again = false;
    for (const auto& n : g.nodes()) {
      if (is_op(*n, "Reshape") && n->attr_int("allowzero", 0) == 0 && no_zero_dims(n->input(1))) {
        ir::Node* inner = single_use_producer(n->input(0), "Reshape");
        if (inner && inner->attr_int("allowzero", 0) == 0) {
          n->set_input(0, inner->input(0));
          for (size_t i = 0; i < inner->inputs().size(); ++i) inner->set_input(i, nullptr);
          PARE_RETURN_IF_ERROR(g.erase_node(inner));
          changed = again = true;
          break;
        }
      }
      if (is_op(*n, "Transpose")) {
        std::vector<int64_t> p2 = perm_of(*n);
        if (ir::Node* inner = single_use_producer(n->input(0), "Transpose")) {
          std::vector<int64_t> p1 = perm_of(*inner);
          if (p1.empty() || p1.size() != p2.size()) continue;
          std::vector<int64_t> p(p2.size());
          for (size_t i = 0; i < p.size(); ++i) p[i] = p1[static_cast<size_t>(p2[i])];
          n->attributes()["perm"] = ir::Attribute::of(p);
          n->set_input(0, inner->input(0));
          inner->set_input(0, nullptr);
          PARE_RETURN_IF_ERROR(g.erase_node(inner));
          changed = again = true;
          break;
        }
        bool identity = !p2.empty();
        for (size_t i = 0; i < p2.size(); ++i) identity &= p2[i] == static_cast<int64_t>(i);
        if (identity && can_bypass(n.get(), n->input(0))) {
          PARE_RETURN_IF_ERROR(bypass_node(g, n.get(), n->input(0)));
          changed = again = true;
          break;
        }
      }
    }
  }
  if (changed) g.remove_dead_values();
  return changed;
}

}  // namespace

Result<bool> simplify_reshape_transpose(ir::Model& model) { return run_graph(*model.graph); }

}  // namespace pare::passes
