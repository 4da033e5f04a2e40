// NegativeLogLikelihoodLoss (12, 13) and SoftmaxCrossEntropyLoss (12, 13):
//   NLL: loss[n, d…] = −input[n, t, d…] · w[t],  t = target[n, d…]; ignore_index → 0 (and weight 0)
//   SCE: log_prob = log_softmax(scores, axis 1); loss = NLL(log_prob, labels, weights)
//   reduction none (per element), sum, mean (= sum / Σ weights of counted elements)
// Targets out of [0, C) (other than ignore_index) are errors.
#include <cmath>
#include <optional>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

template <bool kSoftmax>
class Loss final : public Kernel {
 public:
  explicit Loss(const KernelInit& init)
      : reduction_(init.node.attr_string("reduction", "mean")),
        ignore_(init.node.has_attr("ignore_index") ? std::optional<int64_t>(init.node.attr_int("ignore_index", 0)) : std::nullopt) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* t, ctx.required_input(1));
    const Tensor* w = ctx.input(2);
    if (reduction_ != "none" && reduction_ != "sum" && reduction_ != "mean") return ctx.error("reduction '{}'", reduction_);
    if (x->rank() < 2) return ctx.error("input {} must have rank ≥ 2", x->type_string());
    const int64_t n = x->dim(0), c = x->dim(1), inner = n * c != 0 ? x->numel() / (n * c) : 0;
    Shape ts{n};
    for (int64_t i = 2; i < x->rank(); ++i) ts.push_back(x->dim(i));
    if (t->shape() != ts) return ctx.error("target {} must have shape {}", t->type_string(), shape_to_string(ts));
    if (w && (w->rank() != 1 || w->dim(0) != c || w->dtype() != x->dtype())) return ctx.error("weight {} must be [{}]", w->type_string(), c);
    PARE_ASSIGN_OR_RETURN(auto target, t->to_int64_vector("target"));
    Status st;
    bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
      const T* px = x->data<T>();
      std::vector<double> logp(static_cast<size_t>(x->numel()));
      for (int64_t i = 0; i < x->numel(); ++i) logp[i] = double(compute_t<T>(px[i]));
      if (kSoftmax) {
        for (int64_t b = 0; b < n; ++b) {
          for (int64_t in = 0; in < inner; ++in) {
            double mx = -INFINITY, sum = 0;
            for (int64_t k = 0; k < c; ++k) mx = std::max(mx, logp[(b * c + k) * inner + in]);
            for (int64_t k = 0; k < c; ++k) sum += std::exp(logp[(b * c + k) * inner + in] - mx);
            for (int64_t k = 0; k < c; ++k) logp[(b * c + k) * inner + in] -= mx + std::log(sum);
          }
        }
      }
      std::vector<double> loss(static_cast<size_t>(n * inner), 0.0);
      double total = 0, weight_sum = 0;
      for (int64_t b = 0; b < n; ++b) {
        for (int64_t in = 0; in < inner; ++in) {
          const int64_t cls = target[b * inner + in];
          if (ignore_ && cls == *ignore_) continue;
          if (cls < 0 || cls >= c) {
            st = ctx.error("target {} out of range [0, {})", cls, c);
            return;
          }
          const double wt = w ? double(compute_t<T>(w->data<T>()[cls])) : 1.0;
          const double l = -logp[(b * c + cls) * inner + in] * wt;
          loss[b * inner + in] = l;
          total += l;
          weight_sum += wt;
        }
      }
      Shape out_shape = reduction_ == "none" ? ts : Shape{};
      auto y = ctx.allocate_output(0, x->dtype(), out_shape);
      if (!y.ok()) {
        st = y.status();
        return;
      }
      T* py = (*y)->data<T>();
      if (reduction_ == "none") {
        for (size_t i = 0; i < loss.size(); ++i) py[i] = static_cast<T>(static_cast<compute_t<T>>(loss[i]));
      } else {
        const double v = reduction_ == "sum" ? total : (weight_sum != 0 ? total / weight_sum : 0.0);
        py[0] = static_cast<T>(static_cast<compute_t<T>>(v));
      }
      if (kSoftmax && ctx.output_requested(1)) {
        auto lp = ctx.allocate_output(1, x->dtype(), x->shape());
        if (!lp.ok()) {
          st = lp.status();
          return;
        }
        for (int64_t i = 0; i < x->numel(); ++i) (*lp)->data<T>()[i] = static_cast<T>(static_cast<compute_t<T>>(logp[i]));
      }
    });
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return st;
  }

 private:
  std::string reduction_;
  std::optional<int64_t> ignore_;
};

}  // namespace

void register_NegativeLogLikelihoodLoss(KernelRegistry& r) {
  r.add({"NegativeLogLikelihoodLoss", "", 12, kMaxOpset, &make_kernel<Loss<false>>});
}
void register_SoftmaxCrossEntropyLoss(KernelRegistry& r) {
  r.add({"SoftmaxCrossEntropyLoss", "", 12, kMaxOpset, &make_kernel<Loss<true>>});
}

}  // namespace pare::ops
