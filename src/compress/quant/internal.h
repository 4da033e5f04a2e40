// Helpers shared by the quantization modes (not part of the API).
#pragma once

#include <map>
#include <set>
#include <string>

#include "compress/quant/quantize.h"

namespace pare::compress::quant {

// Symmetric integer quantization of a float weight: q = clamp(round(w / s), −qmax, qmax),
// s = max|w| / qmax over each slice. `axis` < 0: one scale; otherwise one per index of `axis`,
// and with block > 0 one per block of `block` consecutive indices along `axis` (ONNX 21's
// blocked layout: scale shape = w shape with dim[axis] → ceil(dim/block)).
struct QuantizedWeight {
  Tensor q;      // int8 / int4 (packed)
  Tensor scale;  // float32
  Tensor zero;   // same dtype as q, zeros (undefined for blocked int4: omitted)
};
Result<QuantizedWeight> quantize_weight(const Tensor& w, const std::string& name, int axis, int64_t block, int bits);

// New initializer with a unique name derived from `base`.
ir::Value* add_constant(ir::Graph& g, const std::string& base, Tensor t);
// A node output value with a unique name and a static type.
ir::Value* add_typed_value(ir::Graph& g, const std::string& base, DataType dt, const ir::Value* like = nullptr);
void set_int_attr(ir::Node* n, const std::string& name, int64_t v);
// Whether `name` is excluded (by node name) or not selected (op type) in `options`.
bool node_selected(const ir::Node& n, const QuantizeOptions& options, const std::vector<std::string>& op_types,
                   std::string* reason);

// The modes (each a graph rewrite; `report` collects per-node outcomes).
Status quantize_qdq(ir::Model& model, const QuantizeOptions& options, CalibrationSource* calib,
                    QuantizeReport& report);
// Gather tables (embeddings, axis 0, constant float 2-D data) → Gather(DequantizeLinear(T_q)):
// weight-only: o.bits in blocks of o.group_size along the hidden axis (group 0: per row); static
// and dynamic: int8 per row. One DQ per table, shared by all its Gathers; `tables` (if given)
// receives table value → its DQ output, for tied LM heads (quantize_weight_only).
Status quantize_gather_tables(ir::Model& model, const QuantizeOptions& options, QuantizeReport& report,
                              std::map<const ir::Value*, ir::Node*>* tables);
Status quantize_weight_only(ir::Model& model, const QuantizeOptions& options, QuantizeReport& report);
Status convert_half(ir::Model& model, const QuantizeOptions& options, CalibrationSource* calib,
                    QuantizeReport& report);

}  // namespace pare::compress::quant
