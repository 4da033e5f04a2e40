// com.pare.FusedConvDw(X, W, B?, DW, DB?) → Y: a pointwise (1×1) convolution and the 3×3
// depthwise convolution that consumes it, as one op (MobileNet/EfficientNet inverted-residual
// blocks: expand → depthwise), made by passes/fuse_conv_depthwise.cc from two FusedConvs:
//   M = act(Conv(X, W, B))                       W [C, Cin, 1, 1], stride 1, no padding
//   Y = dw_act(Conv(M, DW, DB; group C, pads 1, strides dw_stride))    DW [C, 1, 3, 3]
// so that the fast kernel can fuse them (oneDNN's depthwise post-op) and M — the block's
// widest tensor — is never written out whole. Attributes: `activation`/`activation_params`
// (of M), `dw_stride` (1 or 2), `dw_activation`/`dw_activation_params`, `input_block`
// (X blocked, 0: plain) and `output_block` (Y blocked; ops/fused/blocked.h).
// The reference runs the parts: the reference Conv for M, the activation, and a direct
// depthwise loop accumulating in double.
#include "ops/fused/activation.h"
#include "ops/fused/blocked.h"
#include "ops/fused/inner_kernel.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

class FusedConvDw final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<FusedConvDw>();
    const ir::Node& n = init.node;
    PARE_ASSIGN_OR_RETURN(k->act_, parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    PARE_ASSIGN_OR_RETURN(k->dw_act_, parse_activation(n.attr_string("dw_activation", ""), n.attr_floats("dw_activation_params")));
    k->in_block_ = n.attr_int("input_block", 0);
    k->out_block_ = n.attr_int("output_block", 0);
    k->stride_ = n.attr_int("dw_stride", 1);
    if (k->in_block_ < 0 || k->in_block_ > 64 || k->out_block_ < 0 || k->out_block_ > 64) {
      return invalid_input("{}: input_block/output_block must be in [0, 64]", n.describe());
    }
    if (k->stride_ != 1 && k->stride_ != 2) return invalid_input("{}: dw_stride must be 1 or 2, got {}", n.describe(), k->stride_);
    PARE_ASSIGN_OR_RETURN(k->conv_, InnerKernel::create(init, "Conv", 3, {}));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* w, ctx.required_input(1));
    PARE_ASSIGN_OR_RETURN(const Tensor* dw, ctx.required_input(3));
    const Tensor* db = ctx.input(4);
    if (x->dtype() != DataType::kFloat32 || w->rank() != 4 || w->dim(2) != 1 || w->dim(3) != 1) {
      return ctx.error("expects a float input and 1×1 weights [C, Cin, 1, 1], got {} and {}", x->type_string(), w->type_string());
    }
    const int64_t c = w->dim(0);
    if (dw->dtype() != DataType::kFloat32 || dw->shape() != Shape{c, 1, 3, 3}) {
      return ctx.error("depthwise weights must be float[{}, 1, 3, 3], got {}", c, dw->type_string());
    }
    if (db && (db->dtype() != DataType::kFloat32 || db->shape() != Shape{c})) {
      return ctx.error("depthwise bias must be float[{}], got {}", c, db->type_string());
    }
    RunValue xv = ctx.input_value(0);
    if (in_block_ > 0) {
      PARE_ASSIGN_OR_RETURN(Tensor plain, to_plain(*x, w->dim(1)));
      xv = RunValue(std::move(plain));
    }
    PARE_ASSIGN_OR_RETURN(Tensor m, conv_.run(ctx, {&xv, &ctx.input_value(1), &ctx.input_value(2)}));
    float* pmw = m.data<float>();
    for (int64_t i = 0; i < m.numel(); ++i) pmw[i] = static_cast<float>(apply_activation(act_, pmw[i]));
    const int64_t n = m.dim(0), h = m.dim(2), wd = m.dim(3);
    const int64_t ho = h > 0 ? (h - 1) / stride_ + 1 : 0, wo = wd > 0 ? (wd - 1) / stride_ + 1 : 0;  // pads 1, kernel 3
    PARE_ASSIGN_OR_RETURN(Tensor y, Tensor::create(DataType::kFloat32, {n, c, ho, wo}));
    const float* pm = m.data<float>();
    const float* pk = dw->data<float>();
    float* py = y.data<float>();
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const float* plane = pm + (b * c + ch) * h * wd;
        for (int64_t oy = 0; oy < ho; ++oy) {
          for (int64_t ox = 0; ox < wo; ++ox) {
            double acc = db ? db->data<float>()[ch] : 0.0;
            for (int64_t ky = 0; ky < 3; ++ky) {
              const int64_t iy = oy * stride_ + ky - 1;
              if (iy < 0 || iy >= h) continue;
              for (int64_t kx = 0; kx < 3; ++kx) {
                const int64_t ix = ox * stride_ + kx - 1;
                if (ix < 0 || ix >= wd) continue;
                acc += double(plane[iy * wd + ix]) * double(pk[ch * 9 + ky * 3 + kx]);
              }
            }
            py[((b * c + ch) * ho + oy) * wo + ox] = static_cast<float>(apply_activation(dw_act_, acc));
          }
        }
      }
    }
    if (out_block_ > 0) {
      PARE_ASSIGN_OR_RETURN(y, to_blocked(y, out_block_));
    }
    ctx.set_output(0, RunValue(std::move(y)));
    return ok_status();
  }

 private:
  ActivationSpec act_, dw_act_;
  int64_t in_block_ = 0, out_block_ = 0, stride_ = 1;
  InnerKernel conv_;
};

}  // namespace

void register_FusedConvDw(KernelRegistry& r) { r.add({"FusedConvDw", kPareDomain, 1, kMaxOpset, &make_kernel<FusedConvDw>}); }

}  // namespace pare::ops
