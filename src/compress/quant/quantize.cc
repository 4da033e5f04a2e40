// Driver of `pare quantize`: validates the model (not already quantized, opset that can be
// raised safely), runs the chosen mode and records sizes.
#include "compress/quant/quantize.h"

#include <algorithm>
#include <cmath>

#include "compress/quant/internal.h"
#include "passes/pass.h"

namespace pare::compress::quant {

Result<Mode> parse_mode(const std::string& s) {
  if (s == "static") return Mode::kStatic;
  if (s == "dynamic") return Mode::kDynamic;
  if (s == "weight-only") return Mode::kWeightOnly;
  if (s == "fp16") return Mode::kFloat16;
  if (s == "bf16") return Mode::kBFloat16;
  return invalid_input("unknown mode '{}' (static, dynamic, weight-only, fp16, bf16)", s);
}

Result<CalibMethod> parse_calib_method(const std::string& s) {
  if (s == "minmax") return CalibMethod::kMinMax;
  if (s == "percentile") return CalibMethod::kPercentile;
  if (s == "entropy") return CalibMethod::kEntropy;
  if (s == "mse") return CalibMethod::kMse;
  return invalid_input("unknown calibration method '{}' (minmax, percentile, entropy, mse)", s);
}

const std::vector<std::string>& quantizable_op_types(Mode mode) {
  static const std::vector<std::string> kQdq = {"Conv", "MatMul", "Gemm", "Gather"};
  static const std::vector<std::string> kWeightOnly = {"MatMul", "Gemm", "Gather"};
  static const std::vector<std::string> kHalf = {
      "Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Sigmoid",
      "Tanh", "Gelu", "Erf", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten",
      "Reshape", "Transpose", "Concat", "Squeeze", "Unsqueeze", "Slice", "Gather", "BatchNormalization",
      "Clip", "Identity", "HardSigmoid", "HardSwish", "Neg", "Abs", "Expand", "Tile"};
  switch (mode) {
    case Mode::kStatic:
    case Mode::kDynamic: return kQdq;
    case Mode::kWeightOnly: return kWeightOnly;
    default: return kHalf;
  }
}

int64_t initializer_bytes(const ir::Graph& g) {
  int64_t n = 0;
  for (const ir::Value* v : g.initializers()) n += static_cast<int64_t>(v->initializer()->nbytes());
  for (const auto& node : g.nodes())
    for (const ir::Graph* sg : node->subgraphs()) n += initializer_bytes(*sg);
  return n;
}

ir::Value* add_constant(ir::Graph& g, const std::string& base, Tensor t) {
  return g.add_initializer(g.unique_name(base), std::move(t));
}

ir::Value* add_typed_value(ir::Graph& g, const std::string& base, DataType dt, const ir::Value* like) {
  ir::Value* v = g.add_value(g.unique_name(base));
  v->type() = ir::TypeInfo::tensor(dt, like ? like->type().shape : std::nullopt);
  return v;
}

void set_int_attr(ir::Node* n, const std::string& name, int64_t v) {
  ir::Attribute& a = n->attributes()[name];
  a.type = ir::AttrType::kInt;
  a.i = v;
}

bool node_selected(const ir::Node& n, const QuantizeOptions& o, const std::vector<std::string>& op_types,
                   std::string* reason) {
  if (std::find(op_types.begin(), op_types.end(), n.op_type()) == op_types.end()) {
    *reason = "op type not selected";
    return false;
  }
  if (std::find(o.exclude.begin(), o.exclude.end(), n.name()) != o.exclude.end()) {
    *reason = "excluded by --exclude";
    return false;
  }
  return true;
}

Result<QuantizedWeight> quantize_weight(const Tensor& w, const std::string& name, int axis, int64_t block, int bits) {
  if (w.dtype() != DataType::kFloat32) return unsupported("weight '{}' is {}, expected float", name, w.type_string());
  const float* p = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i)
    if (!std::isfinite(p[i])) return invalid_input("weight '{}' holds {} at element {}: cannot quantize", name, p[i], i);
  const double qmax = bits == 4 ? 7 : 127;
  // Element i → (outer, a, inner) with a the index along `axis`; its scale index follows.
  int64_t outer = 1, extent = w.numel(), inner = 1;
  if (axis >= 0) {
    extent = w.dim(axis);
    for (int64_t d = 0; d < axis; ++d) outer *= w.dim(d);
    for (int64_t d = axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  }
  Shape sshape;
  int64_t groups = 1;
  if (axis >= 0 && block > 0) {
    groups = (extent + block - 1) / block;
    sshape = w.shape();
    sshape[axis] = groups;
  } else if (axis >= 0) {
    groups = extent;
    sshape = {extent};
  }
  // scale index of element (o, a, i)
  auto sidx = [&](int64_t o, int64_t a, int64_t i) -> int64_t {
    if (axis < 0) return 0;
    if (block > 0) return (o * groups + a / block) * inner + i;
    return a;
  };
  PARE_ASSIGN_OR_RETURN(Tensor scale, Tensor::create(DataType::kFloat32, sshape));
  float* s = scale.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t a = 0; a < extent; ++a)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = sidx(o, a, i);
        s[k] = std::max(s[k], std::fabs(p[(o * extent + a) * inner + i]));
      }
  for (int64_t k = 0; k < scale.numel(); ++k) s[k] = s[k] > 0 ? static_cast<float>(s[k] / qmax) : 1.0f;
  const DataType qt = bits == 4 ? DataType::kInt4 : DataType::kInt8;
  QuantizedWeight out;
  PARE_ASSIGN_OR_RETURN(out.q, Tensor::create(qt, w.shape()));
  uint8_t* q = out.q.data<uint8_t>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t a = 0; a < extent; ++a)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t e = (o * extent + a) * inner + i;
        const int v = static_cast<int>(std::clamp(std::nearbyint(double(p[e]) / s[sidx(o, a, i)]), -qmax, qmax));
        if (bits == 4) q[e / 2] |= static_cast<uint8_t>((v & 0xF) << (4 * (e % 2)));  // low nibble first
        else q[e] = static_cast<uint8_t>(static_cast<int8_t>(v));
      }
  out.scale = std::move(scale);
  if (bits == 8) {
    PARE_ASSIGN_OR_RETURN(out.zero, Tensor::create(qt, sshape));
  }
  return out;
}

