// com.pare.QConv (ops/fused/quant.h) on oneDNN's int8 convolution (u8/s8 × s8 → s32, VNNI on
// AVX-512 VNNI CPUs): X's zero point as oneDNN's source zero point, the int32 bias added to
// the accumulator, output scales X_s·W_s[c] (per channel) giving the real result, then post-ops:
// the residual Z as a `sum` with Z's scale and zero point (Z is copied into the output buffer
// first), the activation, a linear 1/Y_s, and Y's zero point as the destination zero point —
//   y = saturate(round(act(X_s·W_s·(Σ(x−z_x)·w + b) + Z_s·(z − z_z)) / Y_s) + z_y).
// oneDNN computes in N,H,W,C: tensors the lowering pass keeps N,H,W,C (input_nhwc, z_nhwc,
// output_nhwc) are used in place, plain ones are reordered (uint8, cheap). Weights are
// reordered once (with oneDNN's zero-point compensation) per input shape. If oneDNN has no
// implementation for a shape, the reference kernel runs it.
#include <algorithm>
#include <cstring>
#include <map>

#include "kernels/onednn/onednn.h"
#include "ops/fused/activation.h"
#include "ops/fused/quant.h"
#include "ops/kernel.h"

namespace pare::kernels {

void append_activation(dnnl::post_ops& po, const ops::ActivationSpec& a);

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using onednn::guarded;

memory::data_type dnnl_type(DataType t) {
  switch (t) {
    case DataType::kUInt8: return memory::data_type::u8;
    case DataType::kInt8: return memory::data_type::s8;
    case DataType::kInt32: return memory::data_type::s32;
    default: return memory::data_type::f32;
  }
}

class QConvOnednn final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<QConvOnednn>();
    const ir::Node& n = init.node;
    PARE_ASSIGN_OR_RETURN(k->ref_, ops::KernelRegistry::reference().create(init));  // validates; the fallback
    k->w_ = *init.constant_input(3);
    const int64_t M = k->w_.dim(0);
    PARE_ASSIGN_OR_RETURN(auto xs, ops::quant::channel_scales(*init.constant_input(1), 1, "X_scale"));
    PARE_ASSIGN_OR_RETURN(auto ws, ops::quant::channel_scales(*init.constant_input(4), M, "W_scale"));
    PARE_ASSIGN_OR_RETURN(k->xz_, ops::quant::scalar_zero_point(init.constant_input(2), "X_zero_point"));
    k->x_type_ = init.input_type(0)->dtype;
    k->out_scales_.resize(M);
    for (int64_t c = 0; c < M; ++c) k->out_scales_[c] = xs[0] * ws[c];
    if (const Tensor* b = init.constant_input(5)) k->b_ = *b;
    if (init.has_input(6)) {
      PARE_ASSIGN_OR_RETURN(auto ys, ops::quant::channel_scales(*init.constant_input(6), 1, "Y_scale"));
      k->ys_ = ys[0];
      k->y_type_ = init.has_input(7) ? init.constant_input(7)->dtype() : DataType::kUInt8;
      PARE_ASSIGN_OR_RETURN(k->yz_, ops::quant::scalar_zero_point(init.constant_input(7), "Y_zero_point"));
    }
    if (init.has_input(8)) {
      k->has_z_ = true;
      // Z last used here, not a graph input/output or constant: Y may take Z's buffer (below).
      k->z_in_place_ = onednn::may_overwrite_input(n, n.input(8));
      PARE_ASSIGN_OR_RETURN(auto zs, ops::quant::channel_scales(*init.constant_input(9), 1, "Z_scale"));
      k->zs_ = zs[0];
      PARE_ASSIGN_OR_RETURN(k->zz_, ops::quant::scalar_zero_point(init.constant_input(10), "Z_zero_point"));
    }
    PARE_ASSIGN_OR_RETURN(k->act_, ops::parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    k->in_nhwc_ = n.attr_int("input_nhwc", 0) != 0;
    k->out_nhwc_ = n.attr_int("output_nhwc", 0) != 0;
    k->z_nhwc_ = n.attr_int("z_nhwc", 0) != 0;
    const Shape& ws_shape = k->w_.shape();
    k->kernel_ = n.attr_ints("kernel_shape", Shape(ws_shape.begin() + 2, ws_shape.end()));
    k->strides_ = n.attr_ints("strides", {1, 1});
    k->dilations_ = n.attr_ints("dilations", {1, 1});
    k->pads_ = n.attr_ints("pads", {0, 0, 0, 0});
    k->auto_pad_ = n.attr_string("auto_pad", "NOTSET");
    k->group_ = n.attr_int("group", 1);
    // A strided 1x1 convolution without padding (a ResNet's downsample projection) reads one
    // pixel in stride²: gather those pixels (N,H,W,C rows of C bytes), then run it at stride 1,
    // where oneDNN's 1x1 kernel is faster per MAC than its strided form.
    k->subsample_ = k->in_nhwc_ && k->kernel_ == std::vector<int64_t>{1, 1} && k->dilations_ == std::vector<int64_t>{1, 1} &&
                    k->pads_ == std::vector<int64_t>{0, 0, 0, 0} && (k->auto_pad_ == "NOTSET" || k->auto_pad_ == "VALID") &&
                    k->strides_.size() == 2 && (k->strides_[0] > 1 || k->strides_[1] > 1);
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }

