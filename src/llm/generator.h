// Text generation over one model: tokenize → prompt in one batch → sample/decode loop, streaming
// complete UTF-8 text and holding back what could be the start of a stop string. The KV cache is
// kept between calls and reused for the longest common token prefix (chat turns, repeated
// prompts). Not thread-safe: one Generator per concurrent sequence (they can share the Model).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm/batcher.h"
#include "llm/model.h"
#include "llm/sampler.h"
#include "llm/tokenizer.h"

namespace pare::llm {

struct GenerateOptions {
  SamplingParams sampling;
  int64_t max_tokens = 128;         // 0 ≤ max_tokens ≤ 2^24; generation also ends at the context end
  std::vector<std::string> stop;    // generation ends before the first occurrence of any
  bool add_bos = true;              // add BOS when the vocabulary asks for it
  bool parse_special = true;        // special tokens written in the prompt are tokens
  bool ignore_eos = false;          // keep going past end-of-generation tokens (benchmarks)
};

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;      // generated ids
  int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
  std::string finish_reason;        // "stop" (EOS or stop string), "length", "cancelled"
  double prompt_ms = 0, generate_ms = 0;
};

class Generator {
 public:
  // N_CTX ≤ 0: the model's training context (capped at 4096).
  static Result<std::unique_ptr<Generator>> create(std::shared_ptr<const Model> model, int64_t n_ctx = 0, KvType kv = KvType::kF16);

  // ON_TEXT gets each new piece of text; returning false cancels (finish_reason "cancelled").
  using TextCallback = std::function<bool(std::string_view)>;
  Result<GenerateResult> generate(std::string_view prompt, const GenerateOptions& opt, const TextCallback& on_text = {});
  Result<GenerateResult> generate_ids(const std::vector<int32_t>& prompt, const GenerateOptions& opt, const TextCallback& on_text = {});

  const Tokenizer& tokenizer() const { return tok_; }
  const Model& model() const { return *model_; }
  Context& context() { return *ctx_; }
  // Evaluate through BATCHER (shared with other generators of the same model: continuous
  // batching) instead of alone; null to go back.
  void set_batcher(std::shared_ptr<StepBatcher> batcher) { batcher_ = std::move(batcher); }

 private:
  Generator() = default;
  std::shared_ptr<const Model> model_;
  Tokenizer tok_;
  std::unique_ptr<Context> ctx_;
  std::vector<int32_t> cached_;  // tokens whose keys/values are in the cache
  std::shared_ptr<StepBatcher> batcher_;
  std::vector<float> logits_;    // the last evaluation's, when batched
  Result<const float*> eval(const int32_t* tokens, int64_t n);
};

}  // namespace pare::llm
