// The intermediate-feature (hint, FitNets) loss of distillation: the training graph's loss
// value against a hand computation, every gradient (model and projection parameters, rank-2
// Gemm and rank-4 Conv projections) against central finite differences, training with hints
// (the projection stays out of the output model, resume is exact) and the bad inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include "compress/distill/shrink.h"
#include "onnx/onnx.h"
#include "ops/grad/gradient.h"
#include "runtime/session.h"
#include "train/test_tensors.h"
#include "train/trainer.h"

namespace pare::train {
namespace {

namespace fs = std::filesystem;

ir::Value* typed(ir::Graph& g, const std::string& name, std::vector<ir::Dim> dims) {
  ir::Value* v = g.add_value(name);
  v->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::move(dims));
  return v;
}

// x [N, 1, 4, 4] → Conv(1→2, 3×3, pad 1) "c" → BatchNormalization "bn" → Tanh "t" → MaxPool(3×3,
// pad 1; optional) "p" → Flatten "f"
// → Gemm(32→3) logits "z" (width×2 and ×1 channels give a teacher and a student).
std::unique_ptr<ir::Model> convnet(int64_t channels, uint32_t seed, bool pool = true) {
  auto m = std::make_unique<ir::Model>();
  m->opsets = {{"", 13}};
  ir::Graph& g = *m->graph;
  ir::Value* x = typed(g, "x", {ir::Dim::sym("N"), ir::Dim::of(1), ir::Dim::of(4), ir::Dim::of(4)});
  g.add_input(x);
  ir::Value* c = g.add_value("c");
  ir::Node* conv = g.add_node("Conv", {x, g.add_initializer("cw", randn({channels, 1, 3, 3}, seed, 0.5f)), g.add_initializer("cb", randn({channels}, seed + 1, 0.1f))},
                              {c}, "", "conv");
  conv->attributes()["pads"] = ir::Attribute::of(std::vector<int64_t>{1, 1, 1, 1});
  ir::Value* bn = g.add_value("bn");
  Tensor ones = Tensor::create(DataType::kFloat32, {channels}).value(), zeros = Tensor::create(DataType::kFloat32, {channels}).value();
  for (int64_t i = 0; i < channels; ++i) ones.data<float>()[i] = 1.0f;
  g.add_node("BatchNormalization",
             {c, g.add_initializer("bs", randn({channels}, seed + 2, 0.1f)), g.add_initializer("bb", randn({channels}, seed + 3, 0.1f)),
              g.add_initializer("bm", zeros), g.add_initializer("bv", ones)},
             {bn}, "", "bnorm");
  ir::Value* t = g.add_value("t");
  g.add_node("Tanh", {bn}, {t}, "", "tanh");
  ir::Value* p = t;
  if (pool) {
    p = g.add_value("p");
    ir::Node* mp = g.add_node("MaxPool", {t}, {p}, "", "pool");
    mp->attributes()["kernel_shape"] = ir::Attribute::of(std::vector<int64_t>{3, 3});
    mp->attributes()["pads"] = ir::Attribute::of(std::vector<int64_t>{1, 1, 1, 1});
  }
  ir::Value* f = g.add_value("f");
  g.add_node("Flatten", {p}, {f}, "", "flatten");
  ir::Value* z = typed(g, "z", {ir::Dim::sym("N"), ir::Dim::of(3)});
  ir::Node* fc = g.add_node("Gemm", {f, g.add_initializer("fw", randn({3, channels * 16}, seed + 4, 0.3f)), g.add_initializer("fb", randn({3}, seed + 5, 0.1f))},
                            {z}, "", "fc");
  fc->attributes()["transB"] = ir::Attribute::of(int64_t{1});
  g.outputs().push_back(z);
  return m;
}

struct HintRun {
  std::unique_ptr<runtime::Session> session;
  std::vector<std::pair<std::string, RunValue>> feeds;
  std::vector<std::string> params, grads;
};

// A session over the training graph with hints, fed with random data and hint targets.
HintRun prepare(const ir::Model& model, const std::vector<HintSpec>& hints, int64_t n) {
  TrainGraphOptions go;
  go.hints = hints;
  go.seed = 3;
  auto tg = build_training_graph(model, go);
  EXPECT_TRUE(tg.ok()) << tg.status().to_string();
  HintRun r;
  r.params = tg->params;
  r.params.insert(r.params.end(), tg->hint_params.begin(), tg->hint_params.end());
  r.grads = tg->grads;
  r.grads.insert(r.grads.end(), tg->hint_grads.begin(), tg->hint_grads.end());
  Shape xs{n};
  const auto& xt = model.graph->inputs()[0]->type();
  for (size_t d = 1; d < xt.shape->size(); ++d) xs.push_back((*xt.shape)[d].value);
  r.feeds.push_back({tg->input, RunValue(randn(xs, 11))});
  Tensor target = Tensor::create(DataType::kFloat32, {n, 3}).value();
  for (int64_t i = 0; i < n; ++i) target.data<float>()[i * 3 + i % 3] = 1.0f / static_cast<float>(n);
  r.feeds.push_back({kTarget, RunValue(target)});
  for (size_t i = 0; i < hints.size(); ++i) {
    Shape hs{n};
    hs.insert(hs.end(), hints[i].teacher_shape.begin(), hints[i].teacher_shape.end());
    Tensor h = randn(hs, 20 + static_cast<uint32_t>(i));
    r.feeds.push_back({tg->hints[i].target, RunValue(h)});
    r.feeds.push_back({tg->hints[i].scale, RunValue(Tensor::scalar<float>(0.7f / static_cast<float>(h.numel())))});
  }
  for (const std::string& p : tg->params) r.feeds.push_back({p, RunValue(Tensor(*model.graph->find_local_value(p)->initializer()))});
  for (size_t i = 0; i < tg->hint_params.size(); ++i) r.feeds.push_back({tg->hint_params[i], RunValue(tg->hint_init[i])});
  runtime::SessionOptions so;
  so.num_threads = 1;
  auto s = runtime::Session::create(std::move(tg->model), so);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  r.session = std::move(*s);
  return r;
}

Tensor& feed(HintRun& r, const std::string& name) {
  for (auto& [k, v] : r.feeds) {
    if (k == name) return v.tensor;
  }
  ADD_FAILURE() << "no feed " << name;
  return r.feeds[0].second.tensor;
}

TEST(TrainHint, LossValueMatchesHandComputation) {
  // The student value is the input x itself, flattened by a rank-2 model: P(x) = W·x + b.
  auto m = std::make_unique<ir::Model>();
  m->opsets = {{"", 13}};
  ir::Graph& g = *m->graph;
  ir::Value* x = typed(g, "x", {ir::Dim::sym("N"), ir::Dim::of(4)});
  g.add_input(x);
  ir::Value* z = typed(g, "z", {ir::Dim::sym("N"), ir::Dim::of(3)});
  ir::Node* fc = g.add_node("Gemm", {x, g.add_initializer("w", randn({3, 4}, 1)), g.add_initializer("b", randn({3}, 2))}, {z}, "", "fc");
  fc->attributes()["transB"] = ir::Attribute::of(int64_t{1});
  g.outputs().push_back(z);
  HintRun with = prepare(*m, {{"x", {5}}}, 6);
  const Tensor &xv = feed(with, "x"), &w = feed(with, "pare_train/hint0/proj.weight"), &b = feed(with, "pare_train/hint0/proj.bias");
  const Tensor& h = feed(with, "pare_train/hint0/target");
  ASSERT_EQ(w.shape(), (Shape{5, 4}));
  double expected = 0;
  for (int64_t i = 0; i < 6; ++i) {
    for (int64_t o = 0; o < 5; ++o) {
      double p = b.data<float>()[o];
      for (int64_t k = 0; k < 4; ++k) p += w.data<float>()[o * 4 + k] * xv.data<float>()[i * 4 + k];
      const double d = p - h.data<float>()[i * 5 + o];
      expected += d * d;
    }
  }
  expected *= 0.7 / 30;
  const double total = with.session->run(with.feeds, {kLoss}).value()[0].tensor.data<float>()[0];
  feed(with, "pare_train/hint0/scale").data<float>()[0] = 0.0f;
  const double base = with.session->run(with.feeds, {kLoss}).value()[0].tensor.data<float>()[0];
  EXPECT_NEAR(total - base, expected, 1e-4 * (1 + expected));
  EXPECT_GT(expected, 0.1);
}

TEST(TrainHint, GradientsMatchFiniteDifferences) {
  // A rank-4 hint on the BatchNorm output (rewritten for training, so taken through the
  // inserted Identity) projected 2→3 channels by a 1×1 Conv, and a rank-2 hint on the
  // flattened features projected 32→5 by a Gemm.
  auto model = convnet(2, 1, false);  // no MaxPool: finite differences would cross its argmax
  HintRun r = prepare(*model, {{"bn", {3, 4, 4}}, {"f", {5}}}, 4);
  ASSERT_EQ(r.params.size(), 10u);  // cw cb bs bb fw fb + 2 projections × (weight, bias)
  std::vector<std::string> outs{kLoss};
  outs.insert(outs.end(), r.grads.begin(), r.grads.end());
  auto res = r.session->run(r.feeds, outs);
  ASSERT_TRUE(res.ok()) << res.status().to_string();
  for (size_t k = 0; k < r.params.size(); ++k) {
    Tensor& p = feed(r, r.params[k]);
    Tensor copy = Tensor::create(DataType::kFloat32, p.shape()).value();
    std::copy_n(p.data<float>(), p.numel(), copy.data<float>());
    p = copy;
    for (int64_t j = 0; j < p.numel(); j += std::max<int64_t>(1, p.numel() / 12)) {
      const float saved = p.data<float>()[j], eps = 1e-2f;
      p.data<float>()[j] = saved + eps;
      const double lp = r.session->run(r.feeds, {kLoss}).value()[0].tensor.data<float>()[0];
      p.data<float>()[j] = saved - eps;
      const double lm = r.session->run(r.feeds, {kLoss}).value()[0].tensor.data<float>()[0];
      p.data<float>()[j] = saved;
      const double numeric = (lp - lm) / (2 * eps), analytic = (*res)[1 + k].tensor.data<float>()[j];
      EXPECT_NEAR(analytic, numeric, 2e-3 + 1e-2 * std::abs(numeric)) << r.params[k] << "[" << j << "]";
    }
  }
}

// 4×4 images of three classes: a bright top-left, top-right or bottom-left quadrant.
eval::Dataset images(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  eval::Dataset d;
  d.x = Tensor::create(DataType::kFloat32, {n, 1, 4, 4}).value();
  d.y = Tensor::create(DataType::kInt64, {n}).value();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % 3;
    d.y.data<int64_t>()[i] = c;
    for (int64_t p = 0; p < 16; ++p) {
      const int64_t row = p / 4, col = p % 4;
      const bool bright = c == 0 ? row < 2 && col < 2 : c == 1 ? row < 2 && col >= 2 : row >= 2 && col < 2;
      d.x.data<float>()[i * 16 + p] = noise(rng) + (bright ? 1.0f : 0.0f);
    }
  }
  return d;
}

