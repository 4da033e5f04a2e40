// Conv (ONNX opset 1+) and com.pare.FusedConv on oneDNN, f32, 1-D/2-D/3-D, groups, dilations,
// strides, explicit or auto padding. Weights are reordered once per input shape into the
// layout oneDNN prefers (prepacked); the primitive is created once per input shape.
// FusedConv's epilogue rides in oneDNN post-ops: the residual Z as a `sum` post-op (Z is
// written into the output buffer first — or the output takes over Z's buffer when this node
// is Z's last user and nobody else shares it), then the activation as eltwise post-ops.
// 3×3 stride-1 convolutions use Winograd where oneDNN has it and it measures faster.
// Activations are plain NC[D]HW or pare's blocked layout (input_block / output_block,
// ops/fused/blocked.h), so consecutive convolutions never reorder.
// Condition: float32 input, constant weights (and bias). Tested against the reference
// kernels in onednn_test.cc and by the conformance suite.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <omp.h>

#include "kernels/onednn/onednn.h"
#include "ops/fused/activation.h"
#include "ops/kernel.h"

namespace pare::kernels {

// The eltwise post-ops computing `a` (HardSigmoid is linear then clip); shared with
// fused_matmul.cc.
void append_activation(dnnl::post_ops& po, const ops::ActivationSpec& a);

namespace {

using dnnl::memory;
using onednn::guarded;

struct ConvAttrs {
  std::vector<int64_t> kernel, strides, dilations, pads;
  std::string auto_pad;
  int64_t group = 1;
};

// Whether Winograd measured faster than direct for a convolution key (input dims, output
// channels, threads), process-wide; with `set`, records it.
std::optional<bool> winograd_measured(const Shape& key, std::optional<bool> set = std::nullopt) {
  static std::mutex mu;
  static std::map<Shape, bool> known;
  std::lock_guard<std::mutex> lock(mu);
  if (set) known[key] = *set;
  auto it = known.find(key);
  return it == known.end() ? std::nullopt : std::optional<bool>(it->second);
}

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
    if (n.domain() == "com.pare") {
      PARE_ASSIGN_OR_RETURN(k->act_, ops::parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
      k->in_block_ = n.attr_int("input_block", 0);
      k->out_block_ = n.attr_int("output_block", 0);
      k->has_z_ = n.input(3) != nullptr;
      // The output may take over Z's buffer when this node is Z's last consumer and Z is an
      // intermediate (checked again at run time: nobody else may share the storage).
      k->z_in_place_ = onednn::may_overwrite_input(n, n.input(3));
    }
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->dtype() != DataType::kFloat32) return ctx.error("expected float input, got {}", x->type_string());
    const int64_t cin = w_.dim(1) * a_.group;
    const int64_t xrank = x->rank() - (in_block_ ? 1 : 0);
    if (xrank != w_.rank()) return ctx.error("input {} and weights {} ranks differ", x->type_string(), w_.type_string());
    if (in_block_ ? (x->dim(x->rank() - 1) != in_block_ || x->dim(1) != (cin + in_block_ - 1) / in_block_) : x->dim(1) != cin) {
      return ctx.error("input {} does not have {} channels (weights {}, group {})", x->type_string(), cin, w_.type_string(), a_.group);
    }
    Plan* plan = nullptr;
    PARE_RETURN_IF_ERROR(get_plan(ctx, x->shape(), plan));
    const Tensor* z = has_z_ ? ctx.input(3) : nullptr;
    if (has_z_ && (!z || z->shape() != plan->out_shape || z->dtype() != DataType::kFloat32)) {
      return ctx.error("Z {} must match the output {}", z ? z->type_string() : "(missing)", shape_to_string(plan->out_shape));
    }
    void* dst_data = nullptr;
    if (z && z_in_place_ && z->buffer().use_count() == 1) {
      dst_data = const_cast<void*>(z->raw_data());  // the sum post-op reads Z where it writes Y
      ctx.set_output(0, RunValue(*z));
    } else {
      // oneDNN writes every element (a blocked destination's padded channels are zeroed when its
      // memory object is made and kept zero by the primitive): no zero fill.
      PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_uninitialized(0, DataType::kFloat32, plan->out_shape));
      if (z) std::memcpy(y->raw_data(), z->raw_data(), z->numel() * sizeof(float));
      dst_data = y->raw_data();
    }
    if (shape_numel_unchecked(plan->out_shape) == 0) return ok_status();
    return guarded("Conv", [&] {
      memory src(plan->pd.src_desc(), onednn::engine(), const_cast<void*>(x->raw_data()));
      memory dst(plan->pd.dst_desc(), onednn::engine(), dst_data);
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan->weights}, {DNNL_ARG_DST, dst}};
      if (b_.defined()) args.insert({DNNL_ARG_BIAS, plan->bias});
      onednn::execute(plan->prim, plan->pd, args);
      return ok_status();
    });
  }

 private:
  struct Plan {
    Shape out_shape;  // as stored (blocked when output_block)
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward prim;
    memory weights, bias;
    Tensor packed;  // storage of the reordered weights
  };

  Status get_plan(ops::KernelContext& ctx, const Shape& stored, Plan*& out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = plans_.find(stored); it != plans_.end()) {
      out = &it->second;
      return ok_status();
    }
    const Shape xs = onednn::plain_dims(stored, w_.dim(1) * a_.group, in_block_);
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
    Shape stored_y = ys;
    if (out_block_) {
      stored_y[1] = (ys[1] + out_block_ - 1) / out_block_;
      stored_y.push_back(out_block_);
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
      dnnl::post_ops po;
      if (has_z_) po.append_sum(1.f);
      append_activation(po, act_);
      dnnl::primitive_attr attr = onednn::scratchpad_attr();
      attr.set_post_ops(po);
      auto make_pd = [&](dnnl::algorithm alg) {
        auto desc = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, alg,
                                                    onednn::layout_desc(xs, in_block_), wd_any, bd,
                                                    onednn::layout_desc(ys, out_block_), strides, dil, l, r);
        // oneDNN's first applicable float implementation: timing the others too picked the same
        // kernels on the benchmark CNNs (MobileNetV2: 52 of 53) and cost 0.4 s of ResNet-50's load.
        return dnnl::convolution_forward::primitive_desc(desc, attr, onednn::engine());
      };
      // 3×3 stride-1 convolutions may take Winograd F(4×4, 3×3) (2.25× fewer multiplies);
      // which is faster depends on the shape, so both are timed once here and the faster kept.
      // The choice is made per spatial size and reused for other batch sizes (a served model
      // with dynamic batching meets several), so a new batch size costs no timing runs.
      // Layers of one shape (ResNet repeats each stage's 3×3 convolution) share one measurement:
      // the process remembers the outcome per (channels, spatial sizes, layouts, threads), so
      // ResNet-18 times 4 shapes instead of 13 layers.
      auto pd = make_pd(dnnl::algorithm::convolution_direct);
      bool wino_shape = a_.group == 1 && sp == 2;
      for (size_t i = 0; i < sp; ++i) wino_shape &= a_.kernel[i] == 3 && a_.strides[i] == 1 && a_.dilations[i] == 1;
      if (wino_shape && !std::getenv("PARE_NO_WINOGRAD")) {
        // Not the batch size: a served model with dynamic batching meets several, and a new
        // batch size costs no timing runs.
        Shape key(xs.begin() + 1, xs.end());
        key.insert(key.end(), ys.begin() + 1, ys.end());
        key.insert(key.end(), {in_block_, out_block_, ctx.num_threads() > 0 ? ctx.num_threads() : omp_get_max_threads()});
        std::optional<bool> known = winograd_measured(key);
        try {
          if (!known || *known) {
            auto wpd = make_pd(dnnl::algorithm::convolution_winograd);
            const bool faster = known ? *known : onednn::time_conv(wpd) < onednn::time_conv(pd);
            winograd_measured(key, faster);
            if (faster) pd = wpd;
          }
        } catch (const dnnl::error&) {
          winograd_measured(key, false);  // no Winograd implementation for this shape or CPU: keep direct
        }
      }
      Plan p{stored_y, pd, {}, {}, {}, {}};
      p.prim = dnnl::convolution_forward(p.pd);
      // Packed weights are shared by the plans whose primitives want the same layout (batch
      // sizes usually do): one copy, not one per input shape.
      for (const auto& [desc, t] : packed_)
        if (desc == p.pd.weights_desc()) p.packed = t;
      if (p.packed.defined()) {
        p.weights = memory(p.pd.weights_desc(), onednn::engine(), p.packed.raw_data());
      } else {
        memory user_w(onednn::plain_desc(ws), onednn::engine(), const_cast<void*>(w_.raw_data()));
        PARE_ASSIGN_OR_RETURN(p.weights, onednn::pack(user_w, p.pd.weights_desc(), p.packed));
        packed_.emplace_back(p.pd.weights_desc(), p.packed);
      }
      if (b_.defined()) p.bias = memory(bd, onednn::engine(), const_cast<void*>(b_.raw_data()));
      out = &plans_.emplace(stored, std::move(p)).first->second;
      return ok_status();
    });
    return st;
  }

  ConvAttrs a_;
  Tensor w_, b_;
  ops::ActivationSpec act_;
  int64_t in_block_ = 0, out_block_ = 0;
  bool has_z_ = false, z_in_place_ = false;
  std::mutex mu_;
  std::map<Shape, Plan> plans_;  // per stored input shape (batch and spatial size)
  std::vector<std::pair<memory::desc, Tensor>> packed_;  // reordered weights by layout, shared by plans
};

