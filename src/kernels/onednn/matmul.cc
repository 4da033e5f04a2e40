// MatMul (opset 1+) and Gemm (opset 1+) on oneDNN's matmul primitive, f32.
//   MatMul: numpy semantics for rank ≥ 2 operands, batch dims broadcast (leading 1s added).
//   Gemm:   Y = alpha·op(A)·op(B) + beta·C, op = transpose when transA/transB; transposition
//           is a strided memory descriptor (no copy); beta·C is added with broadcasting.
// Primitives are created once per input-shape pair and cached. Shapes oneDNN cannot take
// (1-D operands) run on the reference kernel, created alongside.
#include <map>

#include "kernels/onednn/onednn.h"
#include "ops/common/broadcast.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

using dnnl::memory;
using onednn::guarded;

memory::desc strided_2d(int64_t rows, int64_t cols, bool transposed) {
  // Logical [rows, cols]; stored transposed as [cols, rows] when `transposed`.
  return memory::desc({rows, cols}, memory::data_type::f32,
                      transposed ? memory::dims{1, rows} : memory::dims{cols, 1});
}

class OnednnMatMul final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<OnednnMatMul>();
    k->gemm_ = init.node.op_type() == "Gemm";
    if (k->gemm_) {
      k->trans_a_ = init.node.attr_int("transA", 0) != 0;
      k->trans_b_ = init.node.attr_int("transB", 0) != 0;
      k->alpha_ = init.node.attr_float("alpha", 1.0f);
      k->beta_ = init.node.attr_float("beta", 1.0f);
    }
    PARE_ASSIGN_OR_RETURN(k->fallback_, ops::KernelRegistry::reference().create(init));
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  Status run(ops::KernelContext& ctx) override {
    const Tensor* a = ctx.input(0);
    const Tensor* b = ctx.input(1);
    if (!a || !b || a->dtype() != DataType::kFloat32 || b->dtype() != DataType::kFloat32 || a->rank() < 2 ||
        b->rank() < 2 || (gemm_ && (a->rank() != 2 || b->rank() != 2))) {
      return fallback_->run(ctx);
    }
    Shape as = a->shape(), bs = b->shape();
    const int64_t m = gemm_ && trans_a_ ? as[1] : as[as.size() - 2];
    const int64_t k = gemm_ && trans_a_ ? as[0] : as.back();
    const int64_t kb = gemm_ && trans_b_ ? bs[1] : bs[bs.size() - 2];
    const int64_t n = gemm_ && trans_b_ ? bs[0] : bs.back();
    if (k != kb) return ctx.error("inner dimensions differ: {} and {}", a->type_string(), b->type_string());
    // Batch dims, broadcast.
    Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
    auto batch = broadcast_shapes(ab, bb);
    if (!batch.ok()) return ctx.error("batch dims of {} and {} do not broadcast", a->type_string(), b->type_string());
    Shape ys = *batch;
    ys.push_back(m);
    ys.push_back(n);
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, ys));
    if (y->numel() == 0) return ok_status();
    if (k == 0) return add_c(ctx, *y);  // empty product: zeros, then + beta·C
    Plan* plan = nullptr;
    PARE_RETURN_IF_ERROR(get_plan(as, bs, ys, plan));
    Status st = guarded(gemm_ ? "Gemm" : "MatMul", [&] {
      memory ma(plan->pd.src_desc(), onednn::engine(), const_cast<void*>(a->raw_data()));
      memory mb(plan->pd.weights_desc(), onednn::engine(), const_cast<void*>(b->raw_data()));
      memory my(plan->pd.dst_desc(), onednn::engine(), y->raw_data());
      onednn::execute(plan->prim, plan->pd, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, my}});
      return ok_status();
    });
    PARE_RETURN_IF_ERROR(st);
    return add_c(ctx, *y);
  }

 private:
  struct Plan {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul prim;
  };

  // Gemm's + beta·C (C broadcast to [M, N]).
  Status add_c(ops::KernelContext& ctx, Tensor& y) {
    if (!gemm_ || !ctx.has_input(2) || beta_ == 0.0f) return ok_status();
    const Tensor* c = ctx.input(2);
    if (!c || c->dtype() != DataType::kFloat32) return ctx.error("C must be a float tensor");
    auto bshape = broadcast_shapes(c->shape(), y.shape());
    if (!bshape.ok() || *bshape != y.shape()) return ctx.error("C {} does not broadcast to {}", c->type_string(), y.type_string());
    ops::BroadcastIterator it(y.shape(), {c->shape()});
    float* py = y.data<float>();
    const float* pc = c->data<float>();
    it.run([&](int64_t i, const int64_t* off) { py[i] += beta_ * pc[off[0]]; });
    return ok_status();
  }

  Status get_plan(const Shape& as, const Shape& bs, const Shape& ys, Plan*& out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_pair(as, bs);
    if (auto it = plans_.find(key); it != plans_.end()) {
      out = &it->second;
      return ok_status();
    }
    return guarded(gemm_ ? "Gemm" : "MatMul", [&] {
      memory::desc ad, bd, yd;
      dnnl::primitive_attr attr = onednn::scratchpad_attr();
      if (gemm_) {
        ad = strided_2d(ys[0], trans_a_ ? as[0] : as[1], trans_a_);
        bd = strided_2d(trans_b_ ? bs[1] : bs[0], ys[1], trans_b_);
        yd = onednn::plain_desc(ys);
        if (alpha_ != 1.0f) attr.set_output_scales(0, {alpha_});
      } else {
        // Same rank for all three, leading 1s added.
        Shape a2 = as, b2 = bs;
        while (a2.size() < ys.size()) a2.insert(a2.begin(), 1);
        while (b2.size() < ys.size()) b2.insert(b2.begin(), 1);
        ad = onednn::plain_desc(a2);
        bd = onednn::plain_desc(b2);
        yd = onednn::plain_desc(ys);
      }
      auto desc = dnnl::matmul::desc(ad, bd, yd);
      Plan p{dnnl::matmul::primitive_desc(desc, attr, onednn::engine()), {}};
      p.prim = dnnl::matmul(p.pd);
      out = &plans_.emplace(key, std::move(p)).first->second;
      return ok_status();
    });
  }

  bool gemm_ = false, trans_a_ = false, trans_b_ = false;
  float alpha_ = 1.0f, beta_ = 1.0f;
  std::unique_ptr<ops::Kernel> fallback_;
  std::mutex mu_;
  std::map<std::pair<Shape, Shape>, Plan> plans_;
};

bool is_float(const ops::KernelInit& init) {
  return init.input_is(0, DataType::kFloat32);
}

}  // namespace

void register_onednn_matmul(ops::KernelRegistry& r) {
  r.add({"MatMul", "", 1, ops::kMaxOpset, &ops::make_kernel<OnednnMatMul>, "onednn", 10, is_float});
  r.add({"Gemm", "", 1, ops::kMaxOpset, &ops::make_kernel<OnednnMatMul>, "onednn", 10, is_float});
}

}  // namespace pare::kernels
