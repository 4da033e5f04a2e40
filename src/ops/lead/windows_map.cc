// Window functions (17): N = size if periodic (default) else size − 1, n ∈ [0, size):
//   HannWindow     w = 0.5 − 0.5·cos(2πn/N)
//   HammingWindow  w = 25/46 − 21/46·cos(2πn/N)
//   BlackmanWindow w = 0.42 − 0.5·cos(2πn/N) + 0.08·cos(4πn/N)
// output_datatype (default float).
#include <cmath>
#include <numbers>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

enum class Window { kHann, kHamming, kBlackman };

template <Window kW>
Status run_window(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(0));
  const int64_t size = s->int_at(0);
  if (size < 0 || size > (int64_t{1} << 28)) return ctx.error("size {} out of range", size);
  const bool periodic = ctx.node().attr_int("periodic", 1) != 0;
  const int64_t dt = ctx.node().attr_int("output_datatype", 1);
  if (!dtype_is_valid(static_cast<int32_t>(dt))) return ctx.error("output_datatype {} invalid", dt);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, static_cast<DataType>(dt), {size}));
  const double n_div = periodic ? static_cast<double>(size) : static_cast<double>(size - 1);
  bool ok = dispatch_numeric(y->dtype(), [&]<typename T>() {
    for (int64_t n = 0; n < size; ++n) {
      const double a = n_div > 0 ? 2 * std::numbers::pi * n / n_div : 0.0;
      double w = 0;
      if constexpr (kW == Window::kHann) w = 0.5 - 0.5 * std::cos(a);
      else if constexpr (kW == Window::kHamming) w = 25.0 / 46.0 - 21.0 / 46.0 * std::cos(a);
      else w = 0.42 - 0.5 * std::cos(a) + 0.08 * std::cos(2 * a);
      y->data<T>()[n] = static_cast<T>(static_cast<compute_t<T>>(w));
    }
  });
  if (!ok) return ctx.error("unsupported output type");
  return ok_status();
}

}  // namespace

void register_HannWindow(KernelRegistry& r) { add_fn<run_window<Window::kHann>>(r, "HannWindow", 17); }
void register_HammingWindow(KernelRegistry& r) { add_fn<run_window<Window::kHamming>>(r, "HammingWindow", 17); }
void register_BlackmanWindow(KernelRegistry& r) { add_fn<run_window<Window::kBlackman>>(r, "BlackmanWindow", 17); }

}  // namespace pare::ops
