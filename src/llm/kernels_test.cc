// K-quant kernels (Q4_K, Q5_K, Q6_K with int8 activations) against a dequantize + float
// reference, for every kernel build this CPU runs (generic, AVX2, AVX-512 VNNI): with the
// activations as the kernel quantized them the result must agree to float rounding; with the
// float activations within the int8 activation error.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "llm/kernels/kernels.h"
#include "llm/model.h"

namespace pare::llm {
namespace {

TEST(LlmKernels, KQuantsMatchDequantizedReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  const int64_t N = 19, K = 512, T = 5;
  for (auto type : {gguf::GgmlType::kQ4_K, gguf::GgmlType::kQ5_K, gguf::GgmlType::kQ6_K, gguf::GgmlType::kQ4_0, gguf::GgmlType::kQ8_0}) {
    std::vector<float> wf(N * K), x(T * K);
    for (auto& v : wf) v = nd(rng) * 0.1f;
    for (auto& v : x) v = nd(rng);
    const int64_t rb = gguf::row_bytes(type, K);
    std::vector<uint8_t> wq(N * rb);
    for (int64_t n = 0; n < N; ++n) ASSERT_TRUE(gguf::quantize(type, wf.data() + n * K, wq.data() + n * rb, K).ok());
    std::vector<float> wd(N * K);
    for (int64_t n = 0; n < N; ++n) ASSERT_TRUE(gguf::dequantize(type, wq.data() + n * rb, wd.data() + n * K, K).ok());
    for (const char* isa : {"generic", "avx2", "vnni"}) {
      const KernelTable* kt = kernels_by_name(isa);
      if (!kt) continue;
      QActs qa;
      kt->quantize_acts(x.data(), T, K, &qa);
      WeightRef w{type, wq.data(), N, K, rb, nullptr};
      std::vector<float> y(T * N);
      kt->matmul(w, x.data(), &qa, T, y.data());
      double worst_q = 0, worst_f = 0, scale = 0;
      for (int64_t t = 0; t < T; ++t)
        for (int64_t n = 0; n < N; ++n) {
          double ref_q = 0, ref_f = 0;
          for (int64_t k = 0; k < K; ++k) {
            const double xq = double(qa.q[t * K + k]) * qa.d[t * (K / 32) + k / 32];
            ref_q += double(wd[n * K + k]) * xq;
            ref_f += double(wd[n * K + k]) * x[t * K + k];
          }
          worst_q = std::max(worst_q, std::fabs(y[t * N + n] - ref_q));
          worst_f = std::max(worst_f, std::fabs(y[t * N + n] - ref_f));
          scale = std::max(scale, std::fabs(ref_f));
        }
      EXPECT_LT(worst_q / scale, 2e-5) << gguf::type_name(type) << " " << isa;
      EXPECT_LT(worst_f / scale, 2e-2) << gguf::type_name(type) << " " << isa;
    }
  }
}

TEST(LlmKernels, KvTypeNames) {
  EXPECT_EQ(*parse_kv_type("f16"), KvType::kF16);
  EXPECT_EQ(*parse_kv_type("q8_0"), KvType::kQ8_0);
  auto bad = parse_kv_type("q4_0");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown KV cache type 'q4_0'"), std::string::npos);
}

}  // namespace
}  // namespace pare::llm
