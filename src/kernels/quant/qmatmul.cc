// com.pare.QMatMul (ops/fused/quant.h) on oneDNN's int8 matmul (u8/s8 × s8 → s32): A's zero
// point and the output scales A_s·B_s[n] are fixed at plan time for a static A (oneDNN then
// picks its brgemm matmul; with run-time values it fell back to a 5–10× slower gemm), run-time
// arguments in the dynamic mode (A is
// quantized per call, exactly as DynamicQuantizeLinear: min/max, then round-half-even of
// x / s with AVX-512), the float bias is a binary-add post-op, then the activation, 1/Y_s and
// Y's zero point for a quantized output. B is reordered once per row count into oneDNN's
// packed layout. If oneDNN has no implementation, the reference kernel runs.
#include <map>

#include "kernels/onednn/onednn.h"
#include "kernels/quant/simd.h"
#include "ops/fused/activation.h"
#include "ops/fused/quant.h"
#include "ops/kernel.h"

namespace pare::kernels {

void append_activation(dnnl::post_ops& po, const ops::ActivationSpec& a);

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using onednn::guarded;
using quant::has_avx512;
using quant::quantize_dynamic;

class QMatMulOnednn final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<QMatMulOnednn>();
    const ir::Node& n = init.node;
    PARE_ASSIGN_OR_RETURN(k->ref_, ops::KernelRegistry::reference().create(init));
    k->b_ = *init.constant_input(3);
    k->K_ = k->b_.dim(0);
    k->N_ = k->b_.dim(1);
    PARE_ASSIGN_OR_RETURN(k->bs_, ops::quant::channel_scales(*init.constant_input(4), k->N_, "B_scale"));
    k->dynamic_ = !init.has_input(1);
    if (!k->dynamic_) {
      PARE_ASSIGN_OR_RETURN(auto as, ops::quant::channel_scales(*init.constant_input(1), 1, "A_scale"));
      k->as_ = as[0];
      PARE_ASSIGN_OR_RETURN(k->az_, ops::quant::scalar_zero_point(init.constant_input(2), "A_zero_point"));
      k->a_type_ = init.input_type(0)->dtype;
    }
    if (const Tensor* bias = init.constant_input(6)) k->bias_ = *bias;
    if (init.has_input(7)) {
      PARE_ASSIGN_OR_RETURN(auto ys, ops::quant::channel_scales(*init.constant_input(7), 1, "Y_scale"));
      k->ys_ = ys[0];
      k->y_type_ = init.has_input(8) ? init.constant_input(8)->dtype() : DataType::kUInt8;
      PARE_ASSIGN_OR_RETURN(k->yz_, ops::quant::scalar_zero_point(init.constant_input(8), "Y_zero_point"));
    }
    PARE_ASSIGN_OR_RETURN(k->act_, ops::parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  Status run(ops::KernelContext& ctx) override {
    if (fallback_) return ref_->run(ctx);
    PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
    const DataType want = dynamic_ ? DataType::kFloat32 : a_type_;
    if (a->dtype() != want || a->rank() < 1 || a->dim(a->rank() - 1) != K_) return ref_->run(ctx);  // the reference names the error
    const int64_t M = a->numel() / K_;
    Plan* plan = nullptr;
    Status st = get_plan(M, plan);
    if (st.code() == StatusCode::kUnsupported) {
      fallback_ = true;
      return ref_->run(ctx);
    }
    PARE_RETURN_IF_ERROR(st);
    Shape ys = a->shape();
    ys.back() = N_;
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, ys_ > 0 ? y_type_ : DataType::kFloat32, ys));
    if (M == 0) return ok_status();
    float a_scale = as_;
    int32_t a_zero = az_;
    const void* a_data = a->raw_data();
    if (dynamic_) {
      if (qa_.size() < static_cast<size_t>(a->numel())) qa_.resize(static_cast<size_t>(a->numel()));
      const ops::quant::DynamicParams p = quantize_dynamic(a->data<float>(), a->numel(), qa_.data());
      a_scale = p.scale;
      a_zero = p.zero;
      a_data = qa_.data();
    }
    for (int64_t n = 0; n < N_; ++n) scales_[n] = a_scale * bs_[n];
    return guarded("QMatMul", [&] {
      auto& eng = onednn::engine();
      std::unordered_map<int, memory> args{
          {DNNL_ARG_SRC, memory(plan->pd.src_desc(), eng, const_cast<void*>(a_data))},
          {DNNL_ARG_WEIGHTS, plan->weights},
          {DNNL_ARG_DST, memory(plan->pd.dst_desc(), eng, y->raw_data())}};
      if (dynamic_) {
        args.insert({DNNL_ARG_ATTR_OUTPUT_SCALES, memory({{N_}, memory::data_type::f32, tag::a}, eng, scales_.data())});
        args.insert({DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, memory({{1}, memory::data_type::s32, tag::a}, eng, &a_zero)});
      }
      if (bias_.defined()) {
        args.insert({DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, memory({{1, N_}, memory::data_type::f32, tag::ab}, eng, bias_.raw_data())});
      }
      onednn::execute(plan->prim, plan->pd, args);
      return ok_status();
    });
  }

 private:
  struct Plan {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul prim;
    memory weights;
    Tensor packed;
  };

  static memory::data_type dt(DataType t) {
    return t == DataType::kUInt8 ? memory::data_type::u8 : t == DataType::kInt8 ? memory::data_type::s8 : memory::data_type::f32;
  }

  Status get_plan(int64_t M, Plan*& out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = plans_.find(M); it != plans_.end()) {
      out = &it->second;
      return ok_status();
    }
    scales_.resize(static_cast<size_t>(N_));
    return guarded("QMatMul", [&] {
      dnnl::primitive_attr attr = onednn::scratchpad_attr();
      if (dynamic_) {
        attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});
        attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
      } else {  // static A: constant scales and zero point, which oneDNN's brgemm matmul takes
        std::vector<float> sc(static_cast<size_t>(N_));
        for (int64_t n = 0; n < N_; ++n) sc[n] = as_ * bs_[n];
        attr.set_output_scales(1 << 1, sc);
        if (az_ != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {az_});
      }
      if (ys_ > 0 && yz_ != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {yz_});
      dnnl::post_ops po;
      if (bias_.defined()) po.append_binary(dnnl::algorithm::binary_add, memory::desc({1, N_}, memory::data_type::f32, tag::ab));
      append_activation(po, act_);
      if (ys_ > 0) po.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, 1.f / ys_, 0.f);
      attr.set_post_ops(po);
      auto src = memory::desc({M, K_}, dt(dynamic_ ? DataType::kUInt8 : a_type_), tag::ab);
      auto dst = memory::desc({M, N_}, dt(ys_ > 0 ? y_type_ : DataType::kFloat32), tag::ab);
      std::optional<dnnl::matmul::primitive_desc> pd;
      for (tag wt : {tag::any, tag::ab}) {
        try {
          auto desc = dnnl::matmul::desc(src, memory::desc({K_, N_}, memory::data_type::s8, wt), dst);
          pd.emplace(desc, attr, onednn::engine());
          break;
        } catch (const dnnl::error& e) {
          if (e.status != dnnl_unimplemented || wt == tag::ab) throw;
        }
      }
      const std::string impl = pd->impl_info_str();
      if (impl.rfind("ref", 0) == 0) return unsupported("QMatMul: oneDNN offers only its reference implementation ({})", impl);
      Plan p{*pd, dnnl::matmul(*pd), {}, {}};
      auto packed = Tensor::create(DataType::kUInt8, {static_cast<int64_t>(pd->weights_desc().get_size())});
      if (!packed.ok()) return packed.status();
      p.packed = *packed;
      p.weights = memory(pd->weights_desc(), onednn::engine(), p.packed.raw_data());
      onednn::reorder(memory({{K_, N_}, memory::data_type::s8, tag::ab}, onednn::engine(), b_.raw_data()), p.weights);
      out = &plans_.emplace(M, std::move(p)).first->second;
      return ok_status();
    });
  }

  std::unique_ptr<ops::Kernel> ref_;
  bool fallback_ = false, dynamic_ = false;
  Tensor b_, bias_;
  int64_t K_ = 0, N_ = 0;
  std::vector<float> bs_, scales_;
  float as_ = 0, ys_ = 0;
  int32_t az_ = 0, yz_ = 0;
  DataType a_type_ = DataType::kUInt8, y_type_ = DataType::kUInt8;
  ops::ActivationSpec act_;
  std::vector<uint8_t> qa_;
  std::mutex mu_;
  std::map<int64_t, Plan> plans_;
};

bool applies(const ops::KernelInit& init) {
  if (!has_avx512()) return false;
  const Tensor* b = init.constant_input(3);
  if (!b || b->dtype() != DataType::kInt8 || b->rank() != 2 || !init.constant_input(4)) return false;
  if (init.has_input(5)) return false;  // B zero point: only symmetric weights here
  if (init.has_input(1)) {
    if (!init.constant_input(1) || (init.has_input(2) && !init.constant_input(2))) return false;
    if (!init.input_is(0, DataType::kUInt8) && !init.input_is(0, DataType::kInt8)) return false;
  } else if (!init.input_is(0, DataType::kFloat32)) {
    return false;
  }
  if (init.has_input(6) && (!init.constant_input(6) || init.constant_input(6)->dtype() != DataType::kFloat32)) return false;
  for (size_t i : {7, 8})
    if (init.has_input(i) && !init.constant_input(i)) return false;
  return true;
}

}  // namespace

void register_quant_qmatmul(ops::KernelRegistry& r) {
  r.add({"QMatMul", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<QMatMulOnednn>, "onednn_int8", 10, applies});
}

}  // namespace pare::kernels
