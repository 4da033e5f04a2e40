// com.pare.MaxPoolNhwc(X) → Y: MaxPool (2-D, MaxPool's attributes) on X stored N,H,W,C, Y
// stored N,H,W,C. Made by passes/lower_qdq.cc for the uint8/int8 pooling between two int8
// convolutions (a ResNet's stem), whose tensors are N,H,W,C, so that no reorder is left around
// the pooling. The reference views N,H,W,C as the blocked layout with one block of C channels
// (ops/fused/blocked.h), unblocks, runs the reference MaxPool and reblocks.
#include "ops/fused/blocked.h"
#include "ops/fused/inner_kernel.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

const std::vector<std::string> kMaxPoolAttrs = {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"};

class MaxPoolNhwc final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<MaxPoolNhwc>();
    if (init.node.attr_ints("kernel_shape").size() != 2) return invalid_input("{}: needs a 2-D kernel_shape", init.node.describe());
    PARE_ASSIGN_OR_RETURN(k->pool_, InnerKernel::create(init, "MaxPool", 1, kMaxPoolAttrs, 12));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->rank() != 4) return ctx.error("expected a 4-D N,H,W,C input, got {}", x->type_string());
    const int64_t c = x->dim(3);
    PARE_ASSIGN_OR_RETURN(Tensor blocked, x->reshaped({x->dim(0), 1, x->dim(1), x->dim(2), c}));
    PARE_ASSIGN_OR_RETURN(Tensor plain, to_plain(blocked, c));
    RunValue xv(std::move(plain));
    PARE_ASSIGN_OR_RETURN(Tensor y, pool_.run(ctx, {&xv}));
    PARE_ASSIGN_OR_RETURN(y, to_blocked(y, std::max<int64_t>(c, 1)));
    PARE_ASSIGN_OR_RETURN(y, y.reshaped({y.dim(0), y.dim(2), y.dim(3), y.dim(4)}));
    ctx.set_output(0, RunValue(std::move(y)));
    return ok_status();
  }

 private:
  InnerKernel pool_;
};

}  // namespace

void register_MaxPoolNhwc(KernelRegistry& r) { r.add({"MaxPoolNhwc", "com.pare", 1, kMaxOpset, &make_kernel<MaxPoolNhwc>}); }

}  // namespace pare::ops
