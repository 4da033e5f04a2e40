// Legality helpers shared by passes (STYLE.md: written once).
#pragma once

#include <functional>

#include "ir/graph.h"

namespace pare::passes {

// The value is a graph output of its own graph.
bool is_graph_output(const ir::Value* v);
// Exactly one consumer node and not a graph output.
bool has_single_consumer(const ir::Value* v);
// Constant data of a value (initializer), or null.
const Tensor* constant_value(const ir::Value* v);
// The node producing v, if it has the given op type in the default domain.
ir::Node* producer_of_type(const ir::Value* v, const char* op_type);
// Whether `n` is op_type in the default ONNX domain.
bool is_op(const ir::Node& n, const char* op_type);
// Whether bypass_node(n, replacement) is legal.
bool can_bypass(const ir::Node* n, const ir::Value* replacement);
// Replaces the connected `nodes` (a matched pattern) by one new node op_type(inputs) that
// defines `out` (which keeps its name and uses). Every other output of `nodes` must be used
// only inside the pattern. Returns the new node.
Result<ir::Node*> replace_pattern(ir::Graph& g, const std::vector<ir::Node*>& nodes, ir::Value* out,
                                  const std::string& op_type, const std::string& domain,
                                  const std::vector<ir::Value*>& inputs, std::string name);
// Pattern-rewriting driver: calls `rewrite_at(node)` on the graph's nodes; when it rewrites
// (returns true: the node list changed), starts over; stops when a full sweep rewrites
// nothing. Removes dead values and imports the com.pare domain (`pare_ops`) if anything changed.
Result<bool> rewrite_to_fixpoint(ir::Model& model, const std::function<Result<bool>(ir::Graph&, ir::Node*)>& rewrite_at,
                                 bool pare_ops = true);
// The single consumer of v (not a graph output), or null.
ir::Node* sole_consumer(const ir::Value* v);
// The node producing v if it has op_type (default domain) and v feeds only it; else null.
ir::Node* single_use_producer(const ir::Value* v, const char* op_type);
// v is a float scalar constant within 1e-4 (relative) of `c`.
bool is_scalar_near(const ir::Value* v, float c);
// For a binary node with one operand a float scalar constant ≈ c: the other operand.
ir::Value* other_than_scalar(const ir::Node& n, float c);
// Removes a node whose single output is replaced by `replacement` everywhere (graph outputs
// keep their names: if the output is a graph output, the replacement is renamed to it).
Status bypass_node(ir::Graph& g, ir::Node* n, ir::Value* replacement);

}  // namespace pare::passes
