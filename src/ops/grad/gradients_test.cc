// Every gradient of ops/grad checked against central finite differences (grad_check.h).
#include <gtest/gtest.h>

#include "ops/grad/grad_check.h"
#include "ops/grad/gradient.h"
#include "runtime/session.h"

namespace pare::ops {
namespace {

using testing::away_from_zero;
using testing::check_gradients;
using testing::distinct;
using testing::GradCheck;
using testing::random_tensor;
using testing::single_op;
using testing::Attrs;

Tensor ints(const Shape& s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(s, v); }

void expect_ok(GradCheck c) {
  EXPECT_EQ(check_gradients(c), "");
}

TEST(GradTest, AddSubMulDivBroadcast) {
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) {
    GradCheck c;
    c.inputs = {random_tensor({2, 3, 4}, 1), random_tensor({3, 1}, 2, 0.5f, 1.5f)};
    c.build = single_op(op);
    SCOPED_TRACE(op);
    expect_ok(c);
  }
}

TEST(GradTest, Activations) {
  struct Case { const char* op; Attrs a; int64_t opset; };
  std::vector<Case> cases = {{"Relu", {}, 14}, {"LeakyRelu", {{"alpha", attr_float(0.1f)}}, 16}, {"Sigmoid", {}, 13},
                             {"Tanh", {}, 13}, {"HardSwish", {}, 14}, {"Elu", {}, 6}, {"Softplus", {}, 1},
                             {"HardSigmoid", {}, 6}, {"Exp", {}, 13}, {"Erf", {}, 13}, {"Neg", {}, 13}, {"Identity", {}, 13}};
  for (const auto& cs : cases) {
    GradCheck c;
    c.inputs = {away_from_zero({2, 3, 5}, 3)};
    if (std::string(cs.op) == "HardSwish") c.inputs[0] = random_tensor({2, 3, 5}, 3, -4.5f, 4.5f);
    c.build = single_op(cs.op, cs.a);
    c.opset = cs.opset;
    SCOPED_TRACE(cs.op);
    expect_ok(c);
  }
  for (const char* op : {"Log", "Sqrt"}) {
    GradCheck c;
    c.inputs = {random_tensor({7}, 4, 0.5f, 2.0f)};
    c.build = single_op(op);
    SCOPED_TRACE(op);
    expect_ok(c);
  }
}

// SiLU (x·σ(x)) and GELU (x·½(1 + erf(x/√2))) as exporters write them.
TEST(GradTest, SiluAndGeluGraphs) {
  GradCheck c;
  c.inputs = {random_tensor({3, 4}, 5, -3, 3)};
  c.build = [](ir::Graph& g, const std::vector<ir::Value*>& in) {
    ir::Value* s = g.add_value("s");
    g.add_node("Sigmoid", {in[0]}, {s});
    ir::Value* silu = g.add_value("silu");
    g.add_node("Mul", {in[0], s}, {silu});
    ir::Value* k = g.add_initializer("k", Tensor::scalar<float>(0.70710678f));
    ir::Value* half = g.add_initializer("half", Tensor::scalar<float>(0.5f));
    ir::Value* one = g.add_initializer("one", Tensor::scalar<float>(1.0f));
    ir::Value* xs = g.add_value("xs");
    g.add_node("Mul", {in[0], k}, {xs});
    ir::Value* e = g.add_value("e");
    g.add_node("Erf", {xs}, {e});
    ir::Value* e1 = g.add_value("e1");
    g.add_node("Add", {e, one}, {e1});
    ir::Value* xh = g.add_value("xh");
    g.add_node("Mul", {in[0], half}, {xh});
    ir::Value* gelu = g.add_value("gelu");
    g.add_node("Mul", {xh, e1}, {gelu});
    return std::vector<ir::Value*>{silu, gelu};
  };
  expect_ok(c);
}

TEST(GradTest, MatMulAndGemm) {
  {
    GradCheck c;
    c.inputs = {random_tensor({3, 4}, 6), random_tensor({4, 5}, 7)};
    c.build = single_op("MatMul");
    expect_ok(c);
  }
  {
    GradCheck c;  // batched, B broadcast over the batch
    c.inputs = {random_tensor({2, 3, 4}, 8), random_tensor({4, 2}, 9)};
    c.build = single_op("MatMul");
    expect_ok(c);
  }
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      GradCheck c;
      c.inputs = {random_tensor(ta ? Shape{4, 3} : Shape{3, 4}, 10), random_tensor(tb ? Shape{5, 4} : Shape{4, 5}, 11),
                  random_tensor({5}, 12)};
      c.build = single_op("Gemm", {{"transA", attr_int(ta)}, {"transB", attr_int(tb)}, {"alpha", attr_float(0.7f)},
                                   {"beta", attr_float(1.3f)}});
      SCOPED_TRACE(ta * 2 + tb);
      expect_ok(c);
    }
  }
}

