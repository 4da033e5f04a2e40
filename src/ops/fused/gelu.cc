// com.pare.Gelu(X; approximate = "none" | "tanh") → Y, ONNX Gelu-20's formula for models of any
// opset (made by passes/fuse_gelu.cc from the decomposed forms PyTorch exports):
//   none: y = x/2 · (1 + erf(x/√2));  tanh: y = x/2 · (1 + tanh(√(2/π)·(x + 0.044715·x³)))
// Reference in double.
#include "core/dispatch.h"
#include "ops/fused/activation.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace {

Status run_gelu(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  const std::string approx = ctx.node().attr_string("approximate", "none");
  if (approx != "none" && approx != "tanh") return ctx.error("approximate must be 'none' or 'tanh', got '{}'", approx);
  const ActivationSpec a{approx == "tanh" ? Activation::kGeluTanh : Activation::kGelu, {}};
  PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), x->shape()));
  bool ok = dispatch_float(x->dtype(), [&]<typename T>() {
    const T* px = x->data<T>();
    T* py = y->data<T>();
    for (int64_t i = 0; i < x->numel(); ++i) {
      py[i] = static_cast<T>(static_cast<compute_t<T>>(apply_activation(a, double(compute_t<T>(px[i])))));
    }
  });
  if (!ok) return ctx.error("unsupported type {}", dtype_name(x->dtype()));
  return ok_status();
}

}  // namespace

void register_Gelu_pare(KernelRegistry& r) { add_fn<run_gelu>(r, "Gelu", 1, kMaxOpset, kPareDomain); }

}  // namespace pare::ops
