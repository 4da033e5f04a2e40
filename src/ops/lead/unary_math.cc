// Elementwise unary ops (float math, opsets 6/13): y = f(x), plus activations with
// attributes (defaults from the ONNX spec):
//   Elu α=1; Selu α=1.67326…, γ=1.05070…; Celu α=1; LeakyRelu α=0.01; HardSigmoid α=0.2, β=0.5;
//   HardSwish x·max(0, min(1, x/6 + 1/2)); Softplus log(1+eˣ); Softsign x/(1+|x|);
//   ThresholdedRelu α=1; Shrink (bias 0, lambd 0.5); Sign, Abs, Neg also on integers.
#include <cmath>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

// A unary kernel whose function may read attributes (α, β, ...) captured at plan time.
template <typename F, bool kIntegers = false>
class Unary final : public Kernel {
 public:
  explicit Unary(F f) : f_(f) {}
  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    auto body = [&]<typename T>() {
      using C = compute_t<T>;
      const T* px = x->data<T>();
      T* py = y->data<T>();
      for (int64_t i = 0; i < x->numel(); ++i) py[i] = static_cast<T>(static_cast<C>(f_(static_cast<double>(C(px[i])))));
    };
    const bool ok = kIntegers ? dispatch_numeric(x->dtype(), body) : dispatch_float(x->dtype(), body);
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  F f_;
};

template <bool kIntegers = false, typename F>
Result<std::unique_ptr<Kernel>> unary(F f) {
  return std::unique_ptr<Kernel>(new Unary<F, kIntegers>(f));
}

#define PARE_UNARY(NAME, EXPR)                                                   \
  Result<std::unique_ptr<Kernel>> make_##NAME(const KernelInit&) {               \
    return unary([](double x) { return EXPR; });                                 \
  }                                                                              \
  }                                                                              \
  void register_##NAME(KernelRegistry& r) { r.add({#NAME, "", 1, kMaxOpset, &make_##NAME}); } \
  namespace {

PARE_UNARY(Acos, std::acos(x))
PARE_UNARY(Acosh, std::acosh(x))
PARE_UNARY(Asin, std::asin(x))
PARE_UNARY(Asinh, std::asinh(x))
PARE_UNARY(Atan, std::atan(x))
PARE_UNARY(Atanh, std::atanh(x))
PARE_UNARY(Ceil, std::ceil(x))
PARE_UNARY(Cos, std::cos(x))
PARE_UNARY(Cosh, std::cosh(x))
PARE_UNARY(Erf, std::erf(x))
PARE_UNARY(Exp, std::exp(x))
PARE_UNARY(Floor, std::floor(x))
PARE_UNARY(Log, std::log(x))
PARE_UNARY(Reciprocal, 1.0 / x)
PARE_UNARY(Round, std::nearbyint(x))
PARE_UNARY(Sin, std::sin(x))
PARE_UNARY(Sinh, std::sinh(x))
PARE_UNARY(Tan, std::tan(x))
PARE_UNARY(Tanh, std::tanh(x))
PARE_UNARY(Sigmoid, 1.0 / (1.0 + std::exp(-x)))
PARE_UNARY(Softplus, x > 30 ? x : std::log1p(std::exp(x)))
PARE_UNARY(Softsign, x / (1.0 + std::abs(x)))
PARE_UNARY(HardSwish, x * std::max(0.0, std::min(1.0, x / 6.0 + 0.5)))
#undef PARE_UNARY

#define PARE_UNARY_INT(NAME, EXPR)                                               \
  Result<std::unique_ptr<Kernel>> make_##NAME(const KernelInit&) {               \
    return unary<true>([](double x) { return EXPR; });                           \
  }                                                                              \
  }                                                                              \
  void register_##NAME(KernelRegistry& r) { r.add({#NAME, "", 1, kMaxOpset, &make_##NAME}); } \
  namespace {

PARE_UNARY_INT(Abs, std::abs(x))
PARE_UNARY_INT(Neg, -x)
PARE_UNARY_INT(Sign, static_cast<double>((x > 0) - (x < 0)))
#undef PARE_UNARY_INT

#define PARE_ACTIVATION(NAME, SETUP, EXPR)                                       \
  Result<std::unique_ptr<Kernel>> make_##NAME(const KernelInit& init) {          \
    const ir::Node& n = init.node;                                               \
    SETUP;                                                                       \
    return unary([=](double x) { return EXPR; });                                \
  }                                                                              \
  }                                                                              \
  void register_##NAME(KernelRegistry& r) { r.add({#NAME, "", 1, kMaxOpset, &make_##NAME}); } \
  namespace {

PARE_ACTIVATION(Elu, const double a = n.attr_float("alpha", 1.0f), x >= 0 ? x : a * (std::exp(x) - 1))
PARE_ACTIVATION(Selu, const double a = n.attr_float("alpha", 1.67326319217681884765625f);
                const double g = n.attr_float("gamma", 1.05070102214813232421875f), x > 0 ? g * x : g * (a * std::exp(x) - a))
PARE_ACTIVATION(Celu, const double a = n.attr_float("alpha", 1.0f), std::max(0.0, x) + std::min(0.0, a * (std::exp(x / a) - 1)))
PARE_ACTIVATION(LeakyRelu, const double a = n.attr_float("alpha", 0.01f), x >= 0 ? x : a * x)
PARE_ACTIVATION(HardSigmoid, const double a = n.attr_float("alpha", 0.2f); const double b = n.attr_float("beta", 0.5f),
                std::max(0.0, std::min(1.0, a * x + b)))
PARE_ACTIVATION(ThresholdedRelu, const double a = n.attr_float("alpha", 1.0f), x > a ? x : 0.0)
PARE_ACTIVATION(Shrink, const double b = n.attr_float("bias", 0.0f); const double l = n.attr_float("lambd", 0.5f),
                x < -l ? x + b : (x > l ? x - b : 0.0))
#undef PARE_ACTIVATION

}  // namespace
}  // namespace pare::ops
