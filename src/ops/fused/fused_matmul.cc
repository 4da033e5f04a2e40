// com.pare.FusedMatMul(A, B, bias?) → Y = act(A·B + bias), made by
// passes/fuse_matmul_activation.cc: numpy MatMul of A (rank ≥ 2) and B, bias broadcast along
// the last axis, then `activation` / `activation_params` (ops/fused/activation.h). The
// reference runs the parts: the reference MatMul, then the add and the activation in double.
#include "ops/fused/activation.h"
#include "ops/fused/inner_kernel.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

class FusedMatMul final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<FusedMatMul>();
    const ir::Node& n = init.node;
    PARE_ASSIGN_OR_RETURN(k->act_, parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    PARE_ASSIGN_OR_RETURN(k->mm_, InnerKernel::create(init, "MatMul", 2, {}));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(Tensor y, mm_.run(ctx, {&ctx.input_value(0), &ctx.input_value(1)}));
    if (y.dtype() != DataType::kFloat32 || y.rank() < 1) return ctx.error("expects float inputs");
    const Tensor* bias = ctx.input(2);
    const int64_t n = y.dim(y.rank() - 1);
    if (bias && (bias->dtype() != DataType::kFloat32 || bias->numel() != n)) {
      return ctx.error("bias {} must have {} float elements", bias->type_string(), n);
    }
    float* py = y.data<float>();
    for (int64_t i = 0; i < y.numel(); ++i) {
      const double v = double(py[i]) + (bias ? double(bias->data<float>()[i % n]) : 0.0);
      py[i] = static_cast<float>(apply_activation(act_, v));
    }
    ctx.set_output(0, RunValue(std::move(y)));
    return ok_status();
  }

 private:
  ActivationSpec act_;
  InnerKernel mm_;
};

}  // namespace

void register_FusedMatMul(KernelRegistry& r) { r.add({"FusedMatMul", kPareDomain, 1, kMaxOpset, &make_kernel<FusedMatMul>}); }

}  // namespace pare::ops
