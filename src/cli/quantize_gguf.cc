// pare quantize MODEL.gguf --type q4_0|q8_0|q4_k|q5_k|q6_k|... -o OUT.gguf — requantizes a GGUF
// language model (llm::quantize_gguf); llama.cpp reads the output. See docs/llm.md.
#include "cli/quantize_gguf.h"

#include <omp.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "gguf/types.h"
#include "llm/quantize.h"

namespace pare::cli {

std::shared_ptr<GgufQuantOpts> add_gguf_quantize_options(CLI::App* cmd) {
  auto o = std::make_shared<GgufQuantOpts>();
  cmd->add_option("--type", o->type,
                  "GGUF models only: tensor type of the weight matrices in OUT: q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, "
                  "q5_k, q6_k, f16, bf16 or f32 (norms and biases stay f32; --mode and the ONNX options do not apply)");
  cmd->add_option("--threads", o->threads, "GGUF models only: threads used to requantize (0: all cores)")->default_val(0);
  return o;
}

bool is_gguf_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  return f.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

int run_gguf_quantize(const GgufQuantOpts& o, const std::string& model, const std::string& out) {
  if (o.type.empty()) return report(invalid_input("quantize: '{}' is a GGUF model; --type is required (q4_0, q8_0, q4_k, ...)", model));
  auto type = gguf::parse_type(o.type);
  if (!type.ok()) return report(type.status());
  switch (*type) {
    case gguf::GgmlType::kF32: case gguf::GgmlType::kF16: case gguf::GgmlType::kBF16: case gguf::GgmlType::kQ4_0:
    case gguf::GgmlType::kQ4_1: case gguf::GgmlType::kQ5_0: case gguf::GgmlType::kQ5_1: case gguf::GgmlType::kQ8_0:
    case gguf::GgmlType::kQ4_K: case gguf::GgmlType::kQ5_K: case gguf::GgmlType::kQ6_K: break;
    default: return report(invalid_input("quantize: --type {} is not a target pare writes (q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k, f16, bf16, f32)", o.type));
  }
  if (o.threads < 0) return report(invalid_input("quantize: --threads must be ≥ 0, got {}", o.threads));
  if (o.threads > 0) omp_set_num_threads(o.threads);
  auto r = llm::quantize_gguf(model, out, *type);
  if (!r.ok()) return report(r.status());
  std::cerr << fmt::format("quantize: {} → {} ({}): {} matrices requantized, {} tensors kept as f32, {:.1f} MB → {:.1f} MB\n", model, out,
                           gguf::type_name(*type), r->quantized, r->kept, r->bytes_in / 1e6, r->bytes_out / 1e6);
  return 0;
}

}  // namespace pare::cli
