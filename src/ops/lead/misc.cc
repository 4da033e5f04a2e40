// BatchNormalization (inference, opsets 1–15): y = (x − μ)/√(σ² + ε)·γ + β per channel (dim 1).
// Flatten (1, 9, 11, 13): [d0..d(a−1)] × [da..] → 2-D. Reshape (5, 13, 14): shape input with
// 0 (copy, unless allowzero) and −1 (inferred). Identity, Dropout (inference: y = x, mask all
// true). Softmax / LogSoftmax (< 13: over the 2-D coercion at `axis`; ≥ 13: along `axis`).
#include <cmath>

#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

Status run_batch_norm(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  const Tensor* p[4];
  for (int i = 0; i < 4; ++i) {
    PARE_ASSIGN_OR_RETURN(p[i], ctx.required_input(static_cast<size_t>(i) + 1));
  }
  if (x->rank() < 2) return ctx.error("input {} must have rank ≥ 2", x->type_string());
  if (ctx.node().attr_int("training_mode", 0) != 0) return unsupported("{}: training_mode is not supported", ctx.node().describe());
  const int64_t c = x->dim(1);
  for (int i = 0; i < 4; ++i) {
    if (p[i]->numel() != c) return ctx.error("parameter {} has {} values for {} channels", i + 1, p[i]->numel(), c);
  }
  const double eps = ctx.node().attr_float("epsilon", 1e-5f);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  const int64_t n = x->dim(0), inner = c * n != 0 ? x->numel() / (c * n) : 0;
  bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
    const T* px = x->data<T>();
    T* py = y->data<T>();
    for (int64_t ch = 0; ch < c; ++ch) {
      const double scale = p[0]->float_at(ch) / std::sqrt(p[3]->float_at(ch) + eps);
      const double shift = p[1]->float_at(ch) - p[2]->float_at(ch) * scale;
      for (int64_t b = 0; b < n; ++b) {
        const int64_t base = (b * c + ch) * inner;
        for (int64_t i = 0; i < inner; ++i) py[base + i] = static_cast<T>(static_cast<compute_t<T>>(compute_t<T>(px[base + i]) * scale + shift));
      }
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

Status run_flatten(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  int64_t axis = ctx.node().attr_int("axis", 1);
  if (axis < -x->rank() || axis > x->rank()) return ctx.error("axis {} out of range for rank {}", axis, x->rank());
  if (axis < 0) axis += x->rank();
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
  PARE_ASSIGN_OR_RETURN(Tensor t, x->reshaped({outer, outer ? x->numel() / outer : 0}));
  if (outer == 0) {
    int64_t inner = 1;
    for (int64_t i = axis; i < x->rank(); ++i) inner *= x->dim(i);
    PARE_ASSIGN_OR_RETURN(t, x->reshaped({0, inner}));
  }
  ctx.set_output(0, RunValue(t));
  return ok_status();
}

Status run_reshape(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  std::vector<int64_t> target;
  if (ctx.has_input(1)) {
    PARE_ASSIGN_OR_RETURN(const Tensor* s, ctx.required_input(1));
    if (s->rank() != 1 || s->dtype() != DataType::kInt64) return ctx.error("shape must be a 1-D int64 tensor, got {}", s->type_string());
    target.assign(s->data<int64_t>(), s->data<int64_t>() + s->numel());
  } else {
    target = ctx.node().attr_ints("shape");
  }
  const bool allowzero = ctx.node().attr_int("allowzero", 0) != 0;
  Shape out(target.size());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == 0 && !allowzero) {
      if (static_cast<int64_t>(i) >= x->rank()) return ctx.error("shape[{}] = 0 but the input has rank {}", i, x->rank());
      d = x->dim(static_cast<int64_t>(i));
    }
    if (d == -1) {
      if (infer >= 0) return ctx.error("shape has more than one -1");
      infer = static_cast<int>(i);
      continue;
    }
    if (d < 0) return ctx.error("shape[{}] = {} is invalid", i, d);
    out[i] = d;
    if (shape_numel_checked({known, d}) < 0) return ctx.error("shape {} overflows", shape_to_string(target));
    known *= d;
  }
  if (infer >= 0) {
    if (known == 0 || x->numel() % known != 0) {
      return ctx.error("cannot infer -1: {} elements into {}", x->numel(), shape_to_string(target));
    }
    out[infer] = x->numel() / known;
  }
  auto t = x->reshaped(out);
  if (!t.ok()) return ctx.error("cannot reshape {} to {}", x->type_string(), shape_to_string(out));
  ctx.set_output(0, RunValue(*t));
  return ok_status();
}

