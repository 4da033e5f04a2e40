// A served model version: N runtime::Session instances, each on its own worker thread, fed from
// one per-model queue. Dynamic batching (max_batch_size > 1): a worker takes the oldest request
// and, until max_batch_size rows, a preferred size or max_queue_delay_us after that request
// arrived, adds waiting requests with the same input names, dtypes and non-batch dims; their
// inputs are concatenated along dim 0, run once, and the outputs split back by rows. The queue
// is bounded (503 when full); a request leaves the queue when its timeout passes or its client
// disconnects.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
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
  int max_batch_size = 0;     // ≤ 1: no dynamic batching
  int64_t max_queue_delay_us = 0;       // how long the oldest request may wait for others
  // Run as soon as one of these row counts is reached; batches are zero-padded up to the
  // smallest one that holds them, and each is planned (warmed up) at load.
  std::vector<int> preferred_batch_sizes;
};

// Preferred batch sizes must lie in [1, max_batch_size].
Status validate_batching(const ModelConfig& c);
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

  struct Stats {
    double queue_ms = 0, compute_ms = 0;
    int batch = 1;          // rows of the run this request was part of
    bool cancelled = false; // the client went away while the request was queued
  };
  // Status kResourceExhausted when the queue is full or the wait timed out. CLIENT_GONE (may be
  // empty) is polled while the request waits; when it returns true the request is withdrawn.
  Result<std::vector<std::pair<std::string, Tensor>>> infer(const InferRequest& req, Stats* stats,
                                                             const std::function<bool()>& client_gone = {});
  int64_t in_flight() const { return in_flight_.load(); }
  bool batchable() const { return batchable_; }
  const ModelConfig& config() const { return config_; }
  uint64_t runs() const { return runs_.load(); }  // session runs (a batch counts once)
  ~ServedModel();

 private:
  std::string name_, version_;
  ModelConfig config_;
  std::vector<runtime::IoInfo> inputs_, outputs_;
  // Each session instance lives on its own worker thread: oneDNN primitives keep per-thread
  // state, so a Session must always run on the thread that first ran it.
  struct Job {
    std::vector<std::pair<std::string, RunValue>> feeds;  // sorted by name
    std::vector<std::string> names;
    int64_t rows = -1;  // dim 0 of every input; -1: not batchable
    std::chrono::steady_clock::time_point enqueued;
    std::promise<Result<std::vector<RunValue>>> done;
    double queue_ms = 0, compute_ms = 0;
    int batch = 1;
  };
  using JobPtr = std::shared_ptr<Job>;
  void worker(size_t i);
  // With mu_ held (LK): takes the oldest job and, with batching, compatible others (waiting up
  // to the delay). Empty when stopping.
  std::vector<JobPtr> next_batch(std::unique_lock<std::mutex>& lk);
  void run_batch(size_t i, std::vector<JobPtr>& batch);
  void warm_up(size_t i);  // plans the preferred batch sizes before serving
  bool batchable_ = false;
  std::atomic<uint64_t> runs_{0};
  std::vector<std::unique_ptr<runtime::Session>> sessions_;
  std::vector<std::thread> workers_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<int64_t> in_flight_{0};
};

// Rows (dim 0) shared by every feed, or -1 when the feeds cannot be batched (scalars, strings,
// packed types, differing dim 0, zero rows).
int64_t batch_rows(const std::vector<std::pair<std::string, RunValue>>& feeds);

// Hex SHA-256 of a file (OpenSSL).
Result<std::string> sha256_file(const std::string& path);

}  // namespace pare::serve
