// Continuous batching for concurrent generations over one model: each sequence's evaluation
// (a prompt chunk or the next token) is queued, and one caller runs everything queued as a
// single eval_batch step, so concurrent sequences share decode steps: the weights are streamed
// once per step instead of once per sequence. Before a step the runner waits (at most WINDOW)
// until every registered sequence (enter … leave, e.g. while a request holds a generation
// slot) has its request queued, so sequences that sample quickly between steps stay in
// lock-step; unregistered callers are batched with whatever is queued.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

#include "llm/model.h"

namespace pare::llm {

class StepBatcher {
 public:
  explicit StepBatcher(std::chrono::microseconds window = std::chrono::microseconds(2000), int64_t max_rows = 512)
      : window_(window), max_rows_(max_rows) {}

  // As ctx.eval(tokens, n): appends the tokens to CTX's cache and writes the logits of the last
  // one to LOGITS; runs batched with whatever other sequences have queued. CTX must not be used
  // by anyone else meanwhile (one caller per context).
  Status eval(Context& ctx, const int32_t* tokens, int64_t n, std::vector<float>& logits);

  // A sequence starts / ends generating: steps wait (at most the window) for the requests of
  // the sequences in between.
  void enter();
  void leave();
  struct Member {  // enter() for its lifetime
    explicit Member(StepBatcher* b) : b_(b) {
      if (b_) b_->enter();
    }
    Member(Member&& o) noexcept : b_(o.b_) { o.b_ = nullptr; }
    Member(const Member&) = delete;
    ~Member() {
      if (b_) b_->leave();
    }
   private:
    StepBatcher* b_;
  };

  struct Stats {
    int64_t steps = 0, rows = 0, sequences = 0;  // sequences: Σ over steps of sequences per step
  };
  Stats stats() const;

 private:
  struct Request {
    Context* ctx;
    const int32_t* tokens;
    int64_t n;
    std::vector<float>* logits;
    Status status;
    bool done = false;
  };
  void run_step(std::unique_lock<std::mutex>& lk);

  const std::chrono::microseconds window_;
  const int64_t max_rows_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request*> pending_;
  bool running_ = false;
  int active_ = 0;
  Scratch scratch_;
  Stats stats_;
};

}  // namespace pare::llm
