// Prometheus text-format metrics: request counts by model and HTTP code, queue/compute time
// and batch-size histograms, loaded models.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace pare::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}
  void observe(double v);
  void write(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

struct ModelGauges {
  uint64_t runs = 0;       // session runs of the served version (a batch counts once)
  int64_t in_flight = 0;   // requests queued or running
};

class Metrics {
 public:
  void record(const std::string& model, int code, double queue_ms, double compute_ms, int batch);
  // Text generation: prompt and completion tokens processed.
  void record_tokens(const std::string& model, int64_t prompt, int64_t completion);
  // `loaded`: model name → 1 ready / 0 not; `gauges`: per served model.
  std::string render(const std::map<std::string, int>& loaded, const std::map<std::string, ModelGauges>& gauges = {}) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> queue_ms_, compute_ms_, batch_;
  std::map<std::string, std::pair<uint64_t, uint64_t>> tokens_;  // prompt, completion
};

}  // namespace pare::serve
