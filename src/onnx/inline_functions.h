// Inlines model-local functions (ModelProto.functions, ONNX IR ≥ 8) into the graph: each call
// becomes the function's body with inputs/outputs bound to the call's values, internal values
// renamed uniquely, and attributes that refer to the call's (`ref_attr_name`) substituted.
#pragma once

#include <onnx/onnx_pb.h>

#include "core/status.h"

namespace pare::onnx {

Status inline_local_functions(::onnx::ModelProto& model);

}  // namespace pare::onnx
