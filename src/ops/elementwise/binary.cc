// Binary arithmetic with numpy broadcasting (ONNX Add, opset 1..; broadcasting from opset 7).
//   Add: C = A + B
#include "core/dispatch.h"
#include "ops/common/broadcast.h"
#include "ops/kernel.h"
#include "ops/lead/legacy_broadcast.h"

namespace pare::ops {
namespace {

template <typename Op>
Status run_arith(KernelContext& ctx, Op op) {
  PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* b, ctx.required_input(1));
  if (a->dtype() != b->dtype()) {
    return ctx.error("inputs have different types {} and {}", a->type_string(), b->type_string());
  }
  auto shape = broadcast_shapes(a->shape(), b->shape());
  if (!shape.ok()) return ctx.error("{}", shape.status().message());
  PARE_ASSIGN_OR_RETURN(Tensor * c, ctx.allocate_output(0, a->dtype(), *shape));
  BroadcastIterator it(*shape, {a->shape(), b->shape()});
  bool ok = dispatch_numeric(a->dtype(), [&]<typename T>() {
    const T* pa = a->data<T>();
    const T* pb = b->data<T>();
    T* pc = c->data<T>();
    it.run([&](int64_t i, const int64_t* off) {
      pc[i] = static_cast<T>(op(compute_t<T>(pa[off[0]]), compute_t<T>(pb[off[1]])));
    });
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(a->dtype()));
  return ok_status();
}

Status run_add(KernelContext& ctx) {
  return run_arith(ctx, [](auto x, auto y) { return x + y; });
}

}  // namespace

void register_Add(KernelRegistry& r) {
  add_fn<run_add>(r, "Add", 7);
  add_fn<run_legacy_broadcast<run_add>>(r, "Add", 1, 6);
}

}  // namespace pare::ops
