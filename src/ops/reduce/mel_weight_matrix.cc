// MelWeightMatrix (17): Y[num_spectrogram_bins, num_mel_bins], num_spectrogram_bins =
// dft_length/2 + 1, mapping a onesided magnitude spectrum to mel bands with triangles.
//   mel(f) = 2595·log10(1 + f/700);  the num_mel_bins + 2 band edges are
//   e_i = floor((dft_length + 1)·hz(mel(lower) + i·step) / sample_rate),  i ∈ [0, num_mel_bins + 2),
//   step = (mel(upper) − mel(lower)) / (num_mel_bins + 2),  hz(m) = 700·(10^(m/2595) − 1)
// (step divides by num_mel_bins + 2, as ONNX's reference does). Band i rises linearly from
// e_i to e_{i+1} (Y[e_{i+1}, i] = 1 when e_i = e_{i+1}) and falls to 0 at e_{i+2}.
// output_datatype (default float).
#include <cmath>
#include <vector>

#include "core/dispatch.h"
#include "ops/kernel.h"
#include "ops/reduce/signal_util.h"

namespace pare::ops {
namespace {

Result<double> scalar_float_input(const KernelContext& ctx, size_t i, const char* what) {
  PARE_ASSIGN_OR_RETURN(const Tensor* t, ctx.required_input(i));
  if (!dtype_is_float(t->dtype()) || t->numel() != 1) {
    return ctx.error("{} must be a float scalar, got {}", what, t->type_string());
  }
  return t->float_at(0);
}

Status run_mel_weight_matrix(KernelContext& ctx) {
  for (size_t i = 0; i < 3; ++i) PARE_RETURN_IF_ERROR(ctx.required_input(i));
  PARE_ASSIGN_OR_RETURN(int64_t num_mel_bins, signal::scalar_int_input(ctx, 0, 0, "num_mel_bins"));
  PARE_ASSIGN_OR_RETURN(int64_t dft_length, signal::scalar_int_input(ctx, 1, 0, "dft_length"));
  PARE_ASSIGN_OR_RETURN(int64_t sample_rate, signal::scalar_int_input(ctx, 2, 0, "sample_rate"));
  PARE_ASSIGN_OR_RETURN(double lower, scalar_float_input(ctx, 3, "lower_edge_hertz"));
  PARE_ASSIGN_OR_RETURN(double upper, scalar_float_input(ctx, 4, "upper_edge_hertz"));
  constexpr int64_t kMax = int64_t{1} << 24;
  if (num_mel_bins <= 0 || num_mel_bins > kMax) return ctx.error("num_mel_bins must be in [1, 2^24], got {}", num_mel_bins);
  if (dft_length <= 0 || dft_length > kMax) return ctx.error("dft_length must be in [1, 2^24], got {}", dft_length);
  if (sample_rate <= 0) return ctx.error("sample_rate must be positive, got {}", sample_rate);
  if (!(lower >= 0) || !(upper >= lower)) {
    return ctx.error("need 0 <= lower_edge_hertz <= upper_edge_hertz, got {} and {}", lower, upper);
  }
  const int64_t dt = ctx.node().attr_int("output_datatype", 1);
  if (!dtype_is_valid(static_cast<int32_t>(dt))) return ctx.error("output_datatype {} is not a valid type", dt);

  const int64_t spec_bins = dft_length / 2 + 1;
  const int64_t n_edges = num_mel_bins + 2;
  const double low_mel = 2595.0 * std::log10(1.0 + lower / 700.0);
  const double high_mel = 2595.0 * std::log10(1.0 + upper / 700.0);
  const double mel_step = (high_mel - low_mel) / static_cast<double>(n_edges);
  std::vector<int64_t> edge(static_cast<size_t>(n_edges));
  for (int64_t i = 0; i < n_edges; ++i) {
    const double hz = 700.0 * (std::pow(10.0, (static_cast<double>(i) * mel_step + low_mel) / 2595.0) - 1.0);
    edge[i] = static_cast<int64_t>(std::floor(static_cast<double>(dft_length + 1) * hz / static_cast<double>(sample_rate)));
    if (edge[i] < 0 || edge[i] >= spec_bins) {
      return ctx.error("mel band edge {} Hz falls outside the {} spectrogram bins (upper_edge_hertz above sample_rate/2?)",
                       hz, spec_bins);
    }
  }
  // Allocate first: Tensor::create rejects an oversized [spec_bins, num_mel_bins] request.
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, static_cast<DataType>(dt), {spec_bins, num_mel_bins}));
  bool ok = dispatch_numeric(y->dtype(), [&]<typename T>() {
    auto set = [&](int64_t j, int64_t i, double v) {
      y->data<T>()[j * num_mel_bins + i] = static_cast<T>(static_cast<compute_t<T>>(v));
    };
    for (int64_t i = 0; i < num_mel_bins; ++i) {
      const int64_t lo = edge[i], center = edge[i + 1], hi = edge[i + 2];
      if (center == lo) {
        set(center, i, 1.0);
      } else {
        for (int64_t j = lo; j <= center; ++j) set(j, i, static_cast<double>(j - lo) / static_cast<double>(center - lo));
      }
      for (int64_t j = center; j < hi; ++j) set(j, i, static_cast<double>(hi - j) / static_cast<double>(hi - center));
    }
  });
  if (!ok) return ctx.error("unsupported output_datatype {}", dtype_name(y->dtype()));
  return ok_status();
}

}  // namespace

void register_MelWeightMatrix(KernelRegistry& r) { add_fn<run_mel_weight_matrix>(r, "MelWeightMatrix", 17); }

}  // namespace pare::ops
