// Reference backward kernels for reductions, activations and indexing (domain com.pare), float32:
//   ReduceGrad(dY, X) attrs axes (empty: all), keepdims, mean → dX: dY broadcast back over the
//     reduced axes of X (÷ count for mean).
//   ActivationGrad(X, Y, dY) attr kind, alpha → dX = dY·f'(x): leaky_relu, sigmoid (from Y),
//     tanh (from Y), hard_swish, hard_sigmoid (alpha, beta), elu, softplus.
//   GatherGrad(dY, X, indices) attr axis → dX of X's shape: dY scattered-added at indices
//     (negative indices wrap), the gradient of Gather / embedding lookups.
//   ConcatGrad(dY, X0, …, Xk) attr axis → (dX0, …, dXk): dY cut along axis by the Xs' extents.
//   SliceGrad(dY, X, starts, ends[, axes, steps]) → dX: zeros with dY written where Slice read.
#include <algorithm>
#include <cmath>

#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

Status run_reduce_grad(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(1));
  if (dy->dtype() != DataType::kFloat32) return ctx.error("gradients are float32, got {}", dy->type_string());
  const int64_t r = x->rank();
  std::vector<bool> reduced(static_cast<size_t>(r), false);
  auto axes = ctx.node().attr_ints("axes");
  if (axes.empty()) reduced.assign(static_cast<size_t>(r), true);
  for (int64_t a : axes) {
    if (a < -r || a >= r) return ctx.error("axis {} out of range for {}", a, x->type_string());
    reduced[static_cast<size_t>(a < 0 ? a + r : a)] = true;
  }
  const bool keep = ctx.node().attr_int("keepdims", 1) != 0;
  Shape kept;  // dY's shape with reduced axes as 1
  int64_t count = 1;
  for (int64_t i = 0; i < r; ++i) {
    kept.push_back(reduced[i] ? 1 : x->dim(i));
    if (reduced[i]) count *= x->dim(i);
  }
  int64_t expect = 1;
  for (int64_t d : kept) expect *= d;
  if (dy->numel() != expect || (keep && dy->rank() != r)) return ctx.error("output gradient {} does not match the reduction of {}", dy->type_string(), x->type_string());
  PARE_ASSIGN_OR_RETURN(Tensor * dx, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
  const float scale = ctx.node().attr_int("mean", 0) && count > 0 ? 1.0f / static_cast<float>(count) : 1.0f;
  std::vector<int64_t> idx(static_cast<size_t>(r), 0), kstride(static_cast<size_t>(r), 0);
  int64_t s = 1;
  for (int64_t i = r - 1; i >= 0; --i) {
    kstride[i] = reduced[i] ? 0 : s;
    s *= kept[i];
  }
  const float* g = dy->data<float>();
  float* out = dx->data<float>();
  for (int64_t e = 0; e < x->numel(); ++e) {
    int64_t off = 0;
    for (int64_t i = 0; i < r; ++i) off += idx[i] * kstride[i];
    out[e] = g[off] * scale;
    for (int64_t i = r - 1; i >= 0; --i) {
      if (++idx[i] < x->dim(i)) break;
      idx[i] = 0;
    }
  }
  return ok_status();
}

