// Error paths and edge cases of the control family (SequenceMap, Scan opset 8) that the
// ONNX conformance cases do not reach: mismatched lengths and batches, out-of-range
// sequence_lens, malformed bodies, empty iterations. Each must be a typed error, never a crash.
#include <gtest/gtest.h>

#include "runtime/session.h"

namespace pare::ops {
namespace {

ir::Value* tensor_input(ir::Graph& g, const std::string& name, DataType dt, const Shape& s) {
  ir::Value* v = g.add_value(name);
  std::vector<ir::Dim> dims;
  for (int64_t d : s) dims.push_back(ir::Dim::of(d));
  v->type() = ir::TypeInfo::tensor(dt, dims);
  g.add_input(v);
  return v;
}

ir::Value* sequence_input(ir::Graph& g, const std::string& name) {
  ir::Value* v = g.add_value(name);
  v->type().kind = ir::TypeInfo::Kind::kSequence;
  v->type().elem = std::make_shared<ir::TypeInfo>(ir::TypeInfo::tensor(DataType::kFloat32));
  g.add_input(v);
  return v;
}

ir::Graph* add_body(ir::Node* n, ir::Graph& parent) {
  ir::Attribute a;
  a.type = ir::AttrType::kGraph;
  a.g = std::make_unique<ir::Graph>(&parent);
  a.g->set_name("body");
  ir::Graph* body = a.g.get();
  n->attributes()["body"] = std::move(a);
  return body;
}

void set_int(ir::Node* n, const std::string& name, int64_t v) {
  ir::Attribute a;
  a.type = ir::AttrType::kInt;
  a.i = v;
  n->attributes()[name] = std::move(a);
}

std::unique_ptr<ir::Model> model(int64_t opset) {
  auto m = std::make_unique<ir::Model>();
  m->opsets.push_back({"", opset});
  return m;
}

Tensor floats(const Shape& s, float start = 0) {
  Tensor t = Tensor::create(DataType::kFloat32, s).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = start + static_cast<float>(i);
  return t;
}

// SequenceMap(s0, s1) with body Add(a, b) → sum; body output declared float[2].
std::unique_ptr<ir::Model> sequence_map_add() {
  auto m = model(17);
  ir::Graph& g = *m->graph;
  ir::Value* s0 = sequence_input(g, "s0");
  ir::Value* s1 = sequence_input(g, "s1");
  ir::Value* y = g.add_value("y");
  ir::Node* n = g.add_node("SequenceMap", {s0, s1}, {y});
  ir::Graph* body = add_body(n, g);
  ir::Value* a = tensor_input(*body, "a", DataType::kFloat32, {2});
  ir::Value* b = tensor_input(*body, "b", DataType::kFloat32, {2});
  ir::Value* sum = body->add_value("sum");
  sum->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::vector<ir::Dim>{ir::Dim::of(2)});
  body->add_node("Add", {a, b}, {sum});
  body->outputs().push_back(sum);
  g.outputs().push_back(y);
  return m;
}

TEST(ControlSequenceMap, SequencesOfDifferentLengthsAreAnError) {
  auto s = runtime::Session::create(sequence_map_add());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto r = (*s)->run({{"s0", RunValue::make_sequence({floats({2}), floats({2})}, DataType::kFloat32)},
                      {"s1", RunValue::make_sequence({floats({2})}, DataType::kFloat32)}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
}

TEST(ControlSequenceMap, EmptySequenceGivesEmptySequenceOfTheBodyType) {
  auto s = runtime::Session::create(sequence_map_add());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto r = (*s)->run({{"s0", RunValue::make_sequence({}, DataType::kFloat32)},
                      {"s1", RunValue::make_sequence({}, DataType::kFloat32)}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE((*r)[0].is_sequence());
  EXPECT_TRUE((*r)[0].sequence.empty());
  EXPECT_EQ((*r)[0].sequence_dtype, DataType::kFloat32);
}

// An empty input sequence maps to an empty sequence typed by the body's output (int64 here).
TEST(ControlSequenceMap, EmptySequenceKeepsANonFloatBodyType) {
  auto m = model(17);
  ir::Graph& g = *m->graph;
  ir::Value* s0 = sequence_input(g, "s0");
  ir::Value* y = g.add_value("y");
  ir::Node* n = g.add_node("SequenceMap", {s0}, {y});
  ir::Graph* body = add_body(n, g);
  ir::Value* a = tensor_input(*body, "a", DataType::kFloat32, {2});
  ir::Value* shape = body->add_value("shape");
  shape->type() = ir::TypeInfo::tensor(DataType::kInt64, std::vector<ir::Dim>{ir::Dim::of(1)});
  body->add_node("Shape", {a}, {shape});
  body->outputs().push_back(shape);
  g.outputs().push_back(y);
  auto s = runtime::Session::create(std::move(m));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto r = (*s)->run({{"s0", RunValue::make_sequence({}, DataType::kFloat32)}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE((*r)[0].is_sequence());
  EXPECT_TRUE((*r)[0].sequence.empty());
  EXPECT_EQ((*r)[0].sequence_dtype, DataType::kInt64);
}

// A body that takes more inputs than the node has: a typed error (at plan time or run time).
TEST(ControlSequenceMap, BodyInputCountMismatchIsAnError) {
  auto m = sequence_map_add();
  ir::Node* n = m->graph->nodes().front().get();
  ir::Graph* body = n->attributes()["body"].g.get();
  tensor_input(*body, "extra", DataType::kFloat32, {2});
  auto s = runtime::Session::create(std::move(m));
  if (!s.ok()) {
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidModel) << s.status().to_string();
    return;
  }
  auto r = (*s)->run({{"s0", RunValue::make_sequence({floats({2})}, DataType::kFloat32)},
                      {"s1", RunValue::make_sequence({floats({2})}, DataType::kFloat32)}});
  EXPECT_FALSE(r.ok());
}

// Scan (opset 8): Scan(lens, init[B, 2], x[B, T, 2]) with body (s, a) → (s + a, s + a).
std::unique_ptr<ir::Model> scan8_sum(int64_t batch, int64_t steps, bool with_lens) {
  auto m = model(8);
  ir::Graph& g = *m->graph;
  ir::Value* lens = with_lens ? tensor_input(g, "lens", DataType::kInt64, {batch}) : nullptr;
  ir::Value* init = tensor_input(g, "init", DataType::kFloat32, {batch, 2});
  ir::Value* x = tensor_input(g, "x", DataType::kFloat32, {batch, steps, 2});
  ir::Value *fin = g.add_value("fin"), *ys = g.add_value("ys");
  ir::Node* n = g.add_node("Scan", {lens, init, x}, {fin, ys});
  set_int(n, "num_scan_inputs", 1);
  ir::Graph* body = add_body(n, g);
  ir::Value* st = tensor_input(*body, "s", DataType::kFloat32, {2});
  ir::Value* a = tensor_input(*body, "a", DataType::kFloat32, {2});
  ir::Value *sum = body->add_value("sum"), *out = body->add_value("out");
  for (ir::Value* v : {sum, out}) v->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::vector<ir::Dim>{ir::Dim::of(2)});
  body->add_node("Add", {st, a}, {sum});
  body->add_node("Identity", {sum}, {out});
  body->outputs() = {sum, out};
  g.outputs() = {fin, ys};
  return m;
}

TEST(ControlScan8, SequenceLensOutOfRangeIsAnError) {
  auto s = runtime::Session::create(scan8_sum(2, 3, true));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto r = (*s)->run({{"lens", RunValue(Tensor::from_vector<int64_t>({2}, {3, 4}))},
                      {"init", RunValue(floats({2, 2}))},
                      {"x", RunValue(floats({2, 3, 2}))}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("sequence_lens[1]"), std::string::npos) << r.status().message();
}

TEST(ControlScan8, ZeroLengthsKeepTheInitialStateAndZeroOutputs) {
  auto s = runtime::Session::create(scan8_sum(2, 3, true));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto r = (*s)->run({{"lens", RunValue(Tensor::from_vector<int64_t>({2}, {0, 0}))},
                      {"init", RunValue(floats({2, 2}, 5))},
                      {"x", RunValue(floats({2, 3, 2}))}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Tensor& fin = (*r)[0].tensor;
  const Tensor& ys = (*r)[1].tensor;
  ASSERT_EQ(fin.shape(), (Shape{2, 2}));
  ASSERT_EQ(ys.shape(), (Shape{2, 3, 2}));
  for (int64_t i = 0; i < 4; ++i) EXPECT_EQ(fin.data<float>()[i], 5 + i);
  for (int64_t i = 0; i < ys.numel(); ++i) EXPECT_EQ(ys.data<float>()[i], 0);
}

TEST(ControlScan8, ReverseInputStopsAtEachSequenceLength) {
  auto m = scan8_sum(2, 3, true);
  ir::Attribute dirs;
  dirs.type = ir::AttrType::kInts;
  dirs.ints = {1};
  m->graph->nodes().front()->attributes()["directions"] = std::move(dirs);
  auto s = runtime::Session::create(std::move(m));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  // x[b, t] = {6b + 2t, 6b + 2t + 1}; batch 0 runs 3 steps over t = 2, 1, 0; batch 1 one step (t = 0).
  auto r = (*s)->run({{"lens", RunValue(Tensor::from_vector<int64_t>({2}, {3, 1}))},
                      {"init", RunValue(floats({2, 2}, 0))},
                      {"x", RunValue(floats({2, 3, 2}))}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const std::vector<float> fin = {0 + 4 + 2 + 0, 1 + 5 + 3 + 1, 2 + 6, 3 + 7};
  const std::vector<float> ys = {4, 6, 6, 9, 6, 10, /*batch 1*/ 8, 10, 0, 0, 0, 0};
  for (size_t i = 0; i < fin.size(); ++i) EXPECT_EQ((*r)[0].tensor.data<float>()[i], fin[i]) << i;
  for (size_t i = 0; i < ys.size(); ++i) EXPECT_EQ((*r)[1].tensor.data<float>()[i], ys[i]) << i;
}

TEST(ControlScan8, StateBatchMismatchIsAnError) {
  auto m = scan8_sum(2, 3, false);
  m->graph->inputs()[0]->type() = ir::TypeInfo::tensor(DataType::kFloat32);  // let init be [3, 2]
  auto s = runtime::Session::create(std::move(m));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto r = (*s)->run({{"init", RunValue(floats({3, 2}))}, {"x", RunValue(floats({2, 3, 2}))}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("has batch 3"), std::string::npos) << r.status().message();
}

TEST(ControlScan8, BadDirectionIsAModelError) {
  auto m = scan8_sum(1, 2, false);
  ir::Attribute dirs;
  dirs.type = ir::AttrType::kInts;
  dirs.ints = {2};
  m->graph->nodes().front()->attributes()["directions"] = std::move(dirs);
  auto s = runtime::Session::create(std::move(m));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidModel);
  EXPECT_NE(s.status().message().find("direction 2"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace pare::ops
