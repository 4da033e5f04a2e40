// Pruning against direct formulas: exact sparsity counts, N:M patterns, typed errors for bad
// options and models, and channel pruning checked by running the pruned model against the
// original with the removed channels' consumer weights zeroed (the two must agree exactly
// up to rounding, since a removed channel then contributes nothing).
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "compress/prune/internal.h"
#include "compress/prune/prune.h"
#include "runtime/session.h"
#include "train/training_graph.h"

namespace pare::prune {
namespace {

Tensor random_tensor(const Shape& s, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  Tensor t = Tensor::create(DataType::kFloat32, s).value();
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(g);
  return t;
}

ir::Value* input(ir::Graph& g, const std::string& name, const Shape& s) {
  ir::Value* v = g.add_value(name);
  std::vector<ir::Dim> dims;
  for (int64_t d : s) dims.push_back(ir::Dim::of(d));
  v->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
  g.add_input(v);
  return v;
}

ir::Value* conv(ir::Graph& g, const std::string& name, ir::Value* x, int64_t cout, int64_t cin, int64_t k, uint32_t seed) {
  ir::Value* w = g.add_initializer(name + ".w", random_tensor({cout, cin, k, k}, seed));
  ir::Value* b = g.add_initializer(name + ".b", random_tensor({cout}, seed + 100));
  ir::Value* y = g.add_value(name + ".y");
  ir::Node* n = g.add_node("Conv", {x, w, b}, {y}, "", name);
  n->attributes()["pads"] = ir::Attribute::of(std::vector<int64_t>(4, k / 2));
  return y;
}

ir::Value* op(ir::Graph& g, const std::string& type, const std::string& name, std::vector<ir::Value*> in) {
  ir::Value* y = g.add_value(name + ".y");
  g.add_node(type, in, {y}, "", name);
  return y;
}

// x[1,4,6,6] → A: Conv 8 → Relu → B: Conv 6 (1×1) ─┐
//            └→ C: Conv 6 (1×1) ───────────────────── Add → GlobalAveragePool → Flatten → D: Gemm 3
std::unique_ptr<ir::Model> residual_model(bool with_reshape) {
  auto m = std::make_unique<ir::Model>();
  m->opsets = {{"", 17}};
  ir::Graph& g = *m->graph;
  ir::Value* x = input(g, "x", {1, 4, 6, 6});
  ir::Value* a = op(g, "Relu", "relu", {conv(g, "A", x, 8, 4, 3, 1)});
  if (with_reshape) {
    ir::Value* shape = g.add_initializer("shape", Tensor::from_vector<int64_t>({2}, {1, -1}));
    g.outputs().push_back(op(g, "Reshape", "flat_a", {a, shape}));
  }
  ir::Value* s = op(g, "Add", "add", {conv(g, "B", a, 6, 8, 1, 2), conv(g, "C", x, 6, 4, 1, 3)});
  ir::Value* f = op(g, "Flatten", "flatten", {op(g, "GlobalAveragePool", "gap", {s})});
  ir::Value* w = g.add_initializer("D.w", random_tensor({3, 6}, 4));
  ir::Value* y = g.add_value("y");
  ir::Node* d = g.add_node("Gemm", {f, w}, {y}, "", "D");
  d->attributes()["transB"] = ir::Attribute::of(int64_t{1});
  g.outputs().push_back(y);
  return m;
}

std::vector<float> run(std::unique_ptr<ir::Model> m, const Tensor& x) {
  auto s = runtime::Session::create(std::move(m));
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  auto out = (*s)->run({{"x", RunValue(x)}});
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  const Tensor& y = (*out)[0].tensor;
  return std::vector<float>(y.data<float>(), y.data<float>() + y.numel());
}

void zero_slices(ir::Graph& g, const std::string& w, int axis, const std::vector<int64_t>& channels) {
  Tensor t = *g.find_local_value(w)->initializer();
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= t.dim(i);
  for (int64_t i = axis + 1; i < t.rank(); ++i) inner *= t.dim(i);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c : channels) std::fill_n(t.data<float>() + (o * t.dim(axis) + c) * inner, inner, 0.0f);
}

const LayerStats& layer(const Report& r, const std::string& name) {
  for (const auto& l : r.layers)
    if (l.node == name) return l;
  static LayerStats none;
  ADD_FAILURE() << "no layer " << name;
  return none;
}

TEST(PruneMagnitude, ExactGlobalAndPerLayerCounts) {
  Tensor a = random_tensor({10, 10}, 1), b = random_tensor({50}, 2);
  internal::zero_smallest({internal::float_span(a), internal::float_span(b)}, 0.5, Scope::kLayer);
  auto zeros = [](const Tensor& t) { return std::count(t.data<float>(), t.data<float>() + t.numel(), 0.0f); };
  EXPECT_EQ(zeros(a), 50);
  EXPECT_EQ(zeros(b), 25);
  Tensor c = Tensor::from_vector<float>({6}, {0.1f, -5, 3, -0.2f, 4, 0.05f});
  Tensor d = Tensor::from_vector<float>({2}, {-0.3f, 6});
  internal::zero_smallest({internal::float_span(c), internal::float_span(d)}, 0.5, Scope::kGlobal);
  EXPECT_EQ(std::vector<float>(c.data<float>(), c.data<float>() + 6), (std::vector<float>{0, -5, 3, 0, 4, 0}));
  EXPECT_EQ(std::vector<float>(d.data<float>(), d.data<float>() + 2), (std::vector<float>{0, 6}));
}

TEST(PruneNM, KeepsTheNLargestOfEveryRunAlongTheInputDimension) {
  // Conv layout [Cout 2, Cin 8, 3, 3]: runs of 4 along Cin at each (o, y, x).
  Tensor w = random_tensor({2, 8, 3, 3}, 5), orig = random_tensor({2, 8, 3, 3}, 5);
  internal::zero_nm(internal::float_span(w), 2, 8, 9, 2, 4);
  for (int64_t o = 0; o < 2; ++o)
    for (int64_t p = 0; p < 9; ++p)
      for (int64_t k0 = 0; k0 < 8; k0 += 4) {
        std::vector<float> mags;
        int nz = 0;
        for (int64_t j = 0; j < 4; ++j) mags.push_back(std::abs(orig.data<float>()[(o * 8 + k0 + j) * 9 + p]));
        std::vector<float> sorted = mags;
        std::sort(sorted.rbegin(), sorted.rend());
        for (int64_t j = 0; j < 4; ++j) {
          const float v = w.data<float>()[(o * 8 + k0 + j) * 9 + p];
          if (v != 0) {
            ++nz;
            EXPECT_GE(std::abs(v), sorted[1]);
          }
        }
        EXPECT_EQ(nz, 2);
      }
}

TEST(PruneModel, MagnitudeLeavesBiasesAndReportsSparsity) {
  auto m = residual_model(false);
  Options o;
  o.sparsity = 0.6;
  auto r = prune_model(*m, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Tensor& b = *m->graph->find_local_value("A.b")->initializer();
  EXPECT_EQ(std::count(b.data<float>(), b.data<float>() + b.numel(), 0.0f), 0);
  int64_t w = 0, z = 0;
  for (const char* n : {"A.w", "B.w", "C.w", "D.w"}) {
    const Tensor& t = *m->graph->find_local_value(n)->initializer();
    w += t.numel();
    z += std::count(t.data<float>(), t.data<float>() + t.numel(), 0.0f);
  }
  EXPECT_EQ(z, std::llround(0.6 * w));
  EXPECT_EQ(r->masks.size(), 4u);
  EXPECT_GT(r->report.flops_before, 0);
}

TEST(PruneModel, BadOptionsAndModelsAreTypedErrors) {
  for (double s : {1.0, -0.1, 1.5}) {
    auto m = residual_model(false);
    Options o;
    o.sparsity = s;
    auto r = prune_model(*m, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput) << s;
    EXPECT_NE(r.status().message().find("--sparsity must be in [0, 1)"), std::string::npos);
  }
  {
    auto m = residual_model(false);
    Options o;
    o.method = Method::kNM;
    o.n = 2;
    o.m = 3;
    o.include = {"^A$"};  // A's input dimension is 4
    auto r = prune_model(*m, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
    EXPECT_NE(r.status().message().find("'A'"), std::string::npos) << r.status().message();
  }
  {
    auto m = residual_model(false);
    ir::Graph& g = *m->graph;
    ir::Value* q = g.add_initializer("q", Tensor::from_vector<int8_t>({2}, {1, 2}));
    ir::Value* s = g.add_initializer("s", Tensor::scalar<float>(0.5f));
    g.outputs().push_back(op(g, "DequantizeLinear", "dq", {q, s}));
    Options o;
    o.sparsity = 0.5;
    auto r = prune_model(*m, o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(r.status().message().find("already quantized"), std::string::npos);
  }
}

TEST(PruneChannel, RemovesChannelsAndMatchesZeroedConsumers) {
  auto m = residual_model(false);
  auto ref = train::clone_model(*m).value();
  Options o;
  o.method = Method::kChannel;
  o.channels_fraction = 0.5;
  auto r = prune_model(*m, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Report& rep = r->report;
  EXPECT_EQ(layer(rep, "A").channels_after, 4);
  EXPECT_EQ(layer(rep, "B").channels_after, 3);
  EXPECT_EQ(layer(rep, "C").channels_after, 3);
  EXPECT_EQ(layer(rep, "D").channels_after, 3);  // logits stay
  EXPECT_EQ(layer(rep, "B").removed_channels, layer(rep, "C").removed_channels);  // residual group
  EXPECT_EQ(m->graph->find_local_value("A.w")->initializer()->shape(), (Shape{4, 4, 3, 3}));
  EXPECT_EQ(m->graph->find_local_value("D.w")->initializer()->shape(), (Shape{3, 3}));
  EXPECT_LT(rep.flops_after, rep.flops_before);
  // Reference: the original with the removed channels' consumer weights zeroed.
  zero_slices(*ref->graph, "B.w", 1, layer(rep, "A").removed_channels);
  zero_slices(*ref->graph, "D.w", 1, layer(rep, "B").removed_channels);
  Tensor x = random_tensor({1, 4, 6, 6}, 9);
  auto got = run(std::move(m), x), want = run(std::move(ref), x);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4 * (1 + std::abs(want[i])));
}

TEST(PruneChannel, UnrewirableOpIsSkippedOrAnErrorInStrictMode) {
  Options o;
  o.method = Method::kChannel;
  o.channels_fraction = 0.5;
  auto m = residual_model(true);
  auto r = prune_model(*m, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(layer(r->report, "A").channels_after, 8);
  EXPECT_EQ(layer(r->report, "B").channels_after, 3);
  bool noted = false;
  for (const auto& n : r->report.notes) noted |= n.find("'flat_a' (Reshape)") != std::string::npos;
  EXPECT_TRUE(noted);
  o.strict = true;
  auto m2 = residual_model(true);
  auto r2 = prune_model(*m2, o);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(r2.status().message().find("'flat_a' (Reshape)"), std::string::npos) << r2.status().message();
}

TEST(PruneChannel, FlopsTargetIsMet) {
  auto m = residual_model(false);
  Options o;
  o.method = Method::kChannel;
  o.target_flops = 0.5;
  auto r = prune_model(*m, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_LE(r->report.flops_after, 0.5 * r->report.flops_before + 1);
  EXPECT_GT(r->report.flops_after, 0.25 * r->report.flops_before);
}

TEST(PruneGradual, SparsityRisesCubicallyAndMasksHold) {
  Options o;
  o.sparsity = 0.8;
  GradualSchedule s(o, {"w"}, 0.5, 1);
  EXPECT_DOUBLE_EQ(s.sparsity_at(0, 100), 0.0);
  EXPECT_NEAR(s.sparsity_at(25, 100), 0.8 * (1 - 0.125), 1e-12);
  EXPECT_DOUBLE_EQ(s.sparsity_at(60, 100), 0.8);
  std::vector<Tensor> p{random_tensor({100}, 3)};
  for (int64_t step = 1; step <= 100; ++step) {
    for (int64_t i = 0; i < 100; ++i) p[0].data<float>()[i] += 0.01f;  // an "optimizer" that moves every weight
    ASSERT_TRUE(s.on_step({"w"}, p, step, 100).ok());
  }
  EXPECT_EQ(std::count(p[0].data<float>(), p[0].data<float>() + 100, 0.0f), 80);
}

}  // namespace
}  // namespace pare::prune
