// Classifier evaluation: batches a data set through a Session, compares argmax of the
// first output with the labels, and times each batch.
#pragma once

#include <functional>

#include "eval/dataset.h"
#include "runtime/session.h"

namespace pare::eval {

struct EvalOptions {
  int64_t batch_size = 64;
  // Called after each batch with (done, total) — for progress bars.
  std::function<void(int64_t, int64_t)> progress;
};

struct EvalReport {
  double accuracy = 0;       // 0..1
  int64_t count = 0;
  double images_per_s = 0;
  int64_t batch_size = 0;
  double latency_ms_p50 = 0, latency_ms_p90 = 0, latency_ms_p99 = 0;  // per batch
};

Result<EvalReport> evaluate_classifier(runtime::Session& session, const Dataset& data, const EvalOptions& options);

}  // namespace pare::eval
