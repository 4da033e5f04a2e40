// Comparisons → bool (Equal, Greater, GreaterOrEqual, Less, LessOrEqual; Equal on strings
// and bools too), logic on bools (And, Or, Xor, Not), IsNaN, IsInf (detect_negative /
// detect_positive), Where (broadcast of 3), PRelu (slope broadcast to x), Mod (fmod=0:
// result takes the divisor's sign; fmod=1: C fmod), BitShift (LEFT / RIGHT, unsigned),
// variadic Max / Min / Mean / Sum with broadcasting. All with numpy broadcasting.
#include <cmath>

#include "core/dispatch.h"
#include "ops/common/broadcast.h"
#include "ops/kernel.h"
#include "ops/lead/legacy_broadcast.h"

namespace pare::ops {
namespace {

enum class Cmp { kEq, kGt, kGe, kLt, kLe };

template <Cmp kC>
Status run_compare(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* b, ctx.required_input(1));
  if (a->dtype() != b->dtype()) return ctx.error("inputs have different types {} and {}", a->type_string(), b->type_string());
  auto shape = broadcast_shapes(a->shape(), b->shape());
  if (!shape.ok()) return ctx.error("{}", shape.status().message());
  PARE_ASSIGN_OR_RETURN(Tensor * c, ctx.allocate_output(0, DataType::kBool, *shape));
  BroadcastIterator it(*shape, {a->shape(), b->shape()});
  bool* pc = c->data<bool>();
  bool ok = dispatch_all(a->dtype(), [&]<typename T>() {
    const T* pa = a->data<T>();
    const T* pb = b->data<T>();
    it.run([&](int64_t i, const int64_t* off) {
      if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) {
        pc[i] = kC == Cmp::kEq ? pa[off[0]] == pb[off[1]] : false;
      } else {
        const auto x = compute_t<T>(pa[off[0]]), y = compute_t<T>(pb[off[1]]);
        pc[i] = kC == Cmp::kEq ? x == y : kC == Cmp::kGt ? x > y : kC == Cmp::kGe ? x >= y : kC == Cmp::kLt ? x < y : x <= y;
      }
    });
  });
  if (!ok || ((a->dtype() == DataType::kString || a->dtype() == DataType::kBool) && kC != Cmp::kEq)) {
    return ctx.error("unsupported type {}", dtype_name(a->dtype()));
  }
  return ok_status();
}

enum class Logic { kAnd, kOr, kXor };

template <Logic kL>
Status run_logic(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* b, ctx.required_input(1));
  if (a->dtype() != DataType::kBool || b->dtype() != DataType::kBool) return ctx.error("inputs must be bool");
  auto shape = broadcast_shapes(a->shape(), b->shape());
  if (!shape.ok()) return ctx.error("{}", shape.status().message());
  PARE_ASSIGN_OR_RETURN(Tensor * c, ctx.allocate_output(0, DataType::kBool, *shape));
  BroadcastIterator it(*shape, {a->shape(), b->shape()});
  const bool* pa = a->data<bool>();
  const bool* pb = b->data<bool>();
  bool* pc = c->data<bool>();
  it.run([&](int64_t i, const int64_t* off) {
    const bool x = pa[off[0]], y = pb[off[1]];
    pc[i] = kL == Logic::kAnd ? (x && y) : kL == Logic::kOr ? (x || y) : (x != y);
  });
  return ok_status();
}

Status run_not(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  if (x->dtype() != DataType::kBool) return ctx.error("input must be bool");
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kBool, x->shape()));
  for (int64_t i = 0; i < x->numel(); ++i) y->data<bool>()[i] = !x->data<bool>()[i];
  return ok_status();
}

template <bool kInf>
Status run_is(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  const bool neg = ctx.node().attr_int("detect_negative", 1) != 0, pos = ctx.node().attr_int("detect_positive", 1) != 0;
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kBool, x->shape()));
  bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
    for (int64_t i = 0; i < x->numel(); ++i) {
      const double v = compute_t<T>(x->data<T>()[i]);
      y->data<bool>()[i] = kInf ? (std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg))) : std::isnan(v);
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

