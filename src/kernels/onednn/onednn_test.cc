// Fast oneDNN kernels against the reference kernels (the oracle) on random data, at odd
// sizes: 1, primes, sizes around vector widths, groups, dilations, padding, broadcasting.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>

#include "runtime/session.h"

namespace pare {
namespace {

Tensor random_tensor(const Shape& s, std::mt19937& rng) {
  Tensor t = Tensor::create(DataType::kFloat32, s).value();
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// Attribute values for the test node (ir::Attribute is move-only).
struct AttrValue {
  ir::AttrType type;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
  std::string s;
  std::vector<float> floats;
};

struct OneNode {
  std::string op;
  std::vector<std::pair<std::string, AttrValue>> attrs;
  std::vector<Tensor> runtime_inputs;   // fed at run time
  std::vector<Tensor> constant_inputs;  // initializers, after the runtime ones
  std::string domain;                   // of the op ("" = ONNX)
  std::vector<size_t> omitted;          // input positions left empty (optional inputs)
  int threads = 0;                      // of the fast session (0: all cores)
};

AttrValue ints(std::vector<int64_t> v) { return {ir::AttrType::kInts, 0, 0, std::move(v)}; }
AttrValue one_int(int64_t v) { return {ir::AttrType::kInt, v, 0, {}}; }
AttrValue one_float(float v) { return {ir::AttrType::kFloat, 0, v, {}}; }

// Runs the node with fast kernels at the default optimization level (fusions, blocked
// layouts) and the original graph with reference kernels; returns (kernel of the node, max diff).
std::pair<std::string, double> compare(const OneNode& spec) {
  Tensor outs[2];
  std::string kernel;
  for (int ref = 0; ref < 2; ++ref) {
    auto model = std::make_unique<ir::Model>();
    model->opsets.push_back({"", 17});
    ir::Graph& g = *model->graph;
    std::vector<ir::Value*> ins;
    std::vector<std::pair<std::string, RunValue>> feeds;
    for (size_t i = 0; i < spec.runtime_inputs.size(); ++i) {
      ir::Value* v = g.add_value("in" + std::to_string(i));
      std::vector<ir::Dim> dims;
      for (int64_t d : spec.runtime_inputs[i].shape()) dims.push_back(ir::Dim::of(d));
      v->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
      g.add_input(v);
      ins.push_back(v);
      feeds.emplace_back(v->name(), RunValue(spec.runtime_inputs[i]));
    }
    for (size_t i = 0; i < spec.constant_inputs.size(); ++i) {
      ins.push_back(g.add_initializer("c" + std::to_string(i), spec.constant_inputs[i]));
    }
    for (size_t pos : spec.omitted) ins.insert(ins.begin() + static_cast<std::ptrdiff_t>(pos), nullptr);
    if (!spec.domain.empty()) model->opsets.push_back({spec.domain, 1});
    ir::Value* y = g.add_value("y");
    ir::Node* n = g.add_node(spec.op, ins, {y}, spec.domain, "node");
    for (const auto& [k, a] : spec.attrs) {
      ir::Attribute copy;
      copy.type = a.type;
      copy.i = a.i;
      copy.f = a.f;
      copy.ints = a.ints;
      copy.s = a.s;
      copy.floats = a.floats;
      n->attributes()[k] = std::move(copy);
    }
    g.outputs().push_back(y);
    runtime::SessionOptions o;
    o.reference_kernels = ref == 1;
    if (ref == 1) o.opt_level = 0;
    if (ref == 0) o.num_threads = spec.threads;
    auto s = runtime::Session::create(std::move(model), o);
    if (!s.ok()) return {"error: " + s.status().to_string(), INFINITY};
    if (ref == 0) {
      for (const auto& [node, k] : (*s)->kernel_choices()) {
        if (node == "node") kernel = k;
      }
    }
    auto r = (*s)->run(feeds);
    if (!r.ok()) return {"error: " + r.status().to_string(), INFINITY};
    outs[ref] = (*r)[0].tensor;
  }
  if (outs[0].shape() != outs[1].shape()) return {kernel + " shape mismatch", INFINITY};
  double diff = 0;
  for (int64_t i = 0; i < outs[0].numel(); ++i) diff = std::max(diff, std::abs(double(outs[0].data<float>()[i]) - outs[1].data<float>()[i]));
  return {kernel, diff};
}

TEST(OnednnConv, MatchesReferenceOnOddShapes) {
  std::mt19937 rng(1);
  struct Case { Shape x, w; std::vector<int64_t> strides, pads, dil; int64_t group; bool bias; };
  const Case cases[] = {
      {{1, 1, 5, 5}, {1, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true},
      {{2, 3, 17, 13}, {8, 3, 3, 3}, {2, 2}, {1, 0, 2, 1}, {1, 1}, 1, true},
      {{1, 16, 15, 15}, {16, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 16, false},  // depthwise
      {{1, 8, 9, 9}, {12, 4, 3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}, 2, true},        // grouped, dilated
      {{3, 5, 31}, {7, 5, 5}, {3}, {2, 2}, {1}, 1, true},                           // 1-D
      {{1, 2, 5, 6, 7}, {4, 2, 3, 3, 3}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, {1, 1, 1}, 1, false},  // 3-D
      {{1, 17, 1, 1}, {33, 17, 1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true},      // 1x1, primes
  };
  for (const Case& c : cases) {
    OneNode spec{"Conv", {{"strides", ints(c.strides)}, {"pads", ints(c.pads)}, {"dilations", ints(c.dil)}, {"group", one_int(c.group)}},
                 {random_tensor(c.x, rng)}, {random_tensor(c.w, rng)}};
    if (c.bias) spec.constant_inputs.push_back(random_tensor({c.w[0]}, rng));
    auto [kernel, diff] = compare(spec);
    EXPECT_EQ(kernel, "onednn") << shape_to_string(c.x);
    EXPECT_LT(diff, 1e-4) << shape_to_string(c.x) << " " << kernel;
  }
}

AttrValue one_string(std::string v);

// 1×1 FusedConv between 16-channel blocked tensors (the projections of MobileNet-style
// blocks): input and output channels with partial blocks, odd pixel counts, two images, with and
// without bias and residual, several activations, on 1 and 2 threads; against the reference.
TEST(OnednnConv, BlockedPointwiseMatchesReference) {
  std::mt19937 rng(13);
  struct Case { int64_t n, cin, cout, h, w; bool bias, z; const char* act; };
  const Case cases[] = {
      {1, 17, 5, 7, 5, true, false, ""},       {2, 40, 24, 9, 13, false, true, "Relu"},
      {1, 16, 70, 1, 1, true, true, "Clip"},   {1, 96, 130, 8, 8, true, false, "LeakyRelu"},
      {2, 33, 64, 11, 11, true, true, ""},
  };
  for (const Case& c : cases) {
    const int64_t ib = (c.cin + 15) / 16, ob = (c.cout + 15) / 16;
    OneNode spec{"FusedConv", {{"input_block", one_int(16)}, {"output_block", one_int(16)}, {"activation", one_string(c.act)}},
                 {random_tensor({c.n, ib, c.h, c.w, 16}, rng)}, {random_tensor({c.cout, c.cin, 1, 1}, rng)}, "com.pare"};
    if (std::string(c.act) == "Clip") spec.attrs.push_back({"activation_params", AttrValue{ir::AttrType::kFloats, 0, 0, {}, {}, {-0.5f, 0.8f}}});
    if (std::string(c.act) == "LeakyRelu") spec.attrs.push_back({"activation_params", AttrValue{ir::AttrType::kFloats, 0, 0, {}, {}, {0.1f}}});
    if (c.bias) spec.constant_inputs.push_back(random_tensor({c.cout}, rng));
    if (c.z) {
      // Z blocked like the output, zero in its padding channels (as pare's tensors are); a
      // constant here, since the test graph feeds runtime inputs first.
      Tensor z = random_tensor({c.n, ob, c.h, c.w, 16}, rng);
      for (int64_t i = 0; i < z.numel(); ++i) {
        if ((i % 16) + 16 * ((i / (16 * c.h * c.w)) % ob) >= c.cout) z.data<float>()[i] = 0;
      }
      spec.constant_inputs.push_back(z);
      if (!c.bias) spec.omitted.push_back(2);
    }
    for (int threads : {1, 2}) {
      spec.threads = threads;
      auto [kernel, diff] = compare(spec);
      EXPECT_EQ(kernel, "onednn") << c.cin << "->" << c.cout;
      EXPECT_LT(diff, 1e-4) << c.cin << "->" << c.cout << " " << c.act << " threads " << threads << " " << kernel;
    }
  }
}

// com.pare.FusedConvDw (1×1 → 3×3 depthwise) against its reference: padded channel blocks
// (17, 24 channels), plain and blocked inputs, strides 1 and 2, odd and 1×1 images, with and
// without biases; on 1 thread MobileNetV2's 56×56 blocks take oneDNN's fused kernel, on 2
// threads (and for the small images) the two primitives run separately. Activations keep 0
// at 0, so the padding channels of both outputs are 0.
TEST(OnednnConvDw, MatchesReferenceFusedAndSeparate) {
  std::mt19937 rng(11);
  struct Case { Shape x; int64_t in_block, cin, c, stride; const char* act; const char* dw_act; bool bias, dw_bias; };
  const Case cases[] = {
      {{1, 5, 9, 7}, 0, 5, 17, 1, "Relu", "Clip", true, true},
      {{1, 1, 9, 9, 16}, 16, 10, 24, 2, "SiLU", "SiLU", false, true},
      {{2, 1, 56, 56, 16}, 16, 8, 32, 1, "Clip", "Clip", true, true},
      {{1, 2, 56, 56, 16}, 16, 24, 144, 1, "Clip", "Clip", true, true},  // MobileNetV2's features.3: fused
      {{1, 2, 56, 56, 16}, 16, 24, 144, 2, "SiLU", "SiLU", true, true},  // and strided
      {{1, 24, 56, 56}, 0, 24, 48, 2, "HardSwish", "", true, false},
      {{1, 2, 1, 1, 16}, 16, 20, 16, 2, "", "Relu", false, false},
  };
  for (const Case& c : cases) {
    const int64_t cin = c.cin;
    OneNode spec{"FusedConvDw",
                 {{"input_block", one_int(c.in_block)}, {"output_block", one_int(16)}, {"dw_stride", one_int(c.stride)},
                  {"activation", one_string(c.act)}, {"dw_activation", one_string(c.dw_act)}},
                 {random_tensor(c.x, rng)},
                 {},
                 "com.pare"};
    auto params = [&](const char* a) { return std::string(a) == "Clip" ? std::vector<float>{0.f, 6.f} : std::vector<float>{}; };
    for (auto [name, a] : {std::pair{"activation_params", c.act}, std::pair{"dw_activation_params", c.dw_act}}) {
      if (!params(a).empty()) spec.attrs.push_back({name, AttrValue{ir::AttrType::kFloats, 0, 0, {}, {}, params(a)}});
    }
    spec.constant_inputs.push_back(random_tensor({c.c, cin, 1, 1}, rng));
    if (c.bias) spec.constant_inputs.push_back(random_tensor({c.c}, rng));
    spec.constant_inputs.push_back(random_tensor({c.c, 1, 3, 3}, rng));
    if (c.dw_bias) spec.constant_inputs.push_back(random_tensor({c.c}, rng));
    if (!c.bias) spec.omitted.push_back(2);
    for (int threads : {1, 2}) {
      spec.threads = threads;
      auto [kernel, diff] = compare(spec);
      EXPECT_EQ(kernel, "onednn") << shape_to_string(c.x);
      EXPECT_LT(diff, 1e-4) << shape_to_string(c.x) << " " << kernel << " threads " << threads;
    }
  }
}

TEST(OnednnConvDw, BadAttributesAndWeightsAreRefused) {
  std::mt19937 rng(12);
  auto spec = [&](int64_t stride, Shape dw) {
    return OneNode{"FusedConvDw",
                   {{"output_block", one_int(16)}, {"dw_stride", one_int(stride)}},
                   {random_tensor({1, 4, 6, 6}, rng)},
                   {random_tensor({8, 4, 1, 1}, rng), random_tensor({8}, rng), random_tensor(dw, rng)},
                   "com.pare"};
  };
  auto [k1, d1] = compare(spec(3, {8, 1, 3, 3}));
  EXPECT_NE(k1.find("dw_stride must be 1 or 2"), std::string::npos) << k1;
  auto [k2, d2] = compare(spec(1, {8, 1, 5, 5}));
  EXPECT_NE(k2.find("depthwise weights"), std::string::npos) << k2;
  EXPECT_NE(k2.find("float[8, 1, 5, 5]"), std::string::npos) << k2;
}

TEST(OnednnPool, MatchesReferenceOnOddShapes) {
  std::mt19937 rng(4);
  struct Case { std::string op; Shape x; std::vector<int64_t> kernel, strides, pads; int64_t ceil, include_pad; };
  const Case cases[] = {
      {"MaxPool", {1, 3, 7, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, 0, 0},
      {"MaxPool", {2, 17, 8, 8}, {2, 2}, {2, 2}, {0, 0, 0, 0}, 1, 0},
      {"AveragePool", {1, 5, 11, 6}, {3, 2}, {2, 1}, {1, 0, 1, 1}, 0, 1},
      {"AveragePool", {1, 19, 9, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, 1, 0},
      {"MaxPool", {1, 4, 13}, {3}, {2}, {1, 1}, 0, 0},
  };
  for (const Case& c : cases) {
    OneNode spec{c.op, {{"kernel_shape", ints(c.kernel)}, {"strides", ints(c.strides)}, {"pads", ints(c.pads)}, {"ceil_mode", one_int(c.ceil)}},
                 {random_tensor(c.x, rng)}, {}};
    if (c.op == "AveragePool") spec.attrs.push_back({"count_include_pad", one_int(c.include_pad)});
    auto [kernel, diff] = compare(spec);
    EXPECT_EQ(kernel, "onednn") << c.op << shape_to_string(c.x);
    EXPECT_LT(diff, 1e-5) << c.op << shape_to_string(c.x) << " " << kernel;
  }
  for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
    auto [kernel, diff] = compare({op, {}, {random_tensor({2, 21, 5, 3}, rng)}, {}});
    EXPECT_EQ(kernel, "onednn") << op;
    EXPECT_LT(diff, 1e-5) << op;
  }
}

TEST(OnednnMatMul, MatchesReferenceIncludingBroadcastBatches) {
  std::mt19937 rng(2);
  const std::pair<Shape, Shape> cases[] = {{{1, 1}, {1, 1}}, {{7, 13}, {13, 5}}, {{2, 3, 17, 16}, {16, 33}},
                                           {{4, 1, 5, 8}, {3, 8, 2}}, {{16, 64}, {64, 15}}};
  for (const auto& [a, b] : cases) {
    auto [kernel, diff] = compare({"MatMul", {}, {random_tensor(a, rng), random_tensor(b, rng)}, {}});
    EXPECT_EQ(kernel, "onednn");
    EXPECT_LT(diff, 1e-4) << shape_to_string(a) << " x " << shape_to_string(b) << " " << kernel;
  }
}

TEST(OnednnGemm, MatchesReferenceWithTransposesAlphaBetaAndBias) {
  std::mt19937 rng(3);
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const int64_t m = 5, k = 7, n = 3;
      Shape as = ta ? Shape{k, m} : Shape{m, k}, bs = tb ? Shape{n, k} : Shape{k, n};
      OneNode spec{"Gemm",
                   {{"transA", one_int(ta)}, {"transB", one_int(tb)}, {"alpha", one_float(0.5f)}, {"beta", one_float(2.0f)}},
                   {random_tensor(as, rng)},
                   {random_tensor(bs, rng), random_tensor({n}, rng)}};
      auto [kernel, diff] = compare(spec);
      EXPECT_EQ(kernel, "onednn");
      EXPECT_LT(diff, 1e-4) << "transA " << ta << " transB " << tb << " " << kernel;
    }
  }
}

// oneDNN's default scratchpad belongs to the thread that created a primitive: a session planned
// on one thread must still run on another (a server's worker threads). Regression test.
TEST(OnednnThreads, SessionRunsOnAnotherThread) {
  std::mt19937 rng(9);
  auto model = std::make_unique<ir::Model>();
  model->opsets.push_back({"", 17});
  ir::Graph& g = *model->graph;
  ir::Value* x = g.add_value("x");
  x->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::vector<ir::Dim>{ir::Dim::of(1), ir::Dim::of(64), ir::Dim::of(28), ir::Dim::of(28)});
  g.add_input(x);
  ir::Value* w = g.add_initializer("w", random_tensor({64, 64, 3, 3}, rng));
  ir::Value* y = g.add_value("y");
  ir::Node* n = g.add_node("Conv", {x, w}, {y}, "", "node");
  ir::Attribute pads;
  pads.type = ir::AttrType::kInts;
  pads.ints = {1, 1, 1, 1};
  n->attributes()["pads"] = std::move(pads);
  g.outputs().push_back(y);
  auto s = runtime::Session::create(std::move(model));
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  const Tensor in = random_tensor({1, 64, 28, 28}, rng);
  Tensor outs[3];
  for (int i = 0; i < 3; ++i) {
    std::thread t([&] {
      auto r = (*s)->run({{"x", RunValue(in)}});
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      outs[i] = (*r)[0].tensor;
    });
    t.join();
  }
  for (int i = 1; i < 3; ++i) {
    ASSERT_EQ(outs[i].numel(), outs[0].numel());
    for (int64_t j = 0; j < outs[0].numel(); ++j) ASSERT_EQ(outs[i].data<float>()[j], outs[0].data<float>()[j]);
  }
}

AttrValue one_string(std::string v) {
  AttrValue a{ir::AttrType::kString};
  a.s = std::move(v);
  return a;
}

TEST(CpuBinary, MatchesReferenceOnBroadcastPatterns) {
  std::mt19937 rng(5);
  const std::pair<Shape, Shape> cases[] = {
      {{7}, {7}},           {{1, 3, 5, 17}, {1, 3, 1, 1}}, {{2, 3, 4}, {4}},     {{4}, {2, 3, 4}},     {{5, 1, 3}, {1, 4, 1}},
      {{}, {3, 2}},         {{1, 2, 3, 3, 16}, {1, 2, 1, 1, 16}},                {{0, 3}, {3}},        {{33}, {}},
      {{2, 1, 129}, {2, 7, 1}},
      // Short rows (blocked channels scaled per channel): several row chunks, threads split rows.
      {{1, 4, 700, 16}, {1, 4, 1, 16}}, {{2, 1, 16}, {2, 300, 16}},  {{3, 1000, 5}, {3, 1, 5}},
      {{1, 2, 3, 1100, 7}, {1, 2, 3, 1, 7}}};
  for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min"}) {
    for (const auto& [a, b] : cases) {
      Tensor tb = random_tensor(b, rng);
      if (std::string(op) == "Div") {
        for (int64_t i = 0; i < tb.numel(); ++i) tb.data<float>()[i] += tb.data<float>()[i] >= 0 ? 0.5f : -0.5f;
      }
      auto [kernel, diff] = compare({op, {}, {random_tensor(a, rng), tb}, {}});
      EXPECT_EQ(kernel, "cpu") << op << shape_to_string(a) << shape_to_string(b);
      EXPECT_LT(diff, 1e-5) << op << shape_to_string(a) << shape_to_string(b) << " " << kernel;
    }
  }
}

TEST(OnednnEltwise, UnaryMatchReference) {
  std::mt19937 rng(6);
  for (const char* op : {"Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh", "Exp", "Abs", "Neg", "HardSwish"}) {
    for (const Shape& s : {Shape{1}, Shape{17}, Shape{3, 5, 33}, Shape{0, 4}}) {
      auto [kernel, diff] = compare({op, {}, {random_tensor(s, rng)}, {}});
      EXPECT_EQ(kernel, "onednn") << op;
      EXPECT_LT(diff, 2e-6) << op << shape_to_string(s);
    }
  }
  Tensor x = random_tensor({4, 9}, rng);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = std::abs(x.data<float>()[i]);
  auto [kernel, diff] = compare({"Sqrt", {}, {x}, {}});
  EXPECT_EQ(kernel, "onednn");
  EXPECT_LT(diff, 1e-6);
}

TEST(OnednnSoftmax, MatchesReferenceOnEveryAxis) {
  std::mt19937 rng(7);
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    for (int64_t axis : {-1, 0, 1, 2}) {
      auto [kernel, diff] = compare({op, {{"axis", one_int(axis)}}, {random_tensor({3, 17, 5}, rng)}, {}});
      EXPECT_EQ(kernel, "onednn") << op << axis;
      EXPECT_LT(diff, 1e-5) << op << " axis " << axis;
    }
  }
}

TEST(OnednnTranspose, MatchesReference) {
  std::mt19937 rng(8);
  const std::pair<Shape, std::vector<int64_t>> cases[] = {
      {{3, 5}, {1, 0}}, {{2, 3, 4, 5}, {0, 2, 1, 3}}, {{2, 3, 4}, {2, 0, 1}}, {{1, 17, 1, 3}, {3, 2, 1, 0}}, {{0, 3}, {1, 0}}};
  for (const auto& [s, perm] : cases) {
    auto [kernel, diff] = compare({"Transpose", {{"perm", ints(perm)}}, {random_tensor(s, rng)}, {}});
    EXPECT_EQ(kernel, "onednn") << shape_to_string(s);
    EXPECT_EQ(diff, 0.0) << shape_to_string(s);
  }
}

TEST(CpuAttention, MatchesReferenceOnOddShapesMasksAndPacking) {
  std::mt19937 rng(9);
  struct Case {
    Shape q, k, v, mask;  // empty k/v: packed QKV in q; empty mask: none
    int64_t heads;
    float scale;
  };
  const Case cases[] = {
      {{2, 5, 12}, {2, 9, 12}, {2, 9, 20}, {}, 4, 0.0f},       // Sq ≠ Skv, Dk 3 ≠ Dv 5, default scale
      {{2, 5, 12}, {2, 9, 12}, {2, 9, 20}, {2, 1, 1, 9}, 4, 0.7f},  // BERT-style padding mask
      {{2, 5, 12}, {2, 9, 12}, {2, 9, 12}, {5, 9}, 2, 0.3f},   // one mask for every batch and head
      {{2, 5, 12}, {2, 9, 12}, {2, 9, 12}, {2, 3, 5, 9}, 3, 0.5f},  // a full mask
      {{1, 70, 48}, {}, {}, {70, 70}, 2, 0.25f},                 // packed, two row blocks, causal-like
      {{3, 1, 3 * 17}, {}, {}, {}, 1, 0.0f},                     // packed, one row, odd head size
      {{1, 0, 12}, {1, 4, 12}, {1, 4, 12}, {}, 2, 0.0f},         // no queries
      // Head sizes that are multiples of 16 (the AVX-512 micro-kernels): Skv not a multiple of
      // 16, row tails of every size below 6, two row blocks, Dk ≠ Dv, packed and separate.
      {{1, 70, 3 * 2 * 32}, {}, {}, {70, 70}, 2, 0.0f},
      {{2, 11, 32}, {2, 33, 32}, {2, 33, 96}, {2, 1, 1, 33}, 2, 0.125f},
      {{1, 131, 64}, {1, 17, 64}, {1, 17, 16}, {}, 1, 0.0f},
  };
  for (const Case& c : cases) {
    OneNode spec{"Attention", {{"num_heads", one_int(c.heads)}, {"scale", one_float(c.scale)}}, {random_tensor(c.q, rng)}, {}, "com.pare"};
    if (c.k.empty()) {
      spec.attrs.push_back({"qkv_packed", one_int(1)});
      if (!c.mask.empty()) spec.omitted = {1, 2};
    } else {
      spec.runtime_inputs.push_back(random_tensor(c.k, rng));
      spec.runtime_inputs.push_back(random_tensor(c.v, rng));
    }
    if (!c.mask.empty()) {
      Tensor m = random_tensor(c.mask, rng);
      for (int64_t i = 0; i < m.numel(); ++i) m.data<float>()[i] = m.data<float>()[i] > 0.6f ? -1e4f : 3 * m.data<float>()[i];
      spec.runtime_inputs.push_back(m);
    }
    auto [kernel, diff] = compare(spec);
    EXPECT_EQ(kernel, "cpu") << shape_to_string(c.q);
    EXPECT_LT(diff, 2e-6) << shape_to_string(c.q) << " mask " << shape_to_string(c.mask) << " " << kernel;
  }
  // A mask that does not broadcast to [B, H, Sq, Skv] is refused by both kernels.
  OneNode bad{"Attention", {{"num_heads", one_int(2)}}, {random_tensor({1, 4, 8}, rng), random_tensor({1, 4, 8}, rng),
              random_tensor({1, 4, 8}, rng), random_tensor({3, 4}, rng)}, {}, "com.pare"};
  auto [kernel, diff] = compare(bad);
  EXPECT_NE(kernel.find("does not broadcast"), std::string::npos) << kernel;
}

}  // namespace
}  // namespace pare
