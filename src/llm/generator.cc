#include "llm/generator.h"

#include <algorithm>
#include <chrono>

namespace pare::llm {
namespace {

constexpr int64_t kMaxBatch = 512;
constexpr int64_t kMaxTokensLimit = int64_t{1} << 24;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Length of the longest suffix of TEXT that is a proper prefix of some stop string.
size_t stop_prefix_len(std::string_view text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const std::string& s : stops)
    for (size_t n = std::min(s.size() - 1, text.size()); n > best; --n)
      if (text.compare(text.size() - n, n, s, 0, n) == 0) {
        best = n;
        break;
      }
  return best;
}

}  // namespace

Result<std::unique_ptr<Generator>> Generator::create(std::shared_ptr<const Model> model, int64_t n_ctx, KvType kv) {
  std::unique_ptr<Generator> g(new Generator());
  PARE_ASSIGN_OR_RETURN(g->tok_, Tokenizer::from_gguf(model->file()));
  if (g->tok_.n_vocab() > model->config().n_vocab)
    return invalid_model("gguf: tokenizer has {} tokens but the model's embedding only {}", g->tok_.n_vocab(), model->config().n_vocab);
  PARE_ASSIGN_OR_RETURN(g->ctx_, Context::create(model, n_ctx, kv));
  g->model_ = std::move(model);
  return g;
}

Result<const float*> Generator::eval(const int32_t* tokens, int64_t n) {
  if (!batcher_) return ctx_->eval(tokens, n);
  PARE_RETURN_IF_ERROR(batcher_->eval(*ctx_, tokens, n, logits_));
  return logits_.data();
}

Result<GenerateResult> Generator::generate(std::string_view prompt, const GenerateOptions& opt, const TextCallback& on_text) {
  PARE_ASSIGN_OR_RETURN(std::vector<int32_t> ids, tok_.encode(prompt, opt.add_bos, opt.parse_special));
  return generate_ids(ids, opt, on_text);
}

Result<GenerateResult> Generator::generate_ids(const std::vector<int32_t>& prompt, const GenerateOptions& opt, const TextCallback& on_text) {
  if (opt.max_tokens < 0 || opt.max_tokens > kMaxTokensLimit)
    return invalid_input("max_tokens {} must be between 0 and {}", opt.max_tokens, kMaxTokensLimit);
  PARE_RETURN_IF_ERROR(opt.sampling.validate());
  for (const std::string& s : opt.stop)
    if (s.empty()) return invalid_input("stop strings must not be empty");
  if (prompt.empty()) return invalid_input("the prompt is empty (no tokens to start from)");
  const int64_t n_ctx = ctx_->n_ctx();
  if (static_cast<int64_t>(prompt.size()) > n_ctx)
    return invalid_input("prompt of {} tokens is longer than the context of {} tokens", prompt.size(), n_ctx);
  for (int32_t id : prompt)
    if (id < 0 || id >= model_->config().n_vocab) return invalid_input("prompt token id {} is outside the vocabulary", id);

  GenerateResult res;
  res.prompt_tokens = static_cast<int64_t>(prompt.size());
  // Reuse the cached prefix; at least the last prompt token is evaluated again for its logits.
  size_t keep = 0;
  while (keep < cached_.size() && keep < prompt.size() && cached_[keep] == prompt[keep]) ++keep;
  keep = std::min(keep, prompt.size() - 1);
  ctx_->truncate(static_cast<int64_t>(keep));
  cached_.resize(keep);
  res.cached_tokens = static_cast<int64_t>(keep);

  auto t0 = std::chrono::steady_clock::now();
  const float* logits = nullptr;
  for (size_t i = keep; i < prompt.size(); i += kMaxBatch) {
    const int64_t n = std::min<int64_t>(kMaxBatch, prompt.size() - i);
    auto r = eval(prompt.data() + i, n);
    if (!r.ok()) {
      cached_.clear();
      ctx_->truncate(0);
      return r.status();
    }
    logits = *r;
    cached_.insert(cached_.end(), prompt.begin() + i, prompt.begin() + i + n);
  }
  res.prompt_ms = ms_since(t0);

  t0 = std::chrono::steady_clock::now();
  Sampler sampler(opt.sampling);
  std::vector<int32_t> history = prompt;
  size_t emitted = 0;  // bytes of res.text passed to on_text
  auto emit = [&](size_t upto) {
    if (upto <= emitted) return true;
    const bool go = !on_text || on_text(std::string_view(res.text).substr(emitted, upto - emitted));
    emitted = upto;
    return go;
  };
  res.finish_reason = "length";
  while (res.completion_tokens < opt.max_tokens) {
    const int32_t id = sampler.sample(logits, model_->config().n_vocab, history);
    if (!opt.ignore_eos && tok_.is_eog(id)) {
      res.finish_reason = "stop";
      break;
    }
    res.tokens.push_back(id);
    history.push_back(id);
    ++res.completion_tokens;
    const size_t before = res.text.size();
    res.text += tok_.piece(id);
    // A stop string may start in text already held back: search from there.
    size_t stop_at = std::string::npos;
    for (const std::string& s : opt.stop) {
      const size_t from = before >= s.size() ? before - s.size() + 1 : 0;
      stop_at = std::min(stop_at, res.text.find(s, std::min(from, emitted)));
    }
    if (stop_at != std::string::npos) {
      res.text.resize(stop_at);
      emit(stop_at);
      res.finish_reason = "stop";
      break;
    }
    const std::string_view text(res.text);
    const size_t safe = std::min(utf8_complete_prefix(text), text.size() - stop_prefix_len(text, opt.stop));
    if (!emit(safe)) {
      res.finish_reason = "cancelled";
      break;
    }
    if (res.completion_tokens >= opt.max_tokens || ctx_->n_past() >= n_ctx) break;
    auto r = eval(&id, 1);
    if (!r.ok()) return r.status();
    logits = *r;
    cached_.push_back(id);
  }
  if (res.finish_reason != "cancelled") emit(res.text.size());
  res.generate_ms = ms_since(t0);
  return res;
}

}  // namespace pare::llm
