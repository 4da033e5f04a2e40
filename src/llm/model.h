// Llama-family decoder built from GGUF metadata: llama (also mistral-style files) and qwen2.
//
//   x = embed(tokens)
//   per layer:  h = RMSNorm(x)·γ₁;  q,k,v = h·Wq (+bq), h·Wk (+bk), h·Wv (+bv)   (biases: qwen2)
//               q,k = RoPE(q,k, pos)  — llama files: adjacent pairs (x₂ᵢ, x₂ᵢ₊₁) (the converter
//               permuted Wq/Wk); qwen2: halves (xᵢ, xᵢ₊d/2). θᵢ = pos/scale · base^(−2i/n_rot) / fᵢ
//               attn = softmax(q·Kᵀ/√d + causal mask)·V, KV head = head / (n_head / n_head_kv)
//               x += attn·Wo;  h = RMSNorm(x)·γ₂;  x += (SiLU(h·Wgate) ⊙ h·Wup)·Wdown
//   logits = RMSNorm(x)·γ·Wout  (Wout = token_embd when output.weight is absent)
//
// Weights stay in the mapped file (zero-copy); only norm vectors and biases are copied to f32.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "llm/kernels/kernels.h"

namespace pare::llm {

struct ModelConfig {
  std::string arch;  // "llama" | "qwen2"
  std::string name;
  int64_t n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0;
  int64_t n_ctx_train = 0, n_rot = 0;
  double rope_base = 10000, rope_scale = 1, rms_eps = 1e-5;
  bool rope_neox = false;
};

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm, bq, bk, bv;
  WeightRef wq, wk, wv, wo, gate, up, down;
};

class Model {
 public:
  // Opens PATH and builds the model; every required key and tensor (names, shapes, types) is
  // checked, and a missing or wrong one is an invalid-model error naming it.
  static Result<std::shared_ptr<Model>> load(const std::string& path);
  static Result<std::shared_ptr<Model>> from_file(std::shared_ptr<gguf::File> file);

  const ModelConfig& config() const { return cfg_; }
  const gguf::File& file() const { return *file_; }
  const std::shared_ptr<gguf::File>& file_ptr() const { return file_; }
  uint64_t weight_bytes() const;  // bytes of all tensors in the file

 private:
  friend class Context;
  friend struct Forward;
  Model() = default;
  Status build();
  void pack_weights();

  std::shared_ptr<gguf::File> file_;
  ModelConfig cfg_;
  WeightRef tok_embd_, output_;
  std::vector<float> output_norm_, rope_factors_;
  std::vector<LayerWeights> layers_;
  // Repacked weights (see kernels.h), owned here: one anonymous mapping advised for
  // transparent huge pages: decoding streams every weight once per token, and with 4 KiB pages
  // that is a TLB miss every 4 KiB (about 150k per token for a 600 MB model).
  struct HugeBuffer {
    HugeBuffer() = default;
    explicit HugeBuffer(size_t n);
    HugeBuffer& operator=(HugeBuffer&& o) noexcept;
    HugeBuffer(HugeBuffer&& o) noexcept : data(o.data), size(o.size) { o.data = nullptr; o.size = 0; }
    HugeBuffer(const HugeBuffer&) = delete;
    HugeBuffer& operator=(const HugeBuffer&) = delete;
    ~HugeBuffer();
    uint8_t* data = nullptr;
    size_t size = 0;  // mapped bytes (a multiple of 2 MiB)
  };
  HugeBuffer packed_;
};

// Element type of the KV cache: f16 (default) or q8_0 (34 bytes per 32 values, ~0.53× the f16
// cache; keys and values quantized per 32 as ggml's q8_0, attention dot products on the fly).
enum class KvType { kF16, kQ8_0 };
Result<KvType> parse_kv_type(const std::string& s);  // "f16" | "q8_0"

class Context;

// Work buffers of one forward pass: activations, quantized activations, logits.
struct Scratch {
  std::vector<float> x, h, q, k_cur, v_cur, attn, gate, up, logits;
  QActs qa;
  const float* qa_src = nullptr;  // what qa currently holds
};

// Tokens to append to one sequence in a batched step.
struct SeqTokens {
  Context* ctx = nullptr;
  const int32_t* tokens = nullptr;
  int64_t n = 0;
};

// Continuous batching: one forward pass over the tokens of several sequences (each context at
// most once, all of one model), e.g. the next token of every running request, or one request's
// prompt beside the others' decode steps. Rows go through the weight matmuls together (the
// weights are read once per step, not once per sequence); RoPE positions, the KV cache and
// attention are each row's own sequence's. Returns per entry the logits of its last token,
// pointing into SCRATCH (valid until its next use). Bad entries fail the whole call before
// anything is computed.
Result<std::vector<const float*>> eval_batch(const std::vector<SeqTokens>& seqs, Scratch& scratch);

// One sequence: KV cache and scratch. Not thread-safe; one per concurrent sequence.
class Context {
 public:
  static Result<std::unique_ptr<Context>> create(std::shared_ptr<const Model> model, int64_t n_ctx, KvType kv = KvType::kF16);

  // Runs TOKENS at positions n_past()… and appends them to the cache. Returns the logits of the
  // last token (n_vocab floats), or of every token (rows × n_vocab) with ALL_LOGITS. The pointer
  // stays valid until the next call.
  Result<const float*> eval(const int32_t* tokens, int64_t n, bool all_logits = false);
  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return n_ctx_; }
  void truncate(int64_t n_past);  // forget positions ≥ n_past (≤ current)
  uint64_t kv_bytes() const { return static_cast<uint64_t>(k_.size() + v_.size()); }
  KvType kv_type() const { return kv_type_; }
  const Model& model() const { return *model_; }

 private:
  friend Result<std::vector<const float*>> eval_batch(const std::vector<SeqTokens>& seqs, Scratch& scratch);
  friend struct Forward;
  Context() = default;

  std::shared_ptr<const Model> model_;
  const KernelTable* kern_ = nullptr;
  int64_t n_ctx_ = 0, n_past_ = 0;
  KvType kv_type_ = KvType::kF16;
  int64_t kv_row_ = 0;            // bytes of one position's keys (or values) in one layer
  std::vector<uint8_t> k_, v_;    // [layer][pos][n_head_kv·head_dim] as f16 or q8_0 blocks
  Scratch scratch_;
};

}  // namespace pare::llm
