// Gradients of ops (dL/dx from dL/dy), emitted as IR nodes. Only opset-stable ONNX ops
// (Mul, Neg, Div, Transpose, MatMul, Gemm, Reshape, Shape, Concat, Exp, …) and pare's own
// com.pare kernels (ConvGrad, PoolGrad, ReduceGrad, SoftmaxGrad, …; see the other files
// here) are emitted, so the gradient graph runs at any opset of the model. Float32 only.
//   Add: dA = dY, dB = dY          Sub: dA = dY, dB = −dY      (summed back over broadcasts)
//   Mul: dA = dY·B, dB = dY·A      Div: dA = dY/B, dB = −dY·A/B²
//   MatMul: dA = dY·Bᵀ, dB = Aᵀ·dY (last two dims; batch dims summed back)
//   Gemm: the four transA/transB cases as Gemms; dC = β·ΣdY
//   Reshape/Flatten/Squeeze/Unsqueeze: dX = Reshape(dY, Shape(X));  Transpose: inverse perm
#include "ops/grad/gradient.h"

namespace pare::ops {

ir::Attribute attr_int(int64_t v) {
  ir::Attribute a;
  a.type = ir::AttrType::kInt;
  a.i = v;
  return a;
}
ir::Attribute attr_float(float v) {
  ir::Attribute a;
  a.type = ir::AttrType::kFloat;
  a.f = v;
  return a;
}
ir::Attribute attr_string(std::string v) {
  ir::Attribute a;
  a.type = ir::AttrType::kString;
  a.s = std::move(v);
  return a;
}
ir::Attribute attr_ints(std::vector<int64_t> v) {
  ir::Attribute a;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  return a;
}

ir::Value* GradBuilder::add(const std::string& op, const std::vector<ir::Value*>& inputs,
                            std::map<std::string, ir::Attribute> attrs, const std::string& domain) {
  return add_multi(op, inputs, 1, std::move(attrs), domain)[0];
}

std::vector<ir::Value*> GradBuilder::add_multi(const std::string& op, const std::vector<ir::Value*>& inputs, size_t n_outputs,
                                               std::map<std::string, ir::Attribute> attrs, const std::string& domain) {
  const std::string base = prefix_ + "/" + op + "_" + std::to_string(counter_++);
  std::vector<ir::Value*> outs;
  for (size_t i = 0; i < n_outputs; ++i) outs.push_back(g_.add_value(g_.unique_name(i == 0 ? base : base + ":" + std::to_string(i))));
  ir::Node* n = g_.add_node(op, inputs, outs, domain, base);
  for (auto& [k, a] : attrs) n->attributes()[k] = std::move(a);
  return outs;
}

ir::Value* GradBuilder::scalar(float v) {
  ir::Attribute a;
  a.type = ir::AttrType::kTensor;
  a.t = Tensor::scalar<float>(v);
  std::map<std::string, ir::Attribute> attrs;
  attrs["value"] = std::move(a);
  return add("Constant", {}, std::move(attrs));
}

ir::Value* GradBuilder::sum_to_shape_of(ir::Value* dx, ir::Value* like) {
  return add("SumToShape", {dx, add("Shape", {like})}, {}, kPareDomain);
}

ir::Value* GradBuilder::ones_like(ir::Value* like) {
  ir::Attribute a;
  a.type = ir::AttrType::kTensor;
  a.t = Tensor::from_vector<float>({1}, {1.0f});
  std::map<std::string, ir::Attribute> attrs;
  attrs["value"] = std::move(a);
  return add("ConstantOfShape", {add("Shape", {like})}, std::move(attrs));
}

ir::Value* GradBuilder::zeros_like(ir::Value* like) {
  return add("ConstantOfShape", {add("Shape", {like})});
}

namespace {

using Dys = const std::vector<ir::Value*>;
using Dxs = std::vector<ir::Value*>;

int64_t rank_of(const ir::Value* v) {
  if (!v || v->type().kind != ir::TypeInfo::Kind::kTensor || !v->type().shape) return -1;
  return static_cast<int64_t>(v->type().shape->size());
}

Status grad_add(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  dx[0] = b.sum_to_shape_of(dy[0], n.input(0));
  dx[1] = b.sum_to_shape_of(dy[0], n.input(1));
  return ok_status();
}

Status grad_sub(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  dx[0] = b.sum_to_shape_of(dy[0], n.input(0));
  dx[1] = b.sum_to_shape_of(b.add("Neg", {dy[0]}), n.input(1));
  return ok_status();
}

Status grad_mul(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  dx[0] = b.sum_to_shape_of(b.add("Mul", {dy[0], n.input(1)}), n.input(0));
  dx[1] = b.sum_to_shape_of(b.add("Mul", {dy[0], n.input(0)}), n.input(1));
  return ok_status();
}

Status grad_div(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  ir::Value* a = n.input(0);
  ir::Value* d = n.input(1);
  dx[0] = b.sum_to_shape_of(b.add("Div", {dy[0], d}), a);
  ir::Value* q = b.add("Div", {b.add("Mul", {dy[0], a}), b.add("Mul", {d, d})});
  dx[1] = b.sum_to_shape_of(b.add("Neg", {q}), d);
  return ok_status();
}

Status grad_neg(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  dx[0] = b.add("Neg", {dy[0]});
  return ok_status();
}

Status grad_identity(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  dx[0] = dy[0];
  return ok_status();
}

Status grad_exp(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  dx[0] = b.add("Mul", {dy[0], n.output(0)});
  return ok_status();
}

Status grad_log(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  dx[0] = b.add("Div", {dy[0], n.input(0)});
  return ok_status();
}

Status grad_sqrt(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  dx[0] = b.add("Div", {b.add("Mul", {dy[0], b.scalar(0.5f)}), n.output(0)});
  return ok_status();
}

Status grad_erf(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  ir::Value* x = n.input(0);
  ir::Value* e = b.add("Exp", {b.add("Neg", {b.add("Mul", {x, x})})});
  dx[0] = b.add("Mul", {dy[0], b.add("Mul", {e, b.scalar(1.1283791670955126f)})});
  return ok_status();
}

// Elementwise activations through com.pare.ActivationGrad(X, Y, dY).
Status activation(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx, const char* kind, float alpha, float beta = 0.5f) {
  std::map<std::string, ir::Attribute> a;
  a["kind"] = attr_string(kind);
  a["alpha"] = attr_float(alpha);
  a["beta"] = attr_float(beta);
  dx[0] = b.add("ActivationGrad", {n.input(0), n.output(0), dy[0]}, std::move(a), kPareDomain);
  return ok_status();
}
Status grad_relu(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) { return activation(b, n, dy, dx, "leaky_relu", 0.0f); }
Status grad_leaky_relu(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  return activation(b, n, dy, dx, "leaky_relu", n.attr_float("alpha", 0.01f));
}
Status grad_sigmoid(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) { return activation(b, n, dy, dx, "sigmoid", 0); }
Status grad_tanh(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) { return activation(b, n, dy, dx, "tanh", 0); }
Status grad_hard_swish(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) { return activation(b, n, dy, dx, "hard_swish", 0); }
Status grad_hard_sigmoid(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  return activation(b, n, dy, dx, "hard_sigmoid", n.attr_float("alpha", 0.2f), n.attr_float("beta", 0.5f));
}
Status grad_elu(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) { return activation(b, n, dy, dx, "elu", n.attr_float("alpha", 1.0f)); }
Status grad_softplus(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) { return activation(b, n, dy, dx, "softplus", 0); }

ir::Value* swap_last_two(GradBuilder& b, ir::Value* v, int64_t r) {
  std::vector<int64_t> perm(static_cast<size_t>(r));
  for (int64_t i = 0; i < r; ++i) perm[i] = i;
  std::swap(perm[r - 1], perm[r - 2]);
  std::map<std::string, ir::Attribute> a;
  a["perm"] = attr_ints(perm);
  return b.add("Transpose", {v}, std::move(a));
}

Status grad_matmul(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  const int64_t ra = rank_of(n.input(0)), rb = rank_of(n.input(1));
  if (ra < 2 || rb < 2) return unsupported("{}: MatMul gradient needs operands of known rank ≥ 2", n.describe());
  dx[0] = b.sum_to_shape_of(b.add("MatMul", {dy[0], swap_last_two(b, n.input(1), rb)}), n.input(0));
  dx[1] = b.sum_to_shape_of(b.add("MatMul", {swap_last_two(b, n.input(0), ra), dy[0]}), n.input(1));
  return ok_status();
}

ir::Value* gemm(GradBuilder& b, ir::Value* a, ir::Value* c, bool ta, bool tb, float alpha) {
  std::map<std::string, ir::Attribute> at;
  at["transA"] = attr_int(ta);
  at["transB"] = attr_int(tb);
  at["alpha"] = attr_float(alpha);
  return b.add("Gemm", {a, c}, std::move(at));
}

Status grad_gemm(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  const bool ta = n.attr_int("transA", 0) != 0, tb = n.attr_int("transB", 0) != 0;
  const float alpha = n.attr_float("alpha", 1.0f), beta = n.attr_float("beta", 1.0f);
  ir::Value* A = n.input(0);
  ir::Value* B = n.input(1);
  dx[0] = ta ? gemm(b, B, dy[0], tb, true, alpha) : gemm(b, dy[0], B, false, !tb, alpha);
  dx[1] = tb ? gemm(b, dy[0], A, true, ta, alpha) : gemm(b, A, dy[0], !ta, false, alpha);
  if (n.input(2)) {
    ir::Value* d = beta == 1.0f ? dy[0] : b.add("Mul", {dy[0], b.scalar(beta)});
    dx[2] = b.sum_to_shape_of(d, n.input(2));
  }
  return ok_status();
}

std::map<std::string, ir::Attribute> copy_attrs(const ir::Node& n, std::initializer_list<const char*> names) {
  std::map<std::string, ir::Attribute> out;
  for (const char* k : names) {
    if (const ir::Attribute* a = n.attr(k)) out[k] = a->copy_value();
  }
  return out;
}

Status grad_conv(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  auto outs = b.add_multi("ConvGrad", {n.input(0), n.input(1), dy[0]}, 3,
                          copy_attrs(n, {"kernel_shape", "strides", "pads", "dilations", "auto_pad", "group"}), kPareDomain);
  dx[0] = outs[0];
  dx[1] = outs[1];
  if (n.input(2)) dx[2] = outs[2];
  return ok_status();
}

// ConvTranspose(X, W) is the adjoint of Conv(·, W) with the same attributes (W [C_in, C_out/g,
// k…] read as Conv's [M, C/g, k…]), so dX = Conv(dY, W) and dW is Conv's weight gradient
// with the input and output roles swapped: ConvGrad(dY, W, X). dB sums dY over all but axis 1.
// Explicit pads only (auto_pad and output_shape would need the implied pads).
Status grad_conv_transpose(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  if (!dy[0]) return ok_status();
  if (n.attr("output_shape") || n.attr_string("auto_pad", "NOTSET") != "NOTSET") {
    return unsupported("{}: the ConvTranspose gradient needs explicit pads (not auto_pad or output_shape)", n.describe());
  }
  const int64_t r = rank_of(n.input(0));
  if (r < 3) return unsupported("{}: the ConvTranspose gradient needs an input of known rank ≥ 3", n.describe());
  auto attrs = [&] { return copy_attrs(n, {"kernel_shape", "strides", "pads", "dilations", "group"}); };
  dx[0] = b.add("Conv", {dy[0], n.input(1)}, attrs());
  dx[1] = b.add_multi("ConvGrad", {dy[0], n.input(1), n.input(0)}, 3, attrs(), kPareDomain)[1];
  if (n.input(2)) {
    // [C_out] ← SumToShape(dY, shape of B reshaped to [1, C_out, 1, …]).
    ir::Attribute a;
    a.type = ir::AttrType::kTensor;
    std::vector<int64_t> dims(static_cast<size_t>(r), 1);
    dims[1] = -1;
    a.t = Tensor::from_vector<int64_t>({r}, dims);
    std::map<std::string, ir::Attribute> ca;
    ca["value"] = std::move(a);
    ir::Value* b1 = b.add("Reshape", {n.input(2), b.add("Constant", {}, std::move(ca))});
    dx[2] = b.add("Reshape", {b.sum_to_shape_of(dy[0], b1), b.add("Shape", {n.input(2)})});
  }
  return ok_status();
}

Status grad_pool(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  if (!dy[0]) return ok_status();
  auto a = copy_attrs(n, {"kernel_shape", "strides", "pads", "dilations", "auto_pad", "ceil_mode", "count_include_pad"});
  a["mode"] = attr_string(n.op_type() == "MaxPool" ? "max" : "avg");
  dx[0] = b.add("PoolGrad", {n.input(0), dy[0]}, std::move(a), kPareDomain);
  return ok_status();
}

Status grad_global_avg_pool(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  const int64_t r = rank_of(n.input(0));
  if (r < 3) return unsupported("{}: GlobalAveragePool gradient needs an input of known rank ≥ 3", n.describe());
  std::vector<int64_t> axes;
  for (int64_t i = 2; i < r; ++i) axes.push_back(i);
  std::map<std::string, ir::Attribute> a;
  a["axes"] = attr_ints(axes);
  a["mean"] = attr_int(1);
  dx[0] = b.add("ReduceGrad", {dy[0], n.input(0)}, std::move(a), kPareDomain);
  return ok_status();
}

Status grad_reduce(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (n.input(1)) {
    const auto& init = n.input(1)->initializer();
    if (!init) return unsupported("{}: gradient needs constant axes", n.describe());
    PARE_ASSIGN_OR_RETURN(axes, init->to_int64_vector("axes"));
  }
  if (axes.empty() && n.attr_int("noop_with_empty_axes", 0)) {
    dx[0] = dy[0];
    return ok_status();
  }
  std::map<std::string, ir::Attribute> a;
  a["axes"] = attr_ints(axes);
  a["keepdims"] = attr_int(n.attr_int("keepdims", 1));
  a["mean"] = attr_int(n.op_type() == "ReduceMean");
  dx[0] = b.add("ReduceGrad", {dy[0], n.input(0)}, std::move(a), kPareDomain);
  return ok_status();
}

Status grad_reshape_like(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  dx[0] = b.add("Reshape", {dy[0], b.add("Shape", {n.input(0)})});
  return ok_status();
}

Status grad_transpose(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  auto perm = n.attr_ints("perm");
  std::map<std::string, ir::Attribute> a;
  if (!perm.empty()) {
    std::vector<int64_t> inv(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) {
      if (perm[i] < 0 || perm[i] >= static_cast<int64_t>(perm.size())) return invalid_model("{}: invalid perm", n.describe());
      inv[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
    }
    a["perm"] = attr_ints(inv);
  }
  dx[0] = b.add("Transpose", {dy[0]}, std::move(a));
  return ok_status();
}

Status grad_softmax(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  auto a = copy_attrs(n, {"axis"});
  a["log"] = attr_int(n.op_type() == "LogSoftmax");
  dx[0] = b.add("SoftmaxGrad", {n.output(0), dy[0]}, std::move(a), kPareDomain);
  return ok_status();
}

Status grad_batchnorm(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  const bool training = n.op_type() == "BatchNormTrain" || n.attr_int("training_mode", 0) != 0;
  std::vector<ir::Value*> ins{n.input(0), n.input(1), dy[0]};
  if (!training) {
    ins.push_back(n.input(3));
    ins.push_back(n.input(4));
  }
  auto a = copy_attrs(n, {"epsilon"});
  a["training"] = attr_int(training);
  auto outs = b.add_multi("BatchNormGrad", ins, 3, std::move(a), kPareDomain);
  dx[0] = outs[0];
  dx[1] = outs[1];
  dx[2] = outs[2];
  return ok_status();
}

Status grad_layernorm(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  if (!dy[0]) return ok_status();
  auto outs = b.add_multi("LayerNormGrad", {n.input(0), n.input(1), dy[0]}, 3, copy_attrs(n, {"axis", "epsilon"}), kPareDomain);
  dx[0] = outs[0];
  dx[1] = outs[1];
  if (n.input(2)) dx[2] = outs[2];
  return ok_status();
}

Status grad_dropout(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  if (!dy[0]) return ok_status();
  if (n.op_type() == "DropoutTrain") {
    dx[0] = b.add("Mul", {dy[0], n.output(1)});
    return ok_status();
  }
  if (n.input(2)) return unsupported("{}: Dropout with a training_mode input: the trainer rewrites Dropout itself", n.describe());
  dx[0] = dy[0];  // inference Dropout is the identity
  return ok_status();
}

Status grad_concat(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  std::vector<ir::Value*> ins{dy[0]};
  for (ir::Value* v : n.inputs()) ins.push_back(v);
  auto outs = b.add_multi("ConcatGrad", ins, n.inputs().size(), copy_attrs(n, {"axis"}), kPareDomain);
  for (size_t i = 0; i < outs.size(); ++i) dx[i] = outs[i];
  return ok_status();
}

Status grad_split(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  std::vector<ir::Value*> parts;
  for (size_t i = 0; i < n.outputs().size(); ++i) parts.push_back(dy[i] ? dy[i] : b.zeros_like(n.output(i)));
  std::map<std::string, ir::Attribute> a;
  a["axis"] = attr_int(n.attr_int("axis", 0));
  dx[0] = b.add("Concat", parts, std::move(a));
  return ok_status();
}

Status grad_slice(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  std::vector<ir::Value*> ins{dy[0], n.input(0)};
  for (size_t i = 1; i < n.inputs().size(); ++i) ins.push_back(n.input(i));
  dx[0] = b.add("SliceGrad", ins, copy_attrs(n, {"starts", "ends", "axes"}), kPareDomain);
  return ok_status();
}

Status grad_gather(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  dx[0] = b.add("GatherGrad", {dy[0], n.input(0), n.input(1)}, copy_attrs(n, {"axis"}), kPareDomain);
  return ok_status();
}

Status grad_max_pool_train(GradBuilder& b, const ir::Node& n, Dys& dy, Dxs& dx) {
  if (!dy[0]) return ok_status();
  dx[0] = b.add("MaxPoolScatter", {n.input(0), dy[0], n.output(1)}, {}, kPareDomain);
  return ok_status();
}

}  // namespace

GradientFn find_gradient(const std::string& domain, const std::string& op) {
  static const std::map<std::string, GradientFn> kPare = {
      {"BatchNormTrain", grad_batchnorm}, {"DropoutTrain", grad_dropout}, {"MaxPoolTrain", grad_max_pool_train},
  };
  static const std::map<std::string, GradientFn> kOnnx = {
      {"Add", grad_add}, {"Sub", grad_sub}, {"Mul", grad_mul}, {"Div", grad_div}, {"Neg", grad_neg},
      {"Identity", grad_identity}, {"Exp", grad_exp}, {"Log", grad_log}, {"Sqrt", grad_sqrt}, {"Erf", grad_erf},
      {"Relu", grad_relu}, {"LeakyRelu", grad_leaky_relu}, {"Sigmoid", grad_sigmoid}, {"Tanh", grad_tanh},
      {"HardSwish", grad_hard_swish}, {"HardSigmoid", grad_hard_sigmoid}, {"Elu", grad_elu},
      {"Softplus", grad_softplus}, {"MatMul", grad_matmul}, {"Gemm", grad_gemm}, {"Conv", grad_conv}, {"ConvTranspose", grad_conv_transpose},
      {"MaxPool", grad_pool}, {"AveragePool", grad_pool}, {"GlobalAveragePool", grad_global_avg_pool},
      {"ReduceMean", grad_reduce}, {"ReduceSum", grad_reduce}, {"Reshape", grad_reshape_like},
      {"Flatten", grad_reshape_like}, {"Squeeze", grad_reshape_like}, {"Unsqueeze", grad_reshape_like},
      {"Transpose", grad_transpose}, {"Softmax", grad_softmax}, {"LogSoftmax", grad_softmax},
      {"BatchNormalization", grad_batchnorm}, {"LayerNormalization", grad_layernorm}, {"Dropout", grad_dropout},
      {"Concat", grad_concat}, {"Split", grad_split}, {"Slice", grad_slice}, {"Gather", grad_gather},
  };
  const std::map<std::string, GradientFn>* table = nullptr;
  if (domain == kPareDomain) table = &kPare;
  if (domain.empty() || domain == "ai.onnx") table = &kOnnx;
  if (!table) return nullptr;
  auto it = table->find(op);
  return it == table->end() ? nullptr : it->second;
}

}  // namespace pare::ops
