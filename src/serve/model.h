// A served model version: N runtime::Session instances (Session is not thread-safe, so each
// request borrows one instance), a bounded count of waiting requests (503 when full) and a
// per-request wait timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <thread>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/session.h"
#include "serve/tensor_codec.h"

namespace pare::serve {

struct ModelConfig {
  int instances = 1;
  int threads = 1;            // threads per session instance
  int max_queue_size = 64;    // requests waiting for an instance beyond this → 503
  int64_t timeout_ms = 30000; // waiting longer for an instance → 503
  std::string sha256;         // when set, the model file must match
};

// Parses DIR/<model>/config.toml; absent keys keep their defaults.
Result<ModelConfig> parse_model_config(const std::string& toml_text);

class ServedModel {
 public:
  static Result<std::shared_ptr<ServedModel>> load(const std::string& name, const std::string& version,
                                                   const std::string& path, const ModelConfig& config);
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const std::vector<runtime::IoInfo>& inputs() const { return inputs_; }
  const std::vector<runtime::IoInfo>& outputs() const { return outputs_; }

  // Status kResourceExhausted when the queue is full or the wait timed out.
  Result<std::vector<std::pair<std::string, Tensor>>> infer(const InferRequest& req, double* queue_ms,
                                                             double* compute_ms);
  int64_t in_flight() const { return in_flight_.load(); }
  ~ServedModel();

 private:
  std::string name_, version_;
  ModelConfig config_;
  std::vector<runtime::IoInfo> inputs_, outputs_;
  // Each session instance lives on its own worker thread: oneDNN primitives keep per-thread
  // state, so a Session must always run on the thread that first ran it.
  struct Job {
    std::vector<std::pair<std::string, RunValue>> feeds;
    std::vector<std::string> names;
    std::chrono::steady_clock::time_point enqueued;
    std::promise<Result<std::vector<RunValue>>> done;
    double queue_ms = 0, compute_ms = 0;
  };
  void worker(size_t i);
  std::vector<std::unique_ptr<runtime::Session>> sessions_;
  std::vector<std::thread> workers_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<int64_t> in_flight_{0};
};

// Hex SHA-256 of a file (OpenSSL).
Result<std::string> sha256_file(const std::string& path);

}  // namespace pare::serve
