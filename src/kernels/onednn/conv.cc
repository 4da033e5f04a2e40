// Conv (ONNX opset 1+) on oneDNN: f32, 1-D/2-D/3-D, groups, dilations, strides, explicit or
// auto padding; weights reordered once per input shape into oneDNN's preferred blocked layout
// (prepacked), activations in plain NC[D]HW. Condition: float32 input, constant weights
// (and bias). Tested against the reference kernel by the conformance suite and conv_test.
#include <map>

#include "kernels/onednn/onednn.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

using dnnl::memory;
using onednn::guarded;

struct ConvAttrs {
  std::vector<int64_t> kernel, strides, dilations, pads;
  std::string auto_pad;
  int64_t group = 1;
};

class OnednnConv final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<OnednnConv>();
    const ir::Node& n = init.node;
    const Tensor* w = init.constant_input(1);
    if (!w || w->rank() < 3 || w->dtype() != DataType::kFloat32) {
      return invalid_input("{}: fast conv needs constant float weights", n.describe());
    }
    k->w_ = *w;
    if (const Tensor* b = init.constant_input(2)) {
      if (b->dtype() != DataType::kFloat32 || b->rank() != 1 || b->dim(0) != w->dim(0)) {
        return invalid_input("{}: bias must be float[{}], got {}", n.describe(), w->dim(0), b->type_string());
      }
      k->b_ = *b;
    }
    const size_t sp = static_cast<size_t>(w->rank() - 2);
    ConvAttrs& a = k->a_;
    a.kernel = n.attr_ints("kernel_shape", Shape(w->shape().begin() + 2, w->shape().end()));
    a.strides = n.attr_ints("strides", std::vector<int64_t>(sp, 1));
    a.dilations = n.attr_ints("dilations", std::vector<int64_t>(sp, 1));
    a.pads = n.attr_ints("pads", std::vector<int64_t>(2 * sp, 0));
    a.auto_pad = n.attr_string("auto_pad", "NOTSET");
    a.group = n.attr_int("group", 1);
    if (a.kernel.size() != sp || a.strides.size() != sp || a.dilations.size() != sp || a.pads.size() != 2 * sp) {
      return invalid_input("{}: kernel_shape/strides/dilations/pads do not match {} spatial dims", n.describe(), sp);
    }
    for (size_t i = 0; i < sp; ++i) {
      if (a.kernel[i] != w->dim(static_cast<int64_t>(i) + 2) || a.strides[i] < 1 || a.dilations[i] < 1 ||
          a.pads[i] < 0 || a.pads[i + sp] < 0) {
        return invalid_input("{}: invalid kernel_shape, strides, dilations or pads", n.describe());
      }
    }
    if (a.group < 1 || w->dim(0) % a.group != 0) return invalid_input("{}: group {} does not divide {} output channels", n.describe(), a.group, w->dim(0));
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->dtype() != DataType::kFloat32) return ctx.error("expected float input, got {}", x->type_string());
    if (x->rank() != w_.rank()) return ctx.error("input {} and weights {} ranks differ", x->type_string(), w_.type_string());
    if (x->dim(1) != w_.dim(1) * a_.group) {
      return ctx.error("input has {} channels, weights {} × group {} expect {}", x->dim(1), w_.type_string(), a_.group,
                       w_.dim(1) * a_.group);
    }
    Plan* plan = nullptr;
    PARE_RETURN_IF_ERROR(get_plan(ctx, x->shape(), plan));
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, plan->out_shape));
    if (y->numel() == 0) return ok_status();
    return guarded("Conv", [&] {
      memory src(plan->pd.src_desc(), onednn::engine(), const_cast<void*>(x->raw_data()));
      memory dst(plan->pd.dst_desc(), onednn::engine(), y->raw_data());
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan->weights}, {DNNL_ARG_DST, dst}};
      if (b_.defined()) args.insert({DNNL_ARG_BIAS, plan->bias});
      plan->prim.execute(onednn::stream(), args);
      onednn::stream().wait();
      return ok_status();
    });
  }

 private:
  struct Plan {
    Shape out_shape;
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward prim;
    memory weights, bias;
    Tensor packed;  // storage of the reordered weights
  };

  Status get_plan(ops::KernelContext& ctx, const Shape& xs, Plan*& out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = plans_.find(xs); it != plans_.end()) {
      out = &it->second;
      return ok_status();
    }
    const size_t sp = xs.size() - 2;
    std::vector<int64_t> pl(sp), pr(sp);
    Shape ys{xs[0], w_.dim(0)};
    for (size_t i = 0; i < sp; ++i) {
      const int64_t in = xs[i + 2], k = a_.dilations[i] * (a_.kernel[i] - 1) + 1, s = a_.strides[i];
      if (a_.auto_pad == "SAME_UPPER" || a_.auto_pad == "SAME_LOWER") {
        const int64_t o = (in + s - 1) / s;
        const int64_t total = std::max<int64_t>((o - 1) * s + k - in, 0);
        pl[i] = a_.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
        pr[i] = total - pl[i];
      } else if (a_.auto_pad != "VALID") {
        pl[i] = a_.pads[i];
        pr[i] = a_.pads[i + sp];
      }
      const int64_t span = in + pl[i] + pr[i] - k;
      if (span < 0) return ctx.error("kernel {} larger than padded input {}", k, in + pl[i] + pr[i]);
      ys.push_back(span / s + 1);
    }
    Status st = guarded("Conv", [&] {
      Shape ws = w_.shape();
      if (a_.group > 1) {
        ws[0] /= a_.group;
        ws.insert(ws.begin(), a_.group);
      }
      memory::dims strides(a_.strides.begin(), a_.strides.end()), dil(sp), l(pl.begin(), pl.end()), r(pr.begin(), pr.end());
      for (size_t i = 0; i < sp; ++i) dil[i] = a_.dilations[i] - 1;
      auto wd_any = memory::desc(onednn::to_dims(ws), memory::data_type::f32, memory::format_tag::any);
      auto bd = b_.defined() ? onednn::plain_desc(b_.shape()) : memory::desc();
      auto desc = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                                  onednn::plain_desc(xs), wd_any, bd, onednn::plain_desc(ys), strides, dil, l, r);
      Plan p{ys, dnnl::convolution_forward::primitive_desc(desc, onednn::engine()), {}, {}, {}, {}};
      p.prim = dnnl::convolution_forward(p.pd);
      auto packed = Tensor::create(DataType::kUInt8, {static_cast<int64_t>(p.pd.weights_desc().get_size())});
      if (!packed.ok()) return packed.status();
      p.packed = *packed;
      p.weights = memory(p.pd.weights_desc(), onednn::engine(), p.packed.raw_data());
      memory user_w(onednn::plain_desc(ws), onednn::engine(), const_cast<void*>(w_.raw_data()));
      dnnl::reorder(user_w, p.weights).execute(onednn::stream(), user_w, p.weights);
      if (b_.defined()) p.bias = memory(bd, onednn::engine(), const_cast<void*>(b_.raw_data()));
      onednn::stream().wait();
      out = &plans_.emplace(xs, std::move(p)).first->second;
      return ok_status();
    });
    return st;
  }

  ConvAttrs a_;
  Tensor w_, b_;
  std::mutex mu_;
  std::map<Shape, Plan> plans_;  // per input shape (batch and spatial size)
};

bool applies(const ops::KernelInit& init) {
  const Tensor* w = init.constant_input(1);
  if (!w || w->dtype() != DataType::kFloat32 || w->rank() < 3 || w->rank() > 5) return false;
  if (init.has_input(2) && !init.constant_input(2)) return false;
  const ir::TypeInfo* t = init.input_type(0);
  return t && t->kind == ir::TypeInfo::Kind::kTensor && t->dtype == DataType::kFloat32;
}

}  // namespace

void register_onednn_conv(ops::KernelRegistry& r) {
  r.add({"Conv", "", 1, ops::kMaxOpset, &ops::make_kernel<OnednnConv>, "onednn", 10, applies});
}

}  // namespace pare::kernels
