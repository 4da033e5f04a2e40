// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool (plain NC[D]HW) and com.pare.BlockedPool
// (pare's blocked layout) on oneDNN pooling, f32. The primitive is created once per input
// shape. Conditions: float input of rank 3–5; MaxPool without the Indices output and without
// dilations; AveragePool with ceil_mode only when padding is excluded from the count (ONNX
// and oneDNN then agree on the partial last window). Tested against the reference kernels.
#include <map>

#include "kernels/onednn/onednn.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

using dnnl::memory;

class OnednnPool final : public ops::Kernel {
 public:
  explicit OnednnPool(const ops::KernelInit& init) {
    const ir::Node& n = init.node;
    op_ = n.domain() == "com.pare" ? n.attr_string("pool", "") : n.op_type();
    block_ = n.domain() == "com.pare" ? n.attr_int("block", 0) : 0;
    channels_ = n.attr_int("channels", 0);
    global_ = op_ == "GlobalAveragePool" || op_ == "GlobalMaxPool";
    kernel_ = n.attr_ints("kernel_shape");
    strides_ = n.attr_ints("strides");
    pads_ = n.attr_ints("pads");
    auto_pad_ = n.attr_string("auto_pad", "NOTSET");
    ceil_ = n.attr_int("ceil_mode", 0) != 0;
    include_pad_ = n.attr_int("count_include_pad", 0) != 0;
  }

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->dtype() != DataType::kFloat32) return ctx.error("expected float input, got {}", x->type_string());
    const int64_t rank = x->rank() - (block_ ? 1 : 0);
    if (rank < 3 || rank > 5) return ctx.error("expected rank 3 to 5, got {}", x->type_string());
    Plan* plan = nullptr;
    PARE_RETURN_IF_ERROR(get_plan(ctx, x->shape(), plan));
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, plan->out_shape));
    if (y->numel() == 0 || x->numel() == 0) return ok_status();
    return onednn::guarded(op_.c_str(), [&] {
      memory src(plan->pd.src_desc(), onednn::engine(), const_cast<void*>(x->raw_data()));
      memory dst(plan->pd.dst_desc(), onednn::engine(), y->raw_data());
      onednn::execute(plan->prim, plan->pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
      return ok_status();
    });
  }

 private:
  struct Plan {
    Shape out_shape;
    dnnl::pooling_forward::primitive_desc pd;
    dnnl::pooling_forward prim;
  };

  Status get_plan(ops::KernelContext& ctx, const Shape& stored, Plan*& out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = plans_.find(stored); it != plans_.end()) {
      out = &it->second;
      return ok_status();
    }
    const Shape xs = onednn::plain_dims(stored, block_ ? channels_ : stored[1], block_);
    const size_t sp = xs.size() - 2;
    std::vector<int64_t> k = kernel_, s = strides_, pl(sp, 0), pr(sp, 0);
    if (global_) {
      k.assign(xs.begin() + 2, xs.end());
      s.assign(sp, 1);
    }
    if (k.size() != sp) return ctx.error("kernel_shape has {} dims, input {} spatial dims", k.size(), sp);
    if (s.empty()) s.assign(sp, 1);
    if (s.size() != sp || (!pads_.empty() && pads_.size() != 2 * sp)) return ctx.error("strides/pads do not match the input rank");
    Shape ys{xs[0], xs[1]};
    for (size_t i = 0; i < sp; ++i) {
      const int64_t in = xs[i + 2];
      if (k[i] < 1 || s[i] < 1) return ctx.error("invalid kernel_shape or strides");
      if (!global_ && (auto_pad_ == "SAME_UPPER" || auto_pad_ == "SAME_LOWER")) {
        const int64_t o = (in + s[i] - 1) / s[i];
        const int64_t total = std::max<int64_t>((o - 1) * s[i] + k[i] - in, 0);
        pl[i] = auto_pad_ == "SAME_UPPER" ? total / 2 : total - total / 2;
        pr[i] = total - pl[i];
      } else if (!global_ && auto_pad_ != "VALID" && !pads_.empty()) {
        pl[i] = pads_[i];
        pr[i] = pads_[i + sp];
      }
      const int64_t span = in + pl[i] + pr[i] - k[i];
      if (span < 0) return ctx.error("kernel {} larger than padded input {}", k[i], in + pl[i] + pr[i]);
      int64_t o = span / s[i] + 1;
      if (ceil_ && !global_) {
        o = (span + s[i] - 1) / s[i] + 1;
        if ((o - 1) * s[i] >= in + pl[i]) --o;  // the last window must start inside the input or left pad
        pr[i] = std::max<int64_t>(pr[i], (o - 1) * s[i] + k[i] - in - pl[i]);
      }
      ys.push_back(o);
    }
    Shape stored_y = ys;
    if (block_) {
      stored_y[1] = (ys[1] + block_ - 1) / block_;
      stored_y.push_back(block_);
    }
    return onednn::guarded(op_.c_str(), [&] {
      using alg = dnnl::algorithm;
      const bool max = op_ == "MaxPool" || op_ == "GlobalMaxPool";
      const alg a = max ? alg::pooling_max : include_pad_ ? alg::pooling_avg_include_padding : alg::pooling_avg_exclude_padding;
      auto desc = dnnl::pooling_forward::desc(dnnl::prop_kind::forward_inference, a, onednn::layout_desc(xs, block_),
                                              onednn::layout_desc(ys, block_), onednn::to_dims(s), onednn::to_dims(k),
                                              onednn::to_dims(pl), onednn::to_dims(pr));
      Plan p{stored_y, dnnl::pooling_forward::primitive_desc(desc, onednn::scratchpad_attr(), onednn::engine()), {}};
      p.prim = dnnl::pooling_forward(p.pd);
      out = &plans_.emplace(stored, std::move(p)).first->second;
      return ok_status();
    });
  }

  std::string op_, auto_pad_;
  int64_t block_ = 0, channels_ = 0;
  bool global_ = false, ceil_ = false, include_pad_ = false;
  std::vector<int64_t> kernel_, strides_, pads_;
  std::mutex mu_;
  std::map<Shape, Plan> plans_;
};

bool float_input(const ops::KernelInit& init) {
  return init.input_is(0, DataType::kFloat32);
}

bool no_dilation(const ir::Node& n) {
  for (int64_t d : n.attr_ints("dilations")) {
    if (d != 1) return false;
  }
  return true;
}

bool applies(const ops::KernelInit& init) {
  const ir::Node& n = init.node;
  if (!float_input(init)) return false;
  const std::string op = n.domain() == "com.pare" ? n.attr_string("pool", "") : n.op_type();
  if (n.domain() == "com.pare") {
    const int64_t b = n.attr_int("block", 0);
    if (b != 8 && b != 16) return false;
  }
  if (op == "MaxPool") {
    if (n.domain() != "com.pare" && n.outputs().size() > 1 && n.output(1)) return false;
    return no_dilation(n) && n.has_attr("kernel_shape");
  }
  if (op == "AveragePool") {
    if (n.attr_int("ceil_mode", 0) && n.attr_int("count_include_pad", 0)) return false;
    return no_dilation(n) && n.has_attr("kernel_shape");
  }
  return op == "GlobalAveragePool" || op == "GlobalMaxPool";
}

}  // namespace

void register_onednn_pool(ops::KernelRegistry& r) {
  for (const char* op : {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"}) {
    r.add({op, "", 1, ops::kMaxOpset, &ops::make_kernel<OnednnPool>, "onednn", 10, applies});
  }
  r.add({"BlockedPool", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<OnednnPool>, "onednn", 10, applies});
}

}  // namespace pare::kernels
