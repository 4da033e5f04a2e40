// Reference kernels of com.pare.QConv, QMatMul and WeightOnlyMatMul (ops/fused/quant.h): the
// parts in order — dequantize, the float op (the reference Conv; a double dot product),
// residual, activation, quantize (round half to even, saturate) — the oracle of the fast
// kernels in kernels/quant/ and of passes/lower_qdq.cc.
#include "ops/fused/activation.h"
#include "ops/fused/quant.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {
namespace quant {

Result<std::vector<float>> channel_scales(const Tensor& s, int64_t n, const char* what) {
  if (s.dtype() != DataType::kFloat32 || (s.numel() != 1 && s.numel() != n) || s.rank() > 1) {
    return invalid_input("{} must be float32 with 1 or {} values, got {}", what, n, s.type_string());
  }
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    out[i] = s.data<float>()[s.numel() == 1 ? 0 : i];
    if (!(out[i] > 0) || !std::isfinite(out[i])) return invalid_input("{} holds {} (must be finite and > 0)", what, out[i]);
  }
  return out;
}

Result<int32_t> scalar_zero_point(const Tensor* z, const char* what) {
  if (!z) return 0;
  if (z->numel() != 1 || !dtype_is_integer(z->dtype())) return invalid_input("{} must be one integer, got {}", what, z->type_string());
  return int_element(*z, 0);
}

DynamicParams dynamic_params(const float* x, int64_t n) {
  double mn = 0, mx = 0;
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, double(x[i]));
    mx = std::max(mx, double(x[i]));
  }
  DynamicParams p;
  p.scale = static_cast<float>((mx - mn) / 255.0);
  p.zero = p.scale == 0 ? 0 : static_cast<int32_t>(std::clamp(std::nearbyint(-mn / p.scale), 0.0, 255.0));
  return p;
}

Result<Tensor> dequantize_weight(const Tensor& q, const Tensor& scale, const Tensor* zero, int64_t axis, int64_t block,
                                 bool trans_b) {
  if (q.rank() != 2 || !dtype_is_integer(q.dtype()) || scale.dtype() != DataType::kFloat32) {
    return invalid_input("weight {} must be a 2-D integer matrix with float scales, got scales {}", q.type_string(), scale.type_string());
  }
  if (axis < 0) axis += 2;
  if (axis < 0 || axis > 1) return invalid_input("axis out of range for a 2-D weight");
  const int64_t rows = q.dim(0), cols = q.dim(1);
  const int64_t extent = q.dim(axis), groups = block > 0 ? (extent + block - 1) / block : extent;
  // Index of the scale of element (r, c).
  auto sidx = [&](int64_t r, int64_t c) -> int64_t {
    if (scale.numel() == 1 && block == 0) return 0;
    if (block == 0) return axis == 0 ? r : c;
    return axis == 0 ? (r / block) * cols + c : r * groups + c / block;
  };
  const int64_t want = block == 0 ? extent : (axis == 0 ? groups * cols : rows * groups);
  if (!(scale.numel() == 1 && block == 0) && scale.numel() != want) {
    return invalid_input("scale {} does not match weight {} (axis {}, block_size {})", scale.type_string(), q.type_string(), axis, block);
  }
  if (zero && zero->numel() != scale.numel()) return invalid_input("zero point {} must match the scale {}", zero->type_string(), scale.type_string());
  const int64_t K = trans_b ? cols : rows, N = trans_b ? rows : cols;
  PARE_ASSIGN_OR_RETURN(Tensor w, Tensor::create(DataType::kFloat32, {K, N}));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t si = sidx(r, c);
      const double v = (int_element(q, r * cols + c) - (zero ? int_element(*zero, si) : 0)) * double(scale.data<float>()[si]);
      w.data<float>()[trans_b ? c * N + r : r * N + c] = static_cast<float>(v);
    }
  return w;
}

}  // namespace quant

