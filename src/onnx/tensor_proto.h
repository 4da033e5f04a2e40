// TensorProto ⇄ Tensor and TypeProto → TypeInfo (internal to onnx/).
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <utility>

#include "core/tensor.h"
#include "ir/graph.h"

namespace pare::onnx {

// `base_dir` confines external data; empty forbids external data.
Result<Tensor> tensor_from_proto(const ::onnx::TensorProto& p, const std::string& base_dir);
// Writes `t` into `p` (raw_data for numeric types, string_data for strings).
void tensor_to_proto(const Tensor& t, ::onnx::TensorProto* p);
// A sparse initializer as a dense tensor (validated: see sparse_tensor.cc).
Result<Tensor> tensor_from_sparse_proto(const ::onnx::SparseTensorProto& sp, const std::string& base_dir);
// The nonzero values [NNZ] and their int64 linear indices [NNZ] of `t` (zero = all bytes zero).
Result<std::pair<Tensor, Tensor>> sparse_encode(const Tensor& t);
ir::TypeInfo type_from_proto(const ::onnx::TypeProto& p);
void type_to_proto(const ir::TypeInfo& t, ::onnx::TypeProto* p);
// Resolves an external-data location inside base_dir; refuses absolute paths, "..", and
// anything whose real path leaves the folder.
Result<std::string> resolve_external_path(const std::string& base_dir, const std::string& location);

}  // namespace pare::onnx
