// MatMul(A, B) → Add(·, C)  ⇒  Gemm(A, B, C) when A is 2-D (static rank), B is a constant
// 2-D matrix and C a constant broadcastable to [M, N] along rows ([N] or [1, N]). Gemm
// computes the same A·B + C in one kernel (the bias add rides in the epilogue).
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

bool rank_is(const ir::Value* v, size_t r) {
  return v && v->type().kind == ir::TypeInfo::Kind::kTensor && v->type().shape && v->type().shape->size() == r;
}

// Returns the Add's constant operand index (0 or 1), or -1.
int match(const ir::Node& add) {
  if (!is_op(add, "Add")) return -1;
  for (int i = 0; i < 2; ++i) {
    ir::Node* mm = producer_of_type(add.input(i), "MatMul");
    const Tensor* c = constant_value(add.input(1 - i));
    if (!mm || !c || !has_single_consumer(add.input(i))) continue;
    const Tensor* b = constant_value(mm->input(1));
    if (!b || b->rank() != 2 || !rank_is(mm->input(0), 2) || c->dtype() != b->dtype()) continue;
    const int64_t n = b->dim(1);
    const bool row = (c->rank() == 1 && c->dim(0) == n) || (c->rank() == 2 && c->dim(0) == 1 && c->dim(1) == n);
    if (row) return 1 - i;
  }
  return -1;
}

Result<bool> run_graph(ir::Graph& g) {
  bool changed = false;
  std::vector<std::pair<ir::Node*, int>> todo;
  for (const auto& n : g.nodes()) {
    for (ir::Graph* sg : n->subgraphs()) {
      PARE_ASSIGN_OR_RETURN(bool c, run_graph(*sg));
      changed |= c;
    }
    int ci = match(*n);
    if (ci >= 0) todo.emplace_back(n.get(), ci);
  }
  for (auto [add, ci] : todo) {
    ir::Node* mm = add->input(1 - ci)->producer();
    ir::Value* out = add->output(0);
    ir::Value* a = mm->input(0);
    ir::Value* b = mm->input(1);
    ir::Value* c = add->input(ci);
    const std::string name = (add->name().empty() ? std::string("gemm") : add->name()) + "_gemm";
    // The Gemm takes over the Add's output value (and so its name and uses).
    for (size_t i = 0; i < add->inputs().size(); ++i) add->set_input(i, nullptr);
    PARE_RETURN_IF_ERROR(g.erase_node_keep_outputs(add));
    ir::Value* mm_out = mm->output(0);
    for (size_t i = 0; i < mm->inputs().size(); ++i) mm->set_input(i, nullptr);
    if (mm_out->uses().empty()) PARE_RETURN_IF_ERROR(g.erase_node(mm));
    g.add_node("Gemm", {a, b, c}, {out}, "", name);
    changed = true;
  }
  if (changed) g.remove_dead_values();
  return changed;
}

}  // namespace

Result<bool> fuse_matmul_add(ir::Model& model) { return run_graph(*model.graph); }

}  // namespace pare::passes