TrainOptions hint_options(std::shared_ptr<runtime::Session> ts, int64_t epochs) {
  TrainOptions o;
  o.epochs = epochs;
  o.batch = 16;
  o.seed = 4;
  o.num_threads = 1;
  o.schedule.lr = 0.05f;
  o.alpha = 0.5f;
  o.temperature = 2;
  o.hints = {{"p", "p"}};  // MaxPool outputs (rewritten for training)
  o.hint_weight = 0.5f;
  o.teacher = [ts](const Tensor& x, const std::vector<int64_t>&) -> Result<std::vector<Tensor>> {
    PARE_ASSIGN_OR_RETURN(auto out, ts->run({{"x", RunValue(x)}}, {"z", "p"}));
    return std::vector<Tensor>{out[0].tensor, out[1].tensor};
  };
  return o;
}

std::vector<std::string> initializer_names(const ir::Model& m) {
  std::vector<std::string> out;
  for (ir::Value* v : m.graph->initializers()) out.push_back(v->name());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(TrainHint, DistillsWithHintsAndResumesExactly) {
  eval::Dataset train = images(150, 1), val = images(60, 2);
  auto teacher = convnet(4, 7);
  TrainOptions to;
  to.epochs = 3, to.batch = 16, to.seed = 1, to.num_threads = 1, to.schedule.lr = 0.05f;
  ASSERT_TRUE(train_model(*teacher, train, nullptr, to).ok());
  auto tcopy = clone_model(*teacher).value();
  tcopy->graph->outputs().push_back(tcopy->graph->find_local_value("p"));  // the hint feature
  std::shared_ptr<runtime::Session> ts(runtime::Session::create(std::move(tcopy)).value().release());

  auto a = distill::shrink_model(*teacher, 0.5, 1).value();
  const auto names = initializer_names(*a);
  auto ra = train_model(*a, train, &val, hint_options(ts, 3));
  ASSERT_TRUE(ra.ok()) << ra.status().to_string();
  EXPECT_GT(ra->epochs.back().val_accuracy, 0.9);
  EXPECT_LT(ra->epochs.back().loss, ra->epochs.front().loss);
  EXPECT_EQ(initializer_names(*a), names);  // the projection is not part of the student
  // Two epochs, a checkpoint (with the projection), then the third: the same weights.
  auto b = distill::shrink_model(*teacher, 0.5, 1).value();
  TrainOptions o = hint_options(ts, 2);
  o.checkpoint = (fs::temp_directory_path() / ("pare_hint_test_" + std::to_string(::getpid()) + ".onnx")).string();
  ASSERT_TRUE(train_model(*b, train, &val, o).ok());
  auto ck = onnx::load_model(o.checkpoint);
  ASSERT_TRUE(ck.ok());
  EXPECT_NE((*ck)->graph->find_local_value("pare_train_state/hint/pare_train/hint0/proj.weight"), nullptr);
  o.epochs = 3;
  o.resume = true;
  ASSERT_TRUE(train_model(**ck, train, &val, o).ok());
  for (const std::string& n : names) {
    const Tensor &ta = *a->graph->find_local_value(n)->initializer(), &tb = *(*ck)->graph->find_local_value(n)->initializer();
    ASSERT_EQ(ta.numel(), tb.numel());
    EXPECT_TRUE(std::equal(ta.data<float>(), ta.data<float>() + ta.numel(), tb.data<float>())) << n;
  }
  EXPECT_EQ(initializer_names(**ck), names);
  fs::remove(o.checkpoint);
}

TEST(TrainHint, BadHints) {
  auto model = convnet(2, 1);
  TrainGraphOptions go;
  go.hints = {{"nope", {3, 4, 4}}};
  auto r = build_training_graph(*model, go);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no feature value named 'nope'"), std::string::npos) << r.status().to_string();
  go.hints = {{"cw", {3, 4, 4}}};  // a weight, not a feature
  EXPECT_FALSE(build_training_graph(*model, go).ok());
  go.hints = {{"bn", {3, 2, 2}}};  // spatial size differs
  r = build_training_graph(*model, go);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("[N, 2, 4, 4]"), std::string::npos) << r.status().to_string();
  EXPECT_NE(r.status().message().find("[N, 3, 2, 2]"), std::string::npos) << r.status().to_string();
  go.hints = {{"f", {3, 4, 4}}};  // rank differs
  EXPECT_FALSE(build_training_graph(*model, go).ok());
  // A hint without a teacher.
  eval::Dataset train = images(30, 1);
  TrainOptions o;
  o.hints = {{"t", "t"}};
  auto t = train_model(*model, train, nullptr, o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("needs a teacher"), std::string::npos);
}

}  // namespace
}  // namespace pare::train