Status run_identity(KernelContext& ctx) {
  if (!ctx.has_input(0)) return ctx.error("input 0 is missing");
  ctx.set_output(0, ctx.input_value(0));
  return ok_status();
}

Status run_dropout(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  if (const Tensor* tm = ctx.input(2); tm && tm->numel() == 1 && tm->dtype() == DataType::kBool && tm->data<bool>()[0]) {
    const Tensor* r = ctx.input(1);
    const double ratio = r ? r->float_at(0) : ctx.node().attr_float("ratio", 0.5f);
    if (ratio != 0.0) return unsupported("{}: training-mode dropout (random masks) is not supported", ctx.node().describe());
  }
  ctx.set_output(0, RunValue(*x));
  if (ctx.output_requested(1)) {
    PARE_ASSIGN_OR_RETURN(Tensor * mask, ctx.allocate_output(1, DataType::kBool, x->shape()));
    for (int64_t i = 0; i < mask->numel(); ++i) mask->data<bool>()[i] = true;
  }
  return ok_status();
}

template <bool kLog>
class Softmax final : public Kernel {
 public:
  explicit Softmax(const KernelInit& init) : opset_(init.opset), axis_(init.node.attr_int("axis", init.opset >= 13 ? -1 : 1)) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    const int64_t r = x->rank();
    if (axis_ < -r || axis_ >= std::max<int64_t>(r, 1)) return ctx.error("axis {} out of range for rank {}", axis_, r);
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    // Opset < 13: softmax over the flattened [axis..] block; ≥ 13: along one axis.
    int64_t outer = 1, n = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
    if (opset_ < 13) {
      n = outer ? x->numel() / outer : 0;
    } else {
      n = r ? x->dim(axis) : 1;
      for (int64_t i = axis + 1; i < r; ++i) inner *= x->dim(i);
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
    bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
      const T* px = x->data<T>();
      T* py = y->data<T>();
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t in = 0; in < inner; ++in) {
          auto at = [&](int64_t j) { return (o * n + j) * inner + in; };
          double mx = -INFINITY;
          for (int64_t j = 0; j < n; ++j) mx = std::max(mx, double(compute_t<T>(px[at(j)])));
          double sum = 0;
          for (int64_t j = 0; j < n; ++j) sum += std::exp(double(compute_t<T>(px[at(j)])) - mx);
          for (int64_t j = 0; j < n; ++j) {
            const double v = double(compute_t<T>(px[at(j)])) - mx;
            py[at(j)] = static_cast<T>(static_cast<compute_t<T>>(kLog ? v - std::log(sum) : std::exp(v) / sum));
          }
        }
      }
    });
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  int64_t opset_, axis_;
};

}  // namespace

void register_BatchNormalization(KernelRegistry& r) { add_fn<run_batch_norm>(r, "BatchNormalization"); }
void register_Flatten(KernelRegistry& r) { add_fn<run_flatten>(r, "Flatten"); }
void register_Reshape(KernelRegistry& r) { add_fn<run_reshape>(r, "Reshape"); }
void register_Identity(KernelRegistry& r) { add_fn<run_identity>(r, "Identity"); }
void register_Dropout(KernelRegistry& r) { add_fn<run_dropout>(r, "Dropout"); }
void register_Softmax(KernelRegistry& r) { r.add({"Softmax", "", 1, kMaxOpset, &make_kernel<Softmax<false>>}); }
void register_LogSoftmax(KernelRegistry& r) { r.add({"LogSoftmax", "", 1, kMaxOpset, &make_kernel<Softmax<true>>}); }

}  // namespace pare::ops
