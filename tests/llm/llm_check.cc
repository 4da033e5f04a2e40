// Test driver for tests/llm/*.py: runs pare's GGUF and decoder code on files the Python tests
// write and prints or saves results for them to compare with numpy/PyTorch.
//   pare_llm_check dequant FILE      every tensor X with a sibling X.ref (f32) must match bit-exactly
//   pare_llm_check logits MODEL OUT N_PROMPT TOK...   evaluates the first N_PROMPT tokens as one
//       batch (logits of each), then the rest one at a time; writes all rows (f32) to OUT
//   pare_llm_check tokenize MODEL IN.json OUT.json [--special]   IN: array of strings; OUT: arrays
//       of ids (no BOS/EOS added) and the decoded strings
//   pare_llm_check quantize IN OUT TYPE   requantizes IN's matrices to TYPE (llm::quantize_gguf)
//   pare_llm_check jinja CASES.json OUT.json   CASES: [{template, context}]; OUT: [{text} | {error}]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "gguf/gguf.h"
#include "llm/jinja.h"
#include "llm/model.h"
#include "llm/quantize.h"
#include "llm/tokenizer.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace {

int dequant(const char* path) {
  auto f = pare::gguf::File::open(path);
  if (!f.ok()) {
    std::cerr << f.status().to_string() << "\n";
    return 1;
  }
  int bad = 0;
  for (const auto& t : (*f)->tensors()) {
    const pare::gguf::TensorInfo* ref = (*f)->tensor(t.name + ".ref");
    if (!ref) continue;
    std::vector<float> got(t.n_elements());
    pare::Status s = pare::gguf::dequantize(t.type, t.data, got.data(), t.n_elements());
    if (!s.ok() || ref->n_elements() != t.n_elements()) {
      std::cout << t.name << ": " << s.to_string() << "\n";
      ++bad;
      continue;
    }
    int64_t diff = 0;
    for (int64_t i = 0; i < t.n_elements(); ++i)
      if (std::memcmp(&got[i], ref->data + 4 * i, 4) != 0) ++diff;
    std::cout << t.name << " (" << pare::gguf::type_name(t.type) << "): " << (diff ? std::to_string(diff) + " values differ" : "exact") << "\n";
    bad += diff != 0;
  }
  return bad ? 1 : 0;
}

int logits(int argc, char** argv) {
  auto m = pare::llm::Model::load(argv[2]);
  if (!m.ok()) {
    std::cerr << m.status().to_string() << "\n";
    return 1;
  }
  const int64_t n_prompt = std::atoll(argv[4]);
  std::vector<int32_t> toks;
  for (int i = 5; i < argc; ++i) toks.push_back(std::atoi(argv[i]));
  // PARE_KV_TYPE=q8_0 selects the q8_0 KV cache (test_decoder.py compares it with the reference)
  const char* kv_env = std::getenv("PARE_KV_TYPE");
  auto kv = pare::llm::parse_kv_type(kv_env ? kv_env : "f16");
  if (!kv.ok()) return std::cerr << kv.status().to_string() << "\n", 1;
  auto ctx = pare::llm::Context::create(*m, 64, *kv);
  if (!ctx.ok()) return std::cerr << ctx.status().to_string() << "\n", 1;
  const int64_t V = (*m)->config().n_vocab;
  std::vector<float> out;
  auto r = (*ctx)->eval(toks.data(), n_prompt, true);
  if (!r.ok()) {
    std::cerr << r.status().to_string() << "\n";
    return 1;
  }
  out.insert(out.end(), *r, *r + n_prompt * V);
  for (size_t i = n_prompt; i < toks.size(); ++i) {
    auto s = (*ctx)->eval(&toks[i], 1);
    if (!s.ok()) return 1;
    out.insert(out.end(), *s, *s + V);
  }
  FILE* f = std::fopen(argv[3], "wb");
  if (!f) return 1;
  std::fwrite(out.data(), 4, out.size(), f);
  std::fclose(f);
  std::cout << "kernels " << pare::llm::active_kernels().name << "\n";
  return 0;
}

int tokenize(int argc, char** argv) {
  auto f = pare::gguf::File::open(argv[2]);
  if (!f.ok()) return std::cerr << f.status().to_string() << "\n", 1;
  auto tok = pare::llm::Tokenizer::from_gguf(**f);
  if (!tok.ok()) return std::cerr << tok.status().to_string() << "\n", 1;
  const bool special = argc > 5 && !std::strcmp(argv[5], "--special");
  std::ifstream in(argv[3]);
  nlohmann::json texts = nlohmann::json::parse(in), ids = nlohmann::json::array(), decoded = nlohmann::json::array();
  for (const auto& t : texts) {
    auto r = tok->encode(t.get<std::string>(), false, special);
    if (!r.ok()) return std::cerr << r.status().to_string() << "\n", 1;
    ids.push_back(*r);
    decoded.push_back(tok->decode(*r, special));
  }
  std::ofstream(argv[4]) << nlohmann::json{{"ids", ids}, {"decoded", decoded}}.dump();
  return 0;
}

int quantize(char** argv) {
  auto t = pare::gguf::parse_type(argv[4]);
  if (!t.ok()) return std::cerr << t.status().to_string() << "\n", 1;
  auto r = pare::llm::quantize_gguf(argv[2], argv[3], *t);
  if (!r.ok()) return std::cerr << r.status().to_string() << "\n", 1;
  std::cout << r->quantized << " matrices quantized, " << r->kept << " tensors kept; " << r->bytes_in << " -> " << r->bytes_out << " bytes\n";
  return 0;
}

int jinja(char** argv) {
  std::ifstream in(argv[2]);
  nlohmann::ordered_json cases = nlohmann::ordered_json::parse(in, nullptr, false);
  nlohmann::json out = nlohmann::json::array();
  if (cases.is_discarded()) return std::cerr << "bad cases file\n", 1;
  for (const auto& c : cases) {
    auto t = pare::llm::jinja::Template::parse(c["template"].get<std::string>());
    if (!t.ok()) {
      out.push_back({{"error", t.status().message()}});
      continue;
    }
    auto r = t->render(c["context"]);
    if (r.ok()) out.push_back({{"text", *r}});
    else out.push_back({{"error", r.status().message()}});
  }
  std::ofstream(argv[3]) << out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && !std::strcmp(argv[1], "dequant")) return dequant(argv[2]);
  if (argc >= 6 && !std::strcmp(argv[1], "logits")) return logits(argc, argv);
  if (argc >= 5 && !std::strcmp(argv[1], "tokenize")) return tokenize(argc, argv);
  if (argc >= 5 && !std::strcmp(argv[1], "quantize")) return quantize(argv);
  if (argc >= 4 && !std::strcmp(argv[1], "jinja")) return jinja(argv);
  std::cerr << "usage: pare_llm_check dequant FILE\n";
  return 2;
}
