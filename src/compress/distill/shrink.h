// `--shrink W`: a student derived from a teacher graph by scaling the channel / hidden widths
// of its Conv and Gemm (MatMul with constant weights) chains by W, every parameter freshly
// initialized (PyTorch's default: U(±1/√fan_in); BatchNorm scale 1, bias 0, stats 0/1).
// The logits width (the last layer's outputs) and the input channels stay. Channel counts
// are tracked through elementwise ops, pooling, normalization, Flatten and Reshape(…, −1);
// other graphs (attention, concatenations of scaled tensors, …) are refused by name.
#pragma once

#include <cstdint>
#include <memory>

#include "core/status.h"
#include "ir/graph.h"

namespace pare::distill {

Result<std::unique_ptr<ir::Model>> shrink_model(const ir::Model& teacher, double width, uint64_t seed);

// Number of elements in float initializers (parameters and statistics).
int64_t parameter_count(const ir::Model& m);

}  // namespace pare::distill
