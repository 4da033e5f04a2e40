// ConvTranspose (1, 11): the adjoint of Conv — each input pixel scatters x·W into the output:
//   y[n, g·M/G + m, o…] += x[n, c, i…] · w[c, m, k…],  o = i·s + k·d − pad_begin
// Output extent: s·(in − 1) + out_pad + d·(k − 1) + 1 − pads, or `output_shape` (pads then
// derived, SAME_UPPER splitting the extra at the end). Groups; optional bias.
#include "core/dispatch.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

class ConvTranspose final : public Kernel {
 public:
  explicit ConvTranspose(const KernelInit& init) : n_(init.node) {}

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* w, ctx.required_input(1));
    const Tensor* b = ctx.input(2);
    if (x->rank() < 3 || w->rank() != x->rank()) return ctx.error("X {} and W {} must have the same rank ≥ 3", x->type_string(), w->type_string());
    const size_t sp = static_cast<size_t>(x->rank() - 2);
    const int64_t group = n_.attr_int("group", 1), cin = x->dim(1);
    if (group < 1 || w->dim(0) != cin || cin % group != 0) return ctx.error("W {} does not match {} input channels / group {}", w->type_string(), cin, group);
    const int64_t mg = w->dim(1), m = mg * group;
    if (b && b->numel() != m) return ctx.error("bias must have {} values", m);
    auto kernel = n_.attr_ints("kernel_shape", Shape(w->shape().begin() + 2, w->shape().end()));
    auto strides = n_.attr_ints("strides", std::vector<int64_t>(sp, 1));
    auto dil = n_.attr_ints("dilations", std::vector<int64_t>(sp, 1));
    auto pads = n_.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
    auto out_pad = n_.attr_ints("output_padding", std::vector<int64_t>(sp, 0));
    auto out_shape = n_.attr_ints("output_shape");
    const std::string auto_pad = n_.attr_string("auto_pad", "NOTSET");
    if (kernel.size() != sp || strides.size() != sp || dil.size() != sp || pads.size() != 2 * sp || out_pad.size() != sp) {
      return ctx.error("attributes do not match {} spatial dims", sp);
    }
    if (!out_shape.empty() && out_shape.size() == sp + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
    Shape ys{x->dim(0), m};
    std::vector<int64_t> pb(sp);
    for (size_t i = 0; i < sp; ++i) {
      if (strides[i] < 1 || dil[i] < 1 || kernel[i] != w->dim(static_cast<int64_t>(i) + 2)) return ctx.error("invalid strides, dilations or kernel_shape");
      const int64_t in = x->dim(static_cast<int64_t>(i) + 2);
      const int64_t full = strides[i] * (in - 1) + out_pad[i] + dil[i] * (kernel[i] - 1) + 1;
      int64_t out;
      if (!out_shape.empty()) {
        if (out_shape.size() != sp) return ctx.error("output_shape has {} dims for {}", out_shape.size(), sp);
        out = out_shape[i];
        const int64_t total = full - out;
        // ONNX: with output_shape the odd extra padding goes at the end unless SAME_LOWER.
        pb[i] = auto_pad == "SAME_LOWER" ? total - total / 2 : total / 2;
      } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        out = in * strides[i];
        const int64_t total = std::max<int64_t>(full - out, 0);
        pb[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      } else {
        pb[i] = auto_pad == "VALID" ? 0 : pads[i];
        out = full - (auto_pad == "VALID" ? 0 : pads[i] + pads[i + sp]);
      }
      if (out < 0) return ctx.error("negative output extent");
      ys.push_back(out);
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
    int64_t in_sp = 1, out_sp = 1, k_sp = 1;
    for (size_t i = 0; i < sp; ++i) {
      in_sp *= x->dim(static_cast<int64_t>(i) + 2);
      out_sp *= ys[i + 2];
      k_sp *= kernel[i];
    }
    const int64_t cg = cin / group;
    bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
      std::vector<double> acc(static_cast<size_t>(y->numel()), 0.0);
      std::vector<int64_t> ic(sp), kc(sp);
      for (int64_t nb = 0; nb < x->dim(0); ++nb) {
        for (int64_t c = 0; c < cin; ++c) {
          const int64_t g = c / cg;
          for (int64_t ii = 0; ii < in_sp; ++ii) {
            int64_t r = ii;
            for (int64_t d = static_cast<int64_t>(sp) - 1; d >= 0; --d) {
              ic[d] = r % x->dim(d + 2);
              r /= x->dim(d + 2);
            }
            const double xv = compute_t<T>(x->data<T>()[(nb * cin + c) * in_sp + ii]);
            for (int64_t ki = 0; ki < k_sp; ++ki) {
              int64_t rk = ki, off = 0;
              bool inside = true;
              for (int64_t d = static_cast<int64_t>(sp) - 1; d >= 0; --d) {
                kc[d] = rk % kernel[d];
                rk /= kernel[d];
              }
              for (size_t d = 0; d < sp; ++d) {
                const int64_t o = ic[d] * strides[d] + kc[d] * dil[d] - pb[d];
                inside &= o >= 0 && o < ys[d + 2];
                off = off * ys[d + 2] + o;
              }
              if (!inside) continue;
              for (int64_t mo = 0; mo < mg; ++mo) {
                const double wv = compute_t<T>(w->data<T>()[(c * mg + mo) * k_sp + ki]);
                acc[(nb * m + g * mg + mo) * out_sp + off] += xv * wv;
              }
            }
          }
        }
      }
      for (int64_t i = 0; i < y->numel(); ++i) {
        const int64_t ch = (i / out_sp) % m;
        y->data<T>()[i] = static_cast<T>(static_cast<compute_t<T>>(acc[i] + (b ? b->float_at(ch) : 0.0)));
      }
    });
    if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
    return ok_status();
  }

 private:
  const ir::Node& n_;
};

}  // namespace

void register_ConvTranspose(KernelRegistry& r) { r.add({"ConvTranspose", "", 1, kMaxOpset, &make_kernel<ConvTranspose>}); }

}  // namespace pare::ops
