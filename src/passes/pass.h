// Graph passes: IR → IR rewrites (STYLE.md: one pass per file, a pure match and a rewrite).
// Pipelines (pipelines.cc) list them per optimization level; the IR verifier runs after each.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace pare::passes {

struct Pass {
  const char* name;
  // Returns whether the graph changed.
  Result<bool> (*run)(ir::Model& model);
};

// Passes that make a model executable (always run, whatever the optimization level):
// lowering of ops defined in terms of others (Gradient), then static shape inference.
const std::vector<Pass>& lowering_pipeline();

// Optimization levels (pare --opt-level): 0 none; 1 clean-ups that every model benefits from
// (Identity/Dropout removal, constant folding, CSE, dead code); 2 (default) adds algebraic
// fusions (Conv+BatchNormalization, MatMul+Add → Gemm; with pare's own ops: decomposed
// LayerNorm and GELU, MatMul+bias+activation, Conv+residual+activation); 3 (default) adds layout changes (blocked channel layout between
// convolutions, com.pare.LayoutTo*).
inline constexpr int kDefaultOptLevel = 3;
inline constexpr int kMaxOptLevel = 3;
// `portable`: only the rewrites into standard ONNX ops (what `pare optimize` saves by default).
std::vector<Pass> optimization_pipeline(int level, bool portable = false);

// Runs `passes` in order, verifying the graph after each; errors name the pass.
Status run_passes(ir::Model& model, const std::vector<Pass>& passes);

// Individual passes.
Result<bool> lower_gradient(ir::Model& model);
// Annotates every Value with its static type and shape where they can be known (never fails
// a model; see infer_shapes.cc).
Result<bool> infer_shapes(ir::Model& model);
Result<bool> eliminate_identity(ir::Model& model);
Result<bool> eliminate_dead_code(ir::Model& model);
Result<bool> eliminate_common_subexpressions(ir::Model& model);
Result<bool> fold_constants(ir::Model& model);
Result<bool> fuse_conv_batchnorm(ir::Model& model);
Result<bool> fuse_matmul_add(ir::Model& model);
Result<bool> fuse_conv_activation(ir::Model& model);
Result<bool> convert_layout_blocked(ir::Model& model);
Result<bool> fuse_conv_depthwise(ir::Model& model);
Result<bool> fuse_layer_norm(ir::Model& model);
Result<bool> simplify_reshape_transpose(ir::Model& model);
Result<bool> fuse_gelu(ir::Model& model);
Result<bool> fuse_matmul_activation(ir::Model& model);
Result<bool> fuse_attention(ir::Model& model);
// QDQ patterns → com.pare.QConv / QMatMul / WeightOnlyMatMul (lower_qdq.cc).
Result<bool> lower_qdq(ir::Model& model);
// fp16/bf16 compute → float32 compute, half only at the graph's borders (compute_half_in_float.cc).
Result<bool> compute_half_in_float(ir::Model& model);

}  // namespace pare::passes
