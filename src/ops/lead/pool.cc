// MaxPool (opset 1, 8, 10, 11, 12): y = max over each window; AveragePool (1, 7, 10, 11):
// mean over the window (count_include_pad); GlobalAveragePool / GlobalMaxPool: over all
// spatial positions. N-D windows with strides, pads, dilations (MaxPool ≥ 10), ceil_mode,
// auto_pad. Float types.
#include <cmath>
#include <limits>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

struct PoolAttrs {
  std::vector<int64_t> kernel, strides, pads, dilations;
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false, count_include_pad = false;
};

class Pool final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<Pool>();
    const ir::Node& n = init.node;
    k->max_ = n.op_type() == "MaxPool";
    PoolAttrs& a = k->a_;
    a.kernel = n.attr_ints("kernel_shape");
    if (a.kernel.empty()) return invalid_input("{}: kernel_shape is required", n.describe());
    const size_t sp = a.kernel.size();
    a.strides = n.attr_ints("strides", std::vector<int64_t>(sp, 1));
    a.pads = n.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
    a.dilations = n.attr_ints("dilations", std::vector<int64_t>(sp, 1));
    a.auto_pad = n.attr_string("auto_pad", "NOTSET");
    a.ceil_mode = n.attr_int("ceil_mode", 0) != 0;
    a.count_include_pad = n.attr_int("count_include_pad", 0) != 0;
    if (n.attr_int("storage_order", 0) != 0) return unsupported("{}: storage_order 1 is not supported", n.describe());
    if (a.strides.size() != sp || a.pads.size() != 2 * sp || a.dilations.size() != sp) {
      return invalid_input("{}: strides/pads/dilations do not match kernel_shape", n.describe());
    }
    for (size_t i = 0; i < sp; ++i) {
      if (a.kernel[i] < 1 || a.strides[i] < 1 || a.dilations[i] < 1 || a.pads[i] < 0 || a.pads[i + sp] < 0) {
        return invalid_input("{}: kernel_shape, strides and dilations must be ≥ 1 and pads ≥ 0", n.describe());
      }
    }
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    const size_t sp = a_.kernel.size();
    if (x->rank() != static_cast<int64_t>(sp) + 2) return ctx.error("input {} does not have {} spatial dims", x->type_string(), sp);
    Shape ys{x->dim(0), x->dim(1)};
    std::vector<int64_t> pad_begin(sp);
    for (size_t i = 0; i < sp; ++i) {
      const int64_t in = x->dim(static_cast<int64_t>(i) + 2), k = a_.dilations[i] * (a_.kernel[i] - 1) + 1, s = a_.strides[i];
      int64_t out;
      if (a_.auto_pad == "SAME_UPPER" || a_.auto_pad == "SAME_LOWER") {
        out = (in + s - 1) / s;
        const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
        pad_begin[i] = a_.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      } else {
        const int64_t pb = a_.auto_pad == "VALID" ? 0 : a_.pads[i], pe = a_.auto_pad == "VALID" ? 0 : a_.pads[i + sp];
        pad_begin[i] = pb;
        const int64_t span = in + pb + pe - k;
        if (span < 0) return ctx.error("window {} larger than padded input {}", k, in + pb + pe);
        out = a_.ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
        // With ceil_mode, the last window must start inside the input or left padding.
        if (a_.ceil_mode && (out - 1) * s >= in + pb) --out;
      }
      ys.push_back(out);
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
    Tensor* idx = nullptr;
    if (max_ && ctx.output_requested(1)) {
      PARE_ASSIGN_OR_RETURN(idx, ctx.allocate_output(1, DataType::kInt64, ys));
    }
    const int64_t planes = x->dim(0) * x->dim(1);
    int64_t in_plane = 1, out_plane = 1;
    for (size_t i = 0; i < sp; ++i) {
      in_plane *= x->dim(static_cast<int64_t>(i) + 2);
      out_plane *= ys[i + 2];
    }
    auto body = [&]<typename T>() {
      using C = compute_t<T>;
      const T* px = x->data<T>();
      T* py = y->data<T>();
      std::vector<int64_t> o(sp), w(sp);
      for (int64_t p = 0; p < planes; ++p) {
        for (int64_t oi = 0; oi < out_plane; ++oi) {
          int64_t rem = oi;
          for (int64_t d = static_cast<int64_t>(sp) - 1; d >= 0; --d) {
            o[d] = rem % ys[d + 2];
            rem /= ys[d + 2];
          }
          C best = std::numeric_limits<C>::lowest(), sum = 0;
          int64_t best_at = -1, count = 0, window = 1;
          for (size_t d = 0; d < sp; ++d) window *= a_.kernel[d];
          for (int64_t wi = 0; wi < window; ++wi) {
            int64_t r = wi, off = 0;
            bool inside = true, in_padded = true;
            for (int64_t d = static_cast<int64_t>(sp) - 1; d >= 0; --d) {
              w[d] = r % a_.kernel[d];
              r /= a_.kernel[d];
            }
            for (size_t d = 0; d < sp; ++d) {
              const int64_t pos = o[d] * a_.strides[d] - pad_begin[d] + w[d] * a_.dilations[d];
              const int64_t extent = x->dim(static_cast<int64_t>(d) + 2);
              if (pos < 0 || pos >= extent) inside = false;
              const int64_t pe = a_.auto_pad == "NOTSET" ? a_.pads[d + sp] : 0;
              if (pos < -pad_begin[d] || pos >= extent + pe) in_padded = false;
              off = off * extent + pos;
            }
            if (inside) {
              const C v = C(px[p * in_plane + off]);
              if (max_ && (v > best || best_at < 0)) {
                best = v;
                best_at = p * in_plane + off;
              }
              sum += v;
              ++count;
            } else if (!max_ && a_.count_include_pad && in_padded) {
              ++count;
            }
          }
          py[p * out_plane + oi] = static_cast<T>(max_ ? best : (count ? sum / C(count) : C(0)));
          if (idx) idx->data<int64_t>()[p * out_plane + oi] = best_at;
        }
      }
    };
    // MaxPool also takes 8-bit integers (opset 12).
    bool ok = max_ ? dispatch_numeric(x->dtype(), body) : dispatch_float(x->dtype(), body);
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  bool max_ = false;
  PoolAttrs a_;
};

