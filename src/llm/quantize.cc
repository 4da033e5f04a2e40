#include "llm/quantize.h"

#include <omp.h>

namespace pare::llm {
namespace {

// llama.cpp's llama_ftype for a file whose matrices are all TYPE (the K-quants as their _S mix).
uint32_t file_type(gguf::GgmlType t) {
  switch (t) {
    case gguf::GgmlType::kF32: return 0;
    case gguf::GgmlType::kF16: return 1;
    case gguf::GgmlType::kQ4_0: return 2;
    case gguf::GgmlType::kQ4_1: return 3;
    case gguf::GgmlType::kQ8_0: return 7;
    case gguf::GgmlType::kQ5_0: return 8;
    case gguf::GgmlType::kQ5_1: return 9;
    case gguf::GgmlType::kQ4_K: return 14;
    case gguf::GgmlType::kQ5_K: return 16;
    case gguf::GgmlType::kQ6_K: return 18;
    case gguf::GgmlType::kBF16: return 32;
    default: return 0;
  }
}

}  // namespace

Result<QuantizeReport> quantize_gguf(const std::string& in, const std::string& out, gguf::GgmlType type) {
  PARE_ASSIGN_OR_RETURN(auto f, gguf::File::open(in));
  const gguf::TypeTraits* tr = gguf::type_traits(static_cast<uint32_t>(type));
  if (!tr || !tr->supported) return invalid_input("quantize: unsupported target type");
  gguf::Writer w;
  for (const auto& [k, v] : f->metadata()) w.set(k, v);
  w.set_u32("general.file_type", file_type(type));
  w.set_u32("general.quantization_version", 2);
  QuantizeReport rep;
  for (const gguf::TensorInfo& t : f->tensors()) {
    rep.bytes_in += t.nbytes;
    const bool matrix = t.ne.size() == 2 && t.ne[0] % tr->block == 0 && t.name.size() > 7 &&
                        t.name.compare(t.name.size() - 7, 7, ".weight") == 0;
    const gguf::TypeTraits* src = gguf::type_traits(static_cast<uint32_t>(t.type));
    if (!src->supported) return unsupported("quantize: tensor '{}' has type {}, which pare cannot read", t.name, src->name);
    const int64_t n = t.n_elements(), rows = t.n_rows(), k = t.ne.empty() ? 1 : t.ne[0];
    const gguf::GgmlType to = matrix ? type : gguf::GgmlType::kF32;
    std::vector<uint8_t> bytes(static_cast<size_t>(gguf::row_bytes(to, k) * rows));
    if (to == t.type) {
      bytes.assign(t.data, t.data + t.nbytes);
    } else {
      Status st;
      const int64_t src_row = t.nbytes / std::max<int64_t>(rows, 1), dst_row = gguf::row_bytes(to, k);
#pragma omp parallel
      {
        std::vector<float> buf(k);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
          Status s = gguf::dequantize(t.type, t.data + r * src_row, buf.data(), k);
          if (s.ok()) s = gguf::quantize(to, buf.data(), bytes.data() + r * dst_row, k);
          if (!s.ok()) {
#pragma omp critical
            st = s;
          }
        }
      }
      PARE_RETURN_IF_ERROR(st);
    }
    (void)n;
    rep.bytes_out += bytes.size();
    (matrix ? rep.quantized : rep.kept)++;
    PARE_RETURN_IF_ERROR(w.add_tensor(t.name, to, t.ne, std::move(bytes)));
  }
  PARE_RETURN_IF_ERROR(w.write(out));
  return rep;
}

}  // namespace pare::llm