namespace {

const std::vector<std::string> kConvAttrs = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"};

bool is_q8(DataType t) { return t == DataType::kUInt8 || t == DataType::kInt8; }

// Index of element (n, c, s) of an [N, C, S] tensor stored plain or as [N, S, C].
inline int64_t at(int64_t n, int64_t c, int64_t s, int64_t C, int64_t S, bool nhwc) {
  return nhwc ? (n * S + s) * C + c : (n * C + c) * S + s;
}

class QConvRef final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<QConvRef>();
    const ir::Node& n = init.node;
    const Tensor* w = init.constant_input(3);
    const Tensor* xs = init.constant_input(1);
    const Tensor* ws = init.constant_input(4);
    if (!w || w->dtype() != DataType::kInt8 || w->rank() < 3 || w->rank() > 5 || !xs || !ws) {
      return invalid_input("{}: needs a constant int8 weight and constant X/W scales", n.describe());
    }
    PARE_ASSIGN_OR_RETURN(auto x_scale, quant::channel_scales(*xs, 1, "X_scale"));
    PARE_ASSIGN_OR_RETURN(auto w_scale, quant::channel_scales(*ws, w->dim(0), "W_scale"));
    PARE_ASSIGN_OR_RETURN(k->act_, parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    k->in_nhwc_ = n.attr_int("input_nhwc", 0) != 0;
    k->out_nhwc_ = n.attr_int("output_nhwc", 0) != 0;
    k->z_nhwc_ = n.attr_int("z_nhwc", 0) != 0;
    if ((k->in_nhwc_ || k->out_nhwc_ || k->z_nhwc_) && w->rank() != 4) return invalid_input("{}: nhwc layout needs a 2-D convolution", n.describe());
    const int64_t M = w->dim(0), per = w->numel() / M;
    PARE_ASSIGN_OR_RETURN(Tensor wf, Tensor::create(DataType::kFloat32, w->shape()));
    for (int64_t i = 0; i < w->numel(); ++i) wf.data<float>()[i] = w->data<int8_t>()[i] * w_scale[i / per];
    k->g_ = std::make_unique<ir::Graph>();
    ir::Value* x = k->g_->add_value("x");
    k->g_->add_input(x);
    std::vector<ir::Value*> ins{x, k->g_->add_initializer("w", wf)};
    k->w_ = RunValue(wf);
    if (const Tensor* b = init.constant_input(5)) {
      if (b->dtype() != DataType::kInt32 || b->numel() != M) return invalid_input("{}: bias must be int32[{}], got {}", n.describe(), M, b->type_string());
      PARE_ASSIGN_OR_RETURN(Tensor bf, Tensor::create(DataType::kFloat32, {M}));
      for (int64_t i = 0; i < M; ++i) bf.data<float>()[i] = static_cast<float>(double(b->data<int32_t>()[i]) * x_scale[0] * w_scale[i]);
      ins.push_back(k->g_->add_initializer("b", bf));
      k->b_ = RunValue(bf);
    } else if (init.has_input(5)) {
      return invalid_input("{}: bias must be constant", n.describe());
    }
    ir::Node* conv = k->g_->add_node("Conv", ins, {k->g_->add_value("y")}, "", n.name());
    for (const std::string& a : kConvAttrs)
      if (const ir::Attribute* src = n.attr(a)) conv->attributes()[a] = src->copy_value();
    k->node_ = conv;
    KernelInit ci{*conv, 17, init.num_threads};
    PARE_ASSIGN_OR_RETURN(k->conv_, KernelRegistry::reference().create(ci));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* xs, ctx.required_input(1));
    if (!is_q8(x->dtype()) || x->rank() < 3) return ctx.error("X must be uint8/int8 of rank ≥ 3, got {}", x->type_string());
    PARE_ASSIGN_OR_RETURN(int32_t xz, quant::scalar_zero_point(ctx.input(2), "X_zero_point"));
    PARE_ASSIGN_OR_RETURN(auto xsv, quant::channel_scales(*xs, 1, "X_scale"));
    // Dequantize X into plain NC[spatial].
    Shape plain = x->shape();
    if (in_nhwc_) plain = {x->dim(0), x->dim(3), x->dim(1), x->dim(2)};
    const int64_t N = plain[0], C = plain[1], S = x->numel() / std::max<int64_t>(N * C, 1);
    PARE_ASSIGN_OR_RETURN(Tensor xf, Tensor::create(DataType::kFloat32, plain));
    for (int64_t b = 0; b < N; ++b)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t s = 0; s < S; ++s)
          xf.data<float>()[(b * C + c) * S + s] = static_cast<float>((quant::int_element(*x, at(b, c, s, C, S, in_nhwc_)) - xz) * double(xsv[0]));
    RunValue xv(std::move(xf));
    std::vector<RunValue> outs(1);
    KernelContext cctx(*node_, {&xv, &w_, &b_}, &outs, nullptr, ctx.num_threads());
    Status st = conv_->run(cctx);
    if (!st.ok()) return ctx.error("{}", st.message());
    Tensor& y = outs[0].tensor;
    const int64_t M = y.dim(1), SY = y.numel() / std::max<int64_t>(y.dim(0) * M, 1);
    Shape stored = y.shape(), z_stored = y.shape();
    if (out_nhwc_) stored = {y.dim(0), y.dim(2), y.dim(3), y.dim(1)};
    if (z_nhwc_) z_stored = {y.dim(0), y.dim(2), y.dim(3), y.dim(1)};
    const Tensor* z = ctx.input(8);
    double zs = 0;
    int32_t zz = 0;
    if (z) {
      if (z->shape() != z_stored || !is_q8(z->dtype())) return ctx.error("Z {} must be uint8/int8 of shape {}", z->type_string(), shape_to_string(z_stored));
      PARE_ASSIGN_OR_RETURN(const Tensor* zst, ctx.required_input(9));
      PARE_ASSIGN_OR_RETURN(auto zsv, quant::channel_scales(*zst, 1, "Z_scale"));
      PARE_ASSIGN_OR_RETURN(zz, quant::scalar_zero_point(ctx.input(10), "Z_zero_point"));
      zs = zsv[0];
    }
    const Tensor* ys = ctx.input(6);
    double ysv = 1;
    int32_t yz = 0;
    DataType yt = DataType::kFloat32;
    if (ys) {
      PARE_ASSIGN_OR_RETURN(auto v, quant::channel_scales(*ys, 1, "Y_scale"));
      ysv = v[0];
      PARE_ASSIGN_OR_RETURN(yz, quant::scalar_zero_point(ctx.input(7), "Y_zero_point"));
      yt = ctx.input(7) ? ctx.input(7)->dtype() : DataType::kUInt8;
      if (!is_q8(yt)) return ctx.error("Y_zero_point must be uint8 or int8");
    }
    PARE_ASSIGN_OR_RETURN(Tensor* out, ctx.allocate_output(0, yt, stored));
    for (int64_t b = 0; b < y.dim(0); ++b)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t s = 0; s < SY; ++s) {
          const int64_t o = at(b, m, s, M, SY, out_nhwc_);
          double v = y.data<float>()[(b * M + m) * SY + s];
          if (z) v += (quant::int_element(*z, at(b, m, s, M, SY, z_nhwc_)) - zz) * zs;
          v = apply_activation(act_, v);
          if (!ys) out->data<float>()[o] = static_cast<float>(v);
          else if (yt == DataType::kUInt8) out->data<uint8_t>()[o] = static_cast<uint8_t>(quant::saturate(std::nearbyint(v / ysv) + yz, yt));
          else out->data<int8_t>()[o] = static_cast<int8_t>(quant::saturate(std::nearbyint(v / ysv) + yz, yt));
        }
    return ok_status();
  }

 private:
  ActivationSpec act_;
  bool in_nhwc_ = false, out_nhwc_ = false, z_nhwc_ = false;
  std::unique_ptr<ir::Graph> g_;
  ir::Node* node_ = nullptr;
  std::unique_ptr<Kernel> conv_;
  RunValue w_, b_;  // the dequantized weights and bias (none when absent)
};

