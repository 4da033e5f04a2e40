// DFT (17, 20) and STFT (17). Signals are real ([..., 1]) or complex ([..., 2] = re, im).
//   DFT:  Y[k] = Σ_{t<N} x[t]·exp(−2πi·k·t/N)          along `axis`, N = dft_length
//         inverse: Y[k] = (1/N)·Σ_{t<N} x[t]·exp(+2πi·k·t/N)
//         The signal is truncated or zero-padded to N; onesided keeps k ≤ N/2 (real input).
//         Opset 17: axis attribute (default 1); opset 20: axis is input 2 (default −2).
//   STFT: frame f of signal[b] starts at f·frame_step and has frame_length samples, multiplied
//         by `window` when given; Y[b, f, k] = DFT(frame)[k], frames = 1 + (L − frame_length)/step,
//         onesided (default 1) keeps k ≤ frame_length/2.
// Computed in double (radix-2 or Bluestein FFT per line, signal_util.h).
#include <algorithm>

#include "core/dispatch.h"
#include "ops/kernel.h"
#include "ops/reduce/signal_util.h"

namespace pare::ops {
namespace {

using signal::cdouble;

// Sample t of a real ([.., 1]) or complex ([.., 2]) signal stored at `p` with element stride 1.
template <typename T>
cdouble load_sample(const T* p, int64_t channels) {
  using C = compute_t<T>;
  const double re = static_cast<double>(static_cast<C>(p[0]));
  const double im = channels == 2 ? static_cast<double>(static_cast<C>(p[1])) : 0.0;
  return {re, im};
}

template <typename T>
void store_sample(T* p, cdouble v) {
  using C = compute_t<T>;
  p[0] = static_cast<T>(static_cast<C>(v.real()));
  p[1] = static_cast<T>(static_cast<C>(v.imag()));
}

class DftKernel final : public Kernel {
 public:
  explicit DftKernel(const KernelInit& init)
      : opset_(init.opset),
        inverse_(init.node.attr_int("inverse", 0) != 0),
        onesided_(init.node.attr_int("onesided", 0) != 0),
        axis_attr_(init.node.attr_int("axis", 1)) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    const int64_t r = x->rank();
    if (r < 2) return ctx.error("input must have rank >= 2 ([batch, ..., 1 or 2]), got {}", x->type_string());
    const int64_t channels = x->dim(-1);
    if (channels != 1 && channels != 2) {
      return ctx.error("last dimension of the input must be 1 (real) or 2 (complex), got {}", channels);
    }
    int64_t axis = axis_attr_;
    if (opset_ >= 20) {
      PARE_ASSIGN_OR_RETURN(axis, signal::scalar_int_input(ctx, 2, -2, "axis"));
    }
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r - 2) return ctx.error("axis {} out of range for input rank {}", axis, r);
    const int64_t n_in = x->dim(axis);
    PARE_ASSIGN_OR_RETURN(int64_t n, signal::scalar_int_input(ctx, 1, n_in, "dft_length"));
    if (n <= 0 || n > (int64_t{1} << 22)) return ctx.error("dft_length must be in [1, 2^22], got {}", n);
    if (onesided_ && inverse_) return unsupported("{}: onesided inverse DFT is not supported", ctx.node().describe());
    if (onesided_ && channels == 2) return ctx.error("onesided requires a real input (last dimension 1)");
    const int64_t n_out = onesided_ ? n / 2 + 1 : n;

    Shape out_shape = x->shape();
    out_shape[axis] = n_out;
    out_shape.back() = 2;
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), out_shape));

    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x->dim(d);
    for (int64_t d = axis + 1; d < r - 1; ++d) inner *= x->dim(d);
    const double scale = inverse_ ? 1.0 / static_cast<double>(n) : 1.0;
    const int64_t n_copy = std::min(n, n_in);
    bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
      std::vector<cdouble> line(static_cast<size_t>(n));
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          std::fill(line.begin(), line.end(), cdouble(0));
          for (int64_t t = 0; t < n_copy; ++t) {
            line[t] = load_sample(x->data<T>() + ((o * n_in + t) * inner + i) * channels, channels);
          }
          signal::fft(line, inverse_);
          for (int64_t k = 0; k < n_out; ++k) {
            store_sample(y->data<T>() + ((o * n_out + k) * inner + i) * 2, line[k] * scale);
          }
        }
      }
    });
    if (!ok) return ctx.error("unsupported input type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  int64_t opset_;
  bool inverse_, onesided_;
  int64_t axis_attr_;
};

class StftKernel final : public Kernel {
 public:
  explicit StftKernel(const KernelInit& init) : onesided_(init.node.attr_int("onesided", 1) != 0) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->rank() != 3 || (x->dim(2) != 1 && x->dim(2) != 2)) {
      return ctx.error("signal must be [batch, length, 1 or 2], got {}", x->type_string());
    }
    const int64_t batch = x->dim(0), length = x->dim(1), channels = x->dim(2);
    if (ctx.input(1) == nullptr) return ctx.error("required input 1 (frame_step) is missing");
    PARE_ASSIGN_OR_RETURN(int64_t step, signal::scalar_int_input(ctx, 1, 0, "frame_step"));
    if (step <= 0) return ctx.error("frame_step must be positive, got {}", step);
    const Tensor* window = ctx.input(2);
    if (window != nullptr) {
      if (window->rank() != 1) return ctx.error("window must be 1-D, got {}", window->type_string());
      if (window->dtype() != x->dtype()) return ctx.error("window type {} differs from signal type {}", window->type_string(), x->type_string());
    }
    PARE_ASSIGN_OR_RETURN(int64_t frame_length, signal::scalar_int_input(ctx, 3, window ? window->dim(0) : -1, "frame_length"));
    if (frame_length < 0) return ctx.error("one of window or frame_length must be given");
    if (window != nullptr && window->dim(0) != frame_length) {
      return ctx.error("window length {} differs from frame_length {}", window->dim(0), frame_length);
    }
    if (frame_length <= 0 || frame_length > length) {
      return ctx.error("frame_length {} must be in [1, signal length {}]", frame_length, length);
    }
    if (onesided_ && channels == 2) return ctx.error("onesided requires a real signal (last dimension 1)");
    const int64_t frames = 1 + (length - frame_length) / step;
    const int64_t bins = onesided_ ? frame_length / 2 + 1 : frame_length;
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), {batch, frames, bins, 2}));

    bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
      std::vector<cdouble> frame(static_cast<size_t>(frame_length));
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t f = 0; f < frames; ++f) {
          for (int64_t t = 0; t < frame_length; ++t) {
            const int64_t s = f * step + t;
            frame[t] = load_sample(x->data<T>() + (b * length + s) * channels, channels);
            if (window) frame[t] *= static_cast<double>(static_cast<compute_t<T>>(window->data<T>()[t]));
          }
          signal::fft(frame, false);
          for (int64_t k = 0; k < bins; ++k) {
            store_sample(y->data<T>() + ((b * frames + f) * bins + k) * 2, frame[k]);
          }
        }
      }
    });
    if (!ok) return ctx.error("unsupported signal type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  bool onesided_;
};

}  // namespace

void register_DFT(KernelRegistry& r) { r.add({"DFT", "", 17, kMaxOpset, &make_kernel<DftKernel>}); }
void register_STFT(KernelRegistry& r) { r.add({"STFT", "", 17, kMaxOpset, &make_kernel<StftKernel>}); }

}  // namespace pare::ops