namespace {

Status check_not_quantized(const ir::Graph& g) {
  static const std::vector<std::string> kQuantOps = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
                                                     "QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger"};
  for (const auto& n : g.nodes())
    if (std::find(kQuantOps.begin(), kQuantOps.end(), n->op_type()) != kQuantOps.end())
      return unsupported("the model is already quantized ({}); quantize the float model instead", n->describe());
  return ok_status();
}

// Raising the default-domain opset must not change what an existing node means: the forms
// that moved from attributes to inputs (opset 13: Squeeze/Unsqueeze axes, Split split,
// ReduceSum axes; opset 18: the other reductions' axes) are rewritten to their input form.
Status raise_opset(ir::Model& model, int64_t target) {
  int64_t cur = model.opset("");
  if (cur >= target) return ok_status();
  if (cur < 10) return unsupported("model opset {} is older than 10; convert it to opset {} first", cur, target);
  for (const auto& n : model.graph->nodes()) {
    const std::string& op = n->op_type();
    bool old_form = false;
    if (cur < 13 && (op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum")) old_form = n->has_attr("axes");
    if (cur < 13 && op == "Split") old_form = n->has_attr("split");
    if (cur < 18 && target >= 18 && op.rfind("Reduce", 0) == 0 && op != "ReduceSum") old_form = n->has_attr("axes");
    if (!old_form) continue;
    // The attribute becomes the equivalent int64 constant input (the op's second input).
    const std::string attr = op == "Split" ? "split" : "axes";
    if (n->inputs().size() != 1)
      return unsupported("{} uses its opset-{} form; the quantized model needs opset {}: convert the model first", n->describe(), cur, target);
    const std::vector<int64_t> v = n->attr_ints(attr);
    Tensor t = Tensor::create(DataType::kInt64, {static_cast<int64_t>(v.size())}).value();
    std::copy(v.begin(), v.end(), t.data<int64_t>());
    n->add_input(add_constant(*model.graph, n->name() + "_" + attr, t));
    n->attributes().erase(attr);
  }
  for (auto& o : model.opsets)
    if (o.domain.empty() || o.domain == "ai.onnx") o.version = target;
  return ok_status();
}

}  // namespace

Result<QuantizeReport> quantize_model(ir::Model& model, const QuantizeOptions& options, CalibrationSource* calib) {
  PARE_RETURN_IF_ERROR(check_not_quantized(*model.graph));
  const auto& allowed = quantizable_op_types(options.mode);
  for (const auto& op : options.op_types)
    if (std::find(allowed.begin(), allowed.end(), op) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return unsupported("op type '{}' cannot be quantized in this mode (supported: {})", op, list);
    }
  if (options.mode == Mode::kWeightOnly && options.bits != 4 && options.bits != 8)
    return invalid_input("--bits must be 4 or 8, got {}", options.bits);
  if (options.mode == Mode::kWeightOnly && options.group_size < 0)
    return invalid_input("--group-size must be >= 0, got {}", options.group_size);
  if (options.activation_type != DataType::kUInt8 && options.activation_type != DataType::kInt8)
    return invalid_input("activation type must be uint8 or int8");
  if (options.mode == Mode::kStatic && !calib) return invalid_input("static quantization needs calibration data (--calib-data)");
  for (const auto& name : options.exclude) {
    bool found = false;
    for (const auto& n : model.graph->nodes()) found |= n->name() == name;
    if (!found) return invalid_input("--exclude: the model has no node named '{}'", name);
  }
  PARE_ASSIGN_OR_RETURN(bool changed, passes::infer_shapes(model));
  (void)changed;
  QuantizeReport report;
  report.bytes_before = initializer_bytes(*model.graph);
  switch (options.mode) {
    case Mode::kStatic:
    case Mode::kDynamic:
      PARE_RETURN_IF_ERROR(raise_opset(model, 13));
      PARE_RETURN_IF_ERROR(quantize_gather_tables(model, options, report, nullptr));
      PARE_RETURN_IF_ERROR(quantize_qdq(model, options, calib, report));
      break;
    case Mode::kWeightOnly:
      PARE_RETURN_IF_ERROR(raise_opset(model, options.bits == 4 || options.group_size > 0 ? 21 : 13));
      PARE_RETURN_IF_ERROR(quantize_weight_only(model, options, report));
      break;
    default: PARE_RETURN_IF_ERROR(convert_half(model, options, calib, report)); break;
  }
  model.graph->remove_dead_values();
  PARE_RETURN_IF_ERROR(model.graph->verify());
  report.bytes_after = initializer_bytes(*model.graph);
  return report;
}

}  // namespace pare::compress::quant
