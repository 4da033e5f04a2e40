// LayerNormalization (17): normalize over axes [axis, rank), y = (x − μ)/√(σ² + ε)·γ + β;
// outputs Mean and InvStdDev. InstanceNormalization (6): per (n, c) over spatial dims.
// MeanVarianceNormalization (9, 13): over `axes` (default 0, 2, 3). LRN (1, 13):
// y = x / (bias + α/size · Σ_{window over c} x²)^β. Hardmax: one-hot of the first maximum.
// Trilu (14), CumSum (11, 14), Range (11), EyeLike (9), Size, OneHot (9, 11).
#include <cmath>
#include <cstring>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

Status run_layer_norm(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* scale, ctx.required_input(1));
  const Tensor* bias = ctx.input(2);
  int64_t axis = ctx.node().attr_int("axis", -1);
  if (axis < -x->rank() || axis >= x->rank()) return ctx.error("axis {} out of range for rank {}", axis, x->rank());
  if (axis < 0) axis += x->rank();
  const double eps = ctx.node().attr_float("epsilon", 1e-5f);
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
  const int64_t inner = outer ? x->numel() / outer : 0;
  auto bcast_ok = [&](const Tensor* t) { return !t || t->numel() == inner || t->numel() == 1; };
  if (!bcast_ok(scale) || !bcast_ok(bias)) return ctx.error("scale/bias must have {} elements", inner);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  Shape stat = x->shape();
  for (int64_t i = axis; i < x->rank(); ++i) stat[i] = 1;
  Tensor *mean_out = nullptr, *inv_out = nullptr;
  if (ctx.output_requested(1)) {
    PARE_ASSIGN_OR_RETURN(mean_out, ctx.allocate_output(1, DataType::kFloat32, stat));
  }
  if (ctx.output_requested(2)) {
    PARE_ASSIGN_OR_RETURN(inv_out, ctx.allocate_output(2, DataType::kFloat32, stat));
  }
  bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
    for (int64_t o = 0; o < outer; ++o) {
      const T* px = x->data<T>() + o * inner;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < inner; ++i) mean += double(compute_t<T>(px[i]));
      mean /= std::max<int64_t>(inner, 1);
      for (int64_t i = 0; i < inner; ++i) var += std::pow(double(compute_t<T>(px[i])) - mean, 2);
      var /= std::max<int64_t>(inner, 1);
      const double inv = 1.0 / std::sqrt(var + eps);
      for (int64_t i = 0; i < inner; ++i) {
        const double g = scale->float_at(scale->numel() == 1 ? 0 : i), b = bias ? bias->float_at(bias->numel() == 1 ? 0 : i) : 0.0;
        y->data<T>()[o * inner + i] = static_cast<T>(static_cast<compute_t<T>>((double(compute_t<T>(px[i])) - mean) * inv * g + b));
      }
      if (mean_out) mean_out->data<float>()[o] = static_cast<float>(mean);
      if (inv_out) inv_out->data<float>()[o] = static_cast<float>(inv);
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

// Normalizes groups of `inner` elements; `channel_of(group)` picks γ/β (instance norm).
Status run_instance_norm(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* scale, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* bias, ctx.required_input(2));
  if (x->rank() < 3) return ctx.error("input must have rank ≥ 3");
  const int64_t c = x->dim(1), groups = x->dim(0) * c, inner = groups ? x->numel() / groups : 0;
  if (scale->numel() != c || bias->numel() != c) return ctx.error("scale and bias must have {} elements", c);
  const double eps = ctx.node().attr_float("epsilon", 1e-5f);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
    for (int64_t g = 0; g < groups; ++g) {
      const T* px = x->data<T>() + g * inner;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < inner; ++i) mean += double(compute_t<T>(px[i]));
      mean /= std::max<int64_t>(inner, 1);
      for (int64_t i = 0; i < inner; ++i) var += std::pow(double(compute_t<T>(px[i])) - mean, 2);
      var /= std::max<int64_t>(inner, 1);
      const double k = scale->float_at(g % c) / std::sqrt(var + eps), b = bias->float_at(g % c);
      for (int64_t i = 0; i < inner; ++i) y->data<T>()[g * inner + i] = static_cast<T>(static_cast<compute_t<T>>((double(compute_t<T>(px[i])) - mean) * k + b));
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

