// Reference training kernels (domain com.pare), float32:
//   BatchNormTrain(X, scale, B) → (Y, mean, var): batch statistics over all axes but 1,
//     Y = (X − mean)/√(var + ε)·scale + B with the biased variance; the var output is the
//     unbiased one (M/(M−1)), which the trainer folds into the running variance as PyTorch does.
//   BatchNormGrad(X, scale, dY[, mean, var]) → (dX, dScale, dB), attr training: with batch
//     statistics  dX = scale·inv/M·(M·dY − ΣdY − x̂·Σ(dY·x̂)); else (running mean/var inputs)
//     dX = dY·scale·inv.  dScale = Σ dY·x̂, dB = Σ dY.
//   LayerNormGrad(X, scale, dY) → (dX, dScale, dB), attrs axis, epsilon: normalization over
//     the trailing dims from axis; dX = inv·(g − mean(g) − x̂·mean(g·x̂)), g = dY·scale.
//   SoftmaxGrad(Y, dY) attr axis, log: softmax  dX = Y·(dY − Σ dY·Y);
//     log-softmax  dX = dY − exp(Y)·Σ dY (sums over `axis`).
//   DropoutTrain(X, seed) → (Y, mask), attr ratio: mask ∈ {0, 1/(1−ratio)} from a
//     splitmix64 stream keyed by the int64 seed; Y = X·mask.
#include <algorithm>
#include <cmath>

#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

Status need_f32(const KernelContext& ctx, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) {
    if (t && t->dtype() != DataType::kFloat32) return ctx.error("training kernels take float32, got {}", t->type_string());
  }
  return ok_status();
}

// [outer, C, inner] view of X with channels on axis 1.
struct ChannelView {
  int64_t outer, c, inner;
  explicit ChannelView(const Tensor& x) : outer(x.dim(0)), c(x.rank() > 1 ? x.dim(1) : 1), inner(1) {
    for (int64_t i = 2; i < x.rank(); ++i) inner *= x.dim(i);
  }
  int64_t at(int64_t o, int64_t ch, int64_t i) const { return (o * c + ch) * inner + i; }
};

Status run_bn_train(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* scale, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* bias, ctx.required_input(2));
  PARE_RETURN_IF_ERROR(need_f32(ctx, {x, scale, bias}));
  if (x->rank() < 2) return ctx.error("input {} must have rank ≥ 2", x->type_string());
  ChannelView v(*x);
  if (scale->numel() != v.c || bias->numel() != v.c) return ctx.error("scale/bias must have {} elements", v.c);
  const double eps = ctx.node().attr_float("epsilon", 1e-5f);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
  Tensor mean_t, var_t;
  const int64_t M = v.outer * v.inner;
  if (M == 0) return ctx.error("empty batch");
  std::vector<float> means(v.c), vars(v.c);
  const float* px = x->data<float>();
  float* py = y->data<float>();
#pragma omp parallel for num_threads(ctx.num_threads())
  for (int64_t ch = 0; ch < v.c; ++ch) {
    double s = 0, s2 = 0;
    for (int64_t o = 0; o < v.outer; ++o) {
      const float* p = px + v.at(o, ch, 0);
      for (int64_t i = 0; i < v.inner; ++i) s += p[i];
    }
    const double mean = s / M;
    for (int64_t o = 0; o < v.outer; ++o) {
      const float* p = px + v.at(o, ch, 0);
      for (int64_t i = 0; i < v.inner; ++i) s2 += (p[i] - mean) * (p[i] - mean);
    }
    const double var = s2 / M;
    means[ch] = static_cast<float>(mean);
    vars[ch] = static_cast<float>(M > 1 ? s2 / (M - 1) : var);
    const float k = static_cast<float>(scale->data<float>()[ch] / std::sqrt(var + eps));
    const float b = static_cast<float>(bias->data<float>()[ch] - mean * k);
    for (int64_t o = 0; o < v.outer; ++o) {
      const float* p = px + v.at(o, ch, 0);
      float* q = py + v.at(o, ch, 0);
      for (int64_t i = 0; i < v.inner; ++i) q[i] = p[i] * k + b;
    }
  }
  for (size_t oi = 1; oi <= 2; ++oi) {
    if (!ctx.output_requested(oi)) continue;
    PARE_ASSIGN_OR_RETURN(Tensor * t, ctx.allocate_output(oi, DataType::kFloat32, {v.c}));
    std::copy_n((oi == 1 ? means : vars).data(), v.c, t->data<float>());
  }
  return ok_status();
}