  Status run(ops::KernelContext& ctx) override {
    if (fallback_) return ref_->run(ctx);
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    if (x->dtype() != x_type_ || x->rank() != 4) return ref_->run(ctx);
    Plan* plan = nullptr;
    Status st = get_plan(x->shape(), plan);
    if (st.code() == StatusCode::kUnsupported) {
      fallback_ = true;
      return ref_->run(ctx);
    }
    PARE_RETURN_IF_ERROR(st);
    const Shape& ys = plan->y_nhwc;  // [N, H, W, M]
    Shape stored = out_nhwc_ ? ys : Shape{ys[0], ys[3], ys[1], ys[2]};
    const DataType yt = ys_ > 0 ? y_type_ : DataType::kFloat32;
    const Tensor* z_in = has_z_ ? ctx.input(8) : nullptr;
    // The sum post-op reads Z where it writes Y: with Z N,H,W,C of Y's type and nobody else
    // holding it, Y is written over Z (no copy of Z, no new buffer).
    if (z_in && z_in_place_ && z_nhwc_ && out_nhwc_ && yt != DataType::kFloat32 && z_in->dtype() == yt && z_in->shape() == stored &&
        z_in->buffer().use_count() == 1) {
      return guarded("QConv", [&] {
        void* y = const_cast<void*>(z_in->raw_data());
        ctx.set_output(0, RunValue(*z_in));
        memory src = source(plan, x);
        memory dst(plan->pd.dst_desc(), onednn::engine(), y);
        execute(plan, src, dst);
        return ok_status();
      });
    }
    // Every element is written (oneDNN's N,H,W,C destination has no padding, or the reorder
    // into N,C,H,W fills it): no zero fill.
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output_uninitialized(0, yt, stored));
    return guarded("QConv", [&] {
      auto& eng = onednn::engine();
      memory src = source(plan, x);
      void* dst_ptr = y->raw_data();
      if (!out_nhwc_) {
        ensure(y_tmp_, y->nbytes());
        dst_ptr = y_tmp_.data();
      }
      memory dst(plan->pd.dst_desc(), eng, dst_ptr);
      if (has_z_) {
        const Tensor* z = ctx.input(8);
        const Shape zs = z_nhwc_ ? ys : Shape{ys[0], ys[3], ys[1], ys[2]};
        if (!z || z->shape() != zs || (yt != DataType::kFloat32 && z->dtype() != yt)) {
          return ctx.error("Z {} must be {} of shape {}", z ? z->type_string() : "(missing)", dtype_name(yt), shape_to_string(zs));
        }
        if (yt == DataType::kFloat32) {  // dequantize Z into the float output (sum scale 1)
          const int64_t M = ys[3], S = ys[1] * ys[2];
          float* d = static_cast<float*>(dst_ptr);
          for (int64_t b = 0; b < ys[0]; ++b)
            for (int64_t s = 0; s < S; ++s)
              for (int64_t m = 0; m < M; ++m) {
                const int64_t zi = z_nhwc_ ? (b * S + s) * M + m : (b * M + m) * S + s;
                d[(b * S + s) * M + m] = static_cast<float>((ops::quant::int_element(*z, zi) - zz_) * double(zs_));
              }
        } else if (z_nhwc_) {
          std::memcpy(dst_ptr, z->raw_data(), z->nbytes());
        } else {
          onednn::reorder(memory(plan->y_plain, eng, const_cast<void*>(z->raw_data())), dst);
        }
      }
      execute(plan, src, dst);
      if (!out_nhwc_) onednn::reorder(dst, memory(plan->y_plain, eng, y->raw_data()));
      return ok_status();
    });
  }

 private:
  struct Plan {
    Shape y_nhwc;
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward prim;
    memory::desc x_plain, y_plain;
    memory weights, bias;  // made once (bias: constant int32, read in place)
    Tensor packed;
  };

  // X as oneDNN's N,H,W,C source: in place, or reordered from N,C,H,W into a scratch buffer.
  memory source(Plan* plan, const Tensor* x) {
    auto& eng = onednn::engine();
    if (subsample_) {
      const Shape& xs = x->shape();  // N, H, W, C
      const int64_t oh = plan->y_nhwc[1], ow = plan->y_nhwc[2], C = xs[3];
      ensure(x_tmp_, static_cast<size_t>(xs[0] * oh * ow * C));
      const auto* px = static_cast<const uint8_t*>(x->raw_data());
      uint8_t* pt = x_tmp_.data();
      for (int64_t b = 0; b < xs[0]; ++b)
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j)
            std::memcpy(pt + ((b * oh + i) * ow + j) * C, px + ((b * xs[1] + i * strides_[0]) * xs[2] + j * strides_[1]) * C, C);
      return memory(plan->pd.src_desc(), eng, x_tmp_.data());
    }
    if (in_nhwc_) return memory(plan->pd.src_desc(), eng, const_cast<void*>(x->raw_data()));
    ensure(x_tmp_, x->nbytes());
    memory src(plan->pd.src_desc(), eng, x_tmp_.data());
    onednn::reorder(memory(plan->x_plain, eng, const_cast<void*>(x->raw_data())), src);
    return src;
  }

  void execute(Plan* plan, const memory& src, const memory& dst) {
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan->weights}, {DNNL_ARG_DST, dst}};
    if (b_.defined()) args.insert({DNNL_ARG_BIAS, plan->bias});
    onednn::execute(plan->prim, plan->pd, args);
  }

  static void ensure(std::vector<uint8_t>& buf, size_t bytes) {
    if (buf.size() < bytes) buf.resize(bytes);
  }

  Status get_plan(const Shape& stored, Plan*& out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = plans_.find(stored); it != plans_.end()) {
      out = &it->second;
      return ok_status();
    }
    const Shape xs = in_nhwc_ ? Shape{stored[0], stored[3], stored[1], stored[2]} : stored;  // N, C, H, W
    std::vector<int64_t> pl(2), pr(2);
    Shape yd{xs[0], w_.dim(0)};
    for (size_t i = 0; i < 2; ++i) {
      const int64_t in = xs[i + 2], k = dilations_[i] * (kernel_[i] - 1) + 1, s = strides_[i];
      if (auto_pad_ == "SAME_UPPER" || auto_pad_ == "SAME_LOWER") {
        const int64_t o = (in + s - 1) / s, total = std::max<int64_t>((o - 1) * s + k - in, 0);
        pl[i] = auto_pad_ == "SAME_UPPER" ? total / 2 : total - total / 2;
        pr[i] = total - pl[i];
      } else if (auto_pad_ != "VALID") {
        pl[i] = pads_[i];
        pr[i] = pads_[i + 2];
      }
      const int64_t span = in + pl[i] + pr[i] - k;
      if (span < 0) return invalid_input("QConv: kernel {} larger than padded input {}", k, in + pl[i] + pr[i]);
      yd.push_back(span / s + 1);
    }
    return guarded("QConv", [&] {
      const memory::data_type xt = dnnl_type(x_type_), yt = ys_ > 0 ? dnnl_type(y_type_) : memory::data_type::f32;
      Shape wsh = w_.shape();
      if (group_ > 1) {
        wsh[0] /= group_;
        wsh.insert(wsh.begin(), group_);
      }
      const Shape conv_xs = subsample_ ? Shape{xs[0], xs[1], yd[2], yd[3]} : xs;  // gathered by source()
      auto src_md = memory::desc(onednn::to_dims(conv_xs), xt, tag::nhwc);
      auto dst_md = memory::desc(onednn::to_dims(yd), yt, tag::nhwc);
      auto w_md = memory::desc(onednn::to_dims(wsh), memory::data_type::s8, tag::any);
      auto b_md = b_.defined() ? memory::desc({w_.dim(0)}, memory::data_type::s32, tag::a) : memory::desc();
      dnnl::primitive_attr attr = onednn::scratchpad_attr();
      attr.set_output_scales(out_scales_.size() > 1 ? 1 << 1 : 0, out_scales_);
      if (xz_ != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {xz_});
      if (ys_ > 0 && yz_ != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {yz_});
      dnnl::post_ops po;
      if (has_z_) {
        if (ys_ > 0) po.append_sum(zs_, zz_, yt);
        else po.append_sum(1.f);
      }
      append_activation(po, act_);
      if (ys_ > 0) po.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, 1.f / ys_, 0.f);
      attr.set_post_ops(po);
      memory::dims strides = subsample_ ? memory::dims{1, 1} : memory::dims(strides_.begin(), strides_.end());
      memory::dims dil{dilations_[0] - 1, dilations_[1] - 1};
      memory::dims l(pl.begin(), pl.end()), r(pr.begin(), pr.end());
      auto desc = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md,
                                                  w_md, b_md, dst_md, strides, dil, l, r);
      // Several int8 implementations apply (brgemm, direct JIT, 1x1 …): the fastest here, timed
      // (ResNet-50 takes the direct JIT kernel for 45 of its 53 convolutions).
      Plan p{{yd[0], yd[2], yd[3], yd[1]}, onednn::fastest_conv(desc, attr), {}, {}, {}, {}, {}, {}};
      const std::string impl = p.pd.impl_info_str();
      if (impl.rfind("ref", 0) == 0) return unsupported("QConv: oneDNN offers only its reference implementation ({})", impl);
      p.prim = dnnl::convolution_forward(p.pd);
      p.x_plain = memory::desc(onednn::to_dims(xs), xt, tag::nchw);
      p.y_plain = memory::desc(onednn::to_dims(yd), yt, tag::nchw);
      if (b_.defined()) p.bias = memory(p.pd.bias_desc(), onednn::engine(), b_.raw_data());
      memory user_w(onednn::plain_desc(wsh, memory::data_type::s8), onednn::engine(), const_cast<void*>(w_.raw_data()));
      PARE_ASSIGN_OR_RETURN(p.weights, onednn::pack(user_w, p.pd.weights_desc(), p.packed));
      out = &plans_.emplace(stored, std::move(p)).first->second;
      return ok_status();
    });
  }

  std::unique_ptr<ops::Kernel> ref_;
  bool fallback_ = false;
  Tensor w_, b_;
  std::vector<float> out_scales_;
  DataType x_type_ = DataType::kUInt8, y_type_ = DataType::kUInt8;
  int32_t xz_ = 0, yz_ = 0, zz_ = 0;
  float ys_ = 0, zs_ = 0;
  bool has_z_ = false, z_in_place_ = false, in_nhwc_ = false, out_nhwc_ = false, z_nhwc_ = false, subsample_ = false;
  ops::ActivationSpec act_;
  std::vector<int64_t> kernel_, strides_, dilations_, pads_;
  std::string auto_pad_;
  int64_t group_ = 1;
  std::vector<uint8_t> x_tmp_, y_tmp_;
  std::mutex mu_;
  std::map<Shape, Plan> plans_;
};

bool const_input(const ops::KernelInit& init, size_t i) { return !init.has_input(i) || init.constant_input(i); }

bool applies(const ops::KernelInit& init) {
  const Tensor* w = init.constant_input(3);
  if (!w || w->dtype() != DataType::kInt8 || w->rank() != 4 || !init.constant_input(1) || !init.constant_input(4)) return false;
  if (!init.input_is(0, DataType::kUInt8) && !init.input_is(0, DataType::kInt8)) return false;
  for (size_t i : {2, 5, 6, 7, 9, 10})
    if (!const_input(init, i)) return false;
  if (init.has_input(8) && !init.has_input(9)) return false;
  return true;
}

}  // namespace

void register_quant_qconv(ops::KernelRegistry& r) {
  r.add({"QConv", "com.pare", 1, ops::kMaxOpset, &ops::make_kernel<QConvOnednn>, "onednn_int8", 10, applies});
}

}  // namespace pare::kernels
