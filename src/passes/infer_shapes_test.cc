#include <gtest/gtest.h>

#include "passes/pass.h"

namespace pare::passes {
namespace {

ir::Value* input(ir::Graph& g, const std::string& name, std::vector<ir::Dim> dims) {
  ir::Value* v = g.add_value(name);
  v->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::move(dims));
  g.add_input(v);
  return v;
}

void set_ints(ir::Node* n, const std::string& name, std::vector<int64_t> v) {
  ir::Attribute a;
  a.type = ir::AttrType::kInts;
  a.ints = std::move(v);
  n->attributes()[name] = std::move(a);
}

TEST(InferShapes, CnnWithSymbolicBatch) {
  ir::Model m;
  m.opsets.push_back({"", 13});
  ir::Graph& g = *m.graph;
  ir::Value* x = input(g, "x", {ir::Dim::sym("N"), ir::Dim::of(3), ir::Dim::of(32), ir::Dim::of(32)});
  ir::Value* w = g.add_initializer("w", Tensor::create(DataType::kFloat32, {8, 3, 3, 3}).value());
  ir::Value* w2 = g.add_initializer("w2", Tensor::create(DataType::kFloat32, {10, 8}).value());
  auto v = [&](const char* n) { return g.add_value(n); };
  ir::Value *c = v("c"), *r = v("r"), *p = v("p"), *f = v("f"), *y = v("y");
  ir::Node* conv = g.add_node("Conv", {x, w}, {c});
  set_ints(conv, "pads", {1, 1, 1, 1});
  set_ints(conv, "strides", {2, 2});
  g.add_node("Relu", {c}, {r});
  g.add_node("GlobalAveragePool", {r}, {p});
  g.add_node("Flatten", {p}, {f});
  ir::Node* gemm = g.add_node("Gemm", {f, w2}, {y});
  ir::Attribute tb;
  tb.type = ir::AttrType::kInt;
  tb.i = 1;
  gemm->attributes()["transB"] = std::move(tb);
  g.outputs().push_back(y);
  ASSERT_TRUE(infer_shapes(m).ok());
  EXPECT_EQ(c->type().to_string(), "float[N, 8, 16, 16]");
  EXPECT_EQ(p->type().to_string(), "float[N, 8, 1, 1]");
  EXPECT_EQ(f->type().to_string(), "float[?, 8]");  // flattening a symbol loses it
  EXPECT_EQ(y->type().to_string(), "float[?, 10]");
}

TEST(InferShapes, ShapeOfStaticInputIsFoldedAndReshapeUsesConstants) {
  ir::Model m;
  m.opsets.push_back({"", 14});
  ir::Graph& g = *m.graph;
  ir::Value* x = input(g, "x", {ir::Dim::of(2), ir::Dim::of(3), ir::Dim::of(4)});
  ir::Value* s = g.add_value("s");
  g.add_node("Shape", {x}, {s});
  ir::Value* target = g.add_initializer("t", Tensor::from_vector<int64_t>({2}, {-1, 4}));
  ir::Value* y = g.add_value("y");
  g.add_node("Reshape", {x, target}, {y});
  ir::Value* z = g.add_value("z");
  g.add_node("MatMul", {y, g.add_initializer("w", Tensor::create(DataType::kFloat32, {4, 5}).value())}, {z});
  g.outputs().push_back(z);
  ASSERT_TRUE(infer_shapes(m).ok());
  EXPECT_EQ(s->type().to_string(), "int64[3]");
  EXPECT_EQ(y->type().to_string(), "float[6, 4]");
  EXPECT_EQ(z->type().to_string(), "float[6, 5]");
}

TEST(InferShapes, MalformedAttributesLeaveTypesUnknownWithoutFailing) {
  ir::Model m;
  m.opsets.push_back({"", 13});
  ir::Graph& g = *m.graph;
  ir::Value* x = input(g, "x", {ir::Dim::of(1), ir::Dim::of(1), ir::Dim::of(5), ir::Dim::of(5)});
  ir::Value* w = g.add_initializer("w", Tensor::create(DataType::kFloat32, {1, 1, 3, 3}).value());
  ir::Value* y = g.add_value("y");
  ir::Node* conv = g.add_node("Conv", {x, w}, {y});
  set_ints(conv, "pads", {-5});          // wrong length
  set_ints(conv, "strides", {0, -1});    // invalid
  g.outputs().push_back(y);
  ASSERT_TRUE(infer_shapes(m).ok());
  EXPECT_EQ(y->type().to_string(), "float[?, ?, ?, ?]");
}

}  // namespace
}  // namespace pare::passes