Status run_mvn(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  auto axes = ctx.node().attr_ints("axes", {0, 2, 3});
  std::vector<bool> red(static_cast<size_t>(x->rank()), false);
  for (int64_t a : axes) {
    if (a < -x->rank() || a >= x->rank()) return ctx.error("axis {} out of range", a);
    red[a < 0 ? a + x->rank() : a] = true;
  }
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  Shape kept = x->shape();
  for (int64_t i = 0; i < x->rank(); ++i) if (red[i]) kept[i] = 1;
  const auto ks = shape_strides(kept);
  const int64_t groups = shape_numel_unchecked(kept);
  std::vector<double> sum(groups, 0), sq(groups, 0);
  std::vector<int64_t> cnt(groups, 0), c(static_cast<size_t>(x->rank()));
  auto group_of = [&](int64_t i) {
    int64_t g = 0;
    for (int64_t d = x->rank() - 1; d >= 0; --d) {
      const int64_t coord = i % x->dim(d);
      i /= x->dim(d);
      if (!red[d]) g += coord * ks[d];
    }
    return g;
  };
  for (int64_t i = 0; i < x->numel(); ++i) {
    const double v = x->float_at(i);
    const int64_t g = group_of(i);
    sum[g] += v;
    sq[g] += v * v;
    cnt[g]++;
  }
  bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
    for (int64_t i = 0; i < x->numel(); ++i) {
      const int64_t g = group_of(i);
      const double m = sum[g] / cnt[g], var = sq[g] / cnt[g] - m * m;
      y->data<T>()[i] = static_cast<T>(static_cast<compute_t<T>>((x->float_at(i) - m) / (std::sqrt(std::max(var, 0.0)) + 1e-9)));
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

Status run_lrn(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  const int64_t size = ctx.node().attr_int("size", 0);
  if (size < 1) return ctx.error("size must be ≥ 1");
  if (x->rank() < 3) return ctx.error("input must have rank ≥ 3");
  const double alpha = ctx.node().attr_float("alpha", 1e-4f), beta = ctx.node().attr_float("beta", 0.75f), bias = ctx.node().attr_float("bias", 1.0f);
  const int64_t n = x->dim(0), c = x->dim(1), inner = n * c != 0 ? x->numel() / (n * c) : 0;
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  const int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int64_t i = 0; i < inner; ++i) {
          double s = 0;
          for (int64_t k = std::max<int64_t>(0, ch - lo); k <= std::min(c - 1, ch + hi); ++k) {
            const double v = compute_t<T>(x->data<T>()[(b * c + k) * inner + i]);
            s += v * v;
          }
          const int64_t at = (b * c + ch) * inner + i;
          y->data<T>()[at] = static_cast<T>(static_cast<compute_t<T>>(compute_t<T>(x->data<T>()[at]) / std::pow(bias + alpha / size * s, beta)));
        }
      }
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

class Hardmax final : public Kernel {
 public:
  explicit Hardmax(const KernelInit& init) : opset_(init.opset), axis_(init.node.attr_int("axis", init.opset >= 13 ? -1 : 1)) {}
  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    const int64_t r = x->rank();
    if (axis_ < -r || axis_ >= std::max<int64_t>(r, 1)) return ctx.error("axis {} out of range", axis_);
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    int64_t outer = 1, n = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
    if (opset_ < 13) n = outer ? x->numel() / outer : 0;
    else {
      n = x->dim(axis);
      for (int64_t i = axis + 1; i < r; ++i) inner *= x->dim(i);
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t in = 0; in < inner; ++in) {
          int64_t best = 0;
          for (int64_t j = 1; j < n; ++j) {
            if (compute_t<T>(x->data<T>()[(o * n + j) * inner + in]) > compute_t<T>(x->data<T>()[(o * n + best) * inner + in])) best = j;
          }
          if (n) y->data<T>()[(o * n + best) * inner + in] = static_cast<T>(1.0f);
        }
      }
    });
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  int64_t opset_, axis_;
};

Status run_trilu(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  if (x->rank() < 2) return ctx.error("input must have rank ≥ 2");
  const int64_t k = ctx.input(1) ? ctx.input(1)->int_at(0) : 0;
  const bool upper = ctx.node().attr_int("upper", 1) != 0;
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  const int64_t rows = x->dim(-2), cols = x->dim(-1), mats = rows * cols != 0 ? x->numel() / (rows * cols) : 0;
  const size_t es = dtype_size(x->dtype());
  for (int64_t m = 0; m < mats; ++m) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) {
        const bool keep = upper ? j - i >= k : j - i <= k;
        if (keep) {
          const int64_t at = (m * rows + i) * cols + j;
          std::memcpy(static_cast<uint8_t*>(y->raw_data()) + at * es, static_cast<const uint8_t*>(x->raw_data()) + at * es, es);
        }
      }
    }
  }
  return ok_status();
}

