// Conv fusion (fuse_conv_activation) and the blocked layout (convert_layout_blocked) on small
// CNN-shaped graphs: the optimized graph has the expected structure, and its outputs — with
// the fast kernels at every optimization level and with the reference kernels — equal the
// original graph's run with reference kernels. Channel counts are odd (3, 5, 17) so blocked
// tensors carry padding channels.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "passes/test_graph.h"
#include "runtime/session.h"

namespace pare {
namespace {

class Builder {
 public:
  Builder() : model_(std::make_unique<ir::Model>()), g_(*model_->graph), rng_(7) { model_->opsets.push_back({"", 17}); }

  ir::Value* input(const std::string& name, const Shape& s) {
    ir::Value* v = g_.add_value(name);
    std::vector<ir::Dim> dims;
    for (int64_t d : s) dims.push_back(ir::Dim::of(d));
    v->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
    g_.add_input(v);
    feeds_.emplace_back(name, RunValue(random(s)));
    return v;
  }
  ir::Value* constant(const Tensor& t) { return g_.add_initializer(g_.unique_name("c"), t); }
  ir::Value* scalar(float f) {
    Tensor t = Tensor::create(DataType::kFloat32, {}).value();
    t.data<float>()[0] = f;
    return constant(t);
  }
  ir::Value* op(const std::string& type, std::vector<ir::Value*> ins, std::vector<std::pair<std::string, std::vector<int64_t>>> attrs = {}) {
    ir::Value* y = g_.add_value(g_.unique_name(type));
    ir::Node* n = g_.add_node(type, ins, {y}, "", g_.unique_name(type + "_node"));
    for (auto& [k, v] : attrs) {
      ir::Attribute a;
      a.type = k == "group" ? ir::AttrType::kInt : ir::AttrType::kInts;
      if (k == "group") a.i = v[0];
      else a.ints = v;
      n->attributes()[k] = std::move(a);
    }
    return y;
  }
  ir::Value* conv(ir::Value* x, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t group = 1) {
    const int64_t p = k / 2;
    return op("Conv", {x, constant(random({cout, cin / group, k, k}, 0.5f)), constant(random({cout}))},
              {{"strides", {stride, stride}}, {"pads", {p, p, p, p}}, {"group", {group}}});
  }
  void output(ir::Value* v) { g_.outputs().push_back(v); }

  Tensor random(const Shape& s, float scale = 1.0f) {
    Tensor t = Tensor::create(DataType::kFloat32, s).value();
    std::uniform_real_distribution<float> u(-scale, scale);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng_);
    return t;
  }

  // Outputs of the graph as built, with the given options.
  std::vector<Tensor> run(int opt_level, bool reference, std::map<std::string, int>* op_counts = nullptr) {
    auto copy = test_util::copy_test_model(*model_);
    runtime::SessionOptions o;
    o.opt_level = opt_level;
    o.reference_kernels = reference;
    auto s = runtime::Session::create(std::move(copy), o);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    if (!s.ok()) return {};
    if (op_counts) {
      for (const auto& n : (*s)->model().graph->nodes()) ++(*op_counts)[n->op_type()];
    }
    auto r = (*s)->run(feeds_);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    std::vector<Tensor> out;
    if (r.ok()) {
      for (auto& v : *r) out.push_back(v.tensor);
    }
    return out;
  }

 private:
  std::unique_ptr<ir::Model> model_;
  ir::Graph& g_;
  std::mt19937 rng_;
  std::vector<std::pair<std::string, RunValue>> feeds_;
};

double max_diff(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return INFINITY;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape()) return INFINITY;
    for (int64_t j = 0; j < a[i].numel(); ++j) d = std::max(d, std::abs(double(a[i].data<float>()[j]) - b[i].data<float>()[j]));
  }
  return d;
}

void expect_all_levels_agree(Builder& b) {
  const auto oracle = b.run(0, true);
  ASSERT_FALSE(oracle.empty());
  for (int level = 0; level <= 3; ++level) {
    for (bool reference : {false, true}) {
      EXPECT_LT(max_diff(b.run(level, reference), oracle), 2e-4) << "opt level " << level << (reference ? " reference" : " fast");
    }
  }
}

