#include "llm/batcher.h"

#include <algorithm>

namespace pare::llm {

void StepBatcher::enter() {
  std::lock_guard lk(mu_);
  ++active_;
}

void StepBatcher::leave() {
  {
    std::lock_guard lk(mu_);
    --active_;
  }
  cv_.notify_all();  // a runner waiting for this sequence's request stops waiting
}

StepBatcher::Stats StepBatcher::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

Status StepBatcher::eval(Context& ctx, const int32_t* tokens, int64_t n, std::vector<float>& logits) {
  Request req{&ctx, tokens, n, &logits, ok_status()};
  std::unique_lock lk(mu_);
  pending_.push_back(&req);
  cv_.notify_all();
  while (!req.done) {
    if (running_) {
      cv_.wait(lk);
    } else {
      run_step(lk);
    }
  }
  return req.status;
}

// Called with the lock held and no step running; returns with the lock held.
void StepBatcher::run_step(std::unique_lock<std::mutex>& lk) {
  running_ = true;
  cv_.wait_for(lk, window_, [&] { return static_cast<int>(pending_.size()) >= active_; });
  // In arrival order while the rows fit (the first always goes).
  std::vector<Request*> batch;
  int64_t rows = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (!batch.empty() && rows + (*it)->n > max_rows_) {
      ++it;
      continue;
    }
    rows += (*it)->n;
    batch.push_back(*it);
    it = pending_.erase(it);
  }
  lk.unlock();
  auto finish = [](Request& r, const float* lg, int64_t n_vocab, Status st) {
    if (st.ok()) r.logits->assign(lg, lg + n_vocab);
    r.status = std::move(st);
  };
  const int64_t n_vocab = batch[0]->ctx->model().config().n_vocab;
  std::vector<SeqTokens> seqs;
  for (Request* r : batch) seqs.push_back({r->ctx, r->tokens, r->n});
  auto out = eval_batch(seqs, scratch_);
  if (out.ok()) {
    for (size_t i = 0; i < batch.size(); ++i) finish(*batch[i], (*out)[i], n_vocab, ok_status());
  } else if (batch.size() == 1) {
    finish(*batch[0], nullptr, n_vocab, out.status());
  } else {
    // A bad entry fails the whole batch before anything runs: run each alone so that only the
    // bad one gets its error.
    for (Request* r : batch) {
      auto one = eval_batch({{r->ctx, r->tokens, r->n}}, scratch_);
      finish(*r, one.ok() ? (*one)[0] : nullptr, n_vocab, one.ok() ? ok_status() : one.status());
    }
  }
  lk.lock();
  ++stats_.steps;
  stats_.rows += rows;
  stats_.sequences += static_cast<int64_t>(batch.size());
  for (Request* r : batch) r->done = true;
  running_ = false;
  cv_.notify_all();
}

}  // namespace pare::llm