Status run_where(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* c, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* b, ctx.required_input(2));
  if (c->dtype() != DataType::kBool) return ctx.error("condition must be bool");
  if (a->dtype() != b->dtype()) return ctx.error("X and Y types differ");
  auto shape = broadcast_all({c->shape(), a->shape(), b->shape()});
  if (!shape.ok()) return ctx.error("{}", shape.status().message());
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, a->dtype(), *shape));
  BroadcastIterator it(*shape, {c->shape(), a->shape(), b->shape()});
  bool ok = dispatch_all(a->dtype(), [&]<typename T>() {
    const bool* pc = c->data<bool>();
    const T* pa = a->data<T>();
    const T* pb = b->data<T>();
    T* py = y->data<T>();
    it.run([&](int64_t i, const int64_t* off) { py[i] = pc[off[0]] ? pa[off[1]] : pb[off[2]]; });
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(a->dtype()));
  return ok_status();
}

enum class Bin { kPRelu, kMod, kFMod, kShl, kShr };

Status run_binary(KernelContext& ctx, Bin op) {
  PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* b, ctx.required_input(1));
  if (a->dtype() != b->dtype()) return ctx.error("inputs have different types {} and {}", a->type_string(), b->type_string());
  auto shape = broadcast_shapes(a->shape(), b->shape());
  if (!shape.ok()) return ctx.error("{}", shape.status().message());
  if (op == Bin::kPRelu && *shape != a->shape()) return ctx.error("slope {} must broadcast to X {}", b->type_string(), a->type_string());
  PARE_ASSIGN_OR_RETURN(Tensor * c, ctx.allocate_output(0, a->dtype(), *shape));
  BroadcastIterator it(*shape, {a->shape(), b->shape()});
  Status st;
  bool ok = dispatch_numeric(a->dtype(), [&]<typename T>() {
    using C = compute_t<T>;
    const T* pa = a->data<T>();
    const T* pb = b->data<T>();
    T* pc = c->data<T>();
    it.run([&](int64_t i, const int64_t* off) {
      const C x = C(pa[off[0]]), y = C(pb[off[1]]);
      C r = 0;
      if (op == Bin::kPRelu) {
        r = x < C(0) ? static_cast<C>(x * y) : x;
      } else if (op == Bin::kShl || op == Bin::kShr) {
        if constexpr (std::is_integral_v<C> && std::is_unsigned_v<C>) {
          const uint64_t s = static_cast<uint64_t>(y);
          r = s >= sizeof(C) * 8 ? C(0) : static_cast<C>(op == Bin::kShl ? x << s : x >> s);
        } else {
          st = ctx.error("BitShift needs unsigned integers");
        }
      } else if constexpr (std::is_integral_v<C>) {
        if (y == 0) {
          st = ctx.error("integer modulo by zero");
          return;
        }
        r = static_cast<C>(x % y);
        if (op == Bin::kMod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<C>(r + y);
      } else {
        r = static_cast<C>(std::fmod(x, y));
        if (op == Bin::kMod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<C>(r + y);
      }
      pc[i] = static_cast<T>(r);
    });
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(a->dtype()));
  return st;
}

Status run_prelu(KernelContext& ctx) { return run_binary(ctx, Bin::kPRelu); }

// PRelu before opset 7: a 1-D slope of x's channel count applies per channel (dim 1).
Status run_prelu_legacy(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  const Tensor* s = ctx.input(1);
  if (!x || !s || s->rank() != 1 || x->rank() < 2 || s->dim(0) != x->dim(1) || s->dim(0) == 1) return run_prelu(ctx);
  Shape shape(static_cast<size_t>(x->rank() - 1), 1);
  shape[0] = s->dim(0);
  PARE_ASSIGN_OR_RETURN(Tensor view, s->reshaped(shape));
  RunValue sv(view);
  KernelContext adapted = ctx.with_inputs({&ctx.input_value(0), &sv});
  return run_prelu(adapted);
}
Status run_mod(KernelContext& ctx) {
  const bool fmod = ctx.node().attr_int("fmod", 0) != 0;
  if (!fmod && ctx.input(0) && dtype_is_float(ctx.input(0)->dtype())) return ctx.error("fmod must be 1 for floating-point inputs");
  return run_binary(ctx, fmod ? Bin::kFMod : Bin::kMod);
}
Status run_bitshift(KernelContext& ctx) {
  const std::string dir = ctx.node().attr_string("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") return ctx.error("direction must be LEFT or RIGHT, got '{}'", dir);
  return run_binary(ctx, dir == "LEFT" ? Bin::kShl : Bin::kShr);
}

enum class Var { kMax, kMin, kMean, kSum };

template <Var kV>
Status run_variadic(KernelContext& ctx) {
  if (ctx.num_inputs() == 0) return ctx.error("needs at least one input");
  std::vector<Shape> shapes;
  const Tensor* first = nullptr;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    PARE_ASSIGN_OR_RETURN(const Tensor* t, ctx.required_input(i));
    if (first && t->dtype() != first->dtype()) return ctx.error("input {} is {}, input 0 is {}", i, t->type_string(), first->type_string());
    first = first ? first : t;
    shapes.push_back(t->shape());
  }
  auto shape = broadcast_all(shapes);
  if (!shape.ok()) return ctx.error("{}", shape.status().message());
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, first->dtype(), *shape));
  BroadcastIterator it(*shape, shapes);
  const size_t n = ctx.num_inputs();
  bool ok = dispatch_numeric(first->dtype(), [&]<typename T>() {
    using C = compute_t<T>;
    T* py = y->data<T>();
    it.run([&](int64_t i, const int64_t* off) {
      C acc = C(ctx.input(0)->data<T>()[off[0]]);
      for (size_t k = 1; k < n; ++k) {
        const C v = C(ctx.input(k)->data<T>()[off[k]]);
        if constexpr (kV == Var::kMax) acc = (std::isnan(static_cast<double>(v)) || v > acc) ? v : acc;
        else if constexpr (kV == Var::kMin) acc = (std::isnan(static_cast<double>(v)) || v < acc) ? v : acc;
        else acc = static_cast<C>(acc + v);
      }
      if constexpr (kV == Var::kMean) acc = static_cast<C>(acc / static_cast<C>(n));
      py[i] = static_cast<T>(acc);
    });
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(first->dtype()));
  return ok_status();
}

}  // namespace

