// Test driver for tests/llm/*.py: runs pare's GGUF and decoder code on files the Python tests
// write and prints or saves results for them to compare with numpy/PyTorch.
//   pare_llm_check dequant FILE      every tensor X with a sibling X.ref (f32) must match bit-exactly
#include <cstring>
#include <iostream>
#include <vector>

#include "gguf/gguf.h"

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

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && !std::strcmp(argv[1], "dequant")) return dequant(argv[2]);
  std::cerr << "usage: pare_llm_check dequant FILE\n";
  return 2;
}
