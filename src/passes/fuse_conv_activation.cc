// Conv(x, W, b) → [Add(·, z)] → [activation]  ⇒  com.pare.FusedConv(x, W, b, z; activation)
//   y = act(Conv(x, W, b) + z)
// for float Conv with constant weights (and bias). z (a residual) must have exactly the
// Conv's static output shape (no broadcasting); the activation is Relu, LeakyRelu, Clip with
// constant bounds, Sigmoid, HardSigmoid, HardSwish, Tanh, or SiLU written as Mul(v, Sigmoid(v)).
// Each absorbed value must feed only the next op of the chain (and not be a graph output), so
// nothing else observes the intermediate results. Every eligible Conv becomes a FusedConv,
// with or without an epilogue: it is the op the blocked-layout pass and oneDNN kernel handle.
#include "ops/fused/activation.h"
#include "passes/pass.h"
#include "passes/fuse_activation.h"
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
  absorb_activation(cur, m.epi);
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
  std::vector<ir::Node*> nodes{conv};
  nodes.insert(nodes.end(), m.epi.nodes.begin(), m.epi.nodes.end());
  PARE_ASSIGN_OR_RETURN(ir::Node * f, replace_pattern(g, nodes, m.epi.out, "FusedConv", "com.pare", ins, conv->name()));
  f->attributes() = std::move(attrs);
  set_activation_attrs(*f, m.epi.act);
  return ok_status();
}

}  // namespace

Result<bool> fuse_conv_activation(ir::Model& model) {
  return rewrite_to_fixpoint(model, [](ir::Graph& g, ir::Node* n) -> Result<bool> {
    Match m;
    if (!match(n, m)) return false;
    PARE_RETURN_IF_ERROR(rewrite(g, m));
    return true;
  });
}

}  // namespace pare::passes
