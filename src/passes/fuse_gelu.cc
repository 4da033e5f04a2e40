// GELU in the decomposed forms PyTorch exports (operands of Add/Mul in either order):
//   erf:  0.5 · (x · (1 + erf(x / √2)))
//   tanh: 0.5 · (x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))))   (x³ as x·(x·x) or Pow(x, 3))
//   ⇒ com.pare.Gelu(x; approximate = "none" | "tanh")
// Constants are matched within 1e-4; every intermediate must feed only the next step.
#include <cmath>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

struct Match {
  std::vector<ir::Node*> nodes;
  ir::Value* x = nullptr;
  bool tanh = false;
};

// For Mul(x, rest) in either order where `rest` is produced (single use) by `op`: that
// producer, with x set to the other operand.
ir::Node* mul_with(const ir::Node& mul, const char* op, ir::Value*& x) {
  for (int i = 0; i < 2; ++i) {
    if (ir::Node* p = single_use_producer(mul.input(i), op)) {
      x = mul.input(1 - i);
      return p;
    }
  }
  return nullptr;
}

// x³ as Mul(x, Mul(x, x)) or Pow(x, 3).
bool is_cube(ir::Value* v, ir::Value* x, std::vector<ir::Node*>& nodes) {
  ir::Node* n = v->producer();
  if (!n || !has_single_consumer(v)) return false;
  if (is_op(*n, "Pow")) {
    if (n->input(0) != x || !is_scalar_near(n->input(1), 3.0f)) return false;
    nodes.push_back(n);
    return true;
  }
  if (!is_op(*n, "Mul")) return false;
  for (int i = 0; i < 2; ++i) {
    ir::Node* sq = single_use_producer(n->input(i), "Mul");
    if (n->input(1 - i) == x && sq && sq->input(0) == x && sq->input(1) == x) {
      nodes.insert(nodes.end(), {n, sq});
      return true;
    }
  }
  return false;
}

bool match(ir::Node* out, Match& m) {
  if (!is_op(*out, "Mul")) return false;
  ir::Value* half_of = other_than_scalar(*out, 0.5f);
  ir::Node* mul = half_of ? single_use_producer(half_of, "Mul") : nullptr;
  if (!mul) return false;
  ir::Value* x = nullptr;
  ir::Node* add1 = mul_with(*mul, "Add", x);
  if (!add1) return false;
  ir::Value* inner = other_than_scalar(*add1, 1.0f);
  if (!inner || !has_single_consumer(inner) || !inner->producer()) return false;
  ir::Node* f = inner->producer();
  m = Match{{out, mul, add1, f}, x};
  if (is_op(*f, "Erf")) {
    ir::Node* div = single_use_producer(f->input(0), "Div");
    if (!div || div->input(0) != x || !is_scalar_near(div->input(1), std::sqrt(2.0f))) return false;
    m.nodes.push_back(div);
    return true;
  }
  if (!is_op(*f, "Tanh")) return false;
  ir::Node* scale = single_use_producer(f->input(0), "Mul");
  ir::Value* poly = scale ? other_than_scalar(*scale, std::sqrt(2.0f / float(M_PI))) : nullptr;
  ir::Node* add = poly ? single_use_producer(poly, "Add") : nullptr;
  if (!add) return false;
  ir::Value* cubic = add->input(0) == x ? add->input(1) : add->input(1) == x ? add->input(0) : nullptr;
  ir::Node* coef = cubic ? single_use_producer(cubic, "Mul") : nullptr;
  ir::Value* cube = coef ? other_than_scalar(*coef, 0.044715f) : nullptr;
  m.nodes.insert(m.nodes.end(), {scale, add});
  if (!cube || !is_cube(cube, x, m.nodes)) return false;
  m.nodes.push_back(coef);
  m.tanh = true;
  return true;
}

}  // namespace

Result<bool> fuse_gelu(ir::Model& model) {
  return rewrite_to_fixpoint(model, [](ir::Graph& g, ir::Node* n) -> Result<bool> {
    Match m;
    if (!match(n, m)) return false;
    ir::Value* out = n->output(0);
    PARE_ASSIGN_OR_RETURN(ir::Node * gelu, replace_pattern(g, m.nodes, out, "Gelu", "com.pare", {m.x}, out->name() + "/gelu"));
    gelu->attributes()["approximate"] = ir::Attribute::of(std::string(m.tanh ? "tanh" : "none"));
    return true;
  });
}

}  // namespace pare::passes
