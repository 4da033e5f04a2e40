// Reference backward kernels of windowed ops (domain com.pare), float32, 1-D and 2-D:
//   ConvGrad(X, W, dY) → (dX, dW, dB) with Conv's attributes (groups, depthwise, strides,
//     pads / auto_pad, dilations):  dX[n,c,i] = Σ dY[n,m,o]·W[m,c',k] over o·s + k·d − p = i,
//     dW[m,c',k] = Σ dY[n,m,o]·X[n,c,o·s + k·d − p],  dB[m] = Σ dY[n,m,o].
//   PoolGrad(X, dY) → dX with MaxPool's / AveragePool's attributes and mode "max" | "avg":
//     max routes each dY to the first maximum of its window; avg spreads dY / count.
// Plain loops in double: these are the oracle for the oneDNN ConvGrad (kernels/onednn).
#include <cmath>
#include <limits>

#include "ops/grad/geometry.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

// Geometry of a 1-D or 2-D window op, 1-D seen as H = 1.
struct Geo2 {
  int64_t n = 0, c = 0, ih = 1, iw = 1, oh = 1, ow = 1, kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0, pe_h = 0, pe_w = 0;
};

Status make_geo(const KernelContext& ctx, const WindowAttrs& a, const Tensor& x, const Tensor& dy, Geo2& g) {
  const size_t sp = a.kernel.size();
  if (sp < 1 || sp > 2 || x.rank() != static_cast<int64_t>(sp) + 2 || dy.rank() != x.rank()) {
    return ctx.error("gradient supports 1-D and 2-D windows only; got input {} and output gradient {}", x.type_string(), dy.type_string());
  }
  g.n = x.dim(0);
  g.c = x.dim(1);
  int64_t pb, pe;
  if (sp == 2) {
    g.ih = x.dim(2), g.iw = x.dim(3), g.oh = dy.dim(2), g.ow = dy.dim(3);
    g.kh = a.kernel[0], g.kw = a.kernel[1], g.sh = a.strides[0], g.sw = a.strides[1];
    g.dh = a.dilations[0], g.dw = a.dilations[1];
    a.pads_for(0, g.ih, pb, pe);
    g.ph = pb, g.pe_h = pe;
    a.pads_for(1, g.iw, pb, pe);
    g.pw = pb, g.pe_w = pe;
  } else {
    g.iw = x.dim(2), g.ow = dy.dim(2), g.kw = a.kernel[0], g.sw = a.strides[0], g.dw = a.dilations[0];
    a.pads_for(0, g.iw, pb, pe);
    g.pw = pb, g.pe_w = pe;
  }
  if (dy.dim(0) != g.n) return ctx.error("batch of output gradient {} differs from input {}", dy.type_string(), x.type_string());
  return ok_status();
}

class ConvGrad final : public Kernel {
 public:
  explicit ConvGrad(const KernelInit& init) : node_(init.node) {}
  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* w, ctx.required_input(1));
    PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(2));
    if (x->dtype() != DataType::kFloat32 || w->dtype() != DataType::kFloat32 || dy->dtype() != DataType::kFloat32) {
      return ctx.error("gradients are computed in float32 only");
    }
    if (w->rank() != x->rank()) return ctx.error("weights {} and input {} ranks differ", w->type_string(), x->type_string());
    PARE_ASSIGN_OR_RETURN(WindowAttrs a, WindowAttrs::from(node_, Shape(w->shape().begin() + 2, w->shape().end())));
    Geo2 g;
    PARE_RETURN_IF_ERROR(make_geo(ctx, a, *x, *dy, g));
    const int64_t m = w->dim(0), group = a.group;
    if (g.c % group || m % group || w->dim(1) != g.c / group || dy->dim(1) != m) {
      return ctx.error("channels do not match: input {}, weights {}, group {}, output gradient {}", x->type_string(), w->type_string(), group,
                       dy->type_string());
    }
    const int64_t cg = g.c / group, mg = m / group;
    std::vector<double> dx(static_cast<size_t>(x->numel()), 0.0), dw(static_cast<size_t>(w->numel()), 0.0), db(static_cast<size_t>(m), 0.0);
    const float* px = x->data<float>();
    const float* pw = w->data<float>();
    const float* pdy = dy->data<float>();
    for (int64_t nb = 0; nb < g.n; ++nb) {
      for (int64_t oc = 0; oc < m; ++oc) {
        const int64_t c0 = (oc / mg) * cg;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const double gy = pdy[((nb * m + oc) * g.oh + oy) * g.ow + ox];
            db[oc] += gy;
            for (int64_t ic = 0; ic < cg; ++ic) {
              for (int64_t ky = 0; ky < g.kh; ++ky) {
                const int64_t iy = oy * g.sh + ky * g.dh - g.ph;
                if (iy < 0 || iy >= g.ih) continue;
                for (int64_t kx = 0; kx < g.kw; ++kx) {
                  const int64_t ix = ox * g.sw + kx * g.dw - g.pw;
                  if (ix < 0 || ix >= g.iw) continue;
                  const int64_t xi = ((nb * g.c + c0 + ic) * g.ih + iy) * g.iw + ix;
                  const int64_t wi = ((oc * cg + ic) * g.kh + ky) * g.kw + kx;
                  dw[wi] += gy * px[xi];
                  dx[xi] += gy * pw[wi];
                }
              }
            }
          }
        }
      }
    }
    auto store = [&](size_t i, const Shape& s, const std::vector<double>& v) -> Status {
      if (!ctx.output_requested(i)) return ok_status();
      PARE_ASSIGN_OR_RETURN(Tensor * t, ctx.allocate_output(i, DataType::kFloat32, s));
      for (size_t j = 0; j < v.size(); ++j) t->data<float>()[j] = static_cast<float>(v[j]);
      return ok_status();
    };
    PARE_RETURN_IF_ERROR(store(0, x->shape(), dx));
    PARE_RETURN_IF_ERROR(store(1, w->shape(), dw));
    return store(2, {m}, db);
  }

 private:
  const ir::Node& node_;
};

