// com.pare.LayerNormalization(X, Scale, B?; axis, epsilon): ONNX LayerNormalization-17 for
// models of any opset (made by passes/fuse_layer_norm.cc from the decomposed form PyTorch
// exports below opset 17). The reference is ONNX LayerNormalization's reference kernel.
#include "ops/fused/inner_kernel.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

class PareLayerNorm final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<PareLayerNorm>();
    PARE_ASSIGN_OR_RETURN(k->inner_, InnerKernel::create(init, "LayerNormalization", 3, {"axis", "epsilon", "stash_type"}, 17));
    return std::unique_ptr<Kernel>(std::move(k));
  }
  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(Tensor y, inner_.run(ctx, {&ctx.input_value(0), &ctx.input_value(1), &ctx.input_value(2)}));
    ctx.set_output(0, RunValue(std::move(y)));
    return ok_status();
  }

 private:
  InnerKernel inner_;
};

}  // namespace

void register_LayerNormalization_pare(KernelRegistry& r) {
  r.add({"LayerNormalization", kPareDomain, 1, kMaxOpset, &make_kernel<PareLayerNorm>});
}

}  // namespace pare::ops
