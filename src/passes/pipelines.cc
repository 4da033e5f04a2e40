#include "passes/pass.h"

namespace pare::passes {

const std::vector<Pass>& lowering_pipeline() {
  static const std::vector<Pass> kPasses = {
      {"lower_gradient", lower_gradient},
      {"infer_shapes", infer_shapes},
  };
  return kPasses;
}

std::vector<Pass> optimization_pipeline(int level, bool portable) {
  std::vector<Pass> p;
  // Before constant folding, which would turn DequantizeLinear(constant weight) into float.
  if (level >= 2 && !portable) {
    p.push_back({"compute_half_in_float", compute_half_in_float});
    p.push_back({"lower_qdq", lower_qdq});
  }
  if (level >= 1) {
    p.push_back({"eliminate_identity", eliminate_identity});
    p.push_back({"fold_constants", fold_constants});
    p.push_back({"eliminate_common_subexpressions", eliminate_common_subexpressions});
    p.push_back({"simplify_reshape_transpose", simplify_reshape_transpose});
  }
  if (level >= 2) {
    p.push_back({"fuse_conv_batchnorm", fuse_conv_batchnorm});
    p.push_back({"fuse_matmul_add", fuse_matmul_add});
    if (!portable) {
      p.push_back({"fuse_layer_norm", fuse_layer_norm});
      p.push_back({"fuse_gelu", fuse_gelu});
      p.push_back({"fuse_matmul_activation", fuse_matmul_activation});
      p.push_back({"fuse_attention", fuse_attention});
      p.push_back({"fuse_conv_activation", fuse_conv_activation});
    }
  }
  if (level >= 1) {
    p.push_back({"eliminate_dead_code", eliminate_dead_code});
    p.push_back({"infer_shapes", infer_shapes});  // annotate what the rewrites created
  }
  if (level >= 3 && !portable) {
    p.push_back({"convert_layout_blocked", convert_layout_blocked});
    p.push_back({"fuse_conv_depthwise", fuse_conv_depthwise});
    p.push_back({"infer_shapes", infer_shapes});
  }
  return p;
}

Status run_passes(ir::Model& model, const std::vector<Pass>& passes) {
  for (const Pass& p : passes) {
    auto changed = p.run(model);
    if (!changed.ok()) return changed.status().with_context(std::string("pass ") + p.name);
    if (*changed) {
      Status st = model.graph->verify();
      if (!st.ok()) return internal_error("pass {} left an invalid graph: {}", p.name, st.message());
    }
  }
  return ok_status();
}

}  // namespace pare::passes