Status run_activation_grad(KernelContext& ctx) {
  const Tensor* x = ctx.input(0);
  const Tensor* y = ctx.input(1);
  PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(2));
  const Tensor* ref = x ? x : y;
  if (!ref || ref->shape() != dy->shape() || ref->dtype() != DataType::kFloat32 || dy->dtype() != DataType::kFloat32) {
    return ctx.error("needs a float32 input or output of the gradient's shape {}", dy->type_string());
  }
  const std::string kind = ctx.node().attr_string("kind", "");
  const float alpha = ctx.node().attr_float("alpha", 0.01f), beta = ctx.node().attr_float("beta", 0.5f);
  const bool from_y = kind == "sigmoid" || kind == "tanh";
  if ((from_y && !y) || (!from_y && !x)) return ctx.error("{} gradient needs the op's {}", kind, from_y ? "output" : "input");
  PARE_ASSIGN_OR_RETURN(Tensor * dx, ctx.allocate_output(0, DataType::kFloat32, dy->shape()));
  const float* px = x ? x->data<float>() : nullptr;
  const float* py = y ? y->data<float>() : nullptr;
  const float* g = dy->data<float>();
  float* d = dx->data<float>();
  const int64_t n = dy->numel();
  if (kind == "leaky_relu") {
    for (int64_t i = 0; i < n; ++i) d[i] = px[i] > 0 ? g[i] : g[i] * alpha;
  } else if (kind == "sigmoid") {
    for (int64_t i = 0; i < n; ++i) d[i] = g[i] * py[i] * (1.0f - py[i]);
  } else if (kind == "tanh") {
    for (int64_t i = 0; i < n; ++i) d[i] = g[i] * (1.0f - py[i] * py[i]);
  } else if (kind == "hard_swish") {
    for (int64_t i = 0; i < n; ++i) d[i] = px[i] < -3.0f ? 0.0f : px[i] > 3.0f ? g[i] : g[i] * (2.0f * px[i] + 3.0f) / 6.0f;
  } else if (kind == "hard_sigmoid") {
    for (int64_t i = 0; i < n; ++i) {
      const float t = alpha * px[i] + beta;
      d[i] = t > 0.0f && t < 1.0f ? g[i] * alpha : 0.0f;
    }
  } else if (kind == "elu") {
    for (int64_t i = 0; i < n; ++i) d[i] = px[i] > 0 ? g[i] : g[i] * alpha * std::exp(px[i]);
  } else if (kind == "softplus") {
    for (int64_t i = 0; i < n; ++i) d[i] = g[i] / (1.0f + std::exp(-px[i]));
  } else {
    return ctx.error("unknown activation kind '{}'", kind);
  }
  return ok_status();
}

Status run_gather_grad(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* ind, ctx.required_input(2));
  if (dy->dtype() != DataType::kFloat32) return ctx.error("gradients are float32, got {}", dy->type_string());
  if (ind->dtype() != DataType::kInt64 && ind->dtype() != DataType::kInt32) return ctx.error("indices must be int32/int64");
  int64_t axis = ctx.node().attr_int("axis", 0);
  if (axis < 0) axis += x->rank();
  if (axis < 0 || axis >= x->rank()) return ctx.error("axis out of range for {}", x->type_string());
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x->dim(i);
  for (int64_t i = axis + 1; i < x->rank(); ++i) inner *= x->dim(i);
  const int64_t ax = x->dim(axis), ni = ind->numel();
  if (dy->numel() != outer * ni * inner) return ctx.error("output gradient {} does not match Gather of {}", dy->type_string(), x->type_string());
  PARE_ASSIGN_OR_RETURN(Tensor * dx, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
  for (int64_t k = 0; k < ni; ++k) {
    int64_t j = ind->dtype() == DataType::kInt64 ? ind->data<int64_t>()[k] : ind->data<int32_t>()[k];
    if (j < 0) j += ax;
    if (j < 0 || j >= ax) return ctx.error("index {} out of range [0, {})", j, ax);
    for (int64_t o = 0; o < outer; ++o) {
      const float* src = dy->data<float>() + (o * ni + k) * inner;
      float* dst = dx->data<float>() + (o * ax + j) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
  }
  return ok_status();
}

Status run_concat_grad(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(0));
  if (dy->dtype() != DataType::kFloat32) return ctx.error("gradients are float32, got {}", dy->type_string());
  int64_t axis = ctx.node().attr_int("axis", 0);
  if (axis < 0) axis += dy->rank();
  if (axis < 0 || axis >= dy->rank()) return ctx.error("axis out of range for {}", dy->type_string());
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= dy->dim(i);
  for (int64_t i = axis + 1; i < dy->rank(); ++i) inner *= dy->dim(i);
  int64_t start = 0;
  for (size_t k = 1; k < ctx.num_inputs(); ++k) {
    PARE_ASSIGN_OR_RETURN(const Tensor* xk, ctx.required_input(k));
    if (xk->rank() != dy->rank()) return ctx.error("input {} rank differs from {}", xk->type_string(), dy->type_string());
    const int64_t e = xk->dim(axis);
    if (start + e > dy->dim(axis)) return ctx.error("inputs exceed the gradient's extent {}", dy->dim(axis));
    if (ctx.output_requested(k - 1)) {
      PARE_ASSIGN_OR_RETURN(Tensor * d, ctx.allocate_output(k - 1, DataType::kFloat32, xk->shape()));
      for (int64_t o = 0; o < outer; ++o) {
        std::copy_n(dy->data<float>() + (o * dy->dim(axis) + start) * inner, e * inner, d->data<float>() + o * e * inner);
      }
    }
    start += e;
  }
  return ok_status();
}

