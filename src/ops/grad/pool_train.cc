// Training-graph max pooling (com.pare), float32 2-D windows without dilation; the trainer
// uses it in place of MaxPool when the attributes allow:
//   MaxPoolTrain(X) → (Y, argmax) with MaxPool's attributes: Y as MaxPool (first maximum of
//     each window), argmax the int64 offset of that maximum inside its [H, W] plane (−1 for a
//     window entirely in padding);
//   MaxPoolScatter(X, dY, argmax) → dX: dY added at the argmax positions (its gradient).
#include <limits>

#include "ops/grad/geometry.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

class MaxPoolTrain final : public Kernel {
 public:
  explicit MaxPoolTrain(const KernelInit& init) : node_(init.node) {}
  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->dtype() != DataType::kFloat32 || x->rank() != 4) return ctx.error("expects float32 [N, C, H, W], got {}", x->type_string());
    PARE_ASSIGN_OR_RETURN(WindowAttrs a, WindowAttrs::from(node_, {}));
    if (a.kernel.size() != 2) return ctx.error("2-D windows only");
    const int64_t ih = x->dim(2), iw = x->dim(3), kh = a.kernel[0], kw = a.kernel[1], sh = a.strides[0], sw = a.strides[1];
    int64_t ph, pe_h, pw, pe_w;
    a.pads_for(0, ih, ph, pe_h);
    a.pads_for(1, iw, pw, pe_w);
    auto out_dim = [&](int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe) {
      const int64_t span = in + pb + pe - k;
      if (a.auto_pad == "SAME_UPPER" || a.auto_pad == "SAME_LOWER") return (in + s - 1) / s;
      int64_t o = (a.ceil_mode ? (span + s - 1) / s : span / s) + 1;
      if (a.ceil_mode && (o - 1) * s >= in + pb) --o;  // the last window must start inside
      return o;
    };
    const int64_t oh = out_dim(ih, kh, sh, ph, pe_h), ow = out_dim(iw, kw, sw, pw, pe_w);
    if (oh < 1 || ow < 1) return ctx.error("window larger than the padded input");
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, {x->dim(0), x->dim(1), oh, ow}));
    Tensor scratch;
    Tensor* idx = nullptr;
    if (ctx.output_requested(1)) {
      PARE_ASSIGN_OR_RETURN(idx, ctx.allocate_output(1, DataType::kInt64, {x->dim(0), x->dim(1), oh, ow}));
    }
    const int64_t planes = x->dim(0) * x->dim(1);
    const float* px = x->data<float>();
    float* py = y->data<float>();
    int64_t* pi = idx ? idx->data<int64_t>() : nullptr;
    for (int64_t p = 0; p < planes; ++p) {
      const float* xp = px + p * ih * iw;
      for (int64_t oy = 0; oy < oh; ++oy) {
        const int64_t y0 = std::max<int64_t>(0, oy * sh - ph), y1 = std::min(ih, oy * sh - ph + kh);
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t x0 = std::max<int64_t>(0, ox * sw - pw), x1 = std::min(iw, ox * sw - pw + kw);
          float best = -std::numeric_limits<float>::infinity();
          int64_t arg = -1;
          for (int64_t yy = y0; yy < y1; ++yy) {
            for (int64_t xx = x0; xx < x1; ++xx) {
              const float v = xp[yy * iw + xx];
              if (arg < 0 || v > best) best = v, arg = yy * iw + xx;
            }
          }
          const int64_t o = (p * oh + oy) * ow + ox;
          py[o] = best;
          if (pi) pi[o] = arg;
        }
      }
    }
    return ok_status();
  }

 private:
  const ir::Node& node_;
};

Status run_max_pool_scatter(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(1));
  PARE_ASSIGN_OR_RETURN(const Tensor* idx, ctx.required_input(2));
  if (x->rank() != 4 || dy->rank() != 4 || dy->dtype() != DataType::kFloat32 || idx->dtype() != DataType::kInt64 || idx->shape() != dy->shape() ||
      dy->dim(0) != x->dim(0) || dy->dim(1) != x->dim(1)) {
    return ctx.error("expects X [N, C, H, W], float dY and int64 argmax of one shape; got {}, {}, {}", x->type_string(), dy->type_string(),
                     idx->type_string());
  }
  PARE_ASSIGN_OR_RETURN(Tensor * dx, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
  const int64_t planes = x->dim(0) * x->dim(1), in = x->dim(2) * x->dim(3), out = dy->dim(2) * dy->dim(3);
  for (int64_t p = 0; p < planes; ++p) {
    float* d = dx->data<float>() + p * in;
    const float* g = dy->data<float>() + p * out;
    const int64_t* a = idx->data<int64_t>() + p * out;
    for (int64_t o = 0; o < out; ++o) {
      if (a[o] >= in) return ctx.error("argmax {} out of range", a[o]);
      if (a[o] >= 0) d[a[o]] += g[o];
    }
  }
  return ok_status();
}

}  // namespace

void register_MaxPoolTrain(KernelRegistry& r) { r.add({"MaxPoolTrain", kPareDomain, 1, kMaxOpset, &make_kernel<MaxPoolTrain>}); }
void register_MaxPoolScatter(KernelRegistry& r) { add_fn<run_max_pool_scatter>(r, "MaxPoolScatter", 1, kMaxOpset, kPareDomain); }

}  // namespace pare::ops
