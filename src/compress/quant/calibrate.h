// Calibration: runs the float model over a stream of samples and keeps, per observed tensor,
// only its range and a histogram of |x| (never the activations themselves), then turns them
// into a clipping range with minmax, percentile, entropy (KL) or MSE.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compress/quant/quantize.h"

namespace pare::compress::quant {

inline constexpr int kHistogramBins = 2048;

struct TensorStats {
  double min = 0, max = 0;       // over every element seen
  bool seen = false;
  std::vector<double> abs_hist;  // kHistogramBins bins over [0, absmax] (second pass)
  double absmax() const;
};

// The clipping range [lo, hi] for a tensor (always containing 0). `levels` is the number of
// quantization levels over the clipped interval (255 for 8 bits); with
// `symmetric` the grid is [−T, T] even for a one-sided tensor, so it gets half of them.
std::pair<double, double> choose_range(const TensorStats& st, CalibMethod method, double percentile, int levels,
                                       bool symmetric = false);

// Observes `tensors` of `model` (a copy is instrumented; `model` is not changed) over every
// sample of `source`; the first pass gets ranges, a second (unless minmax) the histograms.
Result<std::map<std::string, TensorStats>> collect_stats(const ir::Model& model, const std::vector<std::string>& tensors,
                                                         CalibrationSource& source, CalibMethod method,
                                                         const std::function<void(int64_t, int64_t)>& progress,
                                                         int64_t* samples);

// A deep copy of a model (through its ONNX serialization in a private temporary folder).
Result<std::unique_ptr<ir::Model>> clone_model(const ir::Model& model);

}  // namespace pare::compress::quant
