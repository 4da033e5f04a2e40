// Training-time convolution on oneDNN (float32, 1-D/2-D/3-D, groups, strides, dilations,
// explicit or auto padding), for graphs whose Conv weights are runtime inputs (the training
// graph feeds its parameters each step):
//   Conv with non-constant weights: forward_training primitive, plain layouts.
//   com.pare.ConvGrad(X, W, dY) → (dX, dW, dB): backward-data and backward-weights primitives.
// Primitives are cached per (input, weights) shape. Tested against the reference ConvGrad by
// finite differences (ops/grad/gradients_test.cc, GradTest.Conv with fast kernels).
#include <map>

#include "kernels/onednn/onednn.h"
#include "ops/grad/geometry.h"
#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::kernels {
namespace {

using dnnl::memory;
using onednn::guarded;

struct Geometry {
  Shape xs, ws, ys, wg;  // wg: weights with the group dim split out (g, m/g, c/g, k…)
  memory::dims strides, dil, l, r;
};

Status geometry(const ops::KernelContext& ctx, const ops::WindowAttrs& a, const Shape& xs, const Shape& ws, Geometry& g) {
  const size_t sp = xs.size() - 2;
  if (xs.size() < 3 || xs.size() > 5 || ws.size() != xs.size() || a.kernel.size() != sp) {
    return ctx.error("input {} and weights {} do not fit a {}-D convolution", shape_to_string(xs), shape_to_string(ws), a.kernel.size());
  }
  if (xs[1] != ws[1] * a.group || ws[0] % a.group) return ctx.error("channels: input {}, weights {}, group {}", shape_to_string(xs), shape_to_string(ws), a.group);
  g.xs = xs;
  g.ws = ws;
  g.ys = {xs[0], ws[0]};
  g.strides.assign(a.strides.begin(), a.strides.end());
  for (size_t i = 0; i < sp; ++i) {
    if (a.kernel[i] != ws[i + 2]) return ctx.error("kernel_shape does not match weights {}", shape_to_string(ws));
    int64_t pb, pe;
    a.pads_for(i, xs[i + 2], pb, pe);
    const int64_t k = a.dilations[i] * (a.kernel[i] - 1) + 1, span = xs[i + 2] + pb + pe - k;
    if (span < 0) return ctx.error("kernel {} larger than padded input {}", k, xs[i + 2] + pb + pe);
    const int64_t out = span / a.strides[i] + 1;
    g.ys.push_back(out);
    g.dil.push_back(a.dilations[i] - 1);
    g.l.push_back(pb);
    // oneDNN wants the right padding consistent with the output size.
    g.r.push_back((out - 1) * a.strides[i] + k - xs[i + 2] - pb);
  }
  g.wg = ws;
  if (a.group > 1) {
    g.wg[0] /= a.group;
    g.wg.insert(g.wg.begin(), a.group);
  }
  return ok_status();
}

dnnl::convolution_forward::primitive_desc forward_pd(const Geometry& g, bool bias) {
  auto desc = dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                              onednn::plain_desc(g.xs), onednn::plain_desc(g.wg),
                                              bias ? onednn::plain_desc({g.ys[1]}) : memory::desc(), onednn::plain_desc(g.ys), g.strides,
                                              g.dil, g.l, g.r);
  return dnnl::convolution_forward::primitive_desc(desc, onednn::engine());
}

