// libFuzzer target for the GGUF reader: arbitrary bytes → File::parse, then every tensor is
// dequantized row by row (reads only what the validated header allows). Must never crash, hang
// or allocate what a header claims. Build with PARE_FUZZ (see `make fuzz`), run fuzz_gguf.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = pare::gguf::File::parse(data, size);
  if (!file.ok()) return 0;
  for (const auto& t : (*file)->tensors()) {
    const pare::gguf::TypeTraits* tr = pare::gguf::type_traits(static_cast<uint32_t>(t.type));
    if (!tr->supported || t.ne.empty() || t.ne[0] == 0 || t.ne[0] > (1 << 16)) continue;
    std::vector<float> row(t.ne[0]);
    const int64_t rb = t.ne[0] / tr->block * tr->bytes;
    for (int64_t r = 0; r < t.n_rows() && r < 64; ++r)
      (void)pare::gguf::dequantize(t.type, t.data + r * rb, row.data(), t.ne[0]);
  }
  return 0;
}