TEST(GradTest, Conv) {
  struct Case { Shape x, w; Attrs a; bool bias; };
  std::vector<Case> cases = {
      {{2, 3, 6, 5}, {4, 3, 3, 3}, {{"pads", attr_ints({1, 1, 1, 1})}}, true},
      {{1, 2, 7, 7}, {3, 2, 3, 2}, {{"strides", attr_ints({2, 1})}, {"pads", attr_ints({0, 1, 1, 0})}}, false},
      {{2, 4, 6, 6}, {4, 1, 3, 3}, {{"group", attr_int(4)}, {"dilations", attr_ints({2, 1})}, {"auto_pad", attr_string("SAME_UPPER")}}, true},
      {{1, 4, 5, 5}, {6, 2, 1, 1}, {{"group", attr_int(2)}}, true},
      {{2, 2, 9}, {3, 2, 3}, {{"strides", attr_ints({2})}, {"pads", attr_ints({1, 1})}}, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    for (bool fast : {false, true}) {
      GradCheck c;
      c.inputs = {random_tensor(cases[i].x, 20 + i), random_tensor(cases[i].w, 30 + i)};
      if (cases[i].bias) c.inputs.push_back(random_tensor({cases[i].w[0]}, 40 + i));
      c.build = single_op("Conv", cases[i].a);
      c.reference_kernels = !fast;
      if (fast) c.expect_kernel = "onednn";
      SCOPED_TRACE(fmt::format("case {} fast {}", i, fast));
      expect_ok(c);
    }
  }
}

TEST(GradTest, ConvTranspose) {
  struct Case { Shape x, w; Attrs a; bool bias; };
  std::vector<Case> cases = {
      {{2, 3, 4, 5}, {3, 2, 3, 3}, {{"pads", attr_ints({1, 1, 1, 1})}}, true},
      {{1, 2, 3, 4}, {2, 3, 3, 2}, {{"strides", attr_ints({2, 1})}, {"pads", attr_ints({0, 1, 1, 0})}, {"output_padding", attr_ints({1, 0})}}, true},
      {{2, 4, 4, 4}, {4, 1, 3, 3}, {{"group", attr_int(2)}, {"dilations", attr_ints({2, 1})}, {"strides", attr_ints({2, 2})}}, false},
      {{2, 2, 5}, {2, 3, 3}, {{"strides", attr_ints({2})}, {"pads", attr_ints({1, 0})}}, true},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    GradCheck c;
    c.inputs = {random_tensor(cases[i].x, 50 + i), random_tensor(cases[i].w, 60 + i)};
    const int64_t group = cases[i].a.count("group") ? cases[i].a.at("group").i : 1;
    if (cases[i].bias) c.inputs.push_back(random_tensor({cases[i].w[1] * group}, 70 + i));
    c.build = single_op("ConvTranspose", cases[i].a);
    for (bool fast : {false, true}) {  // fast: oneDNN for the Conv of dX
      c.reference_kernels = !fast;
      SCOPED_TRACE(fmt::format("case {} fast {}", i, fast));
      expect_ok(c);
    }
  }
}

TEST(GradTest, Pooling) {
  std::vector<std::pair<const char*, Attrs>> cases = {
      {"MaxPool", {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}}},
      {"MaxPool", {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}}},
      {"AveragePool", {{"kernel_shape", attr_ints({2, 3})}, {"strides", attr_ints({2, 1})}}},
      {"AveragePool", {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}, {"count_include_pad", attr_int(1)}}},
      {"AveragePool", {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}}},
      {"GlobalAveragePool", {}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    GradCheck c;
    c.inputs = {distinct({2, 2, 5, 6}, 50 + i)};
    c.build = single_op(cases[i].first, cases[i].second);
    SCOPED_TRACE(i);
    expect_ok(c);
  }
}

