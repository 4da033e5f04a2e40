// Optimizer steps of domain ai.onnx.preview.training (opset 1). Inputs are R (learning rate,
// scalar), T (update count, int64 scalar), then n tensors of each state kind in groups:
//   Adagrad(R, T, X1..Xn, G1..Gn, H1..Hn) → X1'..Xn', H1'..Hn'
//     r = R/(1 + T·decay_factor), g = norm_coefficient·X + G, H' = H + g², X' = X − r·g/(√H' + ε)
//   Momentum(R, T, X.., G.., V..) → X'.., V'..   (mode "standard" or "nesterov")
//     g = norm_coefficient·X + G, b = T > 0 ? beta : 1, V' = alpha·V + b·g
//     standard: X' = X − R·V'        nesterov: X' = X − R·(g + alpha·V')
//   Adam(R, T, X.., G.., V.., H..) → X'.., V'.., H'..
//     g = norm_coefficient·X + G, V' = alpha·V + (1−alpha)·g, H' = beta·H + (1−beta)·g²
//     r = T > 0 ? R·√(1 − beta^T)/(1 − alpha^T) : R,  X' = (1 − norm_coefficient_post)·(X − r·V'/(√H' + ε))
// Computed in double; X, G and the states share one shape and dtype (float or double).
#include <cmath>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

constexpr const char* kTrainingDomain = "ai.onnx.preview.training";

// The state of one optimizer step after validation: scalars R and T, and n groups of `kinds`
// tensors (X, G, then the optimizer's states) that all share X's shape and dtype.
struct StepInputs {
  double r = 0;
  int64_t t = 0;
  int64_t n = 0;
  std::vector<std::vector<const Tensor*>> groups;  // groups[kind][i]
};

Result<StepInputs> read_step_inputs(KernelContext& ctx, int64_t kinds, int64_t outputs_per_group) {
  StepInputs s;
  const int64_t num_in = static_cast<int64_t>(ctx.num_inputs());
  if (num_in < 2 + kinds || (num_in - 2) % kinds != 0) {
    return ctx.error("expected 2 + {}·n inputs (R, T, then n tensors of each kind), got {}", kinds, num_in);
  }
  s.n = (num_in - 2) / kinds;
  if (static_cast<int64_t>(ctx.num_outputs()) > outputs_per_group * s.n) {
    return ctx.error("expected at most {} outputs for {} tensors, got {}", outputs_per_group * s.n, s.n, ctx.num_outputs());
  }
  PARE_ASSIGN_OR_RETURN(const Tensor* r, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* t, ctx.required_input(1));
  if (!dtype_is_float(r->dtype()) || r->numel() != 1) return ctx.error("R must be a float scalar, got {}", r->type_string());
  if (t->dtype() != DataType::kInt64 || t->numel() != 1) return ctx.error("T must be an int64 scalar, got {}", t->type_string());
  s.r = r->float_at(0);
  s.t = t->int_at(0);
  s.groups.assign(static_cast<size_t>(kinds), {});
  for (int64_t k = 0; k < kinds; ++k) {
    for (int64_t i = 0; i < s.n; ++i) {
      PARE_ASSIGN_OR_RETURN(const Tensor* v, ctx.required_input(static_cast<size_t>(2 + k * s.n + i)));
      const Tensor* x = k == 0 ? v : s.groups[0][i];
      if (v->dtype() != DataType::kFloat32 && v->dtype() != DataType::kFloat64) {
        return ctx.error("input {} must be float or double, got {}", 2 + k * s.n + i, v->type_string());
      }
      if (v->dtype() != x->dtype() || v->shape() != x->shape()) {
        return ctx.error("input {} is {} but X{} is {}", 2 + k * s.n + i, v->type_string(), i + 1, x->type_string());
      }
      s.groups[k].push_back(v);
    }
  }
  return s;
}

// Runs `update(in, out)` per element for each of the n groups: in[k] is element e of kind k
// (X, G, states...), out[j] the new value of output kind j (X', states'...).
template <typename Update>
Status apply_step(KernelContext& ctx, const StepInputs& s, int64_t out_kinds, Update update) {
  for (int64_t i = 0; i < s.n; ++i) {
    const Tensor* x = s.groups[0][i];
    std::vector<Tensor*> outs(static_cast<size_t>(out_kinds), nullptr);
    for (int64_t j = 0; j < out_kinds; ++j) {
      const size_t idx = static_cast<size_t>(j * s.n + i);
      if (idx < ctx.num_outputs() && ctx.output_requested(idx)) {
        PARE_ASSIGN_OR_RETURN(outs[j], ctx.allocate_output(idx, x->dtype(), x->shape()));
      }
    }
    dispatch_float(x->dtype(), [&]<typename T>() {
      std::vector<double> in(s.groups.size()), out(static_cast<size_t>(out_kinds));
      for (int64_t e = 0; e < x->numel(); ++e) {
        for (size_t k = 0; k < s.groups.size(); ++k) in[k] = static_cast<double>(s.groups[k][i]->data<T>()[e]);
        update(in, out);
        for (int64_t j = 0; j < out_kinds; ++j) {
          if (outs[j]) outs[j]->data<T>()[e] = static_cast<T>(out[j]);
        }
      }
    });
  }
  return ok_status();
}

