#include "passes/pass.h"

namespace pare::passes {

const std::vector<Pass>& lowering_pipeline() {
  static const std::vector<Pass> kPasses = {
      {"lower_gradient", lower_gradient},
      {"infer_shapes", infer_shapes},
  };
  return kPasses;
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
