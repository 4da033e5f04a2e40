// Inference rules by family (internal to ops/infer).
#pragma once

#include "ops/infer/infer.h"

namespace pare::ops::infer {

void same_as_input0(InferContext& c);
void broadcast_same_type(InferContext& c);
void broadcast_bool(InferContext& c);
void variadic_broadcast(InferContext& c);
void where(InferContext& c);
void cast(InferContext& c);
void cast_like(InferContext& c);
void is_test(InferContext& c);  // IsNaN/IsInf/Not: same shape, bool

void reshape(InferContext& c);
void flatten(InferContext& c);
void transpose(InferContext& c);
void squeeze(InferContext& c);
void unsqueeze(InferContext& c);
void concat(InferContext& c);
void gather(InferContext& c);
void shape(InferContext& c);
void size(InferContext& c);
void slice(InferContext& c);
void expand(InferContext& c);
void constant_of_shape(InferContext& c);
void constant(InferContext& c);
void split(InferContext& c);
void tile(InferContext& c);

void conv(InferContext& c);
void conv_transpose(InferContext& c);
void pool(InferContext& c);
void global_pool(InferContext& c);
void matmul(InferContext& c);
void gemm(InferContext& c);
void reduce(InferContext& c);
void arg_reduce(InferContext& c);
void batch_norm(InferContext& c);
void layer_norm(InferContext& c);
void dropout(InferContext& c);
void pad(InferContext& c);
void resize(InferContext& c);
void quantize_linear(InferContext& c);
void dequantize_linear(InferContext& c);
void top_k(InferContext& c);

// com.pare fused and layout ops
void fused_conv(InferContext& c);
void fused_conv_dw(InferContext& c);
void blocked_pool(InferContext& c);
void maxpool_nhwc(InferContext& c);
void layout_to_blocked(InferContext& c);
void layout_to_plain(InferContext& c);
void attention(InferContext& c);
void q_conv(InferContext& c);
void q_matmul(InferContext& c);

}  // namespace pare::ops::infer