Status run_bn_grad(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* scale, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(2));
  const bool training = ctx.node().attr_int("training", 1) != 0;
  const Tensor* rmean = ctx.input(3);
  const Tensor* rvar = ctx.input(4);
  PARE_RETURN_IF_ERROR(need_f32(ctx, {x, scale, dy, rmean, rvar}));
  if (x->rank() < 2 || dy->shape() != x->shape()) return ctx.error("input {} and output gradient {} differ", x->type_string(), dy->type_string());
  ChannelView v(*x);
  if (scale->numel() != v.c) return ctx.error("scale must have {} elements", v.c);
  if (!training && (!rmean || !rvar || rmean->numel() != v.c || rvar->numel() != v.c)) return ctx.error("running mean and var of {} elements are required", v.c);
  const double eps = ctx.node().attr_float("epsilon", 1e-5f);
  const int64_t M = v.outer * v.inner;
  Tensor* dx = nullptr;
  if (ctx.output_requested(0)) {
    PARE_ASSIGN_OR_RETURN(dx, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
  }
  std::vector<float> dscale(v.c), dbias(v.c);
  const float* px = x->data<float>();
  const float* pdy = dy->data<float>();
#pragma omp parallel for num_threads(ctx.num_threads())
  for (int64_t ch = 0; ch < v.c; ++ch) {
    double mean, var;
    if (training) {
      double s = 0, s2 = 0;
      for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t i = 0; i < v.inner; ++i) s += px[v.at(o, ch, i)];
      mean = s / M;
      for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t i = 0; i < v.inner; ++i) s2 += (px[v.at(o, ch, i)] - mean) * (px[v.at(o, ch, i)] - mean);
      var = s2 / M;
    } else {
      mean = rmean->data<float>()[ch];
      var = rvar->data<float>()[ch];
    }
    const double inv = 1.0 / std::sqrt(var + eps);
    double sdy = 0, sdyx = 0;
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const int64_t j = v.at(o, ch, i);
        sdy += pdy[j];
        sdyx += pdy[j] * (px[j] - mean) * inv;
      }
    }
    dscale[ch] = static_cast<float>(sdyx);
    dbias[ch] = static_cast<float>(sdy);
    if (!dx) continue;
    const double k = scale->data<float>()[ch] * inv;
    float* pdx = dx->data<float>();
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const int64_t j = v.at(o, ch, i);
        pdx[j] = training ? static_cast<float>(k * (pdy[j] - sdy / M - (px[j] - mean) * inv * sdyx / M)) : static_cast<float>(k * pdy[j]);
      }
    }
  }
  for (size_t oi = 1; oi <= 2; ++oi) {
    if (!ctx.output_requested(oi)) continue;
    PARE_ASSIGN_OR_RETURN(Tensor * t, ctx.allocate_output(oi, DataType::kFloat32, scale->shape()));
    std::copy_n((oi == 1 ? dscale : dbias).data(), v.c, t->data<float>());
  }
  return ok_status();
}

Status run_ln_grad(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* scale, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(2));
  PARE_RETURN_IF_ERROR(need_f32(ctx, {x, scale, dy}));
  if (dy->shape() != x->shape()) return ctx.error("input {} and output gradient {} differ", x->type_string(), dy->type_string());
  int64_t axis = ctx.node().attr_int("axis", -1);
  if (axis < 0) axis += x->rank();
  if (axis < 0 || axis >= x->rank()) return ctx.error("axis out of range for {}", x->type_string());
  const double eps = ctx.node().attr_float("epsilon", 1e-5f);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < x->rank(); ++i) (i < axis ? outer : inner) *= x->dim(i);
  if (scale->numel() != inner) return ctx.error("scale {} does not cover the normalized {} elements", scale->type_string(), inner);
  PARE_ASSIGN_OR_RETURN(Tensor * dx, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
  std::vector<double> dscale(inner, 0.0), dbias(inner, 0.0);
  const float* px = x->data<float>();
  const float* pdy = dy->data<float>();
  const float* ps = scale->data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    const float* xr = px + o * inner;
    const float* gr = pdy + o * inner;
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < inner; ++i) s += xr[i];
    const double mean = s / inner;
    for (int64_t i = 0; i < inner; ++i) s2 += (xr[i] - mean) * (xr[i] - mean);
    const double inv = 1.0 / std::sqrt(s2 / inner + eps);
    double mg = 0, mgx = 0;
    for (int64_t i = 0; i < inner; ++i) {
      const double xh = (xr[i] - mean) * inv, g = gr[i] * ps[i];
      mg += g;
      mgx += g * xh;
      dscale[i] += gr[i] * xh;
      dbias[i] += gr[i];
    }
    mg /= inner;
    mgx /= inner;
    float* dr = dx->data<float>() + o * inner;
    for (int64_t i = 0; i < inner; ++i) {
      const double xh = (xr[i] - mean) * inv;
      dr[i] = static_cast<float>(inv * (gr[i] * ps[i] - mg - xh * mgx));
    }
  }
  for (size_t oi = 1; oi <= 2; ++oi) {
    if (!ctx.output_requested(oi)) continue;
    PARE_ASSIGN_OR_RETURN(Tensor * t, ctx.allocate_output(oi, DataType::kFloat32, scale->shape()));
    for (int64_t i = 0; i < inner; ++i) t->data<float>()[i] = static_cast<float>((oi == 1 ? dscale : dbias)[i]);
  }
  return ok_status();
}