// Y = epilogue(A·B) for A [..., K] (rows of double values), B float [K, N] (already dequantized).
Status matmul_epilogue(KernelContext& ctx, const std::vector<double>& a, const Shape& a_shape, const Tensor& b,
                       const Tensor* bias, const ActivationSpec& act, size_t ys_index) {
  const int64_t K = b.dim(0), N = b.dim(1);
  if (a_shape.empty() || a_shape.back() != K) return ctx.error("A {} does not have K = {} columns", shape_to_string(a_shape), K);
  if (bias && (bias->dtype() != DataType::kFloat32 || bias->numel() != N)) return ctx.error("bias {} must be float[{}]", bias->type_string(), N);
  Shape ys_shape = a_shape;
  ys_shape.back() = N;
  const int64_t M = static_cast<int64_t>(a.size()) / std::max<int64_t>(K, 1);
  const Tensor* ys = ctx.input(ys_index);
  double ysv = 1;
  int32_t yz = 0;
  DataType yt = DataType::kFloat32;
  if (ys) {
    PARE_ASSIGN_OR_RETURN(auto v, quant::channel_scales(*ys, 1, "Y_scale"));
    ysv = v[0];
    PARE_ASSIGN_OR_RETURN(yz, quant::scalar_zero_point(ctx.input(ys_index + 1), "Y_zero_point"));
    yt = ctx.input(ys_index + 1) ? ctx.input(ys_index + 1)->dtype() : DataType::kUInt8;
    if (!is_q8(yt)) return ctx.error("Y_zero_point must be uint8 or int8");
  }
  PARE_ASSIGN_OR_RETURN(Tensor* y, ctx.allocate_output(0, yt, ys_shape));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double v = bias ? bias->data<float>()[n] : 0.0;
      for (int64_t k = 0; k < K; ++k) v += a[m * K + k] * double(b.data<float>()[k * N + n]);
      v = apply_activation(act, v);
      const int64_t o = m * N + n;
      if (!ys) y->data<float>()[o] = static_cast<float>(v);
      else if (yt == DataType::kUInt8) y->data<uint8_t>()[o] = static_cast<uint8_t>(quant::saturate(std::nearbyint(v / ysv) + yz, yt));
      else y->data<int8_t>()[o] = static_cast<int8_t>(quant::saturate(std::nearbyint(v / ysv) + yz, yt));
    }
  return ok_status();
}

