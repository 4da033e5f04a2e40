// Transpose (opset 1+) as a oneDNN reorder, f32: the input is described in the output's
// dim order with permuted strides, and reordered into a dense output (JIT, threaded).
// Ranks up to oneDNN's 12 dims; the reorder is created once per shape.
#include <map>

#include "kernels/onednn/onednn.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

using dnnl::memory;

class OnednnTranspose final : public ops::Kernel {
 public:
  explicit OnednnTranspose(const ops::KernelInit& init) : perm_(init.node.attr_ints("perm")) {}

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    const int64_t r = x->rank();
    std::vector<int64_t> perm = perm_;
    if (perm.empty()) {
      for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
    }
    std::vector<bool> seen(r, false);
    if (static_cast<int64_t>(perm.size()) != r) return ctx.error("perm has {} entries for rank {}", perm.size(), r);
    for (int64_t p : perm) {
      if (p < 0 || p >= r || seen[p]) return ctx.error("perm is not a permutation of 0..{}", r - 1);
      seen[p] = true;
    }
    Shape ys(r);
    for (int64_t i = 0; i < r; ++i) ys[i] = x->dim(perm[i]);
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, x->dtype(), ys));
    if (y->numel() == 0) return ok_status();
    if (r == 0 || r > DNNL_MAX_NDIMS) return ctx.error("rank {} outside 1..{}", r, DNNL_MAX_NDIMS);
    return onednn::guarded("Transpose", [&] {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = plans_.find(x->shape());
      if (it == plans_.end()) {
        memory::dims xstr(r, 1), vstr(r);
        for (int64_t i = r - 2; i >= 0; --i) xstr[i] = xstr[i + 1] * x->dim(i + 1);
        for (int64_t i = 0; i < r; ++i) vstr[i] = xstr[perm[i]];
        memory::desc src(onednn::to_dims(ys), memory::data_type::f32, vstr);
        memory::desc dst = onednn::plain_desc(ys);
        dnnl::reorder::primitive_desc pd(onednn::engine(), src, onednn::engine(), dst, onednn::scratchpad_attr());
        Plan p{src, dst, pd, dnnl::reorder(pd)};
        it = plans_.emplace(x->shape(), std::move(p)).first;
      }
      memory src(it->second.src, onednn::engine(), const_cast<void*>(x->raw_data()));
      memory dst(it->second.dst, onednn::engine(), y->raw_data());
      onednn::execute(it->second.prim, it->second.pd, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
      return ok_status();
    });
  }

 private:
  struct Plan {
    memory::desc src, dst;
    dnnl::reorder::primitive_desc pd;
    dnnl::reorder prim;
  };
  std::vector<int64_t> perm_;
  std::mutex mu_;
  std::map<Shape, Plan> plans_;
};

bool applies(const ops::KernelInit& init) {
  return init.input_is(0, DataType::kFloat32);
}

}  // namespace

void register_onednn_transpose(ops::KernelRegistry& r) {
  r.add({"Transpose", "", 1, ops::kMaxOpset, &ops::make_kernel<OnednnTranspose>, "onednn", 10, applies});
}

}  // namespace pare::kernels
