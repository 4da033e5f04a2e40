// Cast (opsets 1, 6, 9, 13): converts every element to `to`. Floats → integers truncate toward
// zero; → bool is x ≠ 0; strings parse as numbers ("NaN", "INF", "-INF" included) and numbers
// print in the shortest form that reads back to the same value. CastLike (15): the same, to
// the type of the second input. fp16/bf16 round to nearest even.
#include <cmath>
#include <cstdlib>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

Status cast_to(KernelContext& ctx, const Tensor& x, DataType to) {
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, to, x.shape()));
  const int64_t n = x.numel();
  if (x.dtype() == DataType::kString) {
    if (to == DataType::kString) {
      for (int64_t i = 0; i < n; ++i) y->data<std::string>()[i] = x.data<std::string>()[i];
      return ok_status();
    }
    Status st;
    bool ok = dispatch_numeric_bool(to, [&]<typename T>() {
      for (int64_t i = 0; i < n && st.ok(); ++i) {
        const std::string& s = x.data<std::string>()[i];
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || *end != '\0') {
          st = ctx.error("cannot parse '{}' as a number", s);
          break;
        }
        if constexpr (std::is_same_v<T, bool>) y->data<bool>()[i] = v != 0;
        else y->data<T>()[i] = static_cast<T>(static_cast<compute_t<T>>(v));
      }
    });
    if (!ok) return ctx.error("cannot cast string to {}", dtype_name(to));
    return st;
  }
  if (to == DataType::kString) {
    bool ok = dispatch_numeric_bool(x.dtype(), [&]<typename T>() {
      for (int64_t i = 0; i < n; ++i) {
        std::string s;
        if constexpr (std::is_same_v<T, bool>) {
          s = x.data<bool>()[i] ? "True" : "False";
        } else {
          const auto v = compute_t<T>(x.data<T>()[i]);
          if constexpr (std::is_floating_point_v<decltype(v)>) {
            s = std::isnan(v) ? "NaN" : std::isinf(v) ? (v > 0 ? "INF" : "-INF") : fmt::format("{}", v);
          } else {
            s = fmt::format("{}", v);
          }
        }
        y->data<std::string>()[i] = s;
      }
    });
    if (!ok) return ctx.error("cannot cast {} to string", dtype_name(x.dtype()));
    return ok_status();
  }
  bool ok = dispatch_numeric_bool(x.dtype(), [&]<typename S>() {
    dispatch_numeric_bool(to, [&]<typename T>() {
      const S* px = x.data<S>();
      T* py = y->data<T>();
      for (int64_t i = 0; i < n; ++i) {
        const auto v = compute_t<S>(px[i]);
        if constexpr (std::is_same_v<T, bool>) {
          py[i] = v != decltype(v)(0);
        } else if constexpr (std::is_integral_v<compute_t<T>> && std::is_floating_point_v<decltype(v)>) {
          // Out-of-range and NaN conversions are undefined in C++: saturate them instead.
          const double d = static_cast<double>(v);
          using L = std::numeric_limits<compute_t<T>>;
          py[i] = std::isnan(d) ? T(0) : d <= static_cast<double>(L::lowest()) ? L::lowest() : d >= static_cast<double>(L::max()) ? L::max() : static_cast<T>(d);
        } else {
          py[i] = static_cast<T>(static_cast<compute_t<T>>(v));
        }
      }
    });
  });
  if (!ok) return ctx.error("cannot cast {} to {}", dtype_name(x.dtype()), dtype_name(to));
  return ok_status();
}

Status run_cast(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  const int64_t to = ctx.node().attr_int("to", 0);
  if (!dtype_is_valid(static_cast<int32_t>(to))) return ctx.error("'to' = {} is not a data type", to);
  return cast_to(ctx, *x, static_cast<DataType>(to));
}

Status run_cast_like(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* like, ctx.required_input(1));
  return cast_to(ctx, *x, like->dtype());
}

}  // namespace

void register_Cast(KernelRegistry& r) { add_fn<run_cast>(r, "Cast"); }
void register_CastLike(KernelRegistry& r) { add_fn<run_cast_like>(r, "CastLike"); }

}  // namespace pare::ops
