// Gradients of elementwise arithmetic and activations. Broadcast inputs get their gradient
// summed back to their own shape (SumToShape).
//   Add: dA = dY, dB = dY          Sub: dA = dY, dB = −dY
//   Mul: dA = dY·B, dB = dY·A      Div: dA = dY/B, dB = −dY·A/B²
//   Neg: dX = −dY   Relu: dX = dY·(X > 0)   Identity: dX = dY
//   MatMul (2-D): dA = dY·Bᵀ, dB = Aᵀ·dY
#include "ops/grad/gradient.h"

namespace pare::ops {

ir::Value* GradBuilder::add(const std::string& op, const std::vector<ir::Value*>& inputs,
                            std::map<std::string, ir::Attribute> attrs, const std::string& domain) {
  const std::string base = prefix_ + "/" + op + "_" + std::to_string(counter_++);
  ir::Value* out = g_.add_value(g_.unique_name(base));
  ir::Node* n = g_.add_node(op, inputs, {out}, domain, base);
  for (auto& [k, a] : attrs) n->attributes()[k] = std::move(a);
  return out;
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

Status grad_add(GradBuilder& b, const ir::Node& n, const std::vector<ir::Value*>& dy, std::vector<ir::Value*>& dx) {
  dx[0] = b.sum_to_shape_of(dy[0], n.input(0));
  dx[1] = b.sum_to_shape_of(dy[0], n.input(1));
  return ok_status();
}

Status grad_sub(GradBuilder& b, const ir::Node& n, const std::vector<ir::Value*>& dy, std::vector<ir::Value*>& dx) {
  dx[0] = b.sum_to_shape_of(dy[0], n.input(0));
  dx[1] = b.sum_to_shape_of(b.add("Neg", {dy[0]}), n.input(1));
  return ok_status();
}

Status grad_mul(GradBuilder& b, const ir::Node& n, const std::vector<ir::Value*>& dy, std::vector<ir::Value*>& dx) {
  dx[0] = b.sum_to_shape_of(b.add("Mul", {dy[0], n.input(1)}), n.input(0));
  dx[1] = b.sum_to_shape_of(b.add("Mul", {dy[0], n.input(0)}), n.input(1));
  return ok_status();
}

Status grad_div(GradBuilder& b, const ir::Node& n, const std::vector<ir::Value*>& dy, std::vector<ir::Value*>& dx) {
  ir::Value* a = n.input(0);
  ir::Value* d = n.input(1);
  dx[0] = b.sum_to_shape_of(b.add("Div", {dy[0], d}), a);
  ir::Value* q = b.add("Div", {b.add("Mul", {dy[0], a}), b.add("Mul", {d, d})});
  dx[1] = b.sum_to_shape_of(b.add("Neg", {q}), d);
  return ok_status();
}

Status grad_neg(GradBuilder& b, const ir::Node& n, const std::vector<ir::Value*>& dy, std::vector<ir::Value*>& dx) {
  dx[0] = b.add("Neg", {dy[0]});
  return ok_status();
}

Status grad_identity(GradBuilder& b, const ir::Node& n, const std::vector<ir::Value*>& dy, std::vector<ir::Value*>& dx) {
  dx[0] = dy[0];
  return ok_status();
}

Status grad_relu(GradBuilder& b, const ir::Node& n, const std::vector<ir::Value*>& dy, std::vector<ir::Value*>& dx) {
  ir::Value* pos = b.add("Greater", {n.input(0), b.add("CastLike", {b.scalar(0.0f), n.input(0)})});
  ir::Value* mask = b.add("CastLike", {pos, dy[0]});
  dx[0] = b.add("Mul", {dy[0], mask});
  return ok_status();
}

Status grad_matmul(GradBuilder& b, const ir::Node& n, const std::vector<ir::Value*>& dy, std::vector<ir::Value*>& dx) {
  // 2-D operands (the general batched case sums over broadcast batch dims).
  dx[0] = b.sum_to_shape_of(b.add("MatMul", {dy[0], b.add("Transpose", {n.input(1)})}), n.input(0));
  dx[1] = b.sum_to_shape_of(b.add("MatMul", {b.add("Transpose", {n.input(0)}), dy[0]}), n.input(1));
  return ok_status();
}

}  // namespace

GradientFn find_gradient(const std::string& domain, const std::string& op) {
  if (!domain.empty() && domain != "ai.onnx") return nullptr;
  static const std::map<std::string, GradientFn> kGradients = {
      {"Add", grad_add}, {"Sub", grad_sub}, {"Mul", grad_mul}, {"Div", grad_div},
      {"Neg", grad_neg}, {"Identity", grad_identity}, {"Relu", grad_relu}, {"MatMul", grad_matmul},
  };
  auto it = kGradients.find(op);
  return it == kGradients.end() ? nullptr : it->second;
}

}  // namespace pare::ops