void register_Equal(KernelRegistry& r) { add_fn<run_compare<Cmp::kEq>>(r, "Equal", 7);
  add_fn<run_legacy_broadcast<run_compare<Cmp::kEq>>>(r, "Equal", 1, 6); }
void register_Greater(KernelRegistry& r) { add_fn<run_compare<Cmp::kGt>>(r, "Greater", 7);
  add_fn<run_legacy_broadcast<run_compare<Cmp::kGt>>>(r, "Greater", 1, 6); }
void register_GreaterOrEqual(KernelRegistry& r) { add_fn<run_compare<Cmp::kGe>>(r, "GreaterOrEqual", 12); }
void register_Less(KernelRegistry& r) { add_fn<run_compare<Cmp::kLt>>(r, "Less", 7);
  add_fn<run_legacy_broadcast<run_compare<Cmp::kLt>>>(r, "Less", 1, 6); }
void register_LessOrEqual(KernelRegistry& r) { add_fn<run_compare<Cmp::kLe>>(r, "LessOrEqual", 12); }
void register_And(KernelRegistry& r) { add_fn<run_logic<Logic::kAnd>>(r, "And", 7);
  add_fn<run_legacy_broadcast<run_logic<Logic::kAnd>>>(r, "And", 1, 6); }
void register_Or(KernelRegistry& r) { add_fn<run_logic<Logic::kOr>>(r, "Or", 7);
  add_fn<run_legacy_broadcast<run_logic<Logic::kOr>>>(r, "Or", 1, 6); }
void register_Xor(KernelRegistry& r) { add_fn<run_logic<Logic::kXor>>(r, "Xor", 7);
  add_fn<run_legacy_broadcast<run_logic<Logic::kXor>>>(r, "Xor", 1, 6); }
void register_Not(KernelRegistry& r) { add_fn<run_not>(r, "Not"); }
void register_IsNaN(KernelRegistry& r) { add_fn<run_is<false>>(r, "IsNaN"); }
void register_IsInf(KernelRegistry& r) { add_fn<run_is<true>>(r, "IsInf"); }
void register_Where(KernelRegistry& r) { add_fn<run_where>(r, "Where"); }
void register_PRelu(KernelRegistry& r) {
  add_fn<run_prelu>(r, "PRelu", 7);
  add_fn<run_prelu_legacy>(r, "PRelu", 1, 6);
}
void register_Mod(KernelRegistry& r) { add_fn<run_mod>(r, "Mod"); }
void register_BitShift(KernelRegistry& r) { add_fn<run_bitshift>(r, "BitShift"); }
void register_Max(KernelRegistry& r) { add_fn<run_variadic<Var::kMax>>(r, "Max", 1); }
void register_Min(KernelRegistry& r) { add_fn<run_variadic<Var::kMin>>(r, "Min", 1); }
void register_Mean(KernelRegistry& r) { add_fn<run_variadic<Var::kMean>>(r, "Mean", 1); }
void register_Sum(KernelRegistry& r) { add_fn<run_variadic<Var::kSum>>(r, "Sum", 1); }

}  // namespace pare::ops
