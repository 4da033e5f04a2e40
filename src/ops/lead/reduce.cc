// Reductions (opsets 1, 11, 13, 18): ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/
// SumSquare over `axes` (attribute before opset 18 — 13 for ReduceSum — then an input),
// keepdims, noop_with_empty_axes. Empty axes reduce everything. Accumulates in double.
#include <cmath>
#include <limits>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

enum class Red { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

template <Red kR>
class Reduce final : public Kernel {
 public:
  explicit Reduce(const KernelInit& init)
      : keep_(init.node.attr_int("keepdims", 1) != 0), noop_(init.node.attr_int("noop_with_empty_axes", 0) != 0),
        attr_axes_(init.node.attr_ints("axes")), has_attr_(init.node.has_attr("axes")) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    std::vector<int64_t> axes = attr_axes_;
    if (!has_attr_ && ctx.input(1)) {
      PARE_ASSIGN_OR_RETURN(axes, ctx.input(1)->to_int64_vector("axes"));
    }
    const int64_t r = x->rank();
    if (axes.empty() && noop_) {
      ctx.set_output(0, RunValue(*x));
      return ok_status();
    }
    std::vector<bool> red(static_cast<size_t>(r), axes.empty());
    for (int64_t a : axes) {
      if (a < -r || a >= std::max<int64_t>(r, 1)) return ctx.error("axis {} out of range for rank {}", a, r);
      if (r) red[a < 0 ? a + r : a] = true;
    }
    Shape ys, kept;
    for (int64_t i = 0; i < r; ++i) {
      if (!red[i]) ys.push_back(x->dim(i));
      else if (keep_) ys.push_back(1);
      kept.push_back(red[i] ? 1 : x->dim(i));
    }
    if (x->numel() == 0 && (kR == Red::kMax || kR == Red::kMin)) {
      for (int64_t i = 0; i < r; ++i) {
        if (red[i] && x->dim(i) == 0) return ctx.error("cannot reduce an empty axis with {}", ctx.node().op_type());
      }
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
    const int64_t outn = shape_numel_unchecked(kept);
    const double init = kR == Red::kMax ? -INFINITY : kR == Red::kMin ? INFINITY : kR == Red::kProd ? 1.0 : 0.0;
    std::vector<double> acc(static_cast<size_t>(outn), init);
    std::vector<int64_t> count(static_cast<size_t>(outn), 0);
    const auto out_strides = shape_strides(kept);
    std::vector<int64_t> idx(static_cast<size_t>(r), 0);
    bool ok = dispatch_numeric(x->dtype(), [&]<typename T>() {
      const T* px = x->data<T>();
      for (int64_t i = 0; i < x->numel(); ++i) {
        int64_t o = 0;
        for (int64_t d = 0; d < r; ++d) o += (red[d] ? 0 : idx[d]) * out_strides[d];
        const double v = static_cast<double>(compute_t<T>(px[i]));
        double& a = acc[o];
        switch (kR) {
          case Red::kSum: case Red::kMean: case Red::kLogSum: a += v; break;
          case Red::kMax: a = std::max(a, v); break;
          case Red::kMin: a = std::min(a, v); break;
          case Red::kProd: a *= v; break;
          case Red::kL1: a += std::abs(v); break;
          case Red::kL2: case Red::kSumSquare: a += v * v; break;
          case Red::kLogSumExp: a += v; break;  // second pass below
        }
        count[o]++;
        for (int64_t d = r - 1; d >= 0; --d) {
          if (++idx[d] < x->dim(d)) break;
          idx[d] = 0;
        }
      }
      if constexpr (kR == Red::kLogSumExp) {
        // log Σ exp(v) = m + log Σ exp(v − m), m = max
        std::vector<double> mx(acc.size(), -INFINITY), s(acc.size(), 0.0);
        std::fill(idx.begin(), idx.end(), 0);
        for (int pass = 0; pass < 2; ++pass) {
          for (int64_t i = 0; i < x->numel(); ++i) {
            int64_t o = 0;
            for (int64_t d = 0; d < r; ++d) o += (red[d] ? 0 : idx[d]) * out_strides[d];
            const double v = static_cast<double>(compute_t<T>(px[i]));
            if (pass == 0) mx[o] = std::max(mx[o], v);
            else s[o] += std::exp(v - mx[o]);
            for (int64_t d = r - 1; d >= 0; --d) {
              if (++idx[d] < x->dim(d)) break;
              idx[d] = 0;
            }
          }
        }
        for (size_t o = 0; o < acc.size(); ++o) acc[o] = count[o] ? mx[o] + std::log(s[o]) : -INFINITY;
      }
      T* py = y->data<T>();
      for (int64_t o = 0; o < outn; ++o) {
        double v = acc[o];
        if (kR == Red::kMean) v = count[o] ? v / count[o] : NAN;
        if (kR == Red::kL2) v = std::sqrt(v);
        if (kR == Red::kLogSum) v = std::log(v);
        py[o] = static_cast<T>(static_cast<compute_t<T>>(v));
      }
    });
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  bool keep_, noop_;
  std::vector<int64_t> attr_axes_;
  bool has_attr_;
};

}  // namespace

void register_ReduceSum(KernelRegistry& r) { r.add({"ReduceSum", "", 1, kMaxOpset, &make_kernel<Reduce<Red::kSum>>}); }
void register_ReduceMean(KernelRegistry& r) { r.add({"ReduceMean", "", 1, kMaxOpset, &make_kernel<Reduce<Red::kMean>>}); }
void register_ReduceMax(KernelRegistry& r) { r.add({"ReduceMax", "", 1, kMaxOpset, &make_kernel<Reduce<Red::kMax>>}); }
void register_ReduceMin(KernelRegistry& r) { r.add({"ReduceMin", "", 1, kMaxOpset, &make_kernel<Reduce<Red::kMin>>}); }
void register_ReduceProd(KernelRegistry& r) { r.add({"ReduceProd", "", 1, kMaxOpset, &make_kernel<Reduce<Red::kProd>>}); }
void register_ReduceL1(KernelRegistry& r) { r.add({"ReduceL1", "", 1, kMaxOpset, &make_kernel<Reduce<Red::kL1>>}); }
void register_ReduceL2(KernelRegistry& r) { r.add({"ReduceL2", "", 1, kMaxOpset, &make_kernel<Reduce<Red::kL2>>}); }
void register_ReduceLogSum(KernelRegistry& r) { r.add({"ReduceLogSum", "", 1, kMaxOpset, &make_kernel<Reduce<Red::kLogSum>>}); }
void register_ReduceLogSumExp(KernelRegistry& r) { r.add({"ReduceLogSumExp", "", 1, kMaxOpset, &make_kernel<Reduce<Red::kLogSumExp>>}); }
void register_ReduceSumSquare(KernelRegistry& r) { r.add({"ReduceSumSquare", "", 1, kMaxOpset, &make_kernel<Reduce<Red::kSumSquare>>}); }

}  // namespace pare::ops
