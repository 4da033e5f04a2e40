// fp16 / bf16 conversion: nodes whose op computes safely in half precision take half inputs
// (constants converted once, activations through a shared Cast) and produce half outputs; a
// node that stays float32 (Softmax, LayerNormalization, reductions, exp/log, anything not
// listed, excluded nodes) gets a Cast back. Graph inputs and outputs keep their float32 type.
// fp16 overflow guard: a node whose constant or (with calibration data) observed output lies
// beyond ±65504 stays float32 and is reported, so no Inf/NaN appears that fp32 did not have.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "compress/quant/calibrate.h"
#include "compress/quant/internal.h"

namespace pare::compress::quant {
namespace {

constexpr double kFp16Max = 65504.0;

bool is_f32(const ir::Value* v) {
  return v && v->type().kind == ir::TypeInfo::Kind::kTensor && v->type().dtype == DataType::kFloat32;
}

Tensor to_half(const Tensor& t, DataType dt) {
  Tensor out = Tensor::create(dt, t.shape()).value();
  const float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dt == DataType::kFloat16) out.data<Float16>()[i] = Float16(p[i]);
    else out.data<BFloat16>()[i] = BFloat16(p[i]);
  }
  return out;
}

double abs_max(const Tensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(double(t.data<float>()[i])));
  return m;
}

}  // namespace

Status convert_half(ir::Model& model, const QuantizeOptions& o, CalibrationSource* calib, QuantizeReport& report) {
  ir::Graph& g = *model.graph;
  const DataType half = o.mode == Mode::kFloat16 ? DataType::kFloat16 : DataType::kBFloat16;
  const bool fp16 = half == DataType::kFloat16;
  const std::vector<std::string>& op_types = o.op_types.empty() ? quantizable_op_types(o.mode) : o.op_types;
  PARE_ASSIGN_OR_RETURN(auto order, g.topological_order());
  // Candidates, and their outputs' observed ranges (fp16 with calibration data).
  std::map<const ir::Node*, std::string> keep;  // node → why it stays float32
  std::vector<std::string> observed;
  for (ir::Node* n : order) {
    std::string reason;
    if (!node_selected(*n, o, op_types, &reason)) {
      keep[n] = reason == "op type not selected" ? "computed in float32 (sensitive or unsupported in half)" : reason;
      continue;
    }
    if (!n->subgraphs().empty()) {
      keep[n] = "has subgraphs";
      continue;
    }
    for (const ir::Value* v : n->inputs())
      if (fp16 && v && v->initializer() && v->initializer()->dtype() == DataType::kFloat32) {
        const double m = abs_max(*v->initializer());
        if (!std::isfinite(m)) return invalid_input("weight '{}' holds NaN/Inf", v->name());
        if (m > kFp16Max) keep[n] = fmt::format("constant '{}' reaches {:g}, beyond the fp16 range", v->name(), m);
      }
    if (!keep.count(n) && fp16 && calib) {
      for (const ir::Value* v : n->outputs())
        if (is_f32(v)) observed.push_back(v->name());
      for (const ir::Value* v : n->inputs())
        if (is_f32(v) && !v->initializer() && std::find(observed.begin(), observed.end(), v->name()) == observed.end())
          observed.push_back(v->name());
    }
  }
  if (!observed.empty()) {
    PARE_ASSIGN_OR_RETURN(auto stats, collect_stats(model, observed, *calib, CalibMethod::kMinMax, o.progress, &report.calib_samples));
    for (ir::Node* n : order)
      for (const ir::Value* v : n->outputs())
        if (v && stats.count(v->name()) && stats[v->name()].absmax() > kFp16Max && !keep.count(n)) {
          keep[n] = fmt::format("activation '{}' reaches {:g}, beyond the fp16 range", v->name(), stats[v->name()].absmax());
          report.warnings.push_back(n->describe() + ": " + keep[n] + "; kept float32");
        }
    for (ir::Node* n : order)
      for (const ir::Value* v : n->inputs())
        if (v && stats.count(v->name()) && stats[v->name()].absmax() > kFp16Max && !keep.count(n)) {
          keep[n] = fmt::format("activation '{}' reaches {:g}, beyond the fp16 range", v->name(), stats[v->name()].absmax());
          report.warnings.push_back(n->describe() + ": " + keep[n] + "; kept float32");
        }
  }
  std::set<ir::Value*> is_half;
  std::map<ir::Value*, ir::Value*> half_of, full_of;
  auto cast = [&](ir::Value* v, DataType to, const std::string& suffix) {
    ir::Value* out = add_typed_value(g, v->name() + suffix, to, v);
    ir::Node* c = g.add_node("Cast", {v}, {out}, "", g.unique_name(v->name() + suffix + "_Cast"));
    set_int_attr(c, "to", static_cast<int64_t>(to));
    return out;
  };
  auto get_half = [&](ir::Value* v) {
    auto it = half_of.find(v);
    if (it != half_of.end()) return it->second;
    ir::Value* h = v->initializer() ? add_constant(g, v->name() + (fp16 ? "_fp16" : "_bf16"), to_half(*v->initializer(), half))
                                    : cast(v, half, fp16 ? "_fp16" : "_bf16");
    half_of[v] = h;
    return h;
  };
  auto get_full = [&](ir::Value* v) {
    auto it = full_of.find(v);
    if (it != full_of.end()) return it->second;
    ir::Value* f = cast(v, DataType::kFloat32, "_fp32");
    full_of[v] = f;
    return f;
  };
  for (ir::Node* n : order) {
    LayerReport lr{n->name(), n->op_type()};
    if (!keep.count(n)) {
      for (size_t i = 0; i < n->inputs().size(); ++i) {
        ir::Value* v = n->input(i);
        if (is_f32(v) && !is_half.count(v)) n->set_input(i, get_half(v));
      }
      for (ir::Value* v : n->outputs())
        if (is_f32(v)) {
          v->type().dtype = half;
          is_half.insert(v);
        }
      lr.quantized = true;
    } else {
      lr.reason = keep[n];
      for (size_t i = 0; i < n->inputs().size(); ++i)
        if (is_half.count(n->input(i))) n->set_input(i, get_full(n->input(i)));
      for (const ir::Graph* sg : n->subgraphs())
        for (const auto& sn : sg->nodes())
          for (const ir::Value* v : sn->inputs())
            if (v && is_half.count(const_cast<ir::Value*>(v)))
              return unsupported("{} captures '{}' in a subgraph; exclude its producer from {} conversion", n->describe(), v->name(), fp16 ? "fp16" : "bf16");
    }
    report.layers.push_back(lr);
  }
  // Graph outputs keep their names and float32 type: out_half → Cast → out.
  for (ir::Value*& out : g.outputs()) {
    if (!is_half.count(out)) continue;
    const std::string name = out->name();
    g.rename_value(out, g.unique_name(name + (fp16 ? "_fp16" : "_bf16")));
    ir::Value* f = g.add_value(name);
    f->type() = ir::TypeInfo::tensor(DataType::kFloat32, out->type().shape);
    ir::Node* c = g.add_node("Cast", {out}, {f}, "", g.unique_name(name + "_Cast"));
    set_int_attr(c, "to", static_cast<int64_t>(DataType::kFloat32));
    out = f;
  }
  return ok_status();
}

}  // namespace pare::compress::quant
