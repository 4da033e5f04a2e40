// Random generators:
//   RandomUniform (1)      Y[shape] ~ U[low, high)              (dtype default float)
//   RandomNormal (1)       Y[shape] ~ N(mean, scale²)
//   RandomUniformLike (1), RandomNormalLike (1): the shape of the input; dtype default: its type
//   Bernoulli (15)         Y = (u < X) ? 1 : 0, u ~ U[0, 1)      (dtype default: X's type)
//   Multinomial (7)        Y[b, s] = class drawn with P(c) ∝ exp(X[b, c])   (dtype int32/int64)
// With a `seed` attribute a kernel's draws are deterministic (a 64-bit Mersenne twister seeded
// from the seed's bits at plan time, advancing across runs); without one it is seeded from the
// system. Uniform draws are 53-bit doubles, normal draws use Box–Muller, so the sequence is the
// same on every platform (it cannot match numpy's, which ONNX's expected outputs come from).
#include <algorithm>
#include <bit>
#include <cmath>
#include <mutex>
#include <numbers>
#include <random>
#include <vector>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

enum class RandomOp { kUniform, kNormal, kUniformLike, kNormalLike, kBernoulli, kMultinomial };

class Rng {
 public:
  explicit Rng(const ir::Node& node) {
    if (node.has_attr("seed")) {
      gen_.seed(std::bit_cast<uint32_t>(node.attr_float("seed", 0.0f)));
    } else {
      std::random_device rd;
      gen_.seed((static_cast<uint64_t>(rd()) << 32) ^ rd());
    }
  }
  // u ~ U[0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  // z ~ N(0, 1), Box–Muller (one draw per pair of uniforms).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  std::mt19937_64 gen_;
};

template <RandomOp kOp>
class RandomKernel final : public Kernel {
 public:
  explicit RandomKernel(const KernelInit& init) : rng_(init.node) {}

  Status run(KernelContext& ctx) override {
    std::lock_guard<std::mutex> lock(mu_);  // one generator per node; runs may be concurrent
    const ir::Node& node = ctx.node();
    if constexpr (kOp == RandomOp::kUniform || kOp == RandomOp::kNormal) {
      if (!node.has_attr("shape")) return ctx.error("required attribute 'shape' is missing");
      const Shape shape = node.attr_ints("shape");
      PARE_ASSIGN_OR_RETURN(DataType dt, output_dtype(ctx, DataType::kFloat32));
      return fill_real(ctx, dt, shape);
    } else if constexpr (kOp == RandomOp::kUniformLike || kOp == RandomOp::kNormalLike) {
      PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
      PARE_ASSIGN_OR_RETURN(DataType dt, output_dtype(ctx, x->dtype()));
      return fill_real(ctx, dt, x->shape());
    } else if constexpr (kOp == RandomOp::kBernoulli) {
      return run_bernoulli(ctx);
    } else {
      return run_multinomial(ctx);
    }
  }

 private:
  // The `dtype` attribute if present, else `def`.
  static Result<DataType> output_dtype(const KernelContext& ctx, DataType def) {
    if (!ctx.node().has_attr("dtype")) return def;
    const int64_t dt = ctx.node().attr_int("dtype", 0);
    if (!dtype_is_valid(static_cast<int32_t>(dt))) return ctx.error("dtype {} is not a valid type", dt);
    return static_cast<DataType>(dt);
  }