class ConvRuntimeWeights final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<ConvRuntimeWeights>();
    k->node_ = &init.node;
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }
  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* w, ctx.required_input(1));
    const Tensor* b = ctx.input(2);
    if (x->dtype() != DataType::kFloat32 || w->dtype() != DataType::kFloat32 || (b && b->dtype() != DataType::kFloat32)) {
      return ctx.error("expected float32 input, weights and bias");
    }
    if (b && (b->rank() != 1 || b->dim(0) != w->dim(0))) return ctx.error("bias {} must be [{}]", b->type_string(), w->dim(0));
    Plan* p = nullptr;
    PARE_RETURN_IF_ERROR(plan(ctx, *x, *w, b != nullptr, p));
    PARE_ASSIGN_OR_RETURN(Tensor * y, ctx.allocate_output(0, DataType::kFloat32, p->g.ys));
    if (y->numel() == 0) return ok_status();
    return guarded("Conv", [&] {
      auto& e = onednn::engine();
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory(p->pd.src_desc(), e, const_cast<void*>(x->raw_data()))},
                                           {DNNL_ARG_WEIGHTS, memory(p->pd.weights_desc(), e, const_cast<void*>(w->raw_data()))},
                                           {DNNL_ARG_DST, memory(p->pd.dst_desc(), e, y->raw_data())}};
      if (b) args.insert({DNNL_ARG_BIAS, memory(p->pd.bias_desc(), e, const_cast<void*>(b->raw_data()))});
      p->prim.execute(onednn::stream(), args);
      onednn::stream().wait();
      return ok_status();
    });
  }

 private:
  struct Plan {
    Geometry g;
    dnnl::convolution_forward::primitive_desc pd;
    dnnl::convolution_forward prim;
  };
  Status plan(ops::KernelContext& ctx, const Tensor& x, const Tensor& w, bool bias, Plan*& out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_tuple(x.shape(), w.shape(), bias);
    if (auto it = plans_.find(key); it != plans_.end()) {
      out = &it->second;
      return ok_status();
    }
    PARE_ASSIGN_OR_RETURN(ops::WindowAttrs a, ops::WindowAttrs::from(*node_, Shape(w.shape().begin() + 2, w.shape().end())));
    Geometry g;
    PARE_RETURN_IF_ERROR(geometry(ctx, a, x.shape(), w.shape(), g));
    return guarded("Conv", [&] {
      Plan p{g, forward_pd(g, bias), {}};
      p.prim = dnnl::convolution_forward(p.pd);
      out = &plans_.emplace(key, std::move(p)).first->second;
      return ok_status();
    });
  }
  const ir::Node* node_ = nullptr;
  std::mutex mu_;
  std::map<std::tuple<Shape, Shape, bool>, Plan> plans_;
};

class ConvGrad final : public ops::Kernel {
 public:
  static Result<std::unique_ptr<ops::Kernel>> create(const ops::KernelInit& init) {
    auto k = std::make_unique<ConvGrad>();
    k->node_ = &init.node;
    return std::unique_ptr<ops::Kernel>(std::move(k));
  }
  Status run(ops::KernelContext& ctx) override {
    PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
    PARE_ASSIGN_OR_RETURN(const Tensor* w, ctx.required_input(1));
    PARE_ASSIGN_OR_RETURN(const Tensor* dy, ctx.required_input(2));
    if (x->dtype() != DataType::kFloat32 || w->dtype() != DataType::kFloat32 || dy->dtype() != DataType::kFloat32) {
      return ctx.error("gradients are computed in float32 only");
    }
    Plan* p = nullptr;
    PARE_RETURN_IF_ERROR(plan(ctx, *x, *w, p));
    if (dy->shape() != p->g.ys) return ctx.error("output gradient {} does not match the conv output {}", dy->type_string(), shape_to_string(p->g.ys));
    return guarded("ConvGrad", [&]() -> Status {
      auto& e = onednn::engine();
      memory ddst(onednn::plain_desc(p->g.ys), e, const_cast<void*>(dy->raw_data()));
      if (ctx.output_requested(0)) {
        PARE_ASSIGN_OR_RETURN(Tensor * dx, ctx.allocate_output(0, DataType::kFloat32, x->shape()));
        if (dx->numel() > 0 && dy->numel() > 0) {
          p->data.execute(onednn::stream(), {{DNNL_ARG_DIFF_DST, ddst},
                                             {DNNL_ARG_WEIGHTS, memory(p->data_pd.weights_desc(), e, const_cast<void*>(w->raw_data()))},
                                             {DNNL_ARG_DIFF_SRC, memory(p->data_pd.diff_src_desc(), e, dx->raw_data())}});
        }
      }
      if (ctx.output_requested(1) || ctx.output_requested(2)) {
        PARE_ASSIGN_OR_RETURN(Tensor * dw, ctx.allocate_output(1, DataType::kFloat32, w->shape()));
        Tensor bias_scratch;
        Tensor* db = nullptr;
        if (ctx.output_requested(2)) {
          PARE_ASSIGN_OR_RETURN(db, ctx.allocate_output(2, DataType::kFloat32, {w->dim(0)}));
        } else {
          PARE_ASSIGN_OR_RETURN(bias_scratch, Tensor::create(DataType::kFloat32, {w->dim(0)}));
          db = &bias_scratch;
        }
        if (dy->numel() > 0) {
          p->weights.execute(onednn::stream(), {{DNNL_ARG_SRC, memory(p->weights_pd.src_desc(), e, const_cast<void*>(x->raw_data()))},
                                                {DNNL_ARG_DIFF_DST, ddst},
                                                {DNNL_ARG_DIFF_WEIGHTS, memory(p->weights_pd.diff_weights_desc(), e, dw->raw_data())},
                                                {DNNL_ARG_DIFF_BIAS, memory(p->weights_pd.diff_bias_desc(), e, db->raw_data())}});
        }
      }
      onednn::stream().wait();
      return ok_status();
    });
  }

