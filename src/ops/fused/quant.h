// Shared pieces of pare's quantized fused ops (ops/fused/quant_fused.cc, kernels/quant/):
//   com.pare.QConv(X, X_scale, X_zp, W, W_scale, B?, Y_scale?, Y_zp?, Z?, Z_scale?, Z_zp?)
//     Y = Q(act(Conv(DQ(X), DQ(W), DQ(B)) + DQ(Z)))  — Y float when Y_scale is omitted.
//     X/Z/Y uint8 or int8 (per tensor), W int8 (per tensor or per output channel, zero 0),
//     B int32 with scale X_scale·W_scale. Attributes: Conv's, `activation`/`activation_params`,
//     `input_nhwc` (X stored N,H,W,C) and `output_nhwc` (Y and Z stored N,H,W,C): 2-D only.
//   com.pare.QMatMul(A, A_scale?, A_zp?, B, B_scale, B_zp?, bias?, Y_scale?, Y_zp?)
//     Y = Q(act(DQ(A)·DQ(B) + bias)); B int8 [K, N] constant, per tensor or per column; bias
//     float [N]. A float with A_scale omitted: A is quantized per call as DynamicQuantizeLinear
//     does (uint8, s = (max(0,max)−min(0,min))/255) — the dynamic mode.
//   com.pare.WeightOnlyMatMul(A, W, W_scale, W_zp?, bias?) → A·DQ(W) + bias, A float,
//     W int8/int4/uint4 [K, N] (or [N, K] with trans_b=1) dequantized as opset-21
//     DequantizeLinear(axis, block_size) does; made from weight-only models.
// passes/lower_qdq.cc makes them from QDQ graphs; the reference kernels run the parts.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/tensor.h"
#include "ops/kernel.h"

namespace pare::ops::quant {

// The `n` per-channel scales of `s` (a scalar is broadcast); an error naming `what` if the
// size is neither 1 nor n, or a scale is not finite and positive.
Result<std::vector<float>> channel_scales(const Tensor& s, int64_t n, const char* what);
// The zero point (a scalar), 0 when absent; an error if it holds more than one value.
Result<int32_t> scalar_zero_point(const Tensor* z, const char* what);

inline int32_t saturate(double q, DataType dt) {
  return dt == DataType::kUInt8 ? static_cast<int32_t>(std::clamp(q, 0.0, 255.0))
                                : static_cast<int32_t>(std::clamp(q, -128.0, 127.0));
}
// Element i of an integer tensor (int4/uint4 unpacked, low nibble first).
inline int32_t int_element(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DataType::kInt4: {
      const int v = (t.data<uint8_t>()[i / 2] >> (4 * (i % 2))) & 0xF;
      return v >= 8 ? v - 16 : v;
    }
    case DataType::kUInt4: return (t.data<uint8_t>()[i / 2] >> (4 * (i % 2))) & 0xF;
    case DataType::kUInt8: return t.data<uint8_t>()[i];
    case DataType::kInt8: return t.data<int8_t>()[i];
    default: return static_cast<int32_t>(t.int_at(i));
  }
}

// DynamicQuantizeLinear's parameters for x (as the reference kernel computes them).
struct DynamicParams {
  float scale = 0;
  int32_t zero = 0;
};
DynamicParams dynamic_params(const float* x, int64_t n);

// A weight-only weight dequantized to float [K, N] (transposed when trans_b), as
// DequantizeLinear with `axis` and `block_size` (0: per tensor / per axis) computes it.
Result<Tensor> dequantize_weight(const Tensor& q, const Tensor& scale, const Tensor* zero, int64_t axis,
                                 int64_t block, bool trans_b);

}  // namespace pare::ops::quant