Status run_softmax_grad(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* y, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(1));
  PARE_RETURN_IF_ERROR(need_f32(ctx, {y, dy}));
  if (dy->shape() != y->shape() || y->rank() < 1) return ctx.error("output {} and its gradient {} differ", y->type_string(), dy->type_string());
  int64_t axis = ctx.node().attr_int("axis", -1);
  if (axis < 0) axis += y->rank();
  if (axis < 0 || axis >= y->rank()) return ctx.error("axis out of range for {}", y->type_string());
  const bool log = ctx.node().attr_int("log", 0) != 0;
  int64_t outer = 1, inner = 1;
  const int64_t n = y->dim(axis);
  for (int64_t i = 0; i < axis; ++i) outer *= y->dim(i);
  for (int64_t i = axis + 1; i < y->rank(); ++i) inner *= y->dim(i);
  PARE_ASSIGN_OR_RETURN(Tensor * dx, ctx.allocate_output(0, DataType::kFloat32, y->shape()));
  const float* py = y->data<float>();
  const float* pg = dy->data<float>();
  float* pd = dx->data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      const int64_t base = o * n * inner + in;
      double s = 0;
      for (int64_t k = 0; k < n; ++k) s += log ? pg[base + k * inner] : pg[base + k * inner] * py[base + k * inner];
      for (int64_t k = 0; k < n; ++k) {
        const int64_t j = base + k * inner;
        pd[j] = log ? static_cast<float>(pg[j] - std::exp(py[j]) * s) : static_cast<float>(py[j] * (pg[j] - s));
      }
    }
  }
  return ok_status();
}

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Status run_dropout_train(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* seed, ctx.required_input(1));
  PARE_RETURN_IF_ERROR(need_f32(ctx, {x}));
  if (seed->dtype() != DataType::kInt64 || seed->numel() != 1) return ctx.error("seed must be one int64, got {}", seed->type_string());
  const float ratio = ctx.node().attr_float("ratio", 0.5f);
  if (!(ratio >= 0.0f && ratio < 1.0f)) return ctx.error("ratio {} must be in [0, 1)", ratio);
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
  PARE_ASSIGN_OR_RETURN(Tensor * mask, ctx.allocate_output(1, DataType::kFloat32, x->shape()));
  uint64_t s = static_cast<uint64_t>(seed->data<int64_t>()[0]);
  const float keep = 1.0f / (1.0f - ratio);
  for (int64_t i = 0; i < x->numel(); ++i) {
    const double u = static_cast<double>(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
    const float m = u < ratio ? 0.0f : keep;
    mask->data<float>()[i] = m;
    y->data<float>()[i] = x->data<float>()[i] * m;
  }
  return ok_status();
}

}  // namespace

void register_BatchNormTrain(KernelRegistry& r) { add_fn<run_bn_train>(r, "BatchNormTrain", 1, kMaxOpset, kPareDomain); }
void register_BatchNormGrad(KernelRegistry& r) { add_fn<run_bn_grad>(r, "BatchNormGrad", 1, kMaxOpset, kPareDomain); }
void register_LayerNormGrad(KernelRegistry& r) { add_fn<run_ln_grad>(r, "LayerNormGrad", 1, kMaxOpset, kPareDomain); }
void register_SoftmaxGrad(KernelRegistry& r) { add_fn<run_softmax_grad>(r, "SoftmaxGrad", 1, kMaxOpset, kPareDomain); }
void register_DropoutTrain(KernelRegistry& r) { add_fn<run_dropout_train>(r, "DropoutTrain", 1, kMaxOpset, kPareDomain); }

}  // namespace pare::ops