TEST(FuseConvLayout, ResidualBlockFusesAndStaysBlocked) {
  Builder b;
  ir::Value* x = b.input("x", {2, 8, 9, 9});
  ir::Value* c1 = b.op("Relu", {b.conv(x, 8, 17, 3, 1)});
  ir::Value* c2 = b.conv(c1, 17, 17, 3, 1);
  ir::Value* r = b.op("Relu", {b.op("Add", {c2, c1})});
  ir::Value* p = b.op("MaxPool", {r}, {{"kernel_shape", {3, 3}}, {"strides", {2, 2}}, {"pads", {1, 1, 1, 1}}});
  ir::Value* s = b.op("Sigmoid", {b.conv(p, 17, 5, 1, 1)});
  b.output(b.op("GlobalAveragePool", {s}));
  b.output(c1);  // a graph output inside the blocked region
  std::map<std::string, int> ops;
  b.run(3, false, &ops);
  EXPECT_EQ(ops["FusedConv"], 3);
  EXPECT_EQ(ops["BlockedPool"], 2);
  EXPECT_EQ(ops["LayoutToBlocked"], 1);  // x enters once
  EXPECT_EQ(ops["LayoutToPlain"], 2);    // the two graph outputs leave
  EXPECT_EQ(ops["Relu"] + ops["Add"] + ops["Sigmoid"], 0);
  expect_all_levels_agree(b);
}

TEST(FuseConvLayout, MobileNetStyleActivationsAndSqueezeExcite) {
  Builder b;
  ir::Value* x = b.input("x", {1, 3, 15, 15});
  ir::Value* c1 = b.op("Clip", {b.conv(x, 3, 16, 3, 2), b.scalar(0.f), b.scalar(6.f)});
  ir::Value* dw = b.op("HardSwish", {b.conv(c1, 16, 16, 3, 1, 16)});
  ir::Value* pw = b.conv(dw, 16, 24, 1, 1);
  ir::Value* silu = b.op("Mul", {pw, b.op("Sigmoid", {pw})});
  ir::Value* se = b.op("GlobalAveragePool", {silu});
  se = b.op("Sigmoid", {b.conv(b.op("Relu", {b.conv(se, 24, 6, 1, 1)}), 6, 24, 1, 1)});
  ir::Value* scaled = b.op("Mul", {silu, se});
  b.output(b.op("Flatten", {b.op("AveragePool", {scaled}, {{"kernel_shape", {2, 2}}, {"strides", {2, 2}}})}));
  std::map<std::string, int> ops;
  b.run(3, false, &ops);
  EXPECT_EQ(ops["FusedConv"], 5);
  EXPECT_EQ(ops["Clip"] + ops["HardSwish"] + ops["Sigmoid"] + ops["Relu"], 0);
  EXPECT_EQ(ops["Mul"], 1);  // the squeeze-excite scale stays, on blocked operands
  EXPECT_EQ(ops["LayoutToBlocked"], 0);  // 3 input channels: the first conv reads plain data
  EXPECT_EQ(ops["LayoutToPlain"], 1);    // before Flatten
  expect_all_levels_agree(b);
}

// Inverted-residual blocks (MobileNetV2 / EfficientNet): expand 1×1 → depthwise 3×3 becomes
// one FusedConvDw (stride 1 and 2, ReLU6 and SiLU); a 5×5 depthwise, a 1×1 whose output is also
// used elsewhere, and a strided 1×1 stay separate.
TEST(FuseConvLayout, ExpandAndDepthwiseFuse) {
  Builder b;
  ir::Value* x = b.input("x", {1, 8, 13, 13});
  auto relu6 = [&](ir::Value* v) { return b.op("Clip", {v, b.scalar(0.f), b.scalar(6.f)}); };
  auto silu = [&](ir::Value* v) { return b.op("Mul", {v, b.op("Sigmoid", {v})}); };
  // Block 1: 8 → 20 → dw s1 → 8, residual.
  ir::Value* e1 = relu6(b.conv(x, 8, 20, 1, 1));
  ir::Value* d1 = relu6(b.conv(e1, 20, 20, 3, 1, 20));
  ir::Value* r1 = b.op("Add", {b.conv(d1, 20, 8, 1, 1), x});
  // Block 2: 8 → 24 → dw s2 (SiLU) → 12.
  ir::Value* e2 = silu(b.conv(r1, 8, 24, 1, 1));
  ir::Value* d2 = silu(b.conv(e2, 24, 24, 3, 2, 24));
  ir::Value* p2 = b.conv(d2, 24, 12, 1, 1);
  // Not fused: a 5×5 depthwise; a 1×1 whose output is a graph output too.
  ir::Value* e3 = b.conv(p2, 12, 16, 1, 1);
  ir::Value* d3 = b.conv(e3, 16, 16, 5, 1, 16);
  b.output(b.op("GlobalAveragePool", {d3}));
  ir::Value* e4 = b.conv(p2, 12, 16, 1, 1);
  b.output(b.conv(e4, 16, 16, 3, 1, 16));
  b.output(e4);
  std::map<std::string, int> ops;
  b.run(3, false, &ops);
  EXPECT_EQ(ops["FusedConvDw"], 2);
  EXPECT_EQ(ops["FusedConv"], 6);  // of 10 convolutions
  std::map<std::string, int> ops2;
  b.run(2, false, &ops2);
  EXPECT_EQ(ops2["FusedConvDw"], 0);  // level 2: no blocked layout, no depthwise fusion
  expect_all_levels_agree(b);
}

