// Sub, Mul, Div (opset 7+, numpy broadcasting; integer Div truncates toward zero and a zero
// divisor is an error), Pow (7+, exponent of its own type since 12), Sqrt, Clip (6: attributes
// min/max; 11+: optional inputs).
#include <cmath>
#include <limits>

#include "core/dispatch.h"
#include "ops/common/broadcast.h"
#include "ops/kernel.h"
#include "ops/lead/legacy_broadcast.h"

namespace pare::ops {
namespace {

enum class Arith { kSub, kMul, kDiv, kPow };

template <Arith kOp>
Status run_arith(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* b, ctx.required_input(1));
  if (a->dtype() != b->dtype() && kOp != Arith::kPow) {
    return ctx.error("inputs have different types {} and {}", a->type_string(), b->type_string());
  }
  auto shape = broadcast_shapes(a->shape(), b->shape());
  if (!shape.ok()) return ctx.error("{}", shape.status().message());
  PARE_ASSIGN_OR_RETURN(Tensor * c, ctx.allocate_output(0, a->dtype(), *shape));
  BroadcastIterator it(*shape, {a->shape(), b->shape()});
  Status st;
  bool ok = dispatch_numeric(a->dtype(), [&]<typename T>() {
    using C = compute_t<T>;
    const T* pa = a->data<T>();
    T* pc = c->data<T>();
    if constexpr (kOp == Arith::kPow) {
      // The exponent may have another numeric type (opset 12+).
      std::vector<double> e(static_cast<size_t>(b->numel()));
      for (int64_t i = 0; i < b->numel(); ++i) e[i] = b->float_at(i);
      it.run([&](int64_t i, const int64_t* off) {
        pc[i] = static_cast<T>(static_cast<C>(std::pow(static_cast<double>(C(pa[off[0]])), e[off[1]])));
      });
    } else {
      const T* pb = b->data<T>();
      it.run([&](int64_t i, const int64_t* off) {
        const C x = C(pa[off[0]]), y = C(pb[off[1]]);
        if constexpr (kOp == Arith::kSub) pc[i] = static_cast<T>(static_cast<C>(x - y));
        else if constexpr (kOp == Arith::kMul) pc[i] = static_cast<T>(static_cast<C>(x * y));
        else {
          if constexpr (std::is_integral_v<C>) {
            if (y == 0) {
              st = ctx.error("integer division by zero");
              return;
            }
            if constexpr (std::is_signed_v<C>) {
              if (x == std::numeric_limits<C>::min() && y == C(-1)) {
                pc[i] = static_cast<T>(x);  // wraps, as two's complement does
                return;
              }
            }
          }
          pc[i] = static_cast<T>(static_cast<C>(x / y));
        }
      });
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(a->dtype()));
  return st;
}

Status run_sqrt(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
    for (int64_t i = 0; i < x->numel(); ++i) y->data<T>()[i] = static_cast<T>(std::sqrt(compute_t<T>(x->data<T>()[i])));
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

class Clip final : public Kernel {
 public:
  explicit Clip(const KernelInit& init)
      : opset_(init.opset), min_attr_(init.node.attr_float("min", -std::numeric_limits<float>::max())),
        max_attr_(init.node.attr_float("max", std::numeric_limits<float>::max())) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    const Tensor* lo = opset_ >= 11 ? ctx.input(1) : nullptr;
    const Tensor* hi = opset_ >= 11 ? ctx.input(2) : nullptr;
    if ((lo && lo->numel() != 1) || (hi && hi->numel() != 1)) return ctx.error("min and max must be scalars");
    if ((lo && lo->dtype() != x->dtype()) || (hi && hi->dtype() != x->dtype())) return ctx.error("min/max type differs from input");
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    bool ok = dispatch_numeric(x->dtype(), [&]<typename T>() {
      using C = compute_t<T>;
      C l = std::numeric_limits<C>::lowest(), h = std::numeric_limits<C>::max();
      if (opset_ < 11) {
        l = static_cast<C>(min_attr_);
        h = static_cast<C>(max_attr_);
      }
      if (lo) l = C(lo->data<T>()[0]);
      if (hi) h = C(hi->data<T>()[0]);
      for (int64_t i = 0; i < x->numel(); ++i) {
        const C v = C(x->data<T>()[i]);
        y->data<T>()[i] = static_cast<T>(std::min(std::max(v, l), h));
      }
    });
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  int64_t opset_;
  float min_attr_, max_attr_;
};

}  // namespace

void register_Sub(KernelRegistry& r) {
  add_fn<run_arith<Arith::kSub>>(r, "Sub", 7);
  add_fn<run_legacy_broadcast<run_arith<Arith::kSub>>>(r, "Sub", 1, 6);
}
void register_Mul(KernelRegistry& r) {
  add_fn<run_arith<Arith::kMul>>(r, "Mul", 7);
  add_fn<run_legacy_broadcast<run_arith<Arith::kMul>>>(r, "Mul", 1, 6);
}
void register_Div(KernelRegistry& r) {
  add_fn<run_arith<Arith::kDiv>>(r, "Div", 7);
  add_fn<run_legacy_broadcast<run_arith<Arith::kDiv>>>(r, "Div", 1, 6);
}
void register_Pow(KernelRegistry& r) {
  add_fn<run_arith<Arith::kPow>>(r, "Pow", 7);
  add_fn<run_legacy_broadcast<run_arith<Arith::kPow>>>(r, "Pow", 1, 6);
}
void register_Sqrt(KernelRegistry& r) { add_fn<run_sqrt>(r, "Sqrt"); }
void register_Clip(KernelRegistry& r) { r.add({"Clip", "", 6, kMaxOpset, &make_kernel<Clip>}); }

}  // namespace pare::ops