 private:
  struct Plan {
    Geometry g;
    dnnl::convolution_backward_data::primitive_desc data_pd;
    dnnl::convolution_backward_data data;
    dnnl::convolution_backward_weights::primitive_desc weights_pd;
    dnnl::convolution_backward_weights weights;
  };
  Status plan(ops::KernelContext& ctx, const Tensor& x, const Tensor& w, Plan*& out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_pair(x.shape(), w.shape());
    if (auto it = plans_.find(key); it != plans_.end()) {
      out = &it->second;
      return ok_status();
    }
    PARE_ASSIGN_OR_RETURN(ops::WindowAttrs a, ops::WindowAttrs::from(*node_, Shape(w.shape().begin() + 2, w.shape().end())));
    Geometry g;
    PARE_RETURN_IF_ERROR(geometry(ctx, a, x.shape(), w.shape(), g));
    return guarded("ConvGrad", [&] {
      auto hint = forward_pd(g, true);
      auto src = onednn::plain_desc(g.xs), wts = onednn::plain_desc(g.wg), dst = onednn::plain_desc(g.ys);
      auto bd = onednn::plain_desc({g.ys[1]});
      dnnl::convolution_backward_data::desc dd(dnnl::algorithm::convolution_direct, src, wts, dst, g.strides, g.dil, g.l, g.r);
      dnnl::convolution_backward_weights::desc wd(dnnl::algorithm::convolution_direct, src, wts, bd, dst, g.strides, g.dil, g.l, g.r);
      Plan p{g, dnnl::convolution_backward_data::primitive_desc(dd, onednn::engine(), hint), {},
             dnnl::convolution_backward_weights::primitive_desc(wd, onednn::engine(), hint), {}};
      p.data = dnnl::convolution_backward_data(p.data_pd);
      p.weights = dnnl::convolution_backward_weights(p.weights_pd);
      out = &plans_.emplace(key, std::move(p)).first->second;
      return ok_status();
    });
  }
  const ir::Node* node_ = nullptr;
  std::mutex mu_;
  std::map<std::pair<Shape, Shape>, Plan> plans_;
};

bool float_input(const ops::KernelInit& init) {
  const ir::TypeInfo* t = init.input_type(0);
  return t && t->kind == ir::TypeInfo::Kind::kTensor && t->dtype == DataType::kFloat32;
}

bool runtime_weights(const ops::KernelInit& init) {
  if (!float_input(init) || init.constant_input(1)) return false;
  const ir::TypeInfo* w = init.input_type(1);
  return w && w->kind == ir::TypeInfo::Kind::kTensor && w->dtype == DataType::kFloat32;
}

}  // namespace

void register_onednn_conv_train(ops::KernelRegistry& r) {
  r.add({"Conv", "", 1, ops::kMaxOpset, &ops::make_kernel<ConvRuntimeWeights>, "onednn-train", 9, runtime_weights});
  r.add({"ConvGrad", ops::kPareDomain, 1, ops::kMaxOpset, &ops::make_kernel<ConvGrad>, "onednn", 10, float_input});
}

}  // namespace pare::kernels