class QMatMulRef final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<QMatMulRef>();
    const ir::Node& n = init.node;
    const Tensor* b = init.constant_input(3);
    const Tensor* bs = init.constant_input(4);
    if (!b || b->dtype() != DataType::kInt8 || b->rank() != 2 || !bs) {
      return invalid_input("{}: needs a constant int8 [K, N] B and constant B_scale", n.describe());
    }
    PARE_ASSIGN_OR_RETURN(auto scale, quant::channel_scales(*bs, b->dim(1), "B_scale"));
    PARE_ASSIGN_OR_RETURN(int32_t bz, quant::scalar_zero_point(init.constant_input(5), "B_zero_point"));
    PARE_ASSIGN_OR_RETURN(k->b_, Tensor::create(DataType::kFloat32, b->shape()));
    const int64_t N = b->dim(1);
    for (int64_t i = 0; i < b->numel(); ++i) k->b_.data<float>()[i] = (b->data<int8_t>()[i] - bz) * scale[i % N];
    PARE_ASSIGN_OR_RETURN(k->act_, parse_activation(n.attr_string("activation", ""), n.attr_floats("activation_params")));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
    std::vector<double> av(static_cast<size_t>(a->numel()));
    if (!ctx.has_input(1)) {  // dynamic: quantize A as DynamicQuantizeLinear
      if (a->dtype() != DataType::kFloat32) return ctx.error("dynamic A must be float, got {}", a->type_string());
      const quant::DynamicParams p = quant::dynamic_params(a->data<float>(), a->numel());
      for (int64_t i = 0; i < a->numel(); ++i) {
        const double q = p.scale == 0 ? p.zero : std::clamp(double(std::nearbyint(a->data<float>()[i] / p.scale)) + p.zero, 0.0, 255.0);
        av[i] = (q - p.zero) * double(p.scale);
      }
    } else {
      if (!is_q8(a->dtype())) return ctx.error("A must be uint8/int8, got {}", a->type_string());
      PARE_ASSIGN_OR_RETURN(auto s, quant::channel_scales(*ctx.input(1), 1, "A_scale"));
      PARE_ASSIGN_OR_RETURN(int32_t z, quant::scalar_zero_point(ctx.input(2), "A_zero_point"));
      for (int64_t i = 0; i < a->numel(); ++i) av[i] = (quant::int_element(*a, i) - z) * double(s[0]);
    }
    return matmul_epilogue(ctx, av, a->shape(), b_, ctx.input(6), act_, 7);
  }

 private:
  Tensor b_;
  ActivationSpec act_;
};

class WeightOnlyMatMulRef final : public Kernel {
 public:
  static Result<std::unique_ptr<Kernel>> create(const KernelInit& init) {
    auto k = std::make_unique<WeightOnlyMatMulRef>();
    const ir::Node& n = init.node;
    const Tensor* w = init.constant_input(1);
    const Tensor* s = init.constant_input(2);
    if (!w || !s) return invalid_input("{}: needs a constant weight and scale", n.describe());
    auto b = quant::dequantize_weight(*w, *s, init.constant_input(3), n.attr_int("axis", 1), n.attr_int("block_size", 0),
                                      n.attr_int("trans_b", 0) != 0);
    if (!b.ok()) return invalid_input("{}: {}", n.describe(), b.status().message());
    k->b_ = *b;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status run(KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* a, ctx.required_input(0));
    if (a->dtype() != DataType::kFloat32) return ctx.error("A must be float, got {}", a->type_string());
    std::vector<double> av(a->data<float>(), a->data<float>() + a->numel());
    return matmul_epilogue(ctx, av, a->shape(), b_, ctx.input(4), ActivationSpec{}, 99);
  }

 private:
  Tensor b_;
};

}  // namespace

void register_QConv(KernelRegistry& r) { r.add({"QConv", kPareDomain, 1, kMaxOpset, &make_kernel<QConvRef>}); }
void register_QMatMul(KernelRegistry& r) { r.add({"QMatMul", kPareDomain, 1, kMaxOpset, &make_kernel<QMatMulRef>}); }
void register_WeightOnlyMatMul(KernelRegistry& r) {
  r.add({"WeightOnlyMatMul", kPareDomain, 1, kMaxOpset, &make_kernel<WeightOnlyMatMulRef>});
}

}  // namespace pare::ops
