// Requantizes a GGUF model: every 2-D weight matrix whose rows fit the target block is
// dequantized and quantized again to TYPE; vectors (norms, biases) stay f32; metadata is copied
// with general.file_type updated, so llama.cpp reads the result.
#pragma once

#include <string>

#include "gguf/gguf.h"

namespace pare::llm {

struct QuantizeReport {
  int64_t quantized = 0, kept = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
};

Result<QuantizeReport> quantize_gguf(const std::string& in, const std::string& out, gguf::GgmlType type);

}  // namespace pare::llm
