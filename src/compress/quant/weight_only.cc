// Weight-only quantization of MatMul/Gemm weights (the large-model path): activations stay
// float; each weight W becomes DequantizeLinear(W_q, s[, z]) with int8 or int4 blocks of
// `group_size` consecutive elements along the reduction dimension K (opset 21's block_size),
// or per output channel with group size 0 (int8, opset 13).
//   MatMul: W [K, N] → blocks along axis 0;  Gemm: W [K, N] (transB=0) axis 0, [N, K] axis 1.
// Gather tables (embeddings) become Gather(DequantizeLinear(T_q [V, D])) with blocks along the
// hidden axis D (axis 1), or per row (axis 0) with group size 0 and in the static/dynamic modes.
// A tied LM head (the MatMul weight is the table transposed, which PyTorch's exporter stores as
// a second, folded copy; or a Gemm transB=1 on the table itself) reads the same quantized table:
// MatMul(x, Transpose(DQ(T_q))) — T's blocks along D are the head's blocks along K.
#include "compress/quant/internal.h"

namespace pare::compress::quant {
namespace {

// W [K, N] holds exactly T [N, K] transposed.
bool is_transpose_of(const Tensor& w, const Tensor& t) {
  if (w.rank() != 2 || t.rank() != 2 || w.dim(0) != t.dim(1) || w.dim(1) != t.dim(0) || w.dtype() != t.dtype()) return false;
  const int64_t K = w.dim(0), N = w.dim(1);
  const float* wp = w.data<float>();
  const float* tp = t.data<float>();
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      if (wp[k * N + n] != tp[n * K + k]) return false;
  return true;
}

}  // namespace

Status quantize_gather_tables(ir::Model& model, const QuantizeOptions& o, QuantizeReport& report,
                              std::map<const ir::Value*, ir::Node*>* tables) {
  ir::Graph& g = *model.graph;
  const std::vector<std::string>& op_types = o.op_types.empty() ? quantizable_op_types(o.mode) : o.op_types;
  const bool weight_only = o.mode == Mode::kWeightOnly;
  const int bits = weight_only ? o.bits : 8;
  const int64_t block = weight_only ? o.group_size : 0;
  const int axis = block > 0 ? 1 : 0;  // blocks along the hidden axis, else one scale per row
  std::map<const ir::Value*, ir::Node*> done;
  PARE_ASSIGN_OR_RETURN(auto order, g.topological_order());
  for (ir::Node* n : order) {
    if (n->op_type() != "Gather" || !n->domain().empty()) continue;
    LayerReport lr{n->name(), n->op_type()};
    std::string reason;
    ir::Value* tv = n->input(0);
    if (!node_selected(*n, o, op_types, &reason)) {
      lr.reason = reason;
    } else if (!tv || !tv->initializer() || tv->initializer()->rank() != 2) {
      lr.reason = "data is not a constant 2-D table";
    } else if (n->attr_int("axis", 0) != 0) {
      lr.reason = "gathers along an axis other than 0";
    } else if (tv->initializer()->dtype() != DataType::kFloat32) {
      lr.reason = "table is not float32";
    } else {
      auto it = done.find(tv);
      if (it == done.end()) {
        PARE_ASSIGN_OR_RETURN(QuantizedWeight qw, quantize_weight(*tv->initializer(), tv->name(), axis, block, bits));
        std::vector<ir::Value*> ins = {add_constant(g, tv->name() + "_quantized", qw.q),
                                       add_constant(g, tv->name() + "_scale", qw.scale)};
        if (qw.zero.defined()) ins.push_back(add_constant(g, tv->name() + "_zero_point", qw.zero));
        ir::Value* dq = add_typed_value(g, tv->name() + "_dq", DataType::kFloat32, tv);
        ir::Node* dn = g.add_node("DequantizeLinear", ins, {dq}, "", g.unique_name(tv->name() + "_Dequantize"));
        set_int_attr(dn, "axis", axis);
        if (block > 0) set_int_attr(dn, "block_size", block);
        it = done.emplace(tv, dn).first;
      }
      n->set_input(0, it->second->output(0));
      lr.quantized = true;
    }
    report.layers.push_back(lr);
  }
  if (tables) *tables = std::move(done);
  return ok_status();
}

Status quantize_weight_only(ir::Model& model, const QuantizeOptions& o, QuantizeReport& report) {
  ir::Graph& g = *model.graph;
  std::map<const ir::Value*, ir::Node*> tables;
  PARE_RETURN_IF_ERROR(quantize_gather_tables(model, o, report, &tables));
  const std::vector<std::string>& op_types = o.op_types.empty() ? quantizable_op_types(o.mode) : o.op_types;
  PARE_ASSIGN_OR_RETURN(auto order, g.topological_order());
  for (ir::Node* n : order) {
    if (n->op_type() != "MatMul" && n->op_type() != "Gemm") continue;
    LayerReport lr{n->name(), n->op_type()};
    std::string reason;
    ir::Value* wv = n->input(1);
    const bool trans = n->op_type() == "Gemm" && n->attr_int("transB", 0);
    if (!node_selected(*n, o, op_types, &reason)) {
      lr.reason = reason;
    } else if (!wv || !wv->initializer() || wv->initializer()->rank() != 2) {
      lr.reason = "weight is not a constant 2-D matrix";
    } else if (wv->initializer()->dtype() != DataType::kFloat32) {
      lr.reason = "weight is not float32";
    } else if (trans && tables.count(wv)) {  // Gemm(x, T, transB=1): the table itself, [N, K]
      n->set_input(1, tables.at(wv)->output(0));
      lr.quantized = true;
      lr.reason = "tied to the quantized table '" + wv->name() + "'";
    } else {
      ir::Node* tied = nullptr;
      if (!trans)
        for (const auto& [tv, dn] : tables)
          if (is_transpose_of(*wv->initializer(), *tv->initializer())) tied = dn;
      if (tied) {  // MatMul(x, T^T): Transpose of the table's DQ, no second copy
        ir::Value* tt = add_typed_value(g, wv->name() + "_tied", DataType::kFloat32, wv);
        ir::Node* tn = g.add_node("Transpose", {tied->output(0)}, {tt}, "", g.unique_name(wv->name() + "_Transpose"));
        tn->attributes()["perm"] = ir::Attribute::of(std::vector<int64_t>{1, 0});
        n->set_input(1, tt);
        lr.quantized = true;
        lr.reason = "tied to the quantized table '" + tied->input(0)->name() + "' (transposed)";
        report.layers.push_back(lr);
        continue;
      }
      const int k_axis = trans ? 1 : 0;
      const int axis = o.group_size > 0 ? k_axis : 1 - k_axis;  // blocks along K, else per output channel
      PARE_ASSIGN_OR_RETURN(QuantizedWeight qw,
                            quantize_weight(*wv->initializer(), wv->name(), axis, o.group_size, o.bits));
      ir::Value* q = add_constant(g, wv->name() + "_quantized", qw.q);
      ir::Value* s = add_constant(g, wv->name() + "_scale", qw.scale);
      std::vector<ir::Value*> ins = {q, s};
      if (qw.zero.defined()) ins.push_back(add_constant(g, wv->name() + "_zero_point", qw.zero));
      ir::Value* dq = add_typed_value(g, wv->name() + "_dq", DataType::kFloat32, wv);
      ir::Node* dn = g.add_node("DequantizeLinear", ins, {dq}, "", g.unique_name(wv->name() + "_Dequantize"));
      set_int_attr(dn, "axis", axis);
      if (o.group_size > 0) set_int_attr(dn, "block_size", o.group_size);
      n->set_input(1, dq);
      lr.quantized = true;
    }
    report.layers.push_back(lr);
  }
  return ok_status();
}

}  // namespace pare::compress::quant
