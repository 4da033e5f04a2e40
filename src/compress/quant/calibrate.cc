#include "compress/quant/calibrate.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "onnx/onnx.h"
#include "runtime/session.h"

namespace pare::compress::quant {

double TensorStats::absmax() const { return std::max(std::fabs(min), std::fabs(max)); }

namespace {

// KL divergence search (TensorRT's method): for each threshold bin i, the reference
// distribution is hist[0..i) with the tail folded into bin i−1; the candidate merges those i
// bins into `target` levels and spreads each level back over its non-empty bins.
int entropy_threshold_bin(std::vector<double> hist, int target) {
  const int n = static_cast<int>(hist.size());
  // The spike of exact zeros (after ReLU, padding) would dominate the divergence and pull the
  // threshold down; like NVIDIA's pytorch-quantization, give bin 0 its neighbour's count.
  if (n > 1) hist[0] = hist[1];
  if (n <= target) return n;
  double best = INFINITY;
  int best_i = n;
  std::vector<double> ref(n), cand(n);
  double tail = 0;
  for (int i = n - 1; i >= target; --i) tail += hist[i];
  // tail now = sum(hist[target..n)); walk i upward, removing hist[i-1] from the tail.
  double tail_i = tail;
  for (int i = target; i <= n; ++i) {
    if (i > target) tail_i -= hist[i - 1];
    for (int b = 0; b < i; ++b) ref[b] = hist[b];
    ref[i - 1] += tail_i;
    std::fill(cand.begin(), cand.begin() + i, 0.0);
    for (int j = 0; j < target; ++j) {
      const int start = static_cast<int>(int64_t(j) * i / target), end = static_cast<int>(int64_t(j + 1) * i / target);
      double sum = 0;
      int nonzero = 0;
      for (int b = start; b < end; ++b) {
        sum += hist[b];
        nonzero += hist[b] > 0;
      }
      for (int b = start; b < end; ++b) cand[b] = hist[b] > 0 ? sum / nonzero : 0;
    }
    double ref_sum = 0, cand_sum = 0;
    for (int b = 0; b < i; ++b) {
      ref_sum += ref[b];
      cand_sum += cand[b];
    }
    if (ref_sum <= 0 || cand_sum <= 0) continue;
    double kl = 0;
    for (int b = 0; b < i; ++b) {
      const double p = ref[b] / ref_sum;
      if (p <= 0) continue;
      const double q = std::max(cand[b] / cand_sum, 1e-12);
      kl += p * std::log(p / q);
    }
    if (kl < best) {
      best = kl;
      best_i = i;
    }
  }
  return best_i;
}

}  // namespace

std::pair<double, double> choose_range(const TensorStats& st, CalibMethod method, double percentile, int levels,
                                       bool symmetric) {
  double lo = std::min(0.0, st.min), hi = std::max(0.0, st.max);
  const double amax = st.absmax();
  if (method == CalibMethod::kMinMax || st.abs_hist.empty() || amax <= 0) return {lo, hi};
  const int n = static_cast<int>(st.abs_hist.size());
  const double width = amax / n;
  double total = 0;
  for (double c : st.abs_hist) total += c;
  if (total <= 0) return {lo, hi};
  // One-sided tensors (after ReLU) use every level for [0, T]; two-sided ones split them.
  const bool one_sided = !symmetric && (st.min >= 0 || st.max <= 0);
  double t = amax;
  if (method == CalibMethod::kPercentile) {
    double cum = 0;
    for (int b = 0; b < n; ++b) {
      cum += st.abs_hist[b];
      if (cum >= total * percentile / 100.0) {
        t = (b + 1) * width;
        break;
      }
    }
  } else if (method == CalibMethod::kEntropy) {
    t = entropy_threshold_bin(st.abs_hist, one_sided ? (levels + 1) : (levels + 1) / 2) * width;
  } else {  // kMse: expected squared error of clipping plus rounding for each candidate T
    double best = INFINITY;
    for (int k = 1; k <= 200; ++k) {
      const double cand = amax * k / 200.0;
      const double step = (one_sided ? cand : 2 * cand) / levels;
      double err = 0;
      for (int b = 0; b < n; ++b) {
        const double c = (b + 0.5) * width;
        err += st.abs_hist[b] * (c > cand ? (c - cand) * (c - cand) : step * step / 12.0);
      }
      if (err < best) {
        best = err;
        t = cand;
      }
    }
  }
  return {std::max(lo, -t), std::min(hi, t)};
}

Result<std::unique_ptr<ir::Model>> clone_model(const ir::Model& model) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "pare_quant_XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return io_error("cannot create a temporary folder for calibration");
  const std::string path = tmpl + "/model.onnx";
  onnx::SaveOptions so;
  so.external_data = true;  // a model over 2 GB still round-trips
  so.external_threshold = 1 << 20;
  Status st = onnx::save_model(model, path, so);
  Result<std::unique_ptr<ir::Model>> out = st.ok() ? onnx::load_model(path) : Result<std::unique_ptr<ir::Model>>(st);
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  return out;
}

