// com.pare.SumToShape(X, shape) → Y: sums X over the dimensions that numpy broadcasting
// expanded when a tensor of `shape` was broadcast to X's shape (the adjoint of broadcasting;
// used by gradients of broadcasting ops). Y has exactly `shape`.
#include "core/dispatch.h"
#include "ops/common/broadcast.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

Status run_sum_to_shape(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(auto target, s->to_int64_vector("SumToShape shape"));
  auto b = broadcast_shapes(target, x->shape());
  if (!b.ok() || *b != x->shape()) {
    return ctx.error("{} does not broadcast to {}", shape_to_string(target), x->type_string());
  }
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), target));
  // Walk X; each element adds into the Y element it was broadcast from.
  BroadcastIterator it(x->shape(), {target});
  bool ok = dispatch_numeric(x->dtype(), [&]<typename T>() {
    std::vector<compute_t<T>> acc(static_cast<size_t>(y->numel()), 0);
    const T* px = x->data<T>();
    it.run([&](int64_t i, const int64_t* off) { acc[off[0]] += compute_t<T>(px[i]); });
    T* py = y->data<T>();
    for (size_t i = 0; i < acc.size(); ++i) py[i] = static_cast<T>(acc[i]);
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

}  // namespace

void register_SumToShape(KernelRegistry& r) { add_fn<run_sum_to_shape>(r, "SumToShape", 1, kMaxOpset, kPareDomain); }

}  // namespace pare::ops
