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
// lowering of ops defined in terms of others (Gradient).
const std::vector<Pass>& lowering_pipeline();

// Runs `passes` in order, verifying the graph after each; errors name the pass.
Status run_passes(ir::Model& model, const std::vector<Pass>& passes);

// Individual passes.
Result<bool> lower_gradient(ir::Model& model);
// Annotates every Value with its static type and shape where they can be known (never fails
// a model; see infer_shapes.cc).
Result<bool> infer_shapes(ir::Model& model);

}  // namespace pare::passes
