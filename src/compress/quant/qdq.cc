// Static and dynamic QDQ insertion (ONNX Runtime's QDQ format):
//   static:  x → QuantizeLinear(s_x, z_x) → DequantizeLinear → Conv/MatMul/Gemm ← DequantizeLinear(W_q, s_w)
//            and the op's output gets its own Q→DQ pair, so a runtime can fuse DQ→op→Q into one
//            integer kernel (QLinearConv); bias becomes int32 with scale s_x·s_w, zero point 0.
//   dynamic: x → DynamicQuantizeLinear → DequantizeLinear → MatMul/Gemm ← DequantizeLinear(W_q, s_w)
// Weights are int8 symmetric (per output channel unless --per-tensor).
#include <algorithm>
#include <cmath>
#include <map>

#include "compress/quant/calibrate.h"
#include "compress/quant/internal.h"

namespace pare::compress::quant {
namespace {

// Which inputs of a node are activations, which one is the weight (and its channel axis),
// which one is the bias: the per-op rules.
struct OpRule {
  std::vector<int> activations;
  int weight = -1, weight_axis = 0, bias = -1;
};

Result<OpRule> rule_for(const ir::Node& n, std::string* reason) {
  OpRule r;
  auto is_const = [&](int i) { return n.input(i) && n.input(i)->initializer(); };
  if (n.op_type() == "Conv") {
    if (!is_const(1)) return (*reason = "weight is not a constant", r);
    r = {{0}, 1, 0, n.input(2) ? 2 : -1};
  } else if (n.op_type() == "MatMul") {
    if (is_const(1) && n.input(1)->initializer()->rank() >= 2) r = {{0}, 1, static_cast<int>(n.input(1)->initializer()->rank() - 1), -1};
    else r = {{0, 1}, -1, 0, -1};
  } else if (n.op_type() == "Gemm") {
    if (!is_const(1)) return (*reason = "weight is not a constant", r);
    const int64_t n_out = n.input(1)->initializer()->dim(n.attr_int("transB", 0) ? 0 : 1);
    const bool bias_ok = is_const(2) && n.input(2)->initializer()->rank() == 1 && n.input(2)->initializer()->dim(0) == n_out;
    r = {{0}, 1, n.attr_int("transB", 0) ? 0 : 1, bias_ok ? 2 : -1};
  }
  return r;
}

bool is_float(const ir::Value* v) {
  return v && v->type().kind == ir::TypeInfo::Kind::kTensor && v->type().dtype == DataType::kFloat32;
}

// Replaces the uses of `v` (not graph outputs) by `replacement`, except the input of `keep`.
void redirect_uses(ir::Graph& g, ir::Value* v, ir::Value* replacement, ir::Node* keep) {
  std::vector<ir::Value*> outs = g.outputs();
  g.replace_all_uses(v, replacement);
  keep->set_input(0, v);
  g.outputs() = outs;
}

}  // namespace

Status quantize_qdq(ir::Model& model, const QuantizeOptions& o, CalibrationSource* calib, QuantizeReport& report) {
  ir::Graph& g = *model.graph;
  const bool dynamic = o.mode == Mode::kDynamic;
  const std::vector<std::string> op_types =
      o.op_types.empty() ? (dynamic ? std::vector<std::string>{"MatMul", "Gemm"} : quantizable_op_types(o.mode)) : o.op_types;
  PARE_ASSIGN_OR_RETURN(auto order, g.topological_order());
  struct Planned {
    ir::Node* node;
    OpRule rule;
  };
  std::vector<Planned> planned;
  std::vector<std::string> observed;
  auto observe = [&](const ir::Value* v) {
    if (std::find(observed.begin(), observed.end(), v->name()) == observed.end()) observed.push_back(v->name());
  };
  for (ir::Node* n : order) {
    if (std::find(quantizable_op_types(o.mode).begin(), quantizable_op_types(o.mode).end(), n->op_type()) ==
        quantizable_op_types(o.mode).end())
      continue;
    if (n->op_type() == "Gather") continue;  // tables: quantize_gather_tables (weight_only.cc)
    LayerReport lr{n->name(), n->op_type()};
    std::string reason;
    if (!node_selected(*n, o, op_types, &reason)) {
      lr.reason = reason;
      report.layers.push_back(lr);
      continue;
    }
    PARE_ASSIGN_OR_RETURN(OpRule rule, rule_for(*n, &reason));
    bool ok = reason.empty();
    for (int a : rule.activations) ok = ok && is_float(n->input(a));
    if (ok && rule.weight >= 0 && n->input(rule.weight)->initializer()->dtype() != DataType::kFloat32) ok = false;
    if (!ok) {
      lr.reason = reason.empty() ? "inputs are not float32" : reason;
      report.layers.push_back(lr);
      continue;
    }
    planned.push_back({n, rule});
    for (int a : rule.activations) observe(n->input(a));
    if (!dynamic && is_float(n->output(0))) observe(n->output(0));
    lr.quantized = true;
    report.layers.push_back(lr);
  }
  // Activation parameters (static): from calibration.
  std::map<std::string, std::pair<float, Tensor>> act;  // tensor → (scale, zero point)
  if (!dynamic && !planned.empty()) {
    PARE_ASSIGN_OR_RETURN(auto stats, collect_stats(model, observed, *calib, o.calib_method, o.progress, &report.calib_samples));
    for (const auto& name : observed) {
      const TensorStats& st = stats[name];
      auto [lo, hi] = choose_range(st, o.calib_method, o.percentile, 255, o.activation_type == DataType::kInt8);
      if (o.activation_type == DataType::kUInt8) {
        const double s = hi > lo ? (hi - lo) / 255.0 : 1.0;
        const uint8_t z = static_cast<uint8_t>(std::clamp(std::nearbyint(-lo / s), 0.0, 255.0));
        act[name] = {static_cast<float>(s), Tensor::scalar<uint8_t>(z)};
      } else {
        const double m = std::max(std::fabs(lo), std::fabs(hi));
        act[name] = {static_cast<float>(m > 0 ? m / 127.0 : 1.0), Tensor::scalar<int8_t>(0)};
      }
    }
  }
  // Insert one Q→DQ (or DynamicQuantizeLinear→DQ) per activation tensor.
  std::map<ir::Value*, ir::Value*> dq_of;
  auto quantized_value = [&](ir::Value* v) -> ir::Value* {
    auto it = dq_of.find(v);
    if (it != dq_of.end()) return it->second;
    // Already quantized: an earlier node's input/output redirected every use of the original
    // value (a tensor feeding two quantized nodes, e.g. ResNet's block output) to its DQ.
    for (const auto& [orig, dq] : dq_of)
      if (dq == v) return v;
    ir::Value* dq = add_typed_value(g, v->name() + "_dq", DataType::kFloat32, v);
    if (dynamic) {
      ir::Value* q = add_typed_value(g, v->name() + "_q", DataType::kUInt8, v);
      ir::Value* s = add_typed_value(g, v->name() + "_scale", DataType::kFloat32);
      ir::Value* z = add_typed_value(g, v->name() + "_zero", DataType::kUInt8);
      s->type().shape = std::vector<ir::Dim>{};
      z->type().shape = std::vector<ir::Dim>{};
      ir::Node* qn = g.add_node("DynamicQuantizeLinear", {v}, {q, s, z}, "", g.unique_name(v->name() + "_DynamicQuantize"));
      redirect_uses(g, v, dq, qn);
      g.add_node("DequantizeLinear", {q, s, z}, {dq}, "", g.unique_name(v->name() + "_Dequantize"));
    } else {
      const auto& [scale, zero] = act.at(v->name());
      ir::Value* s = add_constant(g, v->name() + "_scale", Tensor::scalar<float>(scale));
      ir::Value* z = add_constant(g, v->name() + "_zero_point", zero);
      ir::Value* q = add_typed_value(g, v->name() + "_q", zero.dtype(), v);
      ir::Node* qn = g.add_node("QuantizeLinear", {v, s, z}, {q}, "", g.unique_name(v->name() + "_Quantize"));
      redirect_uses(g, v, dq, qn);
      g.add_node("DequantizeLinear", {q, s, z}, {dq}, "", g.unique_name(v->name() + "_Dequantize"));
    }
    dq_of[v] = dq;
    return dq;
  };
  for (auto& [n, rule] : planned) {
    std::vector<float> wscale;
    if (rule.weight >= 0) {
      ir::Value* wv = n->input(rule.weight);
      const int axis = o.per_tensor ? -1 : rule.weight_axis;
      PARE_ASSIGN_OR_RETURN(QuantizedWeight qw, quantize_weight(*wv->initializer(), wv->name(), axis, 0, 8));
      wscale.assign(qw.scale.data<float>(), qw.scale.data<float>() + qw.scale.numel());
      ir::Value* q = add_constant(g, wv->name() + "_quantized", qw.q);
      ir::Value* s = add_constant(g, wv->name() + "_scale", qw.scale);
      ir::Value* z = add_constant(g, wv->name() + "_zero_point", qw.zero);
      ir::Value* dq = add_typed_value(g, wv->name() + "_dq", DataType::kFloat32, wv);
      ir::Node* dn = g.add_node("DequantizeLinear", {q, s, z}, {dq}, "", g.unique_name(wv->name() + "_Dequantize"));
      if (axis >= 0) set_int_attr(dn, "axis", axis);
      n->set_input(rule.weight, dq);
    }
    // Bias as int32 with scale s_x·s_w (static only: s_x is known).
    if (!dynamic && rule.bias >= 0 && n->input(rule.bias)->initializer() &&
        n->input(rule.bias)->initializer()->dtype() == DataType::kFloat32) {
      ir::Value* bv = n->input(rule.bias);
      const Tensor& b = *bv->initializer();
      const float sx = act.at(n->input(rule.activations[0])->name()).first;
      PARE_ASSIGN_OR_RETURN(Tensor bq, Tensor::create(DataType::kInt32, b.shape()));
      PARE_ASSIGN_OR_RETURN(Tensor bs, Tensor::create(DataType::kFloat32, b.shape()));
      bool fits = true;
      for (int64_t c = 0; c < b.numel(); ++c) {
        const float s = sx * wscale[wscale.size() == 1 ? 0 : c];
        const double q = std::nearbyint(b.data<float>()[c] / s);
        if (!std::isfinite(b.data<float>()[c]))
          return invalid_input("bias '{}' holds {} at element {}: cannot quantize", bv->name(), b.data<float>()[c], c);
        fits = fits && std::fabs(q) < 2147483647.0;
        bs.data<float>()[c] = s;
        bq.data<int32_t>()[c] = fits ? static_cast<int32_t>(q) : 0;
      }
      if (fits) {
        ir::Value* q = add_constant(g, bv->name() + "_quantized", bq);
        ir::Value* s = add_constant(g, bv->name() + "_scale", bs);
        PARE_ASSIGN_OR_RETURN(Tensor bz, Tensor::create(DataType::kInt32, b.shape()));
        ir::Value* z = add_constant(g, bv->name() + "_zero_point", bz);
        ir::Value* dq = add_typed_value(g, bv->name() + "_dq", DataType::kFloat32, bv);
        ir::Node* dn = g.add_node("DequantizeLinear", {q, s, z}, {dq}, "", g.unique_name(bv->name() + "_Dequantize"));
        set_int_attr(dn, "axis", 0);
        n->set_input(rule.bias, dq);
      } else {
        report.warnings.push_back(n->describe() + ": bias kept float (beyond int32 at scale s_x*s_w)");
      }
    }
  }
  // Activations last: the bias needed the activation scales, the DQ nodes the original values.
  for (auto& [n, rule] : planned) {
    for (int a : rule.activations) n->set_input(a, quantized_value(n->input(a)));
  }
  if (!dynamic)
    for (auto& [n, rule] : planned)
      if (is_float(n->output(0))) quantized_value(n->output(0));
  return ok_status();
}

}  // namespace pare::compress::quant
