// com.pare.LayoutToBlocked / LayoutToPlain (ops/fused/blocked.h) as oneDNN reorders, f32,
// rank 3–5 plain tensors, block 8 or 16. The reorder primitive is created once per shape.
#include <map>

#include "kernels/onednn/onednn.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

using dnnl::memory;

class OnednnLayout final : public ops::Kernel {
 public:
  explicit OnednnLayout(const ops::KernelInit& init)
      : to_blocked_(init.node.op_type() == "LayoutToBlocked"), block_(init.node.attr_int("block", 16)),
        channels_(init.node.attr_int("channels", 0)) {}

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->dtype() != DataType::kFloat32) return ctx.error("expected float input, got {}", x->type_string());
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(x->shape());
    if (it == plans_.end()) {
      PARE_ASSIGN_OR_RETURN(Plan p, make_plan(ctx, x->shape()));
      it = plans_.emplace(x->shape(), std::move(p)).first;
    }
    Plan& p = it->second;
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, p.out_shape));
    if (y->numel() == 0) return ok_status();
    return onednn::guarded("layout reorder", [&] {
      memory src(p.src, onednn::engine(), const_cast<void*>(x->raw_data()));
      memory dst(p.dst, onednn::engine(), y->raw_data());
      onednn::execute(p.prim, p.pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
      return ok_status();
    });
  }

 private:
  struct Plan {
    Shape out_shape;
    memory::desc src, dst;
    dnnl::reorder::primitive_desc pd;
    dnnl::reorder prim;
  };

  Result<Plan> make_plan(ops::KernelContext& ctx, const Shape& xs) {
    const int64_t block = to_blocked_ ? block_ : xs.back();
    if (block != 8 && block != 16) return ctx.error("block {} is not 8 or 16", block);
    Shape plain = to_blocked_ ? xs : onednn::plain_dims(xs, channels_, block);
    if (plain.size() < 3 || plain.size() > 5) return ctx.error("expected rank 3 to 5");
    if (!to_blocked_ && (channels_ <= (xs[1] - 1) * block || channels_ > xs[1] * block)) {
      return ctx.error("blocked {} cannot hold {} channels", shape_to_string(xs), channels_);
    }
    Shape blocked{plain[0], (plain[1] + block - 1) / block};
    blocked.insert(blocked.end(), plain.begin() + 2, plain.end());
    blocked.push_back(block);
    Plan p;
    p.out_shape = to_blocked_ ? blocked : plain;
    Status st = onednn::guarded("layout reorder", [&] {
      p.src = to_blocked_ ? onednn::plain_desc(plain) : onednn::layout_desc(plain, block);
      p.dst = to_blocked_ ? onednn::layout_desc(plain, block) : onednn::plain_desc(plain);
      p.pd = dnnl::reorder::primitive_desc(onednn::engine(), p.src, onednn::engine(), p.dst, onednn::scratchpad_attr());
      p.prim = dnnl::reorder(p.pd);
      return ok_status();
    });
    if (!st.ok()) return st;
    return p;
  }

  bool to_blocked_;
  int64_t block_, channels_;
  std::mutex mu_;
  std::map<Shape, Plan> plans_;
};

bool applies(const ops::KernelInit& init) {
  return init.input_is(0, DataType::kFloat32);
}

}  // namespace

void register_onednn_layout(ops::KernelRegistry& r) {
  r.add({"LayoutToBlocked", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<OnednnLayout>, "onednn", 10, applies});
  r.add({"LayoutToPlain", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<OnednnLayout>, "onednn", 10, applies});
}

}  // namespace pare::kernels
