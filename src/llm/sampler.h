// Token sampling, in llama.cpp's default order:
//   penalties → top-k → top-p → min-p → temperature → draw (seeded)
// Penalties over the last repeat_last_n tokens (count c of a token): a logit l becomes l/r if
// l > 0 else l·r (repetition r), then l − c·frequency − [c > 0]·presence.
// temperature ≤ 0 is greedy: the arg-max after penalties.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/status.h"

namespace pare::llm {

struct SamplingParams {
  float temperature = 0.8f;
  int32_t top_k = 40;        // ≤ 0: off
  float top_p = 0.95f;       // ≥ 1: off
  float min_p = 0.05f;       // ≤ 0: off
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0xFFFFFFFFu;  // 0xFFFFFFFF: random seed

  // Ranges: temperature ≥ 0, top_p in (0, 1], min_p in [0, 1], repeat_penalty > 0, repeat_last_n ≥ 0.
  Status validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p);
  // HISTORY: tokens so far (prompt and generated), for the penalties.
  int32_t sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history);

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> cand_;
};

}  // namespace pare::llm
