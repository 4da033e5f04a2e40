// Open Inference Protocol v2 tensors: JSON `data` arrays and the binary tensor data extension
// (Inference-Header-Content-Length: a JSON header followed by raw little-endian tensor bytes,
// each tensor's slice sized by its `parameters.binary_data_size`).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace pare::serve {

// "FP32" ⇄ DataType::kFloat32 etc. (the OIP names; BYTES is not supported).
Result<DataType> dtype_from_oip(const std::string& name);
const char* dtype_to_oip(DataType t);

struct RequestedOutput {
  std::string name;
  bool binary = false;
};

struct InferRequest {
  std::string id;
  std::vector<std::pair<std::string, Tensor>> inputs;
  std::vector<RequestedOutput> outputs;  // empty: all outputs, JSON form
  bool all_binary = false;               // parameters.binary_data_output
};

// Parses a request body. header_length < 0: the whole body is JSON; otherwise the first
// header_length bytes are JSON and the rest holds the binary tensor data.
Result<InferRequest> parse_infer_request(const std::string& body, int64_t header_length);

// Encodes a response; binary outputs go after the JSON header. Returns the body and sets
// *header_length to the JSON length when any output is binary (else -1).
std::string encode_infer_response(const std::string& model, const std::string& version,
                                  const std::string& id,
                                  const std::vector<std::pair<std::string, Tensor>>& outputs,
                                  const std::vector<bool>& binary, int64_t* header_length);

}  // namespace pare::serve