// Bottleneck blocks whose input is read by the first convolution and added by the last: the
// last may write over the input (the first has run by then); a block input that another
// branch still reads later must stay intact.
TEST(FuseConvLayout, ResidualInputReusedOnlyAfterItsOtherReaders) {
  Builder b;
  ir::Value* x = b.input("x", {1, 16, 10, 10});
  ir::Value* c0 = b.op("Relu", {b.conv(x, 16, 16, 3, 1)});
  ir::Value* a = b.op("Relu", {b.conv(c0, 16, 8, 1, 1)});
  ir::Value* r1 = b.op("Relu", {b.op("Add", {b.conv(a, 8, 16, 1, 1), c0})});  // c0's last reader
  ir::Value* a2 = b.op("Relu", {b.conv(r1, 16, 8, 1, 1)});
  ir::Value* r2 = b.op("Relu", {b.op("Add", {b.conv(a2, 8, 16, 1, 1), r1})});
  b.output(r2);
  b.output(b.op("GlobalAveragePool", {b.op("Tanh", {r1})}));  // r1 read again, not before r2's conv
  std::map<std::string, int> ops;
  b.run(3, false, &ops);
  EXPECT_EQ(ops["FusedConv"], 5);
  expect_all_levels_agree(b);
}

TEST(FuseConvLayout, SharedIntermediateIsNotAbsorbed) {
  Builder b;
  ir::Value* x = b.input("x", {1, 4, 6, 6});
  ir::Value* c = b.conv(x, 4, 4, 3, 1);
  b.output(b.op("Relu", {c}));
  b.output(b.op("Tanh", {c}));  // c has two consumers: neither activation is fused
  std::map<std::string, int> ops;
  b.run(2, false, &ops);
  EXPECT_EQ(ops["FusedConv"], 1);
  EXPECT_EQ(ops["Relu"], 1);
  EXPECT_EQ(ops["Tanh"], 1);
  expect_all_levels_agree(b);
}

TEST(SimplifyReshapeTranspose, ChainsCollapse) {
  Builder b;
  ir::Value* x = b.input("x", {2, 3, 4, 5});
  ir::Value* t = b.op("Transpose", {b.op("Transpose", {x}, {{"perm", {0, 2, 1, 3}}})}, {{"perm", {3, 1, 2, 0}}});
  auto shape = [&](std::vector<int64_t> v) {
    Tensor s = Tensor::create(DataType::kInt64, {static_cast<int64_t>(v.size())}).value();
    for (size_t i = 0; i < v.size(); ++i) s.data<int64_t>()[i] = v[i];
    return b.constant(s);
  };
  ir::Value* r = b.op("Reshape", {b.op("Reshape", {t, shape({6, -1})}), shape({2, 3, -1})});
  b.output(r);
  b.output(b.op("Transpose", {b.op("Relu", {x})}, {{"perm", {0, 1, 2, 3}}}));  // identity: removed
  std::map<std::string, int> ops;
  b.run(1, false, &ops);
  EXPECT_EQ(ops["Transpose"], 1);
  EXPECT_EQ(ops["Reshape"], 1);
  expect_all_levels_agree(b);
}

}  // namespace
}  // namespace pare
