// Elementwise unary ops and activations.
//   Relu (opset 1, 6, 13, 14): y = max(x, 0)
#include <cmath>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

template <typename Op>
Status run_unary_float(KernelContext& ctx, Op op) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  bool ok = dispatch_numeric(x->dtype(), [&]<typename T>() {
    const T* px = x->data<T>();
    T* py = y->data<T>();
    for (int64_t i = 0; i < x->numel(); ++i) py[i] = static_cast<T>(op(compute_t<T>(px[i])));
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

Status run_relu(KernelContext& ctx) {
  return run_unary_float(ctx, [](auto v) { return v > decltype(v)(0) ? v : decltype(v)(0); });
}

}  // namespace

void register_Relu(KernelRegistry& r) { add_fn<run_relu>(r, "Relu"); }

}  // namespace pare::ops