// Global pools reduce every spatial position of each (n, c) plane.
template <bool kMax>
Status run_global(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  if (x->rank() < 2) return ctx.error("input {} must have rank ≥ 2", x->type_string());
  Shape ys{x->dim(0), x->dim(1)};
  for (int64_t i = 2; i < x->rank(); ++i) ys.push_back(1);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
  const int64_t planes = x->dim(0) * x->dim(1), inner = planes ? x->numel() / planes : 0;
  bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
    using C = compute_t<T>;
    for (int64_t p = 0; p < planes; ++p) {
      const T* px = x->data<T>() + p * inner;
      C acc = kMax ? -std::numeric_limits<C>::infinity() : C(0);
      for (int64_t i = 0; i < inner; ++i) acc = kMax ? std::max(acc, C(px[i])) : acc + C(px[i]);
      y->data<T>()[p] = static_cast<T>(kMax ? acc : (inner ? acc / C(inner) : C(0)));
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

}  // namespace

void register_MaxPool(KernelRegistry& r) { r.add({"MaxPool", "", 1, kMaxOpset, &make_kernel<Pool>}); }
void register_AveragePool(KernelRegistry& r) { r.add({"AveragePool", "", 1, kMaxOpset, &make_kernel<Pool>}); }
void register_GlobalAveragePool(KernelRegistry& r) { add_fn<run_global<false>>(r, "GlobalAveragePool"); }
void register_GlobalMaxPool(KernelRegistry& r) { add_fn<run_global<true>>(r, "GlobalMaxPool"); }

}  // namespace pare::ops
