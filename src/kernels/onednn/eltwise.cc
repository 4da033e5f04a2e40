// Unary elementwise ops on oneDNN's JIT eltwise primitive, f32 (vectorized for this CPU,
// threaded with OpenMP). oneDNN already ships these, with vectorized exp/tanh/erf, tuned per
// ISA, so pare uses them rather than its own SIMD math (DESIGN.md §4 names Highway for this;
// oneDNN covers every op here with one dependency and the same thread pool):
//   Relu, LeakyRelu, Elu, Sigmoid, Tanh, Exp, Sqrt, Abs, Neg, HardSwish, Clip (constant
//   bounds), Pow with a constant scalar exponent, com.pare.Gelu.
// (Log is left to the reference: oneDNN's is ~1e-6 off at log(1) = 0.) Binary ops are kernels/cpu/binary.cc. Primitives are created once per size.
#include <limits>
#include <map>

#include "kernels/onednn/onednn.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

using dnnl::algorithm;
using dnnl::memory;

bool scalar_float(const Tensor* t, float& v) {
  if (!t || t->numel() != 1 || t->dtype() != DataType::kFloat32) return false;
  v = t->data<float>()[0];
  return true;
}

struct UnarySpec {
  algorithm alg;
  float alpha = 0, beta = 0;
};

// The oneDNN eltwise computing this node, if any.
std::optional<UnarySpec> unary_spec(const ops::KernelInit& init) {
  const ir::Node& n = init.node;
  const std::string& op = n.op_type();
  if (n.domain() == "com.pare") {
    if (op != "Gelu") return std::nullopt;
    return UnarySpec{n.attr_string("approximate", "none") == "tanh" ? algorithm::eltwise_gelu_tanh : algorithm::eltwise_gelu_erf};
  }
  if (op == "Relu") return UnarySpec{algorithm::eltwise_relu};
  if (op == "LeakyRelu") return UnarySpec{algorithm::eltwise_relu, n.attr_float("alpha", 0.01f)};
  if (op == "Elu") return UnarySpec{algorithm::eltwise_elu, n.attr_float("alpha", 1.0f)};
  if (op == "Sigmoid") return UnarySpec{algorithm::eltwise_logistic};
  if (op == "Tanh") return UnarySpec{algorithm::eltwise_tanh};
  if (op == "Exp") return UnarySpec{algorithm::eltwise_exp};
  if (op == "Sqrt") return UnarySpec{algorithm::eltwise_sqrt};
  if (op == "Abs") return UnarySpec{algorithm::eltwise_abs};
  if (op == "Neg") return UnarySpec{algorithm::eltwise_linear, -1.f, 0.f};
  if (op == "HardSwish") return UnarySpec{algorithm::eltwise_hardswish};
  if (op == "Pow") {
    float e;
    if (!scalar_float(init.constant_input(1), e)) return std::nullopt;
    return UnarySpec{algorithm::eltwise_pow, 1.f, e};
  }
  if (op == "Clip") {
    float lo = -std::numeric_limits<float>::max(), hi = std::numeric_limits<float>::max();
    if (init.opset < 11) {
      lo = n.attr_float("min", lo);
      hi = n.attr_float("max", hi);
    } else if ((init.has_input(1) && !scalar_float(init.constant_input(1), lo)) ||
               (init.has_input(2) && !scalar_float(init.constant_input(2), hi))) {
      return std::nullopt;
    }
    return UnarySpec{algorithm::eltwise_clip_v2, lo, hi};
  }
  return std::nullopt;
}

class OnednnUnary final : public ops::Kernel {
 public:
  explicit OnednnUnary(const ops::KernelInit& init) : spec_(*unary_spec(init)) {}

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->dtype() != DataType::kFloat32) return ctx.error("expected float input, got {}", x->type_string());
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
    if (x->numel() == 0) return ok_status();
    return onednn::guarded(ctx.node().op_type().c_str(), [&] {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = plans_.find(x->numel());
      if (it == plans_.end()) {
        auto d = onednn::plain_desc({x->numel()});
        auto desc = dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, spec_.alg, d, spec_.alpha, spec_.beta);
        dnnl::eltwise_forward::primitive_desc pd(desc, onednn::scratchpad_attr(), onednn::engine());
        it = plans_.emplace(x->numel(), std::make_pair(pd, dnnl::eltwise_forward(pd))).first;
      }
      auto d = onednn::plain_desc({x->numel()});
      memory src(d, onednn::engine(), const_cast<void*>(x->raw_data())), dst(d, onednn::engine(), y->raw_data());
      onednn::execute(it->second.second, it->second.first, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
      return ok_status();
    });
  }

 private:
  UnarySpec spec_;
  std::mutex mu_;
  std::map<int64_t, std::pair<dnnl::eltwise_forward::primitive_desc, dnnl::eltwise_forward>> plans_;
};

bool unary_applies(const ops::KernelInit& init) { return init.input_is(0, DataType::kFloat32) && unary_spec(init).has_value(); }

}  // namespace

void register_onednn_eltwise(ops::KernelRegistry& r) {
  for (const char* op : {"Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh", "Exp", "Sqrt", "Abs", "Neg", "HardSwish",
                         "Pow", "Clip"}) {
    r.add({op, "", 1, ops::kMaxOpset, &ops::make_kernel<OnednnUnary>, "onednn", 10, unary_applies});
  }
  r.add({"Gelu", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<OnednnUnary>, "onednn", 10, unary_applies});
}

}  // namespace pare::kernels
