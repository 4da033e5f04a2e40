// Conv (opset 1, 11): y[n, m, o…] = b[m] + Σ_{c ∈ group(m), k…} x[n, c, o·s + k·d − pad] · w[m, c', k…]
// N-D, groups, dilations, strides, explicit pads or auto_pad (SAME_UPPER / SAME_LOWER / VALID);
// kernel_shape inferred from W. Accumulates in double: this is the oracle for fast kernels.
#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

class Conv final : public Kernel {
 public:
  explicit Conv(const KernelInit& init) : n_(init.node) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* w, ctx.required_input(1));
    const Tensor* b = ctx.input(2);
    if (x->rank() < 3 || w->rank() != x->rank()) return ctx.error("input {} and weights {} must have the same rank ≥ 3", x->type_string(), w->type_string());
    if (x->dtype() != w->dtype() || (b && b->dtype() != x->dtype())) return ctx.error("input types differ");
    const size_t sp = static_cast<size_t>(x->rank() - 2);
    const int64_t group = n_.attr_int("group", 1);
    const int64_t cin = x->dim(1), m = w->dim(0);
    if (group < 1 || cin % group != 0 || m % group != 0 || w->dim(1) != cin / group) {
      return ctx.error("channels: input {} / group {} must equal weights' {} (weights {})", cin, group, w->dim(1), w->type_string());
    }
    if (b && (b->rank() != 1 || b->dim(0) != m)) return ctx.error("bias {} must be [{}]", b->type_string(), m);
    auto kernel = n_.attr_ints("kernel_shape", Shape(w->shape().begin() + 2, w->shape().end()));
    auto strides = n_.attr_ints("strides", std::vector<int64_t>(sp, 1));
    auto dil = n_.attr_ints("dilations", std::vector<int64_t>(sp, 1));
    auto pads = n_.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
    const std::string auto_pad = n_.attr_string("auto_pad", "NOTSET");
    if (kernel.size() != sp || strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp) {
      return ctx.error("kernel_shape/strides/dilations/pads do not match {} spatial dims", sp);
    }
    Shape ys{x->dim(0), m};
    std::vector<int64_t> pb(sp);
    for (size_t i = 0; i < sp; ++i) {
      if (kernel[i] != w->dim(static_cast<int64_t>(i) + 2) || strides[i] < 1 || dil[i] < 1 || pads[i] < 0 || pads[i + sp] < 0) {
        return ctx.error("invalid kernel_shape, strides, dilations or pads");
      }
      const int64_t in = x->dim(static_cast<int64_t>(i) + 2), k = dil[i] * (kernel[i] - 1) + 1, s = strides[i];
      int64_t out;
      if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        out = (in + s - 1) / s;
        const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
        pb[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      } else {
        pb[i] = auto_pad == "VALID" ? 0 : pads[i];
        const int64_t pe = auto_pad == "VALID" ? 0 : pads[i + sp];
        if (in + pb[i] + pe < k) return ctx.error("kernel {} larger than padded input {}", k, in + pb[i] + pe);
        out = (in + pb[i] + pe - k) / s + 1;
      }
      ys.push_back(out);
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
    int64_t out_sp = 1, in_sp = 1, k_sp = 1;
    for (size_t i = 0; i < sp; ++i) {
      out_sp *= ys[i + 2];
      in_sp *= x->dim(static_cast<int64_t>(i) + 2);
      k_sp *= kernel[i];
    }
    const int64_t cg = cin / group, mg = m / group;
    bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
      const T* px = x->data<T>();
      const T* pw = w->data<T>();
      T* py = y->data<T>();
      std::vector<int64_t> o(sp), kk(sp);
      for (int64_t nb = 0; nb < x->dim(0); ++nb) {
        for (int64_t oc = 0; oc < m; ++oc) {
          const int64_t g = oc / mg;
          for (int64_t oi = 0; oi < out_sp; ++oi) {
            int64_t r = oi;
            for (int64_t d = static_cast<int64_t>(sp) - 1; d >= 0; --d) {
              o[d] = r % ys[d + 2];
              r /= ys[d + 2];
            }
            double acc = b ? double(compute_t<T>(b->data<T>()[oc])) : 0.0;
            for (int64_t ki = 0; ki < k_sp; ++ki) {
              int64_t rk = ki, off = 0;
              bool inside = true;
              for (int64_t d = static_cast<int64_t>(sp) - 1; d >= 0; --d) {
                kk[d] = rk % kernel[d];
                rk /= kernel[d];
              }
              for (size_t d = 0; d < sp; ++d) {
                const int64_t pos = o[d] * strides[d] - pb[d] + kk[d] * dil[d];
                const int64_t extent = x->dim(static_cast<int64_t>(d) + 2);
                inside &= pos >= 0 && pos < extent;
                off = off * extent + pos;
              }
              if (!inside) continue;
              for (int64_t c = 0; c < cg; ++c) {
                const double xv = double(compute_t<T>(px[((nb * cin) + g * cg + c) * in_sp + off]));
                const double wv = double(compute_t<T>(pw[(oc * cg + c) * k_sp + ki]));
                acc += xv * wv;
              }
            }
            py[(nb * m + oc) * out_sp + oi] = static_cast<T>(static_cast<compute_t<T>>(acc));
          }
        }
      }
    });
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  const ir::Node& n_;
};

}  // namespace

void register_Conv(KernelRegistry& r) { r.add({"Conv", "", 1, kMaxOpset, &make_kernel<Conv>}); }

}  // namespace pare::ops