// The trainer's MaxPool (argmax kept for the backward pass).
TEST(GradTest, MaxPoolTrain) {
  std::vector<Attrs> cases = {{{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}},
                              {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}},
                              {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}, {"ceil_mode", attr_int(1)}}};
  for (size_t i = 0; i < cases.size(); ++i) {
    GradCheck c;
    c.inputs = {distinct({2, 2, 5, 5}, 130 + i)};
    Attrs a = cases[i];
    c.build = [a](ir::Graph& g, const std::vector<ir::Value*>& in) {
      ir::Value* y = g.add_value("y");
      ir::Value* arg = g.add_value("arg");
      ir::Node* n = g.add_node("MaxPoolTrain", {in[0]}, {y, arg}, kPareDomain, "pool");
      for (const auto& [k, v] : a) n->attributes()[k] = v.get();
      return std::vector<ir::Value*>{y};
    };
    SCOPED_TRACE(i);
    expect_ok(c);
  }
}

// MaxPoolTrain computes exactly what MaxPool computes (the trainer swaps one for the other).
TEST(GradTest, MaxPoolTrainMatchesMaxPool) {
  std::vector<Attrs> cases = {{{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}},
                              {{"kernel_shape", attr_ints({3, 2})}, {"pads", attr_ints({1, 0, 1, 1})}, {"strides", attr_ints({2, 1})}},
                              {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}, {"ceil_mode", attr_int(1)}},
                              {{"kernel_shape", attr_ints({3, 3})}, {"strides", attr_ints({2, 2})}, {"auto_pad", attr_string("SAME_UPPER")}}};
  Tensor x = random_tensor({2, 3, 7, 6}, 140);
  for (size_t i = 0; i < cases.size(); ++i) {
    Tensor y[2];
    for (int k = 0; k < 2; ++k) {
      auto m = std::make_unique<ir::Model>();
      m->opsets = {{"", 13}, {kPareDomain, 1}};
      ir::Graph& g = *m->graph;
      ir::Value* in = g.add_value("x");
      in->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::vector<ir::Dim>{ir::Dim::of(2), ir::Dim::of(3), ir::Dim::of(7), ir::Dim::of(6)});
      g.add_input(in);
      ir::Value* out = g.add_value("y");
      std::vector<ir::Value*> outs{out};
      if (k == 1) outs.push_back(g.add_value("arg"));
      ir::Node* n = g.add_node(k == 0 ? "MaxPool" : "MaxPoolTrain", {in}, outs, k == 0 ? "" : kPareDomain);
      for (const auto& [name, v] : cases[i]) n->attributes()[name] = v.get();
      g.outputs().push_back(out);
      auto s = runtime::Session::create(std::move(m));
      ASSERT_TRUE(s.ok()) << s.status().to_string();
      auto r = (*s)->run({{"x", RunValue(x)}});
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      y[k] = (*r)[0].tensor;
    }
    ASSERT_EQ(y[0].shape(), y[1].shape()) << i;
    for (int64_t j = 0; j < y[0].numel(); ++j) EXPECT_EQ(y[0].data<float>()[j], y[1].data<float>()[j]) << i;
  }
}

TEST(GradTest, Normalization) {
  {
    GradCheck c;  // training mode: batch statistics
    c.inputs = {random_tensor({3, 2, 2, 3}, 60), random_tensor({2}, 61, 0.5f, 1.5f), random_tensor({2}, 62)};
    c.build = single_op("BatchNormTrain", {{"epsilon", attr_float(1e-3f)}}, 1, kPareDomain);
    c.eps = 3e-3f;
    expect_ok(c);
  }
  {
    GradCheck c;  // inference mode: running statistics
    c.inputs = {random_tensor({2, 3, 2, 2}, 63), random_tensor({3}, 64), random_tensor({3}, 65), random_tensor({3}, 66),
                random_tensor({3}, 67, 0.5f, 1.5f)};
    c.constant = {false, false, false, true, true};
    c.build = single_op("BatchNormalization", {}, 1);
    c.opset = 15;
    expect_ok(c);
  }
  {
    GradCheck c;
    c.inputs = {random_tensor({2, 3, 4}, 68), random_tensor({3, 4}, 69, 0.5f, 1.5f), random_tensor({3, 4}, 70)};
    c.build = single_op("LayerNormalization", {{"axis", attr_int(1)}}, 1);
    c.eps = 3e-3f;
    expect_ok(c);
  }
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (int64_t axis : {1, -1}) {
      GradCheck c;
      c.inputs = {random_tensor({2, 4, 3}, 71)};
      c.build = single_op(op, {{"axis", attr_int(axis)}});
      SCOPED_TRACE(fmt::format("{} axis {}", op, axis));
      expect_ok(c);
    }
  }
}