Status run_slice_grad(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(1));
  if (dy->dtype() != DataType::kFloat32) return ctx.error("gradients are float32, got {}", dy->type_string());
  const int64_t r = x->rank();
  auto ints = [&](size_t i, const char* attr, std::vector<int64_t> def) -> Result<std::vector<int64_t>> {
    if (const Tensor* t = ctx.input(i)) return t->to_int64_vector(attr);
    return ctx.node().attr_ints(attr, std::move(def));
  };
  PARE_ASSIGN_OR_RETURN(auto starts, ints(2, "starts", {}));
  PARE_ASSIGN_OR_RETURN(auto ends, ints(3, "ends", {}));
  std::vector<int64_t> all(starts.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  PARE_ASSIGN_OR_RETURN(auto axes, ints(4, "axes", all));
  PARE_ASSIGN_OR_RETURN(auto steps, ints(5, "steps", std::vector<int64_t>(starts.size(), 1)));
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) return ctx.error("starts/ends/axes/steps lengths differ");
  std::vector<int64_t> st(r, 0), sp(r, 1), cnt(x->shape().begin(), x->shape().end());
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
    if (a < 0 || a >= r || steps[i] == 0) return ctx.error("invalid axis or step");
    const int64_t d = x->dim(a), step = steps[i];
    int64_t s = starts[i] < 0 ? starts[i] + d : starts[i], e = ends[i] < 0 ? ends[i] + d : ends[i];
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      cnt[a] = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      cnt[a] = s > e ? (s - e - step - 1) / (-step) : 0;
    }
    st[a] = s;
    sp[a] = step;
  }
  int64_t n = 1;
  for (int64_t c : cnt) n *= c;
  if (dy->numel() != n) return ctx.error("output gradient {} does not match the slice of {}", dy->type_string(), x->type_string());
  PARE_ASSIGN_OR_RETURN(Tensor * dx, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
  std::vector<int64_t> idx(r, 0), xstride(r, 1);
  for (int64_t i = r - 2; i >= 0; --i) xstride[i] = xstride[i + 1] * x->dim(i + 1);
  for (int64_t e = 0; e < n; ++e) {
    int64_t off = 0;
    for (int64_t i = 0; i < r; ++i) off += (st[i] + idx[i] * sp[i]) * xstride[i];
    dx->data<float>()[off] += dy->data<float>()[e];
    for (int64_t i = r - 1; i >= 0; --i) {
      if (++idx[i] < cnt[i]) break;
      idx[i] = 0;
    }
  }
  return ok_status();
}

}  // namespace

void register_ReduceGrad(KernelRegistry& r) { add_fn<run_reduce_grad>(r, "ReduceGrad", 1, kMaxOpset, kPareDomain); }
void register_ActivationGrad(KernelRegistry& r) { add_fn<run_activation_grad>(r, "ActivationGrad", 1, kMaxOpset, kPareDomain); }
void register_GatherGrad(KernelRegistry& r) { add_fn<run_gather_grad>(r, "GatherGrad", 1, kMaxOpset, kPareDomain); }
void register_ConcatGrad(KernelRegistry& r) { add_fn<run_concat_grad>(r, "ConcatGrad", 1, kMaxOpset, kPareDomain); }
void register_SliceGrad(KernelRegistry& r) { add_fn<run_slice_grad>(r, "SliceGrad", 1, kMaxOpset, kPareDomain); }

}  // namespace pare::ops
