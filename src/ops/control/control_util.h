// Helpers shared by the control-flow ops (Scan, SequenceMap): subgraph attributes and
// element-block copies that work for every storage type, strings included.
#pragma once

#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace pare::ops {

// The graph held by attribute `name` of `node`, or an invalid-model error naming the node.
Result<const ir::Graph*> control_graph_attr(const ir::Node& node, const char* name);

// Copies `count` elements from src (starting at element `src_at`) to dst (at `dst_at`).
// Both tensors must have the same dtype; ranges are checked. Packed int4 is rejected
// (blocks may start mid-byte).
Status control_copy_elements(Tensor& dst, int64_t dst_at, const Tensor& src, int64_t src_at,
                             int64_t count);

// Sub-tensor `index` along axis 0 of x (shape x.shape()[1:]), copied.
Result<Tensor> control_slice_axis0(const Tensor& x, int64_t index);

// The static shape of a subgraph output when every extent is known (used for the shape of
// a scan output that no iteration produced); an error otherwise.
Result<Shape> control_static_shape(const ir::Value& v, const std::string& what);

}  // namespace pare::ops
