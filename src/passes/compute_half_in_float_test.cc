// compute_half_in_float: a half model computes in float32 on the fast kernels, with half only at
// its borders. Oracles: the same graph written in float32 with the half-rounded weights (must
// agree to float rounding), and the half graph on the reference kernels (opt level 1: agrees
// to half rounding).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "core/half.h"
#include "passes/pass.h"
#include "runtime/session.h"

namespace pare::passes {
namespace {

// Values uniform in [lo, hi), rounded to half, stored as `dt` (float32 keeps the rounded value).
Tensor values(DataType dt, const Shape& s, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::create(dt, s).value();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const Float16 h(u(rng));
    if (dt == DataType::kFloat16) t.data<Float16>()[i] = h;
    else t.data<float>()[i] = static_cast<float>(h);
  }
  return t;
}

ir::Value* input(ir::Graph& g, const std::string& name, DataType dt, const Shape& s) {
  ir::Value* v = g.add_value(name);
  std::vector<ir::Dim> dims;
  for (int64_t d : s) dims.push_back(ir::Dim::of(d));
  v->type() = ir::TypeInfo::tensor(dt, dims);
  g.add_input(v);
  return v;
}

// x (float) → Cast(half) → Conv → Relu → MaxPool → Cast(float) → y;  h (half) → MatMul → Add → z (half).
// With half = false the same graph in float32 (no Casts), weights the same half-rounded values.
std::unique_ptr<ir::Model> model(bool half) {
  auto m = std::make_unique<ir::Model>();
  m->opsets.push_back({"", 13});
  ir::Graph& g = *m->graph;
  const DataType ht = half ? DataType::kFloat16 : DataType::kFloat32;
  ir::Value* x = input(g, "x", DataType::kFloat32, {1, 3, 9, 9});
  ir::Value* xh = x;
  if (half) {
    xh = g.add_value("xh");
    g.add_node("Cast", {x}, {xh}, "", "to_half")->attributes()["to"] = ir::Attribute::of(int64_t{10});
  }
  ir::Value *c = g.add_value("c"), *r = g.add_value("r"), *p = g.add_value("p");
  g.add_node("Conv", {xh, g.add_initializer("w", values(ht, {8, 3, 3, 3}, 1, -0.3f, 0.3f)), g.add_initializer("b", values(ht, {8}, 2))},
             {c}, "", "conv")->attributes()["pads"] = ir::Attribute::of(std::vector<int64_t>{1, 1, 1, 1});
  g.add_node("Relu", {c}, {r}, "", "relu");
  ir::Node* mp = g.add_node("MaxPool", {r}, {p}, "", "pool");
  mp->attributes()["kernel_shape"] = ir::Attribute::of(std::vector<int64_t>{2, 2});
  mp->attributes()["strides"] = ir::Attribute::of(std::vector<int64_t>{2, 2});
  ir::Value* y = p;
  if (half) {
    y = g.add_value("y");
    g.add_node("Cast", {p}, {y}, "", "to_float")->attributes()["to"] = ir::Attribute::of(int64_t{1});
  } else {
    g.rename_value(p, "y");
  }
  g.outputs().push_back(y);
  ir::Value* h = input(g, "h", ht, {2, 5});
  ir::Value *mm = g.add_value("mm"), *z = g.add_value("z");
  g.add_node("MatMul", {h, g.add_initializer("wm", values(ht, {5, 3}, 3))}, {mm}, "", "matmul");
  g.add_node("Add", {mm, g.add_initializer("bm", values(ht, {3}, 4))}, {z}, "", "add");
  g.outputs().push_back(z);
  return m;
}

std::vector<Tensor> run(std::unique_ptr<ir::Model> m, int level, const Tensor& x, const Tensor& h, std::vector<std::string>* kernels = nullptr) {
  runtime::SessionOptions o;
  o.opt_level = level;
  o.profile = kernels != nullptr;
  auto s = runtime::Session::create(std::move(m), o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  if (!s.ok()) return {};
  auto r = (*s)->run({{"x", RunValue(x)}, {"h", RunValue(h)}});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return {};
  if (kernels)
    for (const auto& e : (*s)->profile()) kernels->push_back(e.op + " [" + e.kernel + "]");
  return {(*r)[0].tensor, (*r)[1].tensor};
}

TEST(ComputeHalfInFloat, HalfModelRunsTheFloatKernelsWithHalfAtItsBorders) {
  const Tensor x = values(DataType::kFloat32, {1, 3, 9, 9}, 7);
  const Tensor h16 = values(DataType::kFloat16, {2, 5}, 8), h32 = values(DataType::kFloat32, {2, 5}, 8);

  // The rewrite: only the border Casts handle half; the rest is float32.
  auto m = model(true);
  ASSERT_TRUE(infer_shapes(*m).ok());
  auto changed = compute_half_in_float(*m);
  ASSERT_TRUE(changed.ok() && *changed);
  ASSERT_TRUE(m->graph->verify().ok());
  for (const auto& v : m->graph->values()) {
    if (v->type().dtype != DataType::kFloat16) continue;
    const bool border = v->name() == "h" || v->name() == "z";
    EXPECT_TRUE(border) << v->name() << " is still half";
  }
  EXPECT_EQ(m->graph->outputs()[1]->name(), "z");
  EXPECT_EQ(m->graph->outputs()[1]->type().dtype, DataType::kFloat16);
  EXPECT_EQ(m->graph->initializers()[0]->initializer()->dtype(), DataType::kFloat32);

  std::vector<std::string> kernels;
  const auto fast = run(model(true), 3, x, h16, &kernels);
  const auto oracle = run(model(false), 0, x, h32);
  const auto half_ref = run(model(true), 1, x, h16);
  ASSERT_EQ(fast.size(), 2u);
  ASSERT_EQ(oracle.size(), 2u);
  ASSERT_EQ(half_ref.size(), 2u);
  // The convolution runs on oneDNN, not on the reference half kernel.
  bool onednn_conv = false;
  for (const auto& k : kernels) onednn_conv = onednn_conv || k.find("onednn") != std::string::npos;
  EXPECT_TRUE(onednn_conv);
  // y: float32 arithmetic on the half weights = the float32 graph.
  ASSERT_EQ(fast[0].dtype(), DataType::kFloat32);
  ASSERT_EQ(fast[0].shape(), oracle[0].shape());
  for (int64_t i = 0; i < fast[0].numel(); ++i) {
    EXPECT_NEAR(fast[0].data<float>()[i], oracle[0].data<float>()[i], 1e-5);
    EXPECT_NEAR(fast[0].data<float>()[i], half_ref[0].data<float>()[i], 2e-2);  // half arithmetic's rounding
  }
  // z: stays half, the float32 result rounded once.
  ASSERT_EQ(fast[1].dtype(), DataType::kFloat16);
  ASSERT_EQ(fast[1].shape(), (Shape{2, 3}));
  for (int64_t i = 0; i < fast[1].numel(); ++i) {
    EXPECT_EQ(static_cast<float>(fast[1].data<Float16>()[i]), static_cast<float>(Float16(oracle[1].data<float>()[i])));
    EXPECT_NEAR(static_cast<float>(fast[1].data<Float16>()[i]), static_cast<float>(half_ref[1].data<Float16>()[i]), 1e-2);
  }
}

TEST(ComputeHalfInFloat, GraphsWithoutHalfOrWithHalfMakingAttributesAreLeftAlone) {
  auto m = std::make_unique<ir::Model>();
  m->opsets.push_back({"", 13});
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", DataType::kFloat32, {2, 2});
  ir::Value* y = g.add_value("y");
  g.add_node("Relu", {x}, {y}, "", "relu");
  g.outputs().push_back(y);
  ASSERT_TRUE(infer_shapes(*m).ok());
  auto r = compute_half_in_float(*m);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  // EyeLike(dtype = FLOAT16) makes a half tensor from an attribute: unchanged.
  ir::Value* e = g.add_value("e");
  e->type() = ir::TypeInfo::tensor(DataType::kFloat16);
  g.add_node("EyeLike", {x}, {e}, "", "eye")->attributes()["dtype"] = ir::Attribute::of(int64_t{10});
  g.outputs().push_back(e);
  ASSERT_TRUE(infer_shapes(*m).ok());
  r = compute_half_in_float(*m);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(e->type().dtype, DataType::kFloat16);
}

}  // namespace
}  // namespace pare::passes