namespace {

Status check_sample(const runtime::Session& s, const Sample& sample, int64_t index) {
  for (const auto& [name, t] : sample) {
    const runtime::IoInfo* info = nullptr;
    for (const auto& in : s.inputs())
      if (in.name == name) info = &in;
    if (!info) return invalid_input("calibration sample {}: the model has no input '{}'", index, name);
    if (info->type.dtype != DataType::kUndefined && info->type.dtype != t.dtype())
      return invalid_input("calibration sample {}: input '{}' is {}, the model expects {}", index, name,
                           t.type_string(), dtype_name(info->type.dtype));
    if (info->type.shape) {
      const auto& dims = *info->type.shape;
      bool ok = static_cast<int64_t>(dims.size()) == t.rank();
      for (size_t d = 0; ok && d < dims.size(); ++d) ok = !dims[d].known() || dims[d].value == t.dim(d);
      if (!ok) {
        std::string want;
        for (const auto& d : dims) want += (want.empty() ? "" : ",") + (d.known() ? std::to_string(d.value) : d.symbol.empty() ? "?" : d.symbol);
        return invalid_input("calibration sample {}: input '{}' has shape {}, the model expects [{}]", index, name,
                             t.type_string(), want);
      }
    }
  }
  for (const auto& in : s.inputs()) {
    bool found = false;
    for (const auto& [name, t] : sample) found |= name == in.name;
    if (!found) return invalid_input("calibration sample {}: no data for model input '{}'", index, in.name);
  }
  return ok_status();
}

}  // namespace

Result<std::map<std::string, TensorStats>> collect_stats(const ir::Model& model, const std::vector<std::string>& tensors,
                                                         CalibrationSource& source, CalibMethod method,
                                                         const std::function<void(int64_t, int64_t)>& progress,
                                                         int64_t* samples) {
  PARE_ASSIGN_OR_RETURN(auto copy, clone_model(model));
  ir::Graph& g = *copy->graph;
  for (const std::string& name : tensors) {
    ir::Value* v = g.find_local_value(name);
    if (!v) return internal_error("calibration: tensor '{}' not found", name);
    if (std::find(g.outputs().begin(), g.outputs().end(), v) == g.outputs().end()) g.outputs().push_back(v);
  }
  runtime::SessionOptions so;
  so.opt_level = 0;  // observed tensors must survive as they are
  PARE_ASSIGN_OR_RETURN(auto session, runtime::Session::create(std::move(copy), so));
  std::map<std::string, TensorStats> stats;
  for (const auto& n : tensors) stats[n];
  const int passes = method == CalibMethod::kMinMax ? 1 : 2;
  int64_t count = 0;
  for (int pass = 0; pass < passes; ++pass) {
    if (pass > 0) source.reset();
    int64_t index = 0;
    Sample sample;
    while (true) {
      sample.clear();
      PARE_ASSIGN_OR_RETURN(bool more, source.next(sample));
      if (!more) break;
      PARE_RETURN_IF_ERROR(check_sample(*session, sample, index));
      std::vector<std::pair<std::string, RunValue>> feeds;
      for (auto& [name, t] : sample) feeds.emplace_back(name, RunValue(t));
      auto outs = session->run(feeds, tensors);
      if (!outs.ok()) return Status(outs.status().code(), fmt::format("calibration sample {}: {}", index, outs.status().message()));
      for (size_t k = 0; k < tensors.size(); ++k) {
        const RunValue& rv = (*outs)[k];
        if (!rv.is_tensor() || rv.tensor.dtype() != DataType::kFloat32) continue;
        const Tensor& t = rv.tensor;
        TensorStats& st = stats[tensors[k]];
        const float* p = t.data<float>();
        if (pass == 0) {
          for (int64_t i = 0; i < t.numel(); ++i) {
            if (!std::isfinite(p[i]))
              return invalid_input("calibration sample {}: activation '{}' holds {} (the float model produces it; "
                                   "quantization needs finite values)", index, tensors[k], p[i]);
            if (!st.seen) {
              st.min = st.max = p[i];
              st.seen = true;
            }
            st.min = std::min<double>(st.min, p[i]);
            st.max = std::max<double>(st.max, p[i]);
          }
        } else {
          const double amax = st.absmax();
          if (amax <= 0) continue;
          if (st.abs_hist.empty()) st.abs_hist.assign(kHistogramBins, 0);
          for (int64_t i = 0; i < t.numel(); ++i) {
            int b = static_cast<int>(std::fabs(p[i]) / amax * kHistogramBins);
            st.abs_hist[std::min(b, kHistogramBins - 1)] += 1;
          }
        }
      }
      ++index;
      if (progress) progress(pass * source.size + index, passes * std::max<int64_t>(source.size, index));
    }
    if (pass == 0) count = index;
    if (index == 0) return invalid_input("calibration set is empty: static quantization needs at least one sample");
  }
  if (samples) *samples = count;
  return stats;
}

}  // namespace pare::compress::quant
