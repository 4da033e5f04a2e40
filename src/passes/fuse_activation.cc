#include "passes/fuse_activation.h"

#include <limits>

#include "passes/pass_util.h"

namespace pare::passes {
namespace {

bool scalar_constant(const ir::Value* v, float& out) {
  const Tensor* t = constant_value(v);
  if (!t || t->numel() != 1 || t->dtype() != DataType::kFloat32) return false;
  out = t->data<float>()[0];
  return true;
}

}  // namespace

bool match_activation(ir::Value* v, Epilogue& e) {
  // SiLU: v → Sigmoid → s, Mul(v, s); v has exactly these two consumers.
  if (v->uses().size() == 2 && !is_graph_output(v)) {
    ir::Node* a = v->uses()[0].node;
    ir::Node* b = v->uses()[1].node;
    if (is_op(*b, "Sigmoid")) std::swap(a, b);
    if (is_op(*a, "Sigmoid") && is_op(*b, "Mul") && sole_consumer(a->output(0)) == b &&
        ((b->input(0) == v && b->input(1) == a->output(0)) || (b->input(1) == v && b->input(0) == a->output(0)))) {
      e.nodes.insert(e.nodes.end(), {a, b});
      e.act = {ops::Activation::kSiLU, {}};
      e.out = b->output(0);
      return true;
    }
    return false;
  }
  ir::Node* n = sole_consumer(v);
  if (!n || n->outputs().size() != 1 || n->input(0) != v) return false;
  ops::ActivationSpec a;
  if (is_op(*n, "Relu")) {
    a = {ops::Activation::kRelu, {}};
  } else if (is_op(*n, "LeakyRelu")) {
    a = {ops::Activation::kLeakyRelu, {n->attr_float("alpha", 0.01f)}};
  } else if (is_op(*n, "Sigmoid")) {
    a = {ops::Activation::kSigmoid, {}};
  } else if (n->domain() == "com.pare" && n->op_type() == "Gelu") {
    a = {n->attr_string("approximate", "none") == "tanh" ? ops::Activation::kGeluTanh : ops::Activation::kGelu, {}};
  } else if (is_op(*n, "Tanh")) {
    a = {ops::Activation::kTanh, {}};
  } else if (is_op(*n, "HardSwish")) {
    a = {ops::Activation::kHardSwish, {}};
  } else if (is_op(*n, "HardSigmoid")) {
    a = {ops::Activation::kHardSigmoid, {n->attr_float("alpha", 0.2f), n->attr_float("beta", 0.5f)}};
  } else if (is_op(*n, "Clip")) {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (n->has_attr("min") || n->has_attr("max")) {  // opset < 11
      lo = n->attr_float("min", lo);
      hi = n->attr_float("max", hi);
    }
    if ((n->input(1) && !scalar_constant(n->input(1), lo)) || (n->input(2) && !scalar_constant(n->input(2), hi))) return false;
    a = {ops::Activation::kClip, {lo, hi}};
  } else {
    return false;
  }
  e.nodes.push_back(n);
  e.act = a;
  e.out = n->output(0);
  return true;
}


void absorb_activation(ir::Value* cur, Epilogue& e) {
  Epilogue act;
  if (match_activation(cur, act)) {
    e.nodes.insert(e.nodes.end(), act.nodes.begin(), act.nodes.end());
    e.act = act.act;
    cur = act.out;
  }
  e.out = cur;
}

void set_activation_attrs(ir::Node& n, const ops::ActivationSpec& a) {
  if (a.kind == ops::Activation::kNone) return;
  n.attributes()["activation"] = ir::Attribute::of(std::string(ops::activation_name(a.kind)));
  if (!a.params.empty()) n.attributes()["activation_params"] = ir::Attribute::of(a.params);
}

}  // namespace pare::passes
