#include "serve/metrics.h"

#include <fmt/format.h>

namespace pare::serve {
namespace {
const std::vector<double> kTimeBounds = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64};
}  // namespace

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::write(std::string& out, const std::string& name, const std::string& labels) const {
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, bounds_[i], cum);
  }
  out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, count_);
  out += fmt::format("{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, sum_, name, labels, count_);
}

void Metrics::record(const std::string& model, int code, double queue_ms, double compute_ms, int batch) {
  std::lock_guard lk(mu_);
  ++requests_[{model, code}];
  if (code != 200) return;
  queue_ms_.try_emplace(model, kTimeBounds).first->second.observe(queue_ms);
  compute_ms_.try_emplace(model, kTimeBounds).first->second.observe(compute_ms);
  batch_.try_emplace(model, kBatchBounds).first->second.observe(batch);
}

void Metrics::record_tokens(const std::string& model, int64_t prompt, int64_t completion) {
  std::lock_guard lk(mu_);
  auto& t = tokens_[model];
  t.first += static_cast<uint64_t>(prompt);
  t.second += static_cast<uint64_t>(completion);
}

std::string Metrics::render(const std::map<std::string, int>& loaded, const std::map<std::string, ModelGauges>& gauges) const {
  std::lock_guard lk(mu_);
  std::string out;
  out += "# HELP pare_requests_total Inference requests by model and HTTP status code.\n";
  out += "# TYPE pare_requests_total counter\n";
  std::map<std::string, std::pair<uint64_t, uint64_t>> ok_fail;
  for (const auto& [k, n] : requests_) {
    out += fmt::format("pare_requests_total{{model=\"{}\",code=\"{}\"}} {}\n", k.first, k.second, n);
    (k.second == 200 ? ok_fail[k.first].first : ok_fail[k.first].second) += n;
  }
  out += "# TYPE pare_request_success_total counter\n";
  for (const auto& [m, p] : ok_fail) out += fmt::format("pare_request_success_total{{model=\"{}\"}} {}\n", m, p.first);
  out += "# TYPE pare_request_failure_total counter\n";
  for (const auto& [m, p] : ok_fail) out += fmt::format("pare_request_failure_total{{model=\"{}\"}} {}\n", m, p.second);
  out += "# HELP pare_queue_ms Time waiting for a session instance (ms).\n# TYPE pare_queue_ms histogram\n";
  for (const auto& [m, h] : queue_ms_) h.write(out, "pare_queue_ms", fmt::format("model=\"{}\"", m));
  out += "# HELP pare_compute_ms Model execution time (ms).\n# TYPE pare_compute_ms histogram\n";
  for (const auto& [m, h] : compute_ms_) h.write(out, "pare_compute_ms", fmt::format("model=\"{}\"", m));
  out += "# HELP pare_batch_size Batch size executed.\n# TYPE pare_batch_size histogram\n";
  for (const auto& [m, h] : batch_) h.write(out, "pare_batch_size", fmt::format("model=\"{}\"", m));
  out += "# HELP pare_model_loaded 1 when the model is ready.\n# TYPE pare_model_loaded gauge\n";
  for (const auto& [m, v] : loaded) out += fmt::format("pare_model_loaded{{model=\"{}\"}} {}\n", m, v);
  if (!tokens_.empty()) {
    out += "# HELP pare_tokens_total Tokens processed by text generation (prompt, completion).\n";
    out += "# TYPE pare_tokens_total counter\n";
    for (const auto& [m, t] : tokens_) {
      out += fmt::format("pare_tokens_total{{model=\"{}\",kind=\"prompt\"}} {}\n", m, t.first);
      out += fmt::format("pare_tokens_total{{model=\"{}\",kind=\"completion\"}} {}\n", m, t.second);
    }
  }
  out += "# HELP pare_model_runs_total Session runs of the served version (a dynamic batch counts once).\n";
  out += "# TYPE pare_model_runs_total counter\n";
  for (const auto& [m, g] : gauges) out += fmt::format("pare_model_runs_total{{model=\"{}\"}} {}\n", m, g.runs);
  out += "# HELP pare_inflight_requests Requests queued or running.\n# TYPE pare_inflight_requests gauge\n";
  for (const auto& [m, g] : gauges) out += fmt::format("pare_inflight_requests{{model=\"{}\"}} {}\n", m, g.in_flight);
  return out;
}

}  // namespace pare::serve
