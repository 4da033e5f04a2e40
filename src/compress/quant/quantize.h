// pare quantize: model → standard ONNX QDQ (QuantizeLinear/DequantizeLinear pairs) so that the
// result also runs in ONNX Runtime. Modes:
//   static       weights int8 per channel (symmetric), activations per tensor from calibration
//   dynamic      weights int8; activations quantized at run time (DynamicQuantizeLinear → DQ)
//   weight-only  MatMul/Gemm weights int8/int4 in blocks along K (opset-21 DequantizeLinear)
//   fp16 / bf16  storage and compute in half precision, sensitive ops and overflowing values fp32
// x_q = saturate(round(x / s) + z);  x ≈ (x_q − z)·s.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace pare::compress::quant {

enum class Mode { kStatic, kDynamic, kWeightOnly, kFloat16, kBFloat16 };
enum class CalibMethod { kMinMax, kPercentile, kEntropy, kMse };

Result<Mode> parse_mode(const std::string& s);
Result<CalibMethod> parse_calib_method(const std::string& s);

// One calibration sample: a value per model input, by name.
using Sample = std::vector<std::pair<std::string, Tensor>>;
// Yields samples one at a time (streaming): returns false at the end; `reset` restarts.
struct CalibrationSource {
  std::function<Result<bool>(Sample&)> next;
  std::function<void()> reset;
  int64_t size = 0;  // number of samples (for progress), 0 if unknown
};

struct QuantizeOptions {
  Mode mode = Mode::kStatic;
  bool per_tensor = false;                      // weights per tensor instead of per channel
  DataType activation_type = DataType::kUInt8;  // kUInt8 (asymmetric) or kInt8 (symmetric)
  CalibMethod calib_method = CalibMethod::kMinMax;
  double percentile = 99.99;
  int bits = 8;          // weight-only: 8 or 4
  int64_t group_size = 128;
  std::vector<std::string> exclude;   // node names kept in float
  std::vector<std::string> op_types;  // empty: the mode's default set
  std::function<void(int64_t, int64_t)> progress;  // calibration (done, total)
};

// What happened, for --report.
struct LayerReport {
  std::string node, op_type;
  bool quantized = false;
  std::string reason;  // why it was kept in float
  double sqnr_db = 0;  // output SQNR with only this layer quantized (when measured)
};
struct QuantizeReport {
  std::vector<LayerReport> layers;
  std::vector<std::string> warnings;
  int64_t calib_samples = 0;
  int64_t bytes_before = 0, bytes_after = 0;  // initializer bytes
};

// Quantizes `model` in place. Static mode needs `calib` (fp16 uses it, when given, to find
// activations beyond the fp16 range). Errors: already-quantized model, unknown op type in
// op_types, NaN/Inf in weights or activations, calibration data not matching the inputs.
Result<QuantizeReport> quantize_model(ir::Model& model, const QuantizeOptions& options,
                                      CalibrationSource* calib);

// Op types each mode can quantize.
const std::vector<std::string>& quantizable_op_types(Mode mode);

// Bytes of all initializers of a graph (and subgraphs).
int64_t initializer_bytes(const ir::Graph& g);

}  // namespace pare::compress::quant
