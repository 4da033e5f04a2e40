// com.pare.FusedConv(X, W, B?, Z?) → Y = act(Conv(X, W, B) + Z), made by
// passes/fuse_conv_activation.cc from Conv → [Add Z] → [activation]. Attributes: Conv's
// (auto_pad, dilations, group, kernel_shape, pads, strides), `activation` and
// `activation_params` (ops/fused/activation.h), `input_block` (X blocked by that many
// channels, 0: plain) and `output_block` (Y and Z blocked, 0: plain; ops/fused/blocked.h).
// The reference runs the parts: the reference Conv, the add, the activation in double.
#include "ops/fused/activation.h"
#include "ops/fused/blocked.h"
#include "ops/fused/inner_kernel.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

const std::vector<std::string> kConvAttrs = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"};

class FusedConv final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<FusedConv>();
    const ir::Node& n = init.node;
    PARE_ASSIGN_OR_RETURN(k->act_, parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    k->in_block_ = n.attr_int("input_block", 0);
    k->out_block_ = n.attr_int("output_block", 0);
    if (k->in_block_ < 0 || k->in_block_ > 64 || k->out_block_ < 0 || k->out_block_ > 64) {
      return invalid_input("{}: input_block/output_block must be in [0, 64]", n.describe());
    }
    PARE_ASSIGN_OR_RETURN(k->conv_, InnerKernel::create(init, "Conv", 3, kConvAttrs));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* w, ctx.required_input(1));
    if (x->dtype() != DataType::kFloat32 || w->rank() < 3) return ctx.error("expects float input and weights of rank ≥ 3");
    RunValue xv = ctx.input_value(0);
    if (in_block_ > 0) {
      PARE_ASSIGN_OR_RETURN(Tensor plain, to_plain(*x, w->dim(1) * ctx.node().attr_int("group", 1)));
      xv = RunValue(std::move(plain));
    }
    PARE_ASSIGN_OR_RETURN(Tensor y, conv_.run(ctx, {&xv, &ctx.input_value(1), &ctx.input_value(2)}));
    float* py = y.data<float>();
    const float* pz = nullptr;
    Tensor z;
    if (const Tensor* zin = ctx.input(3)) {
      z = *zin;
      if (out_block_ > 0) {
        PARE_ASSIGN_OR_RETURN(z, to_plain(*zin, y.dim(1)));
      }
      if (z.shape() != y.shape() || z.dtype() != DataType::kFloat32) {
        return ctx.error("Z {} must match the convolution's output {}", z.type_string(), y.type_string());
      }
      pz = z.data<float>();
    }
    for (int64_t i = 0; i < y.numel(); ++i) {
      const double v = double(py[i]) + (pz ? double(pz[i]) : 0.0);
      py[i] = static_cast<float>(apply_activation(act_, v));
    }
    if (out_block_ > 0) {
      PARE_ASSIGN_OR_RETURN(y, to_blocked(y, out_block_));
    }
    ctx.set_output(0, RunValue(std::move(y)));
    return ok_status();
  }

 private:
  ActivationSpec act_;
  int64_t in_block_ = 0, out_block_ = 0;
  InnerKernel conv_;
};

}  // namespace

void register_FusedConv(KernelRegistry& r) { r.add({"FusedConv", kPareDomain, 1, kMaxOpset, &make_kernel<FusedConv>}); }

}  // namespace pare::ops