bool applies(const ops::KernelInit& init) {
  const Tensor* w = init.constant_input(1);
  if (!w || w->dtype() != DataType::kFloat32 || w->rank() < 3 || w->rank() > 5) return false;
  if (init.has_input(2) && !init.constant_input(2)) return false;
  const ir::TypeInfo* t = init.input_type(0);
  if (!t || t->kind != ir::TypeInfo::Kind::kTensor || t->dtype != DataType::kFloat32) return false;
  const int64_t ib = init.node.attr_int("input_block", 0), ob = init.node.attr_int("output_block", 0);
  return (ib == 0 || ib == 8 || ib == 16) && (ob == 0 || ob == 8 || ob == 16);
}

}  // namespace

void append_activation(dnnl::post_ops& po, const ops::ActivationSpec& a) {
  using alg = dnnl::algorithm;
  switch (a.kind) {
    case ops::Activation::kNone: return;
    case ops::Activation::kRelu: return po.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f);
    case ops::Activation::kLeakyRelu: return po.append_eltwise(1.f, alg::eltwise_relu, a.params[0], 0.f);
    case ops::Activation::kClip: return po.append_eltwise(1.f, alg::eltwise_clip_v2, a.params[0], a.params[1]);
    case ops::Activation::kSigmoid: return po.append_eltwise(1.f, alg::eltwise_logistic, 0.f, 0.f);
    case ops::Activation::kHardSigmoid:
      po.append_eltwise(1.f, alg::eltwise_linear, a.params[0], a.params[1]);
      return po.append_eltwise(1.f, alg::eltwise_clip_v2, 0.f, 1.f);
    case ops::Activation::kHardSwish: return po.append_eltwise(1.f, alg::eltwise_hardswish, 0.f, 0.f);
    case ops::Activation::kSiLU: return po.append_eltwise(1.f, alg::eltwise_swish, 1.f, 0.f);
    case ops::Activation::kTanh: return po.append_eltwise(1.f, alg::eltwise_tanh, 0.f, 0.f);
    case ops::Activation::kGelu: return po.append_eltwise(1.f, alg::eltwise_gelu_erf, 0.f, 0.f);
    case ops::Activation::kGeluTanh: return po.append_eltwise(1.f, alg::eltwise_gelu_tanh, 0.f, 0.f);
  }
}

void register_onednn_conv(ops::KernelRegistry& r) {
  r.add({"Conv", "", 1, ops::kMaxOpset, &ops::make_kernel<OnednnConv>, "onednn", 10, applies});
  r.add({"FusedConv", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<OnednnConv>, "onednn", 10, applies});
}

}  // namespace pare::kernels
