// com.pare.Attention: multi-head scaled dot-product attention on [batch, seq, heads·dim]
// tensors, made by passes/fuse_attention.cc from the Reshape/Transpose/MatMul/Softmax form
// exporters write. Inputs: Q [B, Sq, H·Dk], K [B, Skv, H·Dk], V [B, Skv, H·Dv], optional
// additive float mask broadcastable (numpy rules) to [B, H, Sq, Skv]; or, with qkv_packed = 1,
// one input [B, S, 3·H·D] holding Q | K | V side by side (inputs 1 and 2 omitted). Output
// [B, Sq, H·Dv]: head h of row i is softmax(scale · q_hi · K_hᵀ + mask) · V_h.
// Attributes: num_heads (required), scale (default 1/√Dk), qkv_packed (default 0).
#pragma once

#include "ops/kernel.h"

namespace pare::ops {

// Where every operand lives: element strides, so packed and separate inputs (and any
// broadcast of the mask) read the same way. Built and validated once per run.
struct AttentionView {
  int64_t batch = 0, sq = 0, skv = 0, heads = 0, dk = 0, dv = 0;
  const float *q = nullptr, *k = nullptr, *v = nullptr;
  int64_t q_row = 0, k_row = 0, v_row = 0;        // stride between sequence positions
  int64_t q_batch = 0, k_batch = 0, v_batch = 0;  // stride between batch items
  const float* mask = nullptr;                    // null: no mask
  int64_t m_b = 0, m_h = 0, m_i = 0, m_j = 0;     // mask strides over [B, H, Sq, Skv] (0: broadcast)
  float scale = 1;
  // Q of (batch b, head h, row i); likewise K, V, and the mask row.
  const float* q_at(int64_t b, int64_t h, int64_t i) const { return q + b * q_batch + i * q_row + h * dk; }
  const float* k_at(int64_t b, int64_t h, int64_t j) const { return k + b * k_batch + j * k_row + h * dk; }
  const float* v_at(int64_t b, int64_t h, int64_t j) const { return v + b * v_batch + j * v_row + h * dv; }
  const float* mask_row(int64_t b, int64_t h, int64_t i) const { return mask ? mask + b * m_b + h * m_h + i * m_i : nullptr; }
};

struct AttentionAttrs {
  int64_t num_heads = 0;
  float scale = 0;  // 0: 1/√Dk
  bool packed = false;
  static Result<AttentionAttrs> parse(const ir::Node& n);
};

// Validates the inputs of ctx against `a` and allocates the output; `out` receives it.
Result<AttentionView> attention_view(KernelContext& ctx, const AttentionAttrs& a, Tensor** out);

}  // namespace pare::ops
