// Each pass: build a small graph, check the rewrite's structure, and check that outputs with
// the pass (opt level 2) equal outputs without it (level 0).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "passes/pass.h"
#include "runtime/session.h"

namespace pare::passes {
namespace {

using Builder = std::function<void(ir::Graph&)>;

Tensor random_tensor(const Shape& s, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t = Tensor::create(DataType::kFloat32, s).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

std::unique_ptr<ir::Model> make(const Builder& b) {
  auto m = std::make_unique<ir::Model>();
  m->opsets.push_back({"", 13});
  b(*m->graph);
  return m;
}

ir::Value* input(ir::Graph& g, const std::string& name, const Shape& s) {
  ir::Value* v = g.add_value(name);
  std::vector<ir::Dim> dims;
  for (int64_t d : s) dims.push_back(ir::Dim::of(d));
  v->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
  g.add_input(v);
  return v;
}

// Output of the model at opt level 0 and 2 must agree to 1e-5 (relative to the magnitude).
void expect_same_outputs(const Builder& b, const Tensor& x) {
  Tensor out[2];
  int level[2] = {0, 2};
  for (int i = 0; i < 2; ++i) {
    runtime::SessionOptions o;
    o.opt_level = level[i];
    auto s = runtime::Session::create(make(b), o);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    auto r = (*s)->run({{"x", RunValue(x)}});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    out[i] = (*r)[0].tensor;
  }
  ASSERT_EQ(out[0].shape(), out[1].shape());
  for (int64_t i = 0; i < out[0].numel(); ++i) {
    EXPECT_NEAR(out[0].data<float>()[i], out[1].data<float>()[i], 1e-5 * (1 + std::abs(out[0].data<float>()[i])));
  }
}

size_t count(const ir::Graph& g, const std::string& op) {
  size_t n = 0;
  for (const auto& node : g.nodes()) n += node->op_type() == op;
  return n;
}

TEST(Passes, IdentityAndDropoutAreRemovedAndGraphOutputKeepsItsName) {
  Builder b = [](ir::Graph& g) {
    ir::Value* x = input(g, "x", {2, 3});
    ir::Value *a = g.add_value("a"), *r = g.add_value("r"), *y = g.add_value("y");
    g.add_node("Identity", {x}, {a});
    g.add_node("Relu", {a}, {r});
    g.add_node("Dropout", {r}, {y});
    g.outputs().push_back(y);
  };
  auto m = make(b);
  ASSERT_TRUE(run_passes(*m, {{"eliminate_identity", eliminate_identity}}).ok());
  EXPECT_EQ(m->graph->num_nodes(), 1u);
  EXPECT_EQ(m->graph->outputs()[0]->name(), "y");
  EXPECT_EQ(m->graph->outputs()[0]->producer()->op_type(), "Relu");
  expect_same_outputs(b, random_tensor({2, 3}, 1));
}

TEST(Passes, ConstantFoldingEvaluatesConstantSubgraphs) {
  Builder b = [](ir::Graph& g) {
    ir::Value* x = input(g, "x", {4, 3});
    ir::Value* w = g.add_initializer("w", random_tensor({5, 3}, 2));
    ir::Value *wt = g.add_value("wt"), *y = g.add_value("y");
    g.add_node("Transpose", {w}, {wt});
    g.add_node("MatMul", {x, wt}, {y});
    g.outputs().push_back(y);
  };
  auto m = make(b);
  ASSERT_TRUE(run_passes(*m, {{"fold_constants", fold_constants}, {"dce", eliminate_dead_code}}).ok());
  EXPECT_EQ(count(*m->graph, "Transpose"), 0u);
  ASSERT_TRUE(m->graph->find_value("wt")->initializer().has_value());
  EXPECT_EQ(m->graph->find_value("wt")->initializer()->shape(), (Shape{3, 5}));
  expect_same_outputs(b, random_tensor({4, 3}, 3));
}

TEST(Passes, CommonSubexpressionsAreMerged) {
  Builder b = [](ir::Graph& g) {
    ir::Value* x = input(g, "x", {3});
    ir::Value *a = g.add_value("a"), *c = g.add_value("c"), *y = g.add_value("y");
    g.add_node("Relu", {x}, {a});
    g.add_node("Relu", {x}, {c});
    g.add_node("Add", {a, c}, {y});
    g.outputs().push_back(y);
  };
  auto m = make(b);
  ASSERT_TRUE(run_passes(*m, {{"cse", eliminate_common_subexpressions}}).ok());
  EXPECT_EQ(count(*m->graph, "Relu"), 1u);
  ir::Node* add = m->graph->outputs()[0]->producer();
  EXPECT_EQ(add->input(0), add->input(1));
  expect_same_outputs(b, random_tensor({3}, 4));
}

TEST(Passes, DeadCodeIsRemoved) {
  auto m = make([](ir::Graph& g) {
    ir::Value* x = input(g, "x", {3});
    ir::Value *unused = g.add_value("unused"), *y = g.add_value("y");
    g.add_node("Neg", {x}, {unused});
    g.add_node("Relu", {x}, {y});
    g.outputs().push_back(y);
  });
  ASSERT_TRUE(run_passes(*m, {{"dce", eliminate_dead_code}}).ok());
  EXPECT_EQ(m->graph->num_nodes(), 1u);
  EXPECT_EQ(m->graph->find_value("unused"), nullptr);
}

TEST(Passes, ConvBatchNormIsFoldedIntoTheConv) {
  Builder b = [](ir::Graph& g) {
    ir::Value* x = input(g, "x", {1, 3, 8, 8});
    ir::Value* w = g.add_initializer("w", random_tensor({4, 3, 3, 3}, 5));
    ir::Value *c = g.add_value("c"), *y = g.add_value("y");
    g.add_node("Conv", {x, w}, {c}, "", "conv");
    g.add_node("BatchNormalization",
               {c, g.add_initializer("scale", random_tensor({4}, 6, 0.5f, 2.0f)), g.add_initializer("bias", random_tensor({4}, 7)),
                g.add_initializer("mean", random_tensor({4}, 8)), g.add_initializer("var", random_tensor({4}, 9, 0.1f, 1.0f))},
               {y}, "", "bn");
    g.outputs().push_back(y);
  };
  auto m = make(b);
  ASSERT_TRUE(run_passes(*m, {{"fuse_conv_batchnorm", fuse_conv_batchnorm}}).ok());
  EXPECT_EQ(count(*m->graph, "BatchNormalization"), 0u);
  EXPECT_EQ(m->graph->outputs()[0]->producer()->op_type(), "Conv");
  EXPECT_EQ(m->graph->outputs()[0]->name(), "y");
  expect_same_outputs(b, random_tensor({1, 3, 8, 8}, 10));
}

TEST(Passes, MatMulAddBecomesGemm) {
  Builder b = [](ir::Graph& g) {
    ir::Value* x = input(g, "x", {4, 6});
    ir::Value *p = g.add_value("p"), *y = g.add_value("y");
    g.add_node("MatMul", {x, g.add_initializer("w", random_tensor({6, 5}, 11))}, {p});
    g.add_node("Add", {p, g.add_initializer("b", random_tensor({5}, 12))}, {y});
    g.outputs().push_back(y);
  };
  auto m = make(b);
  ASSERT_TRUE(run_passes(*m, {{"fuse_matmul_add", fuse_matmul_add}}).ok());
  EXPECT_EQ(m->graph->num_nodes(), 1u);
  EXPECT_EQ(m->graph->outputs()[0]->producer()->op_type(), "Gemm");
  expect_same_outputs(b, random_tensor({4, 6}, 13));
}

TEST(Passes, GemmWithConstantWeightBecomesFusedMatMul) {
  // transB, alpha, beta, C [N], then Relu: one FusedMatMul with B' = alpha·Bᵀ, bias = beta·C.
  Builder b = [](ir::Graph& g) {
    ir::Value* x = input(g, "x", {3, 7});
    ir::Value *p = g.add_value("p"), *y = g.add_value("y");
    ir::Node* gemm = g.add_node("Gemm", {x, g.add_initializer("w", random_tensor({5, 7}, 21)),
                                         g.add_initializer("c", random_tensor({5}, 22))}, {p});
    gemm->attributes()["transB"] = ir::Attribute::of(int64_t{1});
    gemm->attributes()["alpha"] = ir::Attribute::of(0.5f);
    gemm->attributes()["beta"] = ir::Attribute::of(2.0f);
    g.add_node("Relu", {p}, {y});
    g.outputs().push_back(y);
  };
  auto m = make(b);
  ASSERT_TRUE(run_passes(*m, {{"fuse_matmul_activation", fuse_matmul_activation}, {"eliminate_dead_code", eliminate_dead_code}}).ok());
  EXPECT_EQ(m->graph->num_nodes(), 1u);
  EXPECT_EQ(m->graph->outputs()[0]->producer()->op_type(), "FusedMatMul");
  expect_same_outputs(b, random_tensor({3, 7}, 23));
  // C per element [M, N] is not a bias: the Gemm stays.
  Builder per_element = [](ir::Graph& g) {
    ir::Value* x = input(g, "x", {3, 7});
    ir::Value* y = g.add_value("y");
    g.add_node("Gemm", {x, g.add_initializer("w", random_tensor({7, 5}, 24)), g.add_initializer("c", random_tensor({3, 5}, 25))}, {y});
    g.outputs().push_back(y);
  };
  auto m2 = make(per_element);
  ASSERT_TRUE(run_passes(*m2, {{"fuse_matmul_activation", fuse_matmul_activation}}).ok());
  EXPECT_EQ(m2->graph->outputs()[0]->producer()->op_type(), "Gemm");
  expect_same_outputs(per_element, random_tensor({3, 7}, 26));
}

}  // namespace
}  // namespace pare::passes
