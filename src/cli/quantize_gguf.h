// The GGUF branch of `pare quantize` (requantizing llama.cpp model files); quantize.cc calls
// it when MODEL is a GGUF file.
#pragma once

#include <memory>
#include <string>

#include "cli/cli.h"

namespace pare::cli {

struct GgufQuantOpts {
  std::string type;  // target tensor type
  int threads = 0;
};

// Adds --type and --threads to `pare quantize`; the returned options are filled when parsed.
std::shared_ptr<GgufQuantOpts> add_gguf_quantize_options(CLI::App* cmd);
// True if PATH starts with the GGUF magic.
bool is_gguf_file(const std::string& path);
// Requantizes MODEL into OUT; returns the exit code (errors reported to stderr).
int run_gguf_quantize(const GgufQuantOpts& o, const std::string& model, const std::string& out);

}  // namespace pare::cli