  Status fill_real(KernelContext& ctx, DataType dt, const Shape& shape) {
    if (!dtype_is_float(dt)) return ctx.error("output type must be a float type, got {}", dtype_name(dt));
    for (int64_t d : shape) {
      if (d < 0) return ctx.error("shape {} has a negative extent", shape_to_string(shape));
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, dt, shape));
    const ir::Node& node = ctx.node();
    constexpr bool kUniform = kOp == RandomOp::kUniform || kOp == RandomOp::kUniformLike;
    const double a = kUniform ? node.attr_float("low", 0.0f) : node.attr_float("mean", 0.0f);
    const double b = kUniform ? node.attr_float("high", 1.0f) : node.attr_float("scale", 1.0f);
    if (kUniform && !(a <= b)) return ctx.error("low {} must not exceed high {}", a, b);
    dispatch_float(dt, [&]<typename T>() {
      for (int64_t i = 0; i < y->numel(); ++i) {
        const double v = kUniform ? a + (b - a) * rng_.uniform() : a + b * rng_.normal();
        y->data<T>()[i] = static_cast<T>(static_cast<compute_t<T>>(v));
      }
    });
    return ok_status();
  }

  Status run_bernoulli(KernelContext& ctx) {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (!dtype_is_float(x->dtype())) return ctx.error("input must be a float tensor, got {}", x->type_string());
    PARE_ASSIGN_OR_RETURN(DataType dt, output_dtype(ctx, x->dtype()));
    if (!dtype_is_float(dt) && !dtype_is_integer(dt) && dt != DataType::kBool) {
      return ctx.error("output dtype must be numeric or bool, got {}", dtype_name(dt));
    }
    std::vector<double> p(static_cast<size_t>(x->numel()));
    dispatch_float(x->dtype(), [&]<typename T>() {
      for (int64_t i = 0; i < x->numel(); ++i) p[i] = static_cast<double>(static_cast<compute_t<T>>(x->data<T>()[i]));
    });
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, dt, x->shape()));
    bool ok = dispatch_numeric_bool(dt, [&]<typename T>() {
      for (int64_t i = 0; i < y->numel(); ++i) {
        const bool one = rng_.uniform() < p[i];
        if constexpr (std::is_same_v<T, bool>) {
          y->data<T>()[i] = one;
        } else {
          y->data<T>()[i] = static_cast<T>(static_cast<compute_t<T>>(one ? 1 : 0));
        }
      }
    });
    if (!ok) return ctx.error("unsupported output dtype {}", dtype_name(dt));
    return ok_status();
  }

  Status run_multinomial(KernelContext& ctx) {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->rank() != 2 || !dtype_is_float(x->dtype())) {
      return ctx.error("input must be a float [batch_size, class_size] tensor, got {}", x->type_string());
    }
    const int64_t samples = ctx.node().attr_int("sample_size", 1);
    if (samples < 0) return ctx.error("sample_size must be >= 0, got {}", samples);
    PARE_ASSIGN_OR_RETURN(DataType dt, output_dtype(ctx, DataType::kInt32));
    if (dt != DataType::kInt32 && dt != DataType::kInt64) return ctx.error("dtype must be int32 or int64, got {}", dtype_name(dt));
    const int64_t batch = x->dim(0), classes = x->dim(1);
    if (classes == 0 && batch > 0 && samples > 0) return ctx.error("class_size must be positive");
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, dt, {batch, samples}));
    std::vector<double> logits(static_cast<size_t>(classes)), cdf(static_cast<size_t>(classes));
    for (int64_t b = 0; b < batch; ++b) {
      dispatch_float(x->dtype(), [&]<typename T>() {
        for (int64_t c = 0; c < classes; ++c) logits[c] = static_cast<double>(static_cast<compute_t<T>>(x->data<T>()[b * classes + c]));
      });
      // cdf of exp(logit − max), so that large logits do not overflow.
      double mx = -INFINITY;
      for (double l : logits) mx = std::max(mx, l);
      double total = 0;
      for (int64_t c = 0; c < classes; ++c) {
        total += std::exp(logits[c] - mx);
        cdf[c] = total;
      }
      // NaN or ±inf logits leave no valid distribution.
      if (!std::isfinite(mx) || !std::isfinite(total)) return ctx.error("row {} of the logits is not finite", b);
      for (int64_t s = 0; s < samples; ++s) {
        const double u = rng_.uniform() * total;
        int64_t c = std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin();
        if (c >= classes) c = classes - 1;  // rounding at the top end
        if (dt == DataType::kInt32) y->data<int32_t>()[b * samples + s] = static_cast<int32_t>(c);
        else y->data<int64_t>()[b * samples + s] = c;
      }
    }
    return ok_status();
  }

  std::mutex mu_;
  Rng rng_;
};

}  // namespace

void register_RandomUniform(KernelRegistry& r) {
  r.add({"RandomUniform", "", 1, kMaxOpset, &make_kernel<RandomKernel<RandomOp::kUniform>>});
}
void register_RandomNormal(KernelRegistry& r) {
  r.add({"RandomNormal", "", 1, kMaxOpset, &make_kernel<RandomKernel<RandomOp::kNormal>>});
}
void register_RandomUniformLike(KernelRegistry& r) {
  r.add({"RandomUniformLike", "", 1, kMaxOpset, &make_kernel<RandomKernel<RandomOp::kUniformLike>>});
}
void register_RandomNormalLike(KernelRegistry& r) {
  r.add({"RandomNormalLike", "", 1, kMaxOpset, &make_kernel<RandomKernel<RandomOp::kNormalLike>>});
}
void register_Bernoulli(KernelRegistry& r) {
  r.add({"Bernoulli", "", 15, kMaxOpset, &make_kernel<RandomKernel<RandomOp::kBernoulli>>});
}
void register_Multinomial(KernelRegistry& r) {
  r.add({"Multinomial", "", 7, kMaxOpset, &make_kernel<RandomKernel<RandomOp::kMultinomial>>});
}

}  // namespace pare::ops