class AdagradKernel final : public Kernel {
 public:
  explicit AdagradKernel(const KernelInit& init)
      : decay_factor_(init.node.attr_float("decay_factor", 0.0f)),
        epsilon_(init.node.attr_float("epsilon", 1e-6f)),
        norm_coefficient_(init.node.attr_float("norm_coefficient", 0.0f)) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(StepInputs s, read_step_inputs(ctx, 3, 2));
    const double r = s.r / (1.0 + static_cast<double>(s.t) * decay_factor_);
    return apply_step(ctx, s, 2, [&](const std::vector<double>& in, std::vector<double>& out) {
      const double g = norm_coefficient_ * in[0] + in[1];
      const double h = in[2] + g * g;
      out[0] = in[0] - r * g / (std::sqrt(h) + epsilon_);
      out[1] = h;
    });
  }

 private:
  double decay_factor_, epsilon_, norm_coefficient_;
};

class MomentumKernel final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    const ir::Node& node = init.node;
    for (const char* a : {"alpha", "beta", "mode", "norm_coefficient"}) {
      if (!node.has_attr(a)) return invalid_model("{}: required attribute '{}' is missing", node.describe(), a);
    }
    const std::string mode = node.attr_string("mode", "");
    if (mode != "standard" && mode != "nesterov") {
      return invalid_model("{}: mode must be 'standard' or 'nesterov', got '{}'", node.describe(), mode);
    }
    auto k = std::make_unique<MomentumKernel>();
    k->alpha_ = node.attr_float("alpha", 0);
    k->beta_ = node.attr_float("beta", 0);
    k->norm_coefficient_ = node.attr_float("norm_coefficient", 0);
    k->nesterov_ = mode == "nesterov";
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(StepInputs s, read_step_inputs(ctx, 3, 2));
    const double b = s.t > 0 ? beta_ : 1.0;
    return apply_step(ctx, s, 2, [&](const std::vector<double>& in, std::vector<double>& out) {
      const double g = norm_coefficient_ * in[0] + in[1];
      const double v = alpha_ * in[2] + b * g;
      out[0] = nesterov_ ? in[0] - s.r * (g + alpha_ * v) : in[0] - s.r * v;
      out[1] = v;
    });
  }

 private:
  double alpha_ = 0, beta_ = 0, norm_coefficient_ = 0;
  bool nesterov_ = false;
};

class AdamKernel final : public Kernel {
 public:
  explicit AdamKernel(const KernelInit& init)
      : alpha_(init.node.attr_float("alpha", 0.9f)),
        beta_(init.node.attr_float("beta", 0.999f)),
        epsilon_(init.node.attr_float("epsilon", 1e-6f)),
        norm_coefficient_(init.node.attr_float("norm_coefficient", 0.0f)),
        norm_coefficient_post_(init.node.attr_float("norm_coefficient_post", 0.0f)) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(StepInputs s, read_step_inputs(ctx, 4, 3));
    double r = s.r;
    if (s.t > 0) {
      const double t = static_cast<double>(s.t);
      r = s.r * std::sqrt(1.0 - std::pow(beta_, t)) / (1.0 - std::pow(alpha_, t));
    }
    return apply_step(ctx, s, 3, [&](const std::vector<double>& in, std::vector<double>& out) {
      const double g = norm_coefficient_ * in[0] + in[1];
      const double v = alpha_ * in[2] + (1.0 - alpha_) * g;
      const double h = beta_ * in[3] + (1.0 - beta_) * g * g;
      out[0] = (1.0 - norm_coefficient_post_) * (in[0] - r * v / (std::sqrt(h) + epsilon_));
      out[1] = v;
      out[2] = h;
    });
  }

 private:
  double alpha_, beta_, epsilon_, norm_coefficient_, norm_coefficient_post_;
};

}  // namespace

void register_Adagrad(KernelRegistry& r) { r.add({"Adagrad", kTrainingDomain, 1, kMaxOpset, &make_kernel<AdagradKernel>}); }
void register_Momentum(KernelRegistry& r) { r.add({"Momentum", kTrainingDomain, 1, kMaxOpset, &make_kernel<MomentumKernel>}); }
void register_Adam(KernelRegistry& r) { r.add({"Adam", kTrainingDomain, 1, kMaxOpset, &make_kernel<AdamKernel>}); }

}  // namespace pare::ops
