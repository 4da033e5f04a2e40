// Kernels of the LLM decoder: weight-row × activation dot products for every GGUF type, f16 KV
// cache dot/axpy. One source (matmul_impl.h) is compiled three times — generic C++, AVX2+FMA+F16C
// and AVX-512 VNNI (256-bit dpbusd) — and active() picks the best the CPU supports at run time.
//
// Quantized weights (Q8_0, Q4_0) are multiplied with activations quantized on the fly to int8
// per 32-value block (x ≈ d·q, |q| ≤ 127), so the inner loop is an 8-bit integer dot product:
//   Q8_0: Σ dw·dx·Σ qw·qx                         (sign trick: |qw| · sign(qx, qw) for u8×s8)
//   Q4_0: Σ dw·dx·(Σ nibble·qx − 8·Σ qx)          (nibbles are unsigned, Σ qx is precomputed)
//   Q4_K/Q5_K/Q6_K: per 32-block sub-block scales applied in float (kquant_impl.h)
// Other types dequantize one weight row at a time into a thread-local f32 buffer.
#pragma once

#include <cstdint>
#include <vector>

#include "gguf/types.h"

namespace pare::llm {

// Activations quantized per 32-block: T rows of K values.
struct QActs {
  int64_t rows = 0, k = 0;
  std::vector<int8_t> q;   // rows × k
  std::vector<float> d;    // rows × k/32 scales
  std::vector<float> ds;   // d × Σq of each block (for Q4_0's −8 offset)
  std::vector<int32_t> sum;  // Σq of each block
};

// A weight matrix of N rows × K values in GGUF layout (row n contiguous, K = ne[0]).
struct WeightRef {
  gguf::GgmlType type = gguf::GgmlType::kF32;
  const uint8_t* data = nullptr;
  int64_t n = 0, k = 0;
  int64_t row_bytes = 0;
  const uint8_t* packed = nullptr;  // rows repacked for the VNNI tile kernel (packed_vnni.cc), if any
};

struct KernelTable {
  const char* name;
  // Y[t][n] = Σ_k W[n][k]·X[t][k] for t < T, n < N (Y row stride N). X as floats (T × K); for
  // Q8_0/Q4_0 weights QA holds X quantized (quantize_acts), else QA may be null.
  void (*matmul)(const WeightRef& w, const float* x, const QActs* qa, int64_t t, float* y);
  void (*quantize_acts)(const float* x, int64_t rows, int64_t k, QActs* out);
  float (*dot_f16)(const uint16_t* a, const float* b, int64_t n);
  void (*axpy_f16)(float a, const uint16_t* x, float* y, int64_t n);  // y += a·x
  void (*store_f16)(const float* x, uint16_t* y, int64_t n);
  // q8_0 KV cache: N values (a multiple of 32) stored as gguf::BlockQ8_0.
  float (*dot_q8)(const void* a, const float* b, int64_t n);
  void (*axpy_q8)(float a, const void* x, float* y, int64_t n);  // y += a·x
};

// The best table for this CPU (PARE_LLM_ISA=generic|avx2|vnni forces one, for tests).
const KernelTable& active_kernels();
const KernelTable* kernels_by_name(const char* name);  // nullptr if not supported here
// Whether the type uses the int8 activation path.
inline bool uses_qacts(gguf::GgmlType t) {
  return t == gguf::GgmlType::kQ8_0 || t == gguf::GgmlType::kQ4_0 || t == gguf::GgmlType::kQ4_K || t == gguf::GgmlType::kQ5_K ||
         t == gguf::GgmlType::kQ6_K;
}

namespace generic { const KernelTable& table(); }
namespace avx2 { const KernelTable& table(); }
namespace vnni {
const KernelTable& table();
// Row-interleaved copies of Q4_0/Q8_0 weights (16 rows per tile); 0 bytes when not applicable.
int64_t packed_bytes(const WeightRef& w);
void pack(const WeightRef& w, uint8_t* dst);
void packed_matmul(const WeightRef& w, const QActs& a, int64_t t, float* y);
}  // namespace vnni

}  // namespace pare::llm
