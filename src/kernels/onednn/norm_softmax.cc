// Softmax / LogSoftmax (any axis from opset 13; the last axis before, where the old 2-D
// coercion is the same thing) and LayerNormalization (ONNX-17 and com.pare, normalizing the
// last axis, constant float scale and bias, Mean/InvStdDev outputs not requested) on
// oneDNN, f32. Other cases run the reference kernel. Primitives are created once per shape.
#include <map>

#include "kernels/onednn/onednn.h"
#include "ops/fused/inner_kernel.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

using dnnl::memory;

class OnednnSoftmax final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<OnednnSoftmax>();
    k->log_ = init.node.op_type() == "LogSoftmax";
    k->legacy_ = init.opset < 13;
    k->axis_ = init.node.attr_int("axis", k->legacy_ ? 1 : -1);
    PARE_ASSIGN_OR_RETURN(k->fallback_, ops::InnerKernel::create(init, init.node.op_type(), 1, {"axis"}, init.opset));
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    const int64_t r = x->rank();
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    if (x->dtype() != DataType::kFloat32 || r == 0 || axis < 0 || axis >= r || (legacy_ && axis != r - 1) || x->numel() == 0) {
      PARE_ASSIGN_OR_RETURN(Tensor y, fallback_.run(ctx, {&ctx.input_value(0)}));
      ctx.set_output(0, RunValue(std::move(y)));
      return ok_status();
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
    return onednn::guarded("Softmax", [&] {
      std::lock_guard<std::mutex> lock(mu_);
      auto key = std::make_pair(x->shape(), axis);
      auto it = plans_.find(key);
      auto d = onednn::plain_desc(x->shape());
      if (it == plans_.end()) {
        const auto alg = log_ ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate;
        auto desc = dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_inference, alg, d, d, static_cast<int>(axis));
        dnnl::softmax_v2_forward::primitive_desc pd(desc, onednn::scratchpad_attr(), onednn::engine());
        it = plans_.emplace(key, std::make_pair(pd, dnnl::softmax_v2_forward(pd))).first;
      }
      memory src(d, onednn::engine(), const_cast<void*>(x->raw_data())), dst(d, onednn::engine(), y->raw_data());
      onednn::execute(it->second.second, it->second.first, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
      return ok_status();
    });
  }

 private:
  bool log_ = false, legacy_ = false;
  int64_t axis_ = -1;
  ops::InnerKernel fallback_;
  std::mutex mu_;
  std::map<std::pair<Shape, int64_t>, std::pair<dnnl::softmax_v2_forward::primitive_desc, dnnl::softmax_v2_forward>> plans_;
};

bool softmax_applies(const ops::KernelInit& init) { return init.input_is(0, DataType::kFloat32); }

class OnednnLayerNorm final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<OnednnLayerNorm>();
    k->axis_ = init.node.attr_int("axis", -1);
    k->eps_ = init.node.attr_float("epsilon", 1e-5f);
    k->scale_ = *init.constant_input(1);
    if (const Tensor* b = init.constant_input(2)) k->bias_ = *b;
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    const int64_t r = x->rank();
    if (x->dtype() != DataType::kFloat32 || r == 0) return ctx.error("expected a float tensor, got {}", x->type_string());
    const int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    const int64_t c = x->dim(r - 1);
    if (axis != r - 1 || scale_.numel() != c || (bias_.defined() && bias_.numel() != c)) {
      return ctx.error("normalizes axis {} of {} with scale {}: expected the last axis and [{}] parameters", axis_,
                       x->type_string(), scale_.type_string(), c);
    }
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
    if (x->numel() == 0) return ok_status();
    const int64_t rows = x->numel() / c;
    return onednn::guarded("LayerNormalization", [&] {
      std::lock_guard<std::mutex> lock(mu_);
      auto d = onednn::plain_desc({rows, c});
      auto it = plans_.find(rows);
      if (it == plans_.end()) {
        auto flags = dnnl::normalization_flags::use_scale;
        if (bias_.defined()) flags |= dnnl::normalization_flags::use_shift;
        auto desc = dnnl::layer_normalization_forward::desc(dnnl::prop_kind::forward_inference, d, eps_, flags);
        dnnl::layer_normalization_forward::primitive_desc lpd(desc, onednn::scratchpad_attr(), onednn::engine());
        it = plans_.emplace(rows, std::make_pair(lpd, dnnl::layer_normalization_forward(lpd))).first;
      }
      auto pd = onednn::plain_desc({c});
      memory src(d, onednn::engine(), const_cast<void*>(x->raw_data())), dst(d, onednn::engine(), y->raw_data());
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst},
                                           {DNNL_ARG_SCALE, memory(pd, onednn::engine(), const_cast<void*>(scale_.raw_data()))}};
      if (bias_.defined()) args.insert({DNNL_ARG_SHIFT, memory(pd, onednn::engine(), const_cast<void*>(bias_.raw_data()))});
      onednn::execute(it->second.second, it->second.first, args);
      return ok_status();
    });
  }

 private:
  int64_t axis_ = -1;
  float eps_ = 1e-5f;
  Tensor scale_, bias_;
  std::mutex mu_;
  std::map<int64_t, std::pair<dnnl::layer_normalization_forward::primitive_desc, dnnl::layer_normalization_forward>> plans_;
};

bool layer_norm_applies(const ops::KernelInit& init) {
  const Tensor* s = init.constant_input(1);
  if (!init.input_is(0, DataType::kFloat32) || !s || s->dtype() != DataType::kFloat32 || s->rank() != 1) return false;
  if (init.has_input(2)) {
    const Tensor* b = init.constant_input(2);
    if (!b || b->dtype() != DataType::kFloat32 || b->rank() != 1) return false;
  }
  for (size_t i = 1; i < init.num_outputs(); ++i) {
    const ir::Value* o = init.node.output(i);
    if (o && !o->uses().empty()) return false;
  }
  const ir::TypeInfo* t = init.input_type(0);
  const int64_t axis = init.node.attr_int("axis", -1);
  return axis == -1 || (t->shape && axis == static_cast<int64_t>(t->shape->size()) - 1);
}

}  // namespace

void register_onednn_norm_softmax(ops::KernelRegistry& r) {
  r.add({"Softmax", "", 1, ops::kMaxOpset, &ops::make_kernel<OnednnSoftmax>, "onednn", 10, softmax_applies});
  r.add({"LogSoftmax", "", 1, ops::kMaxOpset, &ops::make_kernel<OnednnSoftmax>, "onednn", 10, softmax_applies});
  r.add({"LayerNormalization", "", 17, ops::kMaxOpset, &ops::make_kernel<OnednnLayerNorm>, "onednn", 10, layer_norm_applies});
  r.add({"LayerNormalization", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<OnednnLayerNorm>, "onednn", 10, layer_norm_applies});
}

}  // namespace pare::kernels
