#include "llm/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace pare::llm {

Status SamplingParams::validate() const {
  if (!(temperature >= 0) || !std::isfinite(temperature)) return invalid_input("temperature {} must be ≥ 0", temperature);
  if (!(top_p > 0 && top_p <= 1)) return invalid_input("top_p {} must be in (0, 1]", top_p);
  if (!(min_p >= 0 && min_p <= 1)) return invalid_input("min_p {} must be in [0, 1]", min_p);
  if (!(repeat_penalty > 0) || !std::isfinite(repeat_penalty)) return invalid_input("repeat_penalty {} must be > 0", repeat_penalty);
  if (repeat_last_n < 0) return invalid_input("repeat_last_n {} must be ≥ 0", repeat_last_n);
  if (!std::isfinite(frequency_penalty) || !std::isfinite(presence_penalty)) return invalid_input("penalties must be finite");
  return ok_status();
}

Sampler::Sampler(const SamplingParams& p) : p_(p), rng_(p.seed == 0xFFFFFFFFu ? std::random_device{}() : p.seed) {}

int32_t Sampler::sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history) {
  cand_.resize(n_vocab);
  for (int64_t i = 0; i < n_vocab; ++i) cand_[i] = {logits[i], static_cast<int32_t>(i)};
  const bool penalize = p_.repeat_penalty != 1.0f || p_.frequency_penalty != 0 || p_.presence_penalty != 0;
  if (penalize && p_.repeat_last_n > 0 && !history.empty()) {
    std::unordered_map<int32_t, int> count;
    const size_t from = history.size() > static_cast<size_t>(p_.repeat_last_n) ? history.size() - p_.repeat_last_n : 0;
    for (size_t i = from; i < history.size(); ++i) ++count[history[i]];
    for (const auto& [tok, c] : count) {
      if (tok < 0 || tok >= n_vocab) continue;
      float& l = cand_[tok].first;
      l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
      l -= c * p_.frequency_penalty + p_.presence_penalty;
    }
  }
  auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  if (p_.temperature <= 0) return std::min_element(cand_.begin(), cand_.end(), by_logit)->second;

  size_t n = cand_.size();
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < n) {
    std::partial_sort(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), by_logit);
    n = p_.top_k;
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  // Probabilities at temperature 1 for top-p and min-p (as llama.cpp, temperature applies last).
  std::vector<double> prob(n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += (prob[i] = std::exp(static_cast<double>(cand_[i].first) - cand_[0].first));
  if (p_.top_p < 1) {
    double cum = 0;
    for (size_t i = 0; i < n; ++i) {
      cum += prob[i] / sum;
      if (cum >= p_.top_p) {
        n = i + 1;
        break;
      }
    }
  }
  if (p_.min_p > 0) {
    size_t keep = 1;
    while (keep < n && prob[keep] >= p_.min_p * prob[0]) ++keep;
    n = keep;
  }
  std::vector<double> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = std::exp((static_cast<double>(cand_[i].first) - cand_[0].first) / p_.temperature);
  std::discrete_distribution<size_t> dist(w.begin(), w.end());
  return cand_[dist(rng_)].second;
}

}  // namespace pare::llm
