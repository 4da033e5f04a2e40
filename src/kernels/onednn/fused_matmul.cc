// com.pare.FusedMatMul(A, B, bias?) on oneDNN matmul, f32: A's leading dims are flattened into
// the rows of one GEMM [rows, K]·[K, N]; B is reordered once into oneDNN's preferred blocked
// layout at plan time (shared by every row count whose layout agrees; the plain copy is then
// released); bias and activation ride in the
// epilogue (bias argument, eltwise post-ops). The primitive is created once per row count.
// Condition: float A, constant float B [K, N] and bias [N]. Tested against the reference.
#include <map>

#include "kernels/onednn/onednn.h"
#include "ops/fused/activation.h"
#include "ops/kernel.h"

namespace pare::kernels {

void append_activation(dnnl::post_ops& po, const ops::ActivationSpec& a);  // conv.cc

namespace {

using dnnl::memory;

class OnednnFusedMatMul final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<OnednnFusedMatMul>();
    const ir::Node& n = init.node;
    PARE_ASSIGN_OR_RETURN(k->act_, ops::parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    k->w_ = *init.constant_input(1);
    if (const Tensor* b = init.constant_input(2)) {
      if (b->numel() != k->w_.dim(1)) return invalid_input("{}: bias {} must have {} elements", n.describe(), b->type_string(), k->w_.dim(1));
      k->b_ = *b;
    }
    // Pack B now (for a typical row count) and drop the plain copy: the session then frees
    // the initializer too (prepacked_input), so the weights are held once.
    Status st = onednn::guarded("FusedMatMul", [&] {
      k->plan(64);
      return ok_status();
    });
    if (!st.ok()) return st;
    k->k_ = k->w_.dim(0);
    k->n_ = k->w_.dim(1);
    k->w_ = Tensor();
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  bool prepacked_input(size_t i) const override { return i == 1 || i == 2; }

  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
    const int64_t k = k_, n = n_;
    if (a->dtype() != DataType::kFloat32 || a->rank() < 2 || a->dim(a->rank() - 1) != k) {
      return ctx.error("A {} must be float [..., M, {}]", a->type_string(), k);
    }
    Shape ys = a->shape();
    ys.back() = n;
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_uninitialized(0, DataType::kFloat32, ys));  // GEMM writes all of it
    if (y->numel() == 0) return ok_status();
    const int64_t rows = a->numel() / k;
    return onednn::guarded("FusedMatMul", [&] {
      Plan& p = plan(rows);
      memory ma(p.pd.src_desc(), onednn::engine(), const_cast<void*>(a->raw_data()));
      memory my(p.pd.dst_desc(), onednn::engine(), y->raw_data());
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, *p.weights}, {DNNL_ARG_DST, my}};
      if (b_.defined()) args.insert({DNNL_ARG_BIAS, memory(p.pd.bias_desc(), onednn::engine(), const_cast<void*>(b_.raw_data()))});
      onednn::execute(p.prim, p.pd, args);
      return ok_status();
    });
  }

 private:
  struct Packed {
    memory::desc desc;
    Tensor storage;
    memory mem;
  };
  struct Plan {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul prim;
    const memory* weights = nullptr;
  };

  // Throws dnnl::error (caught by guarded).
  Plan& plan(int64_t rows) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = plans_.find(rows); it != plans_.end()) return it->second;
    const int64_t k = w_.defined() ? w_.dim(0) : k_, n = w_.defined() ? w_.dim(1) : n_;
    dnnl::post_ops po;
    append_activation(po, act_);
    dnnl::primitive_attr attr = onednn::scratchpad_attr();
    attr.set_post_ops(po);
    auto wd = memory::desc({k, n}, memory::data_type::f32, memory::format_tag::any);
    auto bd = b_.defined() ? onednn::plain_desc({1, n}) : memory::desc();
    auto desc = dnnl::matmul::desc(onednn::plain_desc({rows, k}), wd, bd, onednn::plain_desc({rows, n}));
    Plan p{dnnl::matmul::primitive_desc(desc, attr, onednn::engine()), {}, nullptr};
    p.prim = dnnl::matmul(p.pd);
    for (const auto& packed : packed_) {
      if (packed->desc == p.pd.weights_desc()) p.weights = &packed->mem;
    }
    if (!p.weights) {
      auto pk = std::make_unique<Packed>();
      pk->desc = p.pd.weights_desc();
      auto t = Tensor::create(DataType::kUInt8, {static_cast<int64_t>(pk->desc.get_size())});
      if (!t.ok()) throw std::runtime_error(t.status().to_string());
      pk->storage = *t;
      pk->mem = memory(pk->desc, onednn::engine(), pk->storage.raw_data());
      // From the plain weights while they are held, else from the first packed copy.
      memory src = w_.defined() ? memory(onednn::plain_desc({k, n}), onednn::engine(), const_cast<void*>(w_.raw_data()))
                                : packed_.front()->mem;
      onednn::reorder(src, pk->mem);
      p.weights = &pk->mem;
      packed_.push_back(std::move(pk));
    }
    return plans_.emplace(rows, std::move(p)).first->second;
  }

  ops::ActivationSpec act_;
  Tensor w_, b_;  // w_: the plain B until packed
  int64_t k_ = 0, n_ = 0;
  std::mutex mu_;
  std::vector<std::unique_ptr<Packed>> packed_;
  std::map<int64_t, Plan> plans_;
};

bool applies(const ops::KernelInit& init) {
  const ir::TypeInfo* t = init.input_type(0);
  const Tensor* w = init.constant_input(1);
  if (!t || t->kind != ir::TypeInfo::Kind::kTensor || t->dtype != DataType::kFloat32) return false;
  if (!w || w->rank() != 2 || w->dtype() != DataType::kFloat32) return false;
  if (init.has_input(2)) {
    const Tensor* b = init.constant_input(2);
    if (!b || b->dtype() != DataType::kFloat32) return false;
  }
  return true;
}

}  // namespace

void register_onednn_fused_matmul(ops::KernelRegistry& r) {
  r.add({"FusedMatMul", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<OnednnFusedMatMul>, "onednn", 10, applies});
}

}  // namespace pare::kernels
