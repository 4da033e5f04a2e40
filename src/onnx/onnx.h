// ONNX ⇄ IR: the only place that knows protobuf. Everything read from a file is untrusted:
// dims, data lengths and external-data locations are validated before anything is
// allocated or mapped.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "core/run_value.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace pare::onnx {

struct LoadOptions {
  // Also run libonnx's shape inference on the protobuf before conversion. Off by default:
  // libonnx 1.12's inference dereferences malformed attributes (found by `make fuzz`), so it
  // only runs on untrusted files inside `pare check`'s isolated child process. pare's own
  // inference (passes/infer_shapes.cc) always runs.
  bool onnx_shape_inference = false;
  // With onnx_shape_inference: fail on its first error instead of ignoring it.
  bool strict_shape_inference = false;
};

// Loads a .onnx file; external data is resolved relative to (and confined to) its folder.
Result<std::unique_ptr<ir::Model>> load_model(const std::string& path, const LoadOptions& options = {});
// Loads from bytes; `base_dir` is the folder external data must live in ("" allows none).
Result<std::unique_ptr<ir::Model>> load_model_from_memory(const void* data, size_t size,
                                                          const std::string& base_dir,
                                                          const LoadOptions& options = {});

struct SaveOptions {
  // Write initializers of at least `external_threshold` bytes to "<file>.data" beside the model.
  bool external_data = false;
  size_t external_threshold = 1024;
  // Store floating-point initializers of at least 64 elements whose fraction of zeros is at
  // least `sparse_min_sparsity` as ONNX sparse_initializer (values + int64 linear indices),
  // when that is smaller than the dense tensor (sparsity above 2/3 for float32).
  bool sparse_initializers = false;
  double sparse_min_sparsity = 0.5;
};
Status save_model(const ir::Model& model, const std::string& path, const SaveOptions& options = {});
// Whether save_model writes `t` as a sparse initializer under `options`.
bool stores_as_sparse(const Tensor& t, const SaveOptions& options);

// Validates with ONNX's checker and strict shape inference (run in a forked child, so a crash
// inside libonnx on a malformed file is reported, not fatal), then with pare's loader.
Status check_model_file(const std::string& path);

// A serialized TensorProto file (.pb), as in ONNX's test data.
Result<Tensor> load_tensor_pb(const std::string& path);
Status save_tensor_pb(const Tensor& t, const std::string& name, const std::string& path);
// A serialized SequenceProto / OptionalProto from ONNX test data (inputs or outputs of
// sequence ops), returned as a RunValue; falls back to TensorProto.
Result<RunValue> load_value_pb(const std::string& path, bool is_sequence, bool is_optional);

}  // namespace pare::onnx
