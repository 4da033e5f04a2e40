// OpenAI-compatible text generation for `pare serve MODEL.gguf`: GET /v1/models,
// POST /v1/completions, POST /v1/chat/completions (JSON, or SSE with "stream": true), on top of
// llm::Generator. Several requests run at once on `slots` generators that share the model
// weights, each with its own KV cache; more wait in a bounded queue (503 when full or after the
// timeout). With more than one slot the generators share an llm::StepBatcher (continuous
// batching): the sequences being generated go through each decode step together, and a new
// request's prompt joins the step of the others, so the weights are read once per step.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "llm/chat.h"
#include "llm/generator.h"

namespace httplib {
class Server;
}

namespace pare::serve {

class Metrics;

struct LlmServeOptions {
  int slots = 2;               // sequences generated at once
  int64_t n_ctx = 0;           // per slot; 0: the model's (at most 4096)
  int threads = 0;             // compute threads per sequence (0: all cores)
  int max_queue = 64;          // requests waiting for a slot beyond this → 503
  int64_t timeout_ms = 30000;  // longest wait for a slot → 503
  bool continuous_batching = true;  // sequences share decode steps (with slots > 1)
};

class LlmService {
 public:
  static Result<std::unique_ptr<LlmService>> load(const std::string& path, const std::string& name,
                                                  const LlmServeOptions& opts);
  // Adds the /v1 routes; request counts and times go to METRICS under the model's name.
  void install(httplib::Server& server, Metrics& metrics);
  const std::string& name() const { return name_; }

  // A generator borrowed for one request (returned on destruction).
  class Slot {
   public:
    Slot(LlmService* s, size_t i) : s_(s), i_(i) {}
    Slot(Slot&& o) noexcept : s_(o.s_), i_(o.i_) { o.s_ = nullptr; }
    Slot(const Slot&) = delete;
    ~Slot();
    llm::Generator& gen() { return *s_->gens_[i_]; }

   private:
    LlmService* s_;
    size_t i_;
  };
  // kResourceExhausted when the queue is full or no slot frees up in time.
  Result<Slot> acquire(double* wait_ms);

 private:
  std::string name_;
  LlmServeOptions opts_;
  std::shared_ptr<llm::Model> model_;
  llm::ChatFormat chat_format_ = llm::ChatFormat::kChatml;
  std::vector<std::unique_ptr<llm::Generator>> gens_;
  std::shared_ptr<llm::StepBatcher> batcher_;  // null: each sequence steps alone
  std::vector<bool> busy_;
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  int64_t created_ = 0;
};

}  // namespace pare::serve
