// Legality helpers shared by passes (STYLE.md: written once).
#pragma once

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
// Removes a node whose single output is replaced by `replacement` everywhere (graph outputs
// keep their names: if the output is a graph output, the replacement is renamed to it).
Status bypass_node(ir::Graph& g, ir::Node* n, ir::Value* replacement);

}  // namespace pare::passes
