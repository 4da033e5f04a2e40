// MaxPool on uint8/int8 (plain N,C,H,W, 2-D windows) on oneDNN's int8 pooling. The lowering
// (passes/lower_qdq.cc) turns `MaxPool → QuantizeLinear` into `QuantizeLinear → MaxPool`
// (exact: quantization is monotonic, so the max of quantized values is the quantized max), so
// a ResNet's stem runs QConv (uint8 out) → MaxPool (uint8) → QConv with no float tensor between
// them. Conditions: 4-D uint8/int8 input, no Indices output, no dilations, ceil_mode 0,
// auto_pad NOTSET or VALID. Tested against the reference MaxPool (lower_qdq_test.cc).
// com.pare.MaxPoolNhwc (ops/fused/maxpool_nhwc.cc), the same pooling on N,H,W,C tensors between
// two int8 convolutions, runs on oneDNN directly, without the reorders.
#include <map>
#include <mutex>
#include <vector>

#include "kernels/onednn/onednn.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

using dnnl::memory;

class QMaxPool final : public ops::Kernel {
 public:
  explicit QMaxPool(const ops::KernelInit& init)
      : nhwc_(init.node.op_type() == "MaxPoolNhwc"),
        kernel_(init.node.attr_ints("kernel_shape")),
        strides_(init.node.attr_ints("strides", {1, 1})),
        pads_(init.node.attr_ints("pads", {0, 0, 0, 0})),
        valid_(init.node.attr_string("auto_pad", "NOTSET") == "VALID") {}

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if ((x->dtype() != DataType::kUInt8 && x->dtype() != DataType::kInt8) || x->rank() != 4)
      return ctx.error("expected a 4-D uint8/int8 input, got {}", x->type_string());
    Plan* plan = nullptr;
    PARE_RETURN_IF_ERROR(get_plan(ctx, x->shape(), x->dtype(), plan));
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), plan->out_shape));
    if (y->numel() == 0 || x->numel() == 0) return ok_status();
    return onednn::guarded("MaxPool", [&] {
      // oneDNN's int8 pooling is vectorized for N,H,W,C only: a plain N,C,H,W tensor is reordered
      // in and out (uint8); MaxPoolNhwc's tensors are used in place.
      void* src_data = const_cast<void*>(x->raw_data());
      void* dst_data = y->raw_data();
      thread_local std::vector<uint8_t> xb, yb;
      if (!nhwc_) {
        xb.resize(static_cast<size_t>(x->numel()));
        yb.resize(static_cast<size_t>(y->numel()));
        onednn::reorder(memory(plan->x_plain, onednn::engine(), src_data), memory(plan->pd.src_desc(), onednn::engine(), xb.data()));
        src_data = xb.data();
        dst_data = yb.data();
      }
      memory dst(plan->pd.dst_desc(), onednn::engine(), dst_data);
      onednn::execute(plan->prim, plan->pd, {{DNNL_ARG_SRC, memory(plan->pd.src_desc(), onednn::engine(), src_data)}, {DNNL_ARG_DST, dst}});
      if (!nhwc_) onednn::reorder(dst, memory(plan->y_plain, onednn::engine(), y->raw_data()));
      return ok_status();
    });
  }

 private:
  struct Plan {
    Shape out_shape;
    memory::desc x_plain, y_plain;
    dnnl::pooling_forward::primitive_desc pd;
    dnnl::pooling_forward prim;
  };

  Status get_plan(ops::KernelContext& ctx, const Shape& stored, DataType dt, Plan*& out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = plans_.find(stored); it != plans_.end()) {
      out = &it->second;
      return ok_status();
    }
    const Shape xs = nhwc_ ? Shape{stored[0], stored[3], stored[1], stored[2]} : stored;  // N, C, H, W
    if (kernel_.size() != 2 || strides_.size() != 2 || pads_.size() != 4) return ctx.error("expected 2-D kernel_shape/strides/pads");
    std::vector<int64_t> pl{pads_[0], pads_[1]}, pr{pads_[2], pads_[3]};
    if (valid_) pl = pr = {0, 0};
    Shape ys{xs[0], xs[1]};
    for (size_t i = 0; i < 2; ++i) {
      const int64_t span = xs[i + 2] + pl[i] + pr[i] - kernel_[i];
      if (kernel_[i] < 1 || strides_[i] < 1 || span < 0) return ctx.error("invalid window for input {}", xs[i + 2]);
      ys.push_back(span / strides_[i] + 1);
    }
    return onednn::guarded("MaxPool", [&] {
      const memory::data_type t = dt == DataType::kUInt8 ? memory::data_type::u8 : memory::data_type::s8;
      const memory::desc src(onednn::to_dims(xs), t, memory::format_tag::nhwc), dst(onednn::to_dims(ys), t, memory::format_tag::nhwc);
      auto desc = dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, src, dst,
                                              onednn::to_dims(strides_), onednn::to_dims(kernel_), onednn::to_dims(pl),
                                              onednn::to_dims(pr));
      const Shape out_stored = nhwc_ ? Shape{ys[0], ys[2], ys[3], ys[1]} : ys;
      Plan p{out_stored, memory::desc(onednn::to_dims(xs), t, memory::format_tag::nchw), memory::desc(onednn::to_dims(ys), t, memory::format_tag::nchw),
             dnnl::pooling_forward::primitive_desc(desc, onednn::scratchpad_attr(), onednn::engine()), {}};
      p.prim = dnnl::pooling_forward(p.pd);
      out = &plans_.emplace(stored, std::move(p)).first->second;
      return ok_status();
    });
  }

  bool nhwc_ = false;
  std::vector<int64_t> kernel_, strides_, pads_;
  bool valid_ = false;
  std::mutex mu_;
  std::map<Shape, Plan> plans_;
};

bool applies(const ops::KernelInit& init) {
  const ir::Node& n = init.node;
  if (!init.input_is(0, DataType::kUInt8) && !init.input_is(0, DataType::kInt8)) return false;
  const ir::TypeInfo* t = init.input_type(0);
  if (!t->shape || t->shape->size() != 4) return false;
  if (n.outputs().size() > 1 && n.output(1)) return false;
  for (int64_t d : n.attr_ints("dilations"))
    if (d != 1) return false;
  const std::string pad = n.attr_string("auto_pad", "NOTSET");
  return n.attr_ints("kernel_shape").size() == 2 && n.attr_int("ceil_mode", 0) == 0 && (pad == "NOTSET" || pad == "VALID") &&
         n.attr_int("storage_order", 0) == 0;
}

}  // namespace

void register_quant_qpool(ops::KernelRegistry& r) {
  r.add({"MaxPool", "", 1, ops::kMaxOpset, &ops::make_kernel<QMaxPool>, "onednn_int8", 11, applies});
  r.add({"MaxPoolNhwc", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<QMaxPool>, "onednn_int8", 11, applies});
}

}  // namespace pare::kernels