Status run_cumsum(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(1));
  int64_t axis = a->int_at(0);
  if (axis < -x->rank() || axis >= x->rank()) return ctx.error("axis {} out of range", axis);
  if (axis < 0) axis += x->rank();
  const bool exclusive = ctx.node().attr_int("exclusive", 0) != 0, reverse = ctx.node().attr_int("reverse", 0) != 0;
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
  for (int64_t i = axis + 1; i < x->rank(); ++i) inner *= x->dim(i);
  const int64_t n = x->dim(axis);
  bool ok = dispatch_numeric(x->dtype(), [&]<typename T>() {
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t in = 0; in < inner; ++in) {
        compute_t<T> acc = 0;
        for (int64_t s = 0; s < n; ++s) {
          const int64_t j = reverse ? n - 1 - s : s, at = (o * n + j) * inner + in;
          const auto v = compute_t<T>(x->data<T>()[at]);
          if (!exclusive) acc = static_cast<compute_t<T>>(acc + v);
          y->data<T>()[at] = static_cast<T>(acc);
          if (exclusive) acc = static_cast<compute_t<T>>(acc + v);
        }
      }
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

Status run_range(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* l, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* d, ctx.required_input(2));
  const double start = s->float_at(0), limit = l->float_at(0), delta = d->float_at(0);
  if (delta == 0) return ctx.error("delta is 0");
  const double count = std::max(std::ceil((limit - start) / delta), 0.0);
  if (!(count < 1e9)) return ctx.error("range of {} elements is too large", count);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, s->dtype(), {static_cast<int64_t>(count)}));
  bool ok = dispatch_numeric(s->dtype(), [&]<typename T>() {
    const auto st = compute_t<T>(s->data<T>()[0]), dl = compute_t<T>(d->data<T>()[0]);
    for (int64_t i = 0; i < y->numel(); ++i) y->data<T>()[i] = static_cast<T>(static_cast<compute_t<T>>(st + static_cast<compute_t<T>>(i) * dl));
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(s->dtype()));
  return ok_status();
}

Status run_eye_like(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  if (x->rank() != 2) return ctx.error("input must be 2-D");
  const int64_t k = ctx.node().attr_int("k", 0);
  const int64_t dt = ctx.node().attr_int("dtype", static_cast<int64_t>(x->dtype()));
  if (!dtype_is_valid(static_cast<int32_t>(dt))) return ctx.error("dtype {} invalid", dt);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, static_cast<DataType>(dt), x->shape()));
  bool ok = dispatch_numeric_bool(y->dtype(), [&]<typename T>() {
    for (int64_t i = 0; i < x->dim(0); ++i) {
      const int64_t j = i + k;
      if (j >= 0 && j < x->dim(1)) {
        if constexpr (std::is_same_v<T, bool>) y->data<bool>()[i * x->dim(1) + j] = true;
        else y->data<T>()[i * x->dim(1) + j] = static_cast<T>(static_cast<compute_t<T>>(1));
      }
    }
  });
  if (!ok) return ctx.error("unsupported type");
  return ok_status();
}

Status run_size(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kInt64, {}));
  y->data<int64_t>()[0] = x->numel();
  return ok_status();
}

Status run_one_hot(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* idx, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* depth_t, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* values, ctx.required_input(2));
  if (values->numel() != 2) return ctx.error("values must have 2 elements");
  const int64_t depth = static_cast<int64_t>(depth_t->float_at(0));
  if (depth < 1 || depth > (int64_t{1} << 24)) return ctx.error("depth {} out of range", depth);
  int64_t axis = ctx.node().attr_int("axis", -1);
  const int64_t r = idx->rank() + 1;
  if (axis < -r || axis >= r) return ctx.error("axis {} out of range", axis);
  if (axis < 0) axis += r;
  Shape ys = idx->shape();
  ys.insert(ys.begin() + axis, depth);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, values->dtype(), ys));
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= ys[i];
  for (int64_t i = axis + 1; i < r; ++i) inner *= ys[i];
  const size_t es = dtype_size(values->dtype());
  const auto* off = static_cast<const uint8_t*>(values->raw_data());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t d = 0; d < depth; ++d) {
      for (int64_t in = 0; in < inner; ++in) {
        int64_t v = static_cast<int64_t>(idx->float_at(o * inner + in));
        if (v < 0) v += depth;
        std::memcpy(static_cast<uint8_t*>(y->raw_data()) + ((o * depth + d) * inner + in) * es, off + (v == d ? es : 0), es);
      }
    }
  }
  return ok_status();
}

}  // namespace

void register_LayerNormalization(KernelRegistry& r) { add_fn<run_layer_norm>(r, "LayerNormalization", 17); }
void register_InstanceNormalization(KernelRegistry& r) { add_fn<run_instance_norm>(r, "InstanceNormalization"); }
void register_MeanVarianceNormalization(KernelRegistry& r) { add_fn<run_mvn>(r, "MeanVarianceNormalization"); }
void register_LRN(KernelRegistry& r) { add_fn<run_lrn>(r, "LRN"); }
void register_Hardmax(KernelRegistry& r) { r.add({"Hardmax", "", 1, kMaxOpset, &make_kernel<Hardmax>}); }
void register_Trilu(KernelRegistry& r) { add_fn<run_trilu>(r, "Trilu"); }
void register_CumSum(KernelRegistry& r) { add_fn<run_cumsum>(r, "CumSum"); }
void register_Range(KernelRegistry& r) { add_fn<run_range>(r, "Range"); }
void register_EyeLike(KernelRegistry& r) { add_fn<run_eye_like>(r, "EyeLike"); }
void register_Size(KernelRegistry& r) { add_fn<run_size>(r, "Size"); }
void register_OneHot(KernelRegistry& r) { add_fn<run_one_hot>(r, "OneHot"); }

}  // namespace pare::ops
