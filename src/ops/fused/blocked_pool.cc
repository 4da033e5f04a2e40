// com.pare.BlockedPool(X) → Y: a pooling op (attribute `pool`: MaxPool, AveragePool,
// GlobalAveragePool or GlobalMaxPool, with that op's attributes) on a tensor in the blocked
// layout (`block`, `channels`; ops/fused/blocked.h), output blocked too. Made by
// passes/convert_layout_blocked.cc; the reference unblocks, runs the reference pool, reblocks.
#include "ops/fused/blocked.h"
#include "ops/fused/inner_kernel.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

const std::vector<std::string> kPoolAttrs = {"auto_pad", "ceil_mode", "count_include_pad", "dilations",
                                             "kernel_shape", "pads", "storage_order", "strides"};

class BlockedPool final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<BlockedPool>();
    const ir::Node& n = init.node;
    const std::string op = n.attr_string("pool", "");
    if (op != "MaxPool" && op != "AveragePool" && op != "GlobalAveragePool" && op != "GlobalMaxPool") {
      return invalid_input("{}: unknown pool '{}'", n.describe(), op);
    }
    k->block_ = n.attr_int("block", 0);
    k->channels_ = n.attr_int("channels", 0);
    if (k->block_ < 1 || k->block_ > 64 || k->channels_ < 1) return invalid_input("{}: needs block in [1, 64] and channels ≥ 1", n.describe());
    PARE_ASSIGN_OR_RETURN(k->pool_, InnerKernel::create(init, op, 1, kPoolAttrs, 19));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(Tensor plain, to_plain(*x, channels_));
    RunValue xv(std::move(plain));
    PARE_ASSIGN_OR_RETURN(Tensor y, pool_.run(ctx, {&xv}));
    PARE_ASSIGN_OR_RETURN(y, to_blocked(y, block_));
    ctx.set_output(0, RunValue(std::move(y)));
    return ok_status();
  }

 private:
  int64_t block_ = 0, channels_ = 0;
  InnerKernel pool_;
};

}  // namespace

void register_BlockedPool(KernelRegistry& r) { r.add({"BlockedPool", kPareDomain, 1, kMaxOpset, &make_kernel<BlockedPool>}); }

}  // namespace pare::ops
