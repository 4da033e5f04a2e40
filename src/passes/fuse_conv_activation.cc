// Conv(x, W, b) → [Add(·, z)] → [activation]  ⇒  com.pare.FusedConv(x, W, b, z; activation)
//   y = act(Conv(x, W, b) + z)
// for float Conv with constant weights (and bias). z (a residual) must have exactly the
// Conv's static output shape (no broadcasting); the activation is Relu, LeakyRelu, Clip with
// constant bounds, Sigmoid, HardSigmoid, HardSwish, Tanh, or SiLU written as Mul(v, Sigmoid(v)).
// Each absorbed value must feed only the next op of the chain (and not be a graph output), so
// nothing else observes the intermediate results. Every eligible Conv becomes a FusedConv,
// with or without an epilogue: it is the op the blocked-layout pass and oneDNN kernel handle.
#include <limits>

#include "ops/fused/activation.h"
#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

const std::vector<std::string> kConvAttrs = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"};

bool static_shape(const ir::Value* v, Shape& out) {
  if (!v || v->type().kind != ir::TypeInfo::Kind::kTensor || !v->type().shape) return false;
  out.clear();
  for (const ir::Dim& d : *v->type().shape) {
    if (!d.known()) return false;
    out.push_back(d.value);
  }
  return true;
}

// The single consumer of v (not a graph output), or null.
ir::Node* sole_consumer(const ir::Value* v) { return has_single_consumer(v) ? v->uses()[0].node : nullptr; }

bool scalar_constant(const ir::Value* v, float& out) {
  const Tensor* t = constant_value(v);
  if (!t || t->numel() != 1 || t->dtype() != DataType::kFloat32) return false;
  out = t->data<float>()[0];
  return true;
}

struct Epilogue {
  std::vector<ir::Node*> nodes;  // absorbed, in order
  ops::ActivationSpec act;
  ir::Value* out = nullptr;      // the value the fused node defines
};

// An activation consuming v (alone), absorbed into e; false when there is none.
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

struct Match {
  ir::Node* conv;
  ir::Value* z = nullptr;
  Epilogue epi;
};

bool match(ir::Node* conv, Match& m) {
  if (!is_op(*conv, "Conv") || conv->outputs().size() != 1) return false;
  const Tensor* w = constant_value(conv->input(1));
  if (!w || w->dtype() != DataType::kFloat32 || w->rank() < 3 || w->rank() > 5) return false;
  if (conv->input(2) && !constant_value(conv->input(2))) return false;
  const ir::Value* x = conv->input(0);
  if (!x || x->type().kind != ir::TypeInfo::Kind::kTensor || x->type().dtype != DataType::kFloat32) return false;
  m = Match{conv};
  ir::Value* cur = conv->output(0);
  Shape ys, zs;
  if (ir::Node* add = sole_consumer(cur); add && is_op(*add, "Add") && static_shape(cur, ys)) {
    ir::Value* z = add->input(0) == cur ? add->input(1) : add->input(0);
    if (z != cur && static_shape(z, zs) && zs == ys && z->type().dtype == DataType::kFloat32 && !constant_value(z)) {
      m.z = z;
      m.epi.nodes.push_back(add);
      cur = add->output(0);
    }
  }
  Epilogue e;
  if (match_activation(cur, e)) {
    m.epi.nodes.insert(m.epi.nodes.end(), e.nodes.begin(), e.nodes.end());
    m.epi.act = e.act;
    cur = e.out;
  }
  m.epi.out = cur;
  return true;
}

Status rewrite(ir::Graph& g, const Match& m) {
  ir::Node* conv = m.conv;
  std::vector<ir::Value*> ins{conv->input(0), conv->input(1), conv->input(2), m.z};
  while (!ins.empty() && ins.back() == nullptr) ins.pop_back();
  std::map<std::string, ir::Attribute> attrs;
  for (const std::string& a : kConvAttrs) {
    if (auto it = conv->attributes().find(a); it != conv->attributes().end()) attrs[a] = std::move(it->second);
  }
  const std::string name = conv->name();
  ir::Node* last = m.epi.nodes.empty() ? conv : m.epi.nodes.back();
  for (ir::Node* n : m.epi.nodes) {
    for (size_t i = 0; i < n->inputs().size(); ++i) n->set_input(i, nullptr);
  }
  for (size_t i = 0; i < conv->inputs().size(); ++i) conv->set_input(i, nullptr);
  PARE_RETURN_IF_ERROR(g.erase_node_keep_outputs(last));
  if (last != conv) PARE_RETURN_IF_ERROR(g.erase_node(conv));
  for (ir::Node* n : m.epi.nodes) {
    if (n != last) PARE_RETURN_IF_ERROR(g.erase_node(n));
  }
  ir::Node* f = g.add_node("FusedConv", ins, {m.epi.out}, "com.pare", name);
  f->attributes() = std::move(attrs);
  if (m.epi.act.kind != ops::Activation::kNone) {
    ir::Attribute act;
    act.type = ir::AttrType::kString;
    act.s = ops::activation_name(m.epi.act.kind);
    f->attributes()["activation"] = std::move(act);
    if (!m.epi.act.params.empty()) {
      ir::Attribute p;
      p.type = ir::AttrType::kFloats;
      p.floats = m.epi.act.params;
      f->attributes()["activation_params"] = std::move(p);
    }
  }
  return ok_status();
}

Result<bool> run_graph(ir::Graph& g) {
  bool changed = false;
  for (const auto& n : g.nodes()) {
    for (ir::Graph* sg : n->subgraphs()) {
      PARE_ASSIGN_OR_RETURN(bool c, run_graph(*sg));
      changed |= c;
    }
  }
  // One match at a time: a rewrite erases nodes that later matches would look at.
  for (bool again = true; again;) {
    again = false;
    for (const auto& n : g.nodes()) {
      Match m;
      if (!match(n.get(), m)) continue;
      PARE_RETURN_IF_ERROR(rewrite(g, m));
      changed = again = true;
      break;
    }
  }
  if (changed) g.remove_dead_values();
  return changed;
}

}  // namespace

Result<bool> fuse_conv_activation(ir::Model& model) {
  PARE_ASSIGN_OR_RETURN(bool changed, run_graph(*model.graph));
  if (changed && model.opset("com.pare") < 0) model.opsets.push_back({"com.pare", 1});
  return changed;
}

}  // namespace pare::passes