class PoolGrad final : public Kernel {
 public:
  explicit PoolGrad(const KernelInit& init) : node_(init.node) {}
  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(1));
    if (x->dtype() != DataType::kFloat32 || dy->dtype() != DataType::kFloat32) return ctx.error("gradients are computed in float32 only");
    PARE_ASSIGN_OR_RETURN(WindowAttrs a, WindowAttrs::from(node_, {}));
    Geo2 g;
    PARE_RETURN_IF_ERROR(make_geo(ctx, a, *x, *dy, g));
    if (dy->dim(1) != g.c) return ctx.error("channels of output gradient {} differ from input {}", dy->type_string(), x->type_string());
    const bool max = node_.attr_string("mode", "max") == "max";
    const bool include_pad = node_.attr_int("count_include_pad", 0) != 0;
    PARE_ASSIGN_OR_RETURN(Tensor * dx, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
    const float* px = x->data<float>();
    const float* pdy = dy->data<float>();
    float* pdx = dx->data<float>();
    const int64_t planes = g.n * g.c;
#pragma omp parallel for num_threads(ctx.num_threads()) if (planes > 1)
    for (int64_t p = 0; p < planes; ++p) {
      const float* xp = px + p * g.ih * g.iw;
      float* dxp = pdx + p * g.ih * g.iw;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const float gy = pdy[(p * g.oh + oy) * g.ow + ox];
          if (max) {
            int64_t best = -1;
            float bv = -std::numeric_limits<float>::infinity();
            for (int64_t ky = 0; ky < g.kh; ++ky) {
              const int64_t iy = oy * g.sh + ky * g.dh - g.ph;
              if (iy < 0 || iy >= g.ih) continue;
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t ix = ox * g.sw + kx * g.dw - g.pw;
                if (ix < 0 || ix >= g.iw) continue;
                if (best < 0 || xp[iy * g.iw + ix] > bv) bv = xp[iy * g.iw + ix], best = iy * g.iw + ix;
              }
            }
            if (best >= 0) dxp[best] += gy;
          } else {
            int64_t count = 0;
            for (int64_t ky = 0; ky < g.kh; ++ky) {
              const int64_t iy = oy * g.sh + ky * g.dh - g.ph;
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t ix = ox * g.sw + kx * g.dw - g.pw;
                const bool inside = iy >= 0 && iy < g.ih && ix >= 0 && ix < g.iw;
                const bool in_padded = iy >= -g.ph && iy < g.ih + g.pe_h && ix >= -g.pw && ix < g.iw + g.pe_w;
                count += include_pad ? in_padded : inside;
              }
            }
            if (count == 0) continue;
            const float share = gy / static_cast<float>(count);
            for (int64_t ky = 0; ky < g.kh; ++ky) {
              const int64_t iy = oy * g.sh + ky * g.dh - g.ph;
              if (iy < 0 || iy >= g.ih) continue;
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t ix = ox * g.sw + kx * g.dw - g.pw;
                if (ix >= 0 && ix < g.iw) dxp[iy * g.iw + ix] += share;
              }
            }
          }
        }
      }
    }
    return ok_status();
  }

 private:
  const ir::Node& node_;
};

}  // namespace

void register_ConvGrad(KernelRegistry& r) { r.add({"ConvGrad", kPareDomain, 1, kMaxOpset, &make_kernel<ConvGrad>}); }
void register_PoolGrad(KernelRegistry& r) { r.add({"PoolGrad", kPareDomain, 1, kMaxOpset, &make_kernel<PoolGrad>}); }

}  // namespace pare::ops
