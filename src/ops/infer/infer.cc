#include "ops/infer/infer.h"
#include "ops/grad/gradient.h"

#include <map>

#include "ops/infer/rules.h"

namespace pare::ops {

const ir::TypeInfo& InferContext::type(size_t i) const {
  static const ir::TypeInfo kUnknown;
  const ir::Value* v = node_.input(i);
  return v ? v->type() : kUnknown;
}

std::optional<std::vector<int64_t>> InferContext::constant_ints(size_t i) const {
  const Tensor* t = constant(i);
  if (!t || !dtype_is_integer(t->dtype())) return std::nullopt;
  auto v = t->to_int64_vector("constant");
  if (!v.ok()) return std::nullopt;
  return *v;
}

std::vector<ir::Dim> dims_of(const Shape& s) {
  std::vector<ir::Dim> d;
  for (int64_t x : s) d.push_back(ir::Dim::of(x));
  return d;
}

std::optional<std::vector<ir::Dim>> broadcast_dims(const std::vector<const std::vector<ir::Dim>*>& in) {
  size_t rank = 0;
  for (const auto* d : in) {
    if (!d) return std::nullopt;
    rank = std::max(rank, d->size());
  }
  std::vector<ir::Dim> out(rank, ir::Dim::of(1));
  for (const auto* d : in) {
    const size_t lead = rank - d->size();
    for (size_t i = 0; i < d->size(); ++i) {
      const ir::Dim& a = out[lead + i];
      const ir::Dim& b = (*d)[i];
      if (b.known() && b.value == 1) continue;
      if (a.known() && a.value == 1) {
        out[lead + i] = b;
      } else if (a.known() && b.known() && a.value != b.value) {
        return std::nullopt;
      } else if (!a.known() && b.known()) {
        out[lead + i] = b;  // a symbol broadcast against n > 1 must equal n
      } else if (!a.known() && !b.known() && a.symbol != b.symbol) {
        out[lead + i] = ir::Dim{};
      }
    }
  }
  return out;
}

InferFn find_infer_rule(const std::string& domain, const std::string& op) {
  using namespace infer;
  if (domain == "com.pare") {
    static const std::map<std::string, InferFn> kPareRules = {
        {"FusedConv", fused_conv}, {"FusedConvDw", fused_conv_dw}, {"BlockedPool", blocked_pool}, {"MaxPoolNhwc", maxpool_nhwc},
        {"LayoutToBlocked", layout_to_blocked}, {"LayoutToPlain", layout_to_plain},
        {"Gelu", same_as_input0}, {"LayerNormalization", layer_norm}, {"FusedMatMul", matmul},
        {"Attention", attention},
        {"QConv", q_conv}, {"QMatMul", q_matmul}, {"WeightOnlyMatMul", q_matmul},
    };
    auto it = kPareRules.find(op);
    return it == kPareRules.end() ? find_pare_infer_rule(op) : it->second;  // else training ops (ops/grad)
  }
  if (!domain.empty() && domain != "ai.onnx") return nullptr;
  static const std::map<std::string, InferFn> kRules = {
      // elementwise
      {"Abs", same_as_input0}, {"Acos", same_as_input0}, {"Acosh", same_as_input0}, {"Asin", same_as_input0},
      {"Asinh", same_as_input0}, {"Atan", same_as_input0}, {"Atanh", same_as_input0}, {"Ceil", same_as_input0},
      {"Cos", same_as_input0}, {"Cosh", same_as_input0}, {"Erf", same_as_input0}, {"Exp", same_as_input0},
      {"Floor", same_as_input0}, {"Log", same_as_input0}, {"Neg", same_as_input0}, {"Reciprocal", same_as_input0},
      {"Round", same_as_input0}, {"Sign", same_as_input0}, {"Sin", same_as_input0}, {"Sinh", same_as_input0},
      {"Sqrt", same_as_input0}, {"Tan", same_as_input0}, {"Tanh", same_as_input0}, {"Relu", same_as_input0},
      {"LeakyRelu", same_as_input0}, {"Elu", same_as_input0}, {"Selu", same_as_input0}, {"Celu", same_as_input0},
      {"Sigmoid", same_as_input0}, {"HardSigmoid", same_as_input0}, {"HardSwish", same_as_input0},
      {"Softplus", same_as_input0}, {"Softsign", same_as_input0}, {"ThresholdedRelu", same_as_input0},
      {"Shrink", same_as_input0}, {"PRelu", broadcast_same_type}, {"Clip", same_as_input0},
      {"Identity", same_as_input0}, {"Softmax", same_as_input0}, {"LogSoftmax", same_as_input0},
      {"Hardmax", same_as_input0}, {"LRN", same_as_input0}, {"InstanceNormalization", same_as_input0},
      {"MeanVarianceNormalization", same_as_input0}, {"CumSum", same_as_input0}, {"Trilu", same_as_input0},
      {"Gelu", same_as_input0},
      {"Add", broadcast_same_type}, {"Sub", broadcast_same_type}, {"Mul", broadcast_same_type},
      {"Div", broadcast_same_type}, {"Pow", broadcast_same_type}, {"Mod", broadcast_same_type},
      {"BitShift", broadcast_same_type}, {"And", broadcast_bool}, {"Or", broadcast_bool}, {"Xor", broadcast_bool},
      {"Equal", broadcast_bool}, {"Greater", broadcast_bool}, {"GreaterOrEqual", broadcast_bool},
      {"Less", broadcast_bool}, {"LessOrEqual", broadcast_bool}, {"Max", variadic_broadcast},
      {"Min", variadic_broadcast}, {"Mean", variadic_broadcast}, {"Sum", variadic_broadcast}, {"Where", where},
      {"Cast", cast}, {"CastLike", cast_like}, {"IsNaN", is_test}, {"IsInf", is_test}, {"Not", is_test},
      // shape and data movement
      {"Reshape", reshape}, {"Flatten", flatten}, {"Transpose", transpose}, {"Squeeze", squeeze},
      {"Unsqueeze", unsqueeze}, {"Concat", concat}, {"Gather", gather}, {"Shape", shape}, {"Size", size},
      {"Slice", slice}, {"Expand", expand}, {"ConstantOfShape", constant_of_shape}, {"Constant", constant},
      {"Split", split}, {"Tile", tile}, {"Pad", pad}, {"Resize", resize}, {"TopK", top_k},
      // nn
      {"Conv", conv}, {"ConvInteger", conv}, {"ConvTranspose", conv_transpose}, {"AveragePool", pool},
      {"MaxPool", pool}, {"LpPool", pool}, {"GlobalAveragePool", global_pool}, {"GlobalMaxPool", global_pool},
      {"GlobalLpPool", global_pool}, {"MatMul", matmul}, {"MatMulInteger", matmul}, {"Gemm", gemm},
      {"ReduceSum", reduce}, {"ReduceMean", reduce}, {"ReduceMax", reduce}, {"ReduceMin", reduce},
      {"ReduceProd", reduce}, {"ReduceL1", reduce}, {"ReduceL2", reduce}, {"ReduceLogSum", reduce},
      {"ReduceLogSumExp", reduce}, {"ReduceSumSquare", reduce}, {"ArgMax", arg_reduce}, {"ArgMin", arg_reduce},
      {"BatchNormalization", batch_norm}, {"LayerNormalization", layer_norm}, {"Dropout", dropout},
      {"QuantizeLinear", quantize_linear}, {"DequantizeLinear", dequantize_linear},
  };
  auto it = kRules.find(op);
  return it == kRules.end() ? nullptr : it->second;
}

}  // namespace pare::ops
