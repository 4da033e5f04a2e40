// Weight-only quantization of MatMul/Gemm weights (the large-model path): activations stay
// float; each weight W becomes DequantizeLinear(W_q, s[, z]) with int8 or int4 blocks of
// `group_size` consecutive elements along the reduction dimension K (opset 21's block_size),
// or per output channel with group size 0 (int8, opset 13).
//   MatMul: W [K, N] → blocks along axis 0;  Gemm: W [K, N] (transB=0) axis 0, [N, K] axis 1.
#include "compress/quant/internal.h"

namespace pare::compress::quant {

Status quantize_weight_only(ir::Model& model, const QuantizeOptions& o, QuantizeReport& report) {
  ir::Graph& g = *model.graph;
  const std::vector<std::string>& op_types = o.op_types.empty() ? quantizable_op_types(o.mode) : o.op_types;
  PARE_ASSIGN_OR_RETURN(auto order, g.topological_order());
  for (ir::Node* n : order) {
    if (n->op_type() != "MatMul" && n->op_type() != "Gemm") continue;
    LayerReport lr{n->name(), n->op_type()};
    std::string reason;
    ir::Value* wv = n->input(1);
    if (!node_selected(*n, o, op_types, &reason)) {
      lr.reason = reason;
    } else if (!wv || !wv->initializer() || wv->initializer()->rank() != 2) {
      lr.reason = "weight is not a constant 2-D matrix";
    } else if (wv->initializer()->dtype() != DataType::kFloat32) {
      lr.reason = "weight is not float32";
    } else {
      const bool trans = n->op_type() == "Gemm" && n->attr_int("transB", 0);
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
