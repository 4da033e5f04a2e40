#include "compare.h"

#include <cmath>

#include "core/dispatch.h"

namespace pare::testing {

std::string compare_tensors(const Tensor& a, const Tensor& e, const Tolerance& tol) {
  if (a.dtype() != e.dtype()) {
    return fmt::format("dtype {} != expected {}", dtype_name(a.dtype()), dtype_name(e.dtype()));
  }
  if (a.shape() != e.shape()) {
    return fmt::format("shape {} != expected {}", shape_to_string(a.shape()), shape_to_string(e.shape()));
  }
  std::string err;
  double max_err = 0;
  int64_t bad = 0;
  if (a.dtype() == DataType::kString) {
    for (int64_t i = 0; i < a.numel() && err.empty(); ++i) {
      if (a.data<std::string>()[i] != e.data<std::string>()[i]) {
        err = fmt::format("element {}: '{}' != expected '{}'", i, a.data<std::string>()[i], e.data<std::string>()[i]);
      }
    }
    return err;
  }
  if (a.dtype() == DataType::kComplex64 || a.dtype() == DataType::kComplex128) {
    for (int64_t i = 0; i < a.numel() * 2; ++i) {
      double x = a.dtype() == DataType::kComplex64 ? a.data<float>()[i] : a.data<double>()[i];
      double y = e.dtype() == DataType::kComplex64 ? e.data<float>()[i] : e.data<double>()[i];
      if (!(std::abs(x - y) <= tol.atol + tol.rtol * std::abs(y))) {
        ++bad;
        max_err = std::max(max_err, std::abs(x - y));
      }
    }
    return bad ? fmt::format("{} of {} values differ, max abs error {:.3g}", bad, a.numel() * 2, max_err) : "";
  }
  int64_t first = -1;
  double fa = 0, fe = 0;
  dispatch_numeric_bool(a.dtype(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pe = e.data<T>();
    for (int64_t i = 0; i < a.numel(); ++i) {
      bool ok;
      double x = static_cast<double>(compute_t<T>(pa[i]));
      double y = static_cast<double>(compute_t<T>(pe[i]));
      if constexpr (std::is_floating_point_v<compute_t<T>>) {
        if (std::isnan(y)) ok = std::isnan(x);
        else if (std::isinf(y)) ok = x == y;
        else ok = std::abs(x - y) <= tol.atol + tol.rtol * std::abs(y);
      } else {
        ok = pa[i] == pe[i];
      }
      if (!ok) {
        if (first < 0) {
          first = i;
          fa = x;
          fe = y;
        }
        ++bad;
        if (!std::isnan(x - y)) max_err = std::max(max_err, std::abs(x - y));
      }
    }
  });
  if (bad) {
    return fmt::format("{} of {} values differ (first at {}: {} vs expected {}), max abs error {:.3g}", bad,
                       a.numel(), first, fa, fe, max_err);
  }
  return "";
}

std::string compare_values(const RunValue& a, const RunValue& e, const Tolerance& tol) {
  if (a.kind != e.kind) {
    auto k = [](const RunValue& v) { return v.is_none() ? "none" : v.is_tensor() ? "tensor" : "sequence"; };
    return fmt::format("got a {} value, expected a {}", k(a), k(e));
  }
  if (a.is_tensor()) return compare_tensors(a.tensor, e.tensor, tol);
  if (a.is_sequence()) {
    if (a.sequence.size() != e.sequence.size()) {
      return fmt::format("sequence of {} != expected {}", a.sequence.size(), e.sequence.size());
    }
    for (size_t i = 0; i < a.sequence.size(); ++i) {
      std::string r = compare_tensors(a.sequence[i], e.sequence[i], tol);
      if (!r.empty()) return fmt::format("sequence item {}: {}", i, r);
    }
  }
  return "";
}

}  // namespace pare::testing