TEST(GradTest, ShapeOps) {
  struct Case { const char* op; std::vector<Tensor> in; Attrs a; size_t outs = 1; int64_t opset = 13; };
  std::vector<Case> cases;
  cases.push_back({"Reshape", {random_tensor({2, 3, 4}, 80), ints({2}, {6, -1})}});
  cases.push_back({"Flatten", {random_tensor({2, 3, 4}, 81)}, {{"axis", attr_int(2)}}});
  cases.push_back({"Transpose", {random_tensor({2, 3, 4}, 82)}, {{"perm", attr_ints({1, 2, 0})}}});
  cases.push_back({"Transpose", {random_tensor({2, 3, 4}, 83)}});
  cases.push_back({"Squeeze", {random_tensor({2, 1, 4}, 84), ints({1}, {1})}});
  cases.push_back({"Unsqueeze", {random_tensor({2, 4}, 85), ints({2}, {0, 3})}});
  cases.push_back({"Concat", {random_tensor({2, 3}, 86), random_tensor({2, 1}, 87), random_tensor({2, 2}, 88)}, {{"axis", attr_int(1)}}});
  cases.push_back({"Split", {random_tensor({2, 6}, 89), ints({3}, {1, 2, 3})}, {{"axis", attr_int(1)}}, 3});
  cases.push_back({"Split", {random_tensor({4, 3}, 90)}, {}, 2, 11});
  cases.push_back({"Slice", {random_tensor({4, 6}, 91), ints({2}, {1, -1}), ints({2}, {4, 0}), ints({2}, {0, 1}), ints({2}, {2, -2})}});
  cases.push_back({"Slice", {random_tensor({4, 6}, 92)}, {{"starts", attr_ints({1})}, {"ends", attr_ints({100})}, {"axes", attr_ints({1})}}, 1, 9});
  cases.push_back({"Gather", {random_tensor({5, 3}, 93), ints({2, 2}, {4, 0, 4, -1})}});
  cases.push_back({"Gather", {random_tensor({2, 5}, 94), ints({3}, {1, 1, 3})}, {{"axis", attr_int(1)}}});
  for (size_t i = 0; i < cases.size(); ++i) {
    GradCheck c;
    c.inputs = cases[i].in;
    c.build = single_op(cases[i].op, cases[i].a, cases[i].outs);
    c.opset = cases[i].opset;
    SCOPED_TRACE(fmt::format("{} #{}", cases[i].op, i));
    expect_ok(c);
  }
}

TEST(GradTest, Reductions) {
  struct Case { const char* op; std::vector<Tensor> in; Attrs a; int64_t opset; };
  std::vector<Case> cases = {
      {"ReduceSum", {random_tensor({2, 3, 4}, 100), ints({2}, {0, -1})}, {{"keepdims", attr_int(0)}}, 13},
      {"ReduceSum", {random_tensor({2, 3, 4}, 101)}, {}, 13},
      {"ReduceMean", {random_tensor({2, 3, 4}, 102)}, {{"axes", attr_ints({1})}, {"keepdims", attr_int(0)}}, 13},
      {"ReduceMean", {random_tensor({2, 3, 4}, 103)}, {{"axes", attr_ints({2, 0})}}, 13},
      {"ReduceMean", {random_tensor({2, 3, 4}, 104), ints({1}, {-2})}, {}, 18},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    GradCheck c;
    c.inputs = cases[i].in;
    c.build = single_op(cases[i].op, cases[i].a);
    c.opset = cases[i].opset;
    SCOPED_TRACE(i);
    expect_ok(c);
  }
}

TEST(GradTest, Dropout) {
  GradCheck c;  // the mask is fixed by the seed, so the loss is smooth in X
  c.inputs = {random_tensor({4, 5}, 110), Tensor::scalar<int64_t>(7)};
  c.build = [](ir::Graph& g, const std::vector<ir::Value*>& in) {
    ir::Value* y = g.add_value("y");
    ir::Value* mask = g.add_value("mask");
    ir::Node* n = g.add_node("DropoutTrain", {in[0], in[1]}, {y, mask}, kPareDomain);
    n->attributes()["ratio"] = attr_float(0.3f);
    return std::vector<ir::Value*>{y};
  };
  expect_ok(c);
  GradCheck inference;  // inference-mode Dropout is the identity
  inference.inputs = {random_tensor({3}, 111)};
  inference.build = single_op("Dropout");
  expect_ok(inference);
}

TEST(GradTest, MissingGradientNamesNodeAndOp) {
  GradCheck c;
  c.inputs = {random_tensor({3}, 120)};
  c.build = single_op("Cos");
  std::string err = check_gradients(c);
  EXPECT_NE(err.find("node_under_test"), std::string::npos) << err;
  EXPECT_NE(err.find("Cos"), std::string::npos) << err;
}

}  // namespace
}  // namespace pare::ops
