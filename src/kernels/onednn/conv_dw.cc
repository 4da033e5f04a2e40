// com.pare.FusedConvDw (ops/fused/fused_conv_dw.cc) on oneDNN: the 1×1 convolution with the
// 3×3 depthwise convolution as its `dw` post-op, so oneDNN computes the 1×1 output a few rows
// at a time into a cache-sized buffer and runs the depthwise kernel on them; the intermediate
// tensor (the block's widest) is never written out whole. Where oneDNN has no fused
// implementation for the shape, ISA or activations, the two run as separate primitives
// through a per-thread buffer. Weights are reordered once per input shape; activations in
// pare's blocked layout or (input only) plain. Tested against the reference in onednn_test.cc.
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "kernels/onednn/onednn.h"
#include "ops/fused/activation.h"
#include "ops/kernel.h"

namespace pare::kernels {

void append_activation(dnnl::post_ops& po, const ops::ActivationSpec& a);  // conv.cc

namespace {

using dnnl::memory;
using onednn::guarded;

class OnednnConvDw final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<OnednnConvDw>();
    const ir::Node& n = init.node;
    const Tensor* w = init.constant_input(1);
    const Tensor* dw = init.constant_input(3);
    if (!w || !dw || w->rank() != 4 || w->dim(2) != 1 || w->dim(3) != 1 || dw->shape() != Shape{w->dim(0), 1, 3, 3}) {
      return invalid_input("{}: needs constant 1×1 weights [C, Cin, 1, 1] and depthwise weights [C, 1, 3, 3], got {} and {}", n.describe(),
                           w ? w->type_string() : "none", dw ? dw->type_string() : "none");
    }
    k->w_ = *w;
    k->dw_ = *dw;
    const int64_t c = w->dim(0);
    for (int i : {2, 4}) {
      const Tensor* b = init.constant_input(i);
      if (!b) continue;
      if (b->dtype() != DataType::kFloat32 || b->shape() != Shape{c}) {
        return invalid_input("{}: bias {} must be float[{}], got {}", n.describe(), i, c, b->type_string());
      }
      (i == 2 ? k->b_ : k->db_) = *b;
    }
    if (!k->db_.defined()) {  // the fused depthwise stage always takes a bias
      PARE_ASSIGN_OR_RETURN(k->db_, Tensor::create(DataType::kFloat32, {c}));
    }
    PARE_ASSIGN_OR_RETURN(k->act_, ops::parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    PARE_ASSIGN_OR_RETURN(k->dw_act_, ops::parse_activation(n.attr_string("dw_activation", ""), n.attr_floats("dw_activation_params")));
    k->in_block_ = n.attr_int("input_block", 0);
    k->out_block_ = n.attr_int("output_block", 0);
    k->stride_ = n.attr_int("dw_stride", 1);
    if (k->stride_ != 1 && k->stride_ != 2) return invalid_input("{}: dw_stride must be 1 or 2, got {}", n.describe(), k->stride_);
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    const int64_t cin = w_.dim(1);
    if (x->dtype() != DataType::kFloat32 || x->rank() != (in_block_ ? 5 : 4)) return ctx.error("expected a float image, got {}", x->type_string());
    if (in_block_ ? (x->dim(4) != in_block_ || x->dim(1) != (cin + in_block_ - 1) / in_block_) : x->dim(1) != cin) {
      return ctx.error("input {} does not have {} channels", x->type_string(), cin);
    }
    const int64_t cb = (w_.dim(0) + out_block_ - 1) / out_block_;
    if (x->numel() == 0) {  // nothing to compute (oneDNN refuses empty shapes)
      auto out = [&](int64_t d) { return d > 0 ? (d - 1) / stride_ + 1 : 0; };
      return ctx.allocate_output(0, DataType::kFloat32, {x->dim(0), cb, out(x->dim(2)), out(x->dim(3)), out_block_}).status();
    }
    Plan* plan = nullptr;
    PARE_RETURN_IF_ERROR(get_plan(x->shape(), plan));
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_uninitialized(0, DataType::kFloat32, plan->out_shape));
    return guarded("FusedConvDw", [&] {
      memory src(plan->pd.src_desc(), onednn::engine(), const_cast<void*>(x->raw_data()));
      if (plan->fused) {
        memory dst(plan->pd.dst_desc(), onednn::engine(), y->raw_data());
        std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan->weights}, {DNNL_ARG_DST, dst},
                                             {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, plan->dw_weights},
                                             {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, plan->dw_bias}};
        if (b_.defined()) args.insert({DNNL_ARG_BIAS, plan->bias});
        onednn::execute(plan->prim, plan->pd, args);
        return ok_status();
      }
      // Separate primitives; the intermediate goes through a per-thread buffer.
      memory mid(plan->pd.dst_desc(), onednn::engine(),
                 onednn::thread_buffer(onednn::ThreadBuffer::kIntermediate, plan->pd.dst_desc().get_size()));
      std::unordered_map<int, memory> a1{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan->weights}, {DNNL_ARG_DST, mid}};
      if (b_.defined()) a1.insert({DNNL_ARG_BIAS, plan->bias});
      onednn::execute(plan->prim, plan->pd, a1);
      memory dst(plan->dw_pd.dst_desc(), onednn::engine(), y->raw_data());
      onednn::execute(plan->dw_prim, plan->dw_pd,
                      {{DNNL_ARG_SRC, mid}, {DNNL_ARG_WEIGHTS, plan->dw_weights}, {DNNL_ARG_BIAS, plan->dw_bias}, {DNNL_ARG_DST, dst}});
      return ok_status();
    });
  }

 private:
  struct Plan {
    Shape out_shape;  // as stored (blocked)
    bool fused = false;
    dnnl::convolution_forward::primitive_desc pd, dw_pd;  // dw_pd: separate mode only
    dnnl::convolution_forward prim, dw_prim;
    memory weights, bias, dw_weights, dw_bias;
    Tensor packed, dw_packed;  // storage of the reordered weights
  };

  // Plain weights `w` of dims `dims` (oihw, or goihw for the depthwise ones) as a memory in `desc`.
  static Result<memory> pack(const Tensor& w, const memory::dims& dims, const memory::desc& desc, Tensor& keep) {
    const auto tag = dims.size() == 5 ? memory::format_tag::goihw : memory::format_tag::oihw;
    return onednn::pack(memory(memory::desc(dims, memory::data_type::f32, tag), onednn::engine(), const_cast<void*>(w.raw_data())),
                        desc, keep);
  }

  Status get_plan(const Shape& stored, Plan*& out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = plans_.find(stored); it != plans_.end()) {
      out = &it->second;
      return ok_status();
    }
    const int64_t c = w_.dim(0);
    const Shape xs = onednn::plain_dims(stored, w_.dim(1), in_block_);
    const Shape ms{xs[0], c, xs[2], xs[3]};
    const Shape ys{xs[0], c, (xs[2] - 1) / stride_ + 1, (xs[3] - 1) / stride_ + 1};
    return guarded("FusedConvDw", [&]() -> Status {
      using tag = memory::format_tag;
      const memory::dims w1{c, w_.dim(1), 1, 1}, w2{c, 1, 1, 3, 3};
      auto bias_desc = [&](const Tensor& b) { return b.defined() ? onednn::plain_desc(b.shape()) : memory::desc(); };
      auto pw_desc = dnnl::convolution_forward::desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, onednn::layout_desc(xs, in_block_),
          memory::desc(w1, memory::data_type::f32, tag::any), bias_desc(b_), onednn::layout_desc(ms, out_block_), {1, 1}, {0, 0}, {0, 0});
      Plan p;
      p.out_shape = {ys[0], (c + out_block_ - 1) / out_block_, ys[2], ys[3], out_block_};
      dnnl::post_ops po;
      append_activation(po, act_);
      po.append_dw(memory::data_type::f32, memory::data_type::f32, memory::data_type::f32, 3, stride_, 1, 0, {});
      append_activation(po, dw_act_);
      dnnl::primitive_attr attr = onednn::scratchpad_attr();
      attr.set_post_ops(po);
      try {
        p.pd = dnnl::convolution_forward::primitive_desc(pw_desc, attr, onednn::engine());
        // oneDNN's generic fallback (ref_fused_convolution) runs the two primitives through its
        // scratchpad, which measured slower than two separate primitives (5–10 % on
        // MobileNetV2's 14×14 and 7×7 blocks): only a real fused kernel is taken.
        p.fused = p.pd.dst_desc().dims() == onednn::to_dims(ys) && std::string(p.pd.impl_info_str()).rfind("ref", 0) != 0 &&
                  !std::getenv("PARE_NO_FUSED_DW");
      } catch (const dnnl::error&) {
        p.fused = false;  // no fused implementation here: two primitives
      }
      if (p.fused) {
        const memory::desc dwd = p.pd.query_md(dnnl::query::exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS);
        const memory::desc dbd = p.pd.query_md(dnnl::query::exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS);
        PARE_ASSIGN_OR_RETURN(p.dw_weights, pack(dw_, w2, dwd, p.dw_packed));
        p.dw_bias = memory(dbd, onednn::engine(), const_cast<void*>(db_.raw_data()));
      } else {
        dnnl::post_ops po1, po2;
        append_activation(po1, act_);
        append_activation(po2, dw_act_);
        dnnl::primitive_attr a1 = onednn::scratchpad_attr(), a2 = onednn::scratchpad_attr();
        a1.set_post_ops(po1);
        a2.set_post_ops(po2);
        p.pd = dnnl::convolution_forward::primitive_desc(pw_desc, a1, onednn::engine());
        auto dw_desc = dnnl::convolution_forward::desc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, onednn::layout_desc(ms, out_block_),
            memory::desc(w2, memory::data_type::f32, tag::any), onednn::plain_desc(db_.shape()), onednn::layout_desc(ys, out_block_),
            {stride_, stride_}, {1, 1}, {1, 1});
        p.dw_pd = dnnl::convolution_forward::primitive_desc(dw_desc, a2, onednn::engine());
        p.dw_prim = dnnl::convolution_forward(p.dw_pd);
        PARE_ASSIGN_OR_RETURN(p.dw_weights, pack(dw_, w2, p.dw_pd.weights_desc(), p.dw_packed));
        p.dw_bias = memory(onednn::plain_desc(db_.shape()), onednn::engine(), const_cast<void*>(db_.raw_data()));
      }
      p.prim = dnnl::convolution_forward(p.pd);
      PARE_ASSIGN_OR_RETURN(p.weights, pack(w_, w1, p.pd.weights_desc(), p.packed));
      if (b_.defined()) p.bias = memory(bias_desc(b_), onednn::engine(), const_cast<void*>(b_.raw_data()));
      out = &plans_.emplace(stored, std::move(p)).first->second;
      return ok_status();
    });
  }

  Tensor w_, b_, dw_, db_;
  ops::ActivationSpec act_, dw_act_;
  int64_t in_block_ = 0, out_block_ = 0, stride_ = 1;
  std::mutex mu_;
  std::map<Shape, Plan> plans_;  // per stored input shape
};

bool applies(const ops::KernelInit& init) {
  const Tensor* w = init.constant_input(1);
  if (!w || w->dtype() != DataType::kFloat32 || !init.constant_input(3)) return false;
  if (init.has_input(2) && !init.constant_input(2)) return false;
  if (init.has_input(4) && !init.constant_input(4)) return false;
  if (!init.input_is(0, DataType::kFloat32)) return false;
  const int64_t ib = init.node.attr_int("input_block", 0), ob = init.node.attr_int("output_block", 0);
  return (ib == 0 || ib == 8 || ib == 16) && (ob == 8 || ob == 16);
}

}  // namespace

void register_onednn_conv_dw(ops::KernelRegistry& r) {
  r.add({"FusedConvDw", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<OnednnConvDw>, "onednn", 10, applies});
}

}  // namespace pare::kernels
