// Half-precision models (fp16/bf16 weights and activations, what `pare quantize --mode fp16|bf16`
// and other converters write) compute in float32: this CPU has no fp16 arithmetic, and pare's
// fast kernels (oneDNN convolutions and GEMMs, fusions, blocked layouts) are float32, so a half
// graph would otherwise run on the reference kernels (the Fashion-MNIST CNN: 29 ms instead of
// 0.1 ms). ONNX Runtime's CPU provider does the same for ops without half kernels (Casts to
// float around them). The file keeps its half weights (half the size on disk); in memory they
// are converted once here.
//
//   half initializers and Constant values → float32;  Cast(to=half) → Identity, or to=FLOAT
//   from a non-float input;  Cast(to=FLOAT) of a half value → Identity;  every half value →
//   float32;  a half graph input → Cast(to=FLOAT) after it;  a half graph output → Cast back
//   to its type before it (the output keeps its name and type).
//
// Results are float32 arithmetic on half-rounded weights: at least as accurate as half
// arithmetic, not bit-identical to it. Skipped (graph unchanged) when a node holds subgraphs, an
// attribute makes a half tensor by itself (RandomNormal dtype, EyeLike …) or a graph output's
// type is unknown: those are rare in inference graphs and the reference kernels run them correctly. Not in the portable pipeline
// (`pare optimize` saves the half graph as it was).
#include <set>

#include "passes/pass.h"
#include "passes/pass_util.h"

namespace pare::passes {
namespace {

bool is_half(DataType t) { return t == DataType::kFloat16 || t == DataType::kBFloat16; }

Result<Tensor> to_float(const Tensor& t) {
  PARE_ASSIGN_OR_RETURN(Tensor f, Tensor::create(DataType::kFloat32, t.shape()));
  float* d = f.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = static_cast<float>(t.float_at(i));
  return f;
}

bool half_type(const ir::TypeInfo& t) {
  if (t.kind == ir::TypeInfo::Kind::kTensor) return is_half(t.dtype);
  if (t.elem) return half_type(*t.elem);
  return false;
}

// Whether the pass can rewrite `g`: no subgraphs, no node creating half tensors from an
// attribute other than Cast's `to` and Constant/ConstantOfShape's value, no half sequences.
bool supported(const ir::Graph& g) {
  for (const auto& n : g.nodes()) {
    if (!n->subgraphs().empty()) return false;
    for (const auto& [name, a] : n->attributes()) {
      if (a.type == ir::AttrType::kInt && is_half(static_cast<DataType>(a.i)) && !(name == "to" && is_op(*n, "Cast"))) {
        return false;
      }
    }
  }
  for (const auto& v : g.values())
    if (v->type().kind != ir::TypeInfo::Kind::kTensor && half_type(v->type())) return false;
  // Outputs must keep their types: each needs a known one (shape inference ran before).
  for (const ir::Value* o : g.outputs())
    if (!o || o->type().kind != ir::TypeInfo::Kind::kTensor || o->type().dtype == DataType::kUndefined) return false;
  return true;
}

}  // namespace

Result<bool> compute_half_in_float(ir::Model& model) {
  ir::Graph& g = *model.graph;
  bool any = false;
  for (const auto& v : g.values()) any = any || half_type(v->type()) || (v->initializer() && is_half(v->initializer()->dtype()));
  for (const auto& n : g.nodes()) {
    for (const auto& [name, a] : n->attributes()) any = any || (a.type == ir::AttrType::kTensor && is_half(a.t.dtype()));
  }
  if (!any || !supported(g)) return false;
  std::set<const ir::Value*> keep;  // values that stay half: graph inputs, outputs of the Casts made here

  // Graph outputs: the value computed inside becomes float32 under a new name; a Cast back to the
  // half type produces the output under its own name.
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    ir::Value* out = g.outputs()[i];
    if (!out || out->type().kind != ir::TypeInfo::Kind::kTensor || !is_half(out->type().dtype) || out->is_graph_input() ||
        out->initializer() || !out->producer()) {
      continue;
    }
    const std::string name = out->name();
    const ir::TypeInfo type = out->type();
    g.rename_value(out, g.unique_name(name + "_float"));
    ir::Value* cast_out = g.add_value(name);
    cast_out->type() = type;
    ir::Node* c = g.add_node("Cast", {out}, {cast_out}, "", g.unique_name(name + "_to_half"));
    c->attributes()["to"] = ir::Attribute::of(static_cast<int64_t>(type.dtype));
    g.outputs()[i] = cast_out;
    keep.insert(cast_out);
  }
  // Graph inputs (and half outputs that are graph inputs or initializers): read through a Cast to float32.
  for (ir::Value* in : std::vector<ir::Value*>(g.inputs())) {
    if (in->type().kind != ir::TypeInfo::Kind::kTensor || !is_half(in->type().dtype) || in->initializer()) continue;
    keep.insert(in);
    ir::Value* f = g.add_value(g.unique_name(in->name() + "_float"));
    f->type() = ir::TypeInfo::tensor(DataType::kFloat32, in->type().shape);
    g.replace_all_uses(in, f);
    ir::Node* c = g.add_node("Cast", {in}, {f}, "", g.unique_name(in->name() + "_to_float"));
    c->attributes()["to"] = ir::Attribute::of(static_cast<int64_t>(DataType::kFloat32));
    // replace_all_uses also moved a graph output that is this input; point it back.
    for (ir::Value*& o : g.outputs())
      if (o == f) o = in;
  }
  // Initializers and constant attributes.
  for (ir::Value* v : g.initializers()) {
    if (!is_half(v->initializer()->dtype())) continue;
    bool output = false;
    for (const ir::Value* o : g.outputs()) output = output || o == v;
    if (output) {  // a half constant output stays as it is
      keep.insert(v);
      continue;
    }
    PARE_ASSIGN_OR_RETURN(Tensor f, to_float(*v->initializer()));
    v->set_initializer(std::move(f));
    v->type().dtype = DataType::kFloat32;
  }
  std::vector<ir::Node*> casts;
  for (const auto& up : g.nodes()) {
    ir::Node* n = up.get();
    for (auto& [name, a] : n->attributes()) {
      if (a.type == ir::AttrType::kTensor && is_half(a.t.dtype()) && (is_op(*n, "Constant") || is_op(*n, "ConstantOfShape"))) {
        PARE_ASSIGN_OR_RETURN(a.t, to_float(a.t));
      }
    }
    if (is_op(*n, "Cast") && n->input(0) && n->output(0)) casts.push_back(n);
  }
  // Every other half value is float32 now (graph inputs and the output Casts' outputs excepted).
  for (const auto& v : g.values()) {
    if (v->type().kind == ir::TypeInfo::Kind::kTensor && is_half(v->type().dtype) && !keep.count(v.get())) {
      v->type().dtype = DataType::kFloat32;
    }
  }
  // Casts between float32 and (former) half values are identities now.
  for (ir::Node* c : casts) {
    const int64_t to = c->attr_int("to", 0);
    const ir::Value* in = c->input(0);
    const bool in_float = in->type().kind == ir::TypeInfo::Kind::kTensor && in->type().dtype == DataType::kFloat32;
    if (keep.count(c->output(0))) continue;  // the Casts back to half made above
    if (is_half(static_cast<DataType>(to)) || to == static_cast<int64_t>(DataType::kFloat32)) {
      if (in_float) {
        c->set_op("", "Identity");
        c->attributes().erase("to");
      } else {
        c->attributes()["to"] = ir::Attribute::of(static_cast<int64_t>(DataType::kFloat32));
      }
    }
  }
  return true;
}

}  // namespace pare::passes
