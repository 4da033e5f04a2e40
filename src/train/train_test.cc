// Trainer pieces: optimizers and schedules against hand-computed values, the training graph's
// loss gradients against finite differences, learning on synthetic data, determinism and
// resume, data loaders, --shrink, and each bad input the issue names.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "compress/distill/shrink.h"
#include "onnx/onnx.h"
#include "ops/grad/gradient.h"
#include "runtime/session.h"
#include "stb/stb_image_write.h"
#include "train/data.h"
#include "train/test_tensors.h"
#include "train/trainer.h"

namespace pare::train {
namespace {

namespace fs = std::filesystem;

// x [N, 4] → Gemm(4→8) → BatchNorm-free MLP → Relu → Dropout → Gemm(8→3) logits.
std::unique_ptr<ir::Model> mlp(const std::string& extra_op = "", bool dropout = false) {
  auto m = std::make_unique<ir::Model>();
  m->opsets = {{"", 13}};
  ir::Graph& g = *m->graph;
  ir::Value* x = g.add_value("x");
  x->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::vector<ir::Dim>{ir::Dim::sym("N"), ir::Dim::of(4)});
  g.add_input(x);
  ir::Value* h = g.add_value("h");
  ir::Node* g1 = g.add_node("Gemm", {x, g.add_initializer("w1", randn({8, 4}, 1, 0.5f)), g.add_initializer("b1", randn({8}, 2, 0.1f))}, {h}, "", "fc1");
  g1->attributes()["transB"] = ops::attr_int(1);
  ir::Value* r = g.add_value("r");
  g.add_node(extra_op.empty() ? "Relu" : extra_op, {h}, {r}, "", "act");
  ir::Value* last = r;
  if (dropout) {
    ir::Value* d = g.add_value("d");
    g.add_node("Dropout", {r, g.add_initializer("ratio", Tensor::scalar<float>(0.2f))}, {d}, "", "drop");
    last = d;
  }
  ir::Value* z = g.add_value("z");
  ir::Node* g2 = g.add_node("Gemm", {last, g.add_initializer("w2", randn({3, 8}, 3, 0.5f)), g.add_initializer("b2", randn({3}, 4, 0.1f))}, {z}, "", "fc2");
  g2->attributes()["transB"] = ops::attr_int(1);
  z->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::vector<ir::Dim>{ir::Dim::sym("N"), ir::Dim::of(3)});
  g.outputs().push_back(z);
  return m;
}

// Three Gaussian blobs in 4-D, labels 0..2.
eval::Dataset blobs(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.5f);
  eval::Dataset d;
  d.x = Tensor::create(DataType::kFloat32, {n, 4}).value();
  d.y = Tensor::create(DataType::kInt64, {n}).value();
  const float centers[3][4] = {{2, 0, 0, 1}, {0, 2, 1, 0}, {-1, -1, 2, -2}};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % 3;
    d.y.data<int64_t>()[i] = c;
    for (int j = 0; j < 4; ++j) d.x.data<float>()[i * 4 + j] = centers[c][j] + noise(rng);
  }
  return d;
}

std::string tmp(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("pare_train_test_" + std::to_string(::getpid()));
  fs::create_directories(p);
  return (p / name).string();
}

TEST(TrainOptimizer, SgdMomentumNesterovAdamW) {
  std::vector<Tensor> p{Tensor::from_vector<float>({2}, {1.0f, -2.0f})};
  std::vector<Tensor> g{Tensor::from_vector<float>({2}, {0.5f, 0.25f})};
  OptimizerOptions o;
  o.momentum = 0.9f;
  auto sgd = Optimizer::create(o, p).value();
  ASSERT_TRUE(sgd.step(p, g, 0.1f).ok());  // v = g; p -= 0.1·g
  EXPECT_FLOAT_EQ(p[0].data<float>()[0], 0.95f);
  ASSERT_TRUE(sgd.step(p, g, 0.1f).ok());  // v = 0.9·0.5 + 0.5 = 0.95
  EXPECT_FLOAT_EQ(p[0].data<float>()[0], 0.95f - 0.095f);
  o.nesterov = true;
  std::vector<Tensor> q{Tensor::from_vector<float>({2}, {1.0f, -2.0f})};
  auto nes = Optimizer::create(o, q).value();
  ASSERT_TRUE(nes.step(q, g, 0.1f).ok());  // v = g; p -= 0.1·(g + 0.9·v) = 0.1·0.95
  EXPECT_FLOAT_EQ(q[0].data<float>()[0], 1.0f - 0.095f);
  OptimizerOptions a;
  a.kind = "adamw";
  a.weight_decay = 0.1f;
  std::vector<Tensor> w{Tensor::from_vector<float>({1, 2}, {1.0f, -2.0f})};
  std::vector<Tensor> gw{Tensor::from_vector<float>({1, 2}, {0.5f, -0.25f})};
  auto adam = Optimizer::create(a, w).value();
  ASSERT_TRUE(adam.step(w, gw, 0.01f).ok());  // first step: m̂/√v̂ = sign(g)
  EXPECT_NEAR(w[0].data<float>()[0], 1.0f - 0.01f * (1.0f + 0.1f * 1.0f), 1e-6);
  EXPECT_NEAR(w[0].data<float>()[1], -2.0f - 0.01f * (-1.0f + 0.1f * -2.0f), 1e-6);
  OptimizerOptions c;
  c.momentum = 0;
  c.clip_norm = 0.1f;
  std::vector<Tensor> pc{Tensor::from_vector<float>({2}, {0.0f, 0.0f})};
  std::vector<Tensor> gc{Tensor::from_vector<float>({2}, {3.0f, 4.0f})};
  auto clip = Optimizer::create(c, pc).value();
  EXPECT_NEAR(clip.step(pc, gc, 1.0f).value(), 5.0, 1e-6);
  EXPECT_NEAR(pc[0].data<float>()[0], -0.06f, 1e-6);  // g scaled to norm 0.1
  EXPECT_FALSE(Optimizer::create(OptimizerOptions{.kind = "rmsprop"}, pc).ok());
}

TEST(TrainOptimizer, Schedules) {
  ScheduleOptions s;
  s.lr = 1.0f;
  s.warmup_steps = 4;
  EXPECT_FLOAT_EQ(learning_rate(s, 0, 100).value(), 0.25f);
  EXPECT_FLOAT_EQ(learning_rate(s, 3, 100).value(), 1.0f);
  s.kind = "step";
  s.step_every = 10;
  s.gamma = 0.5f;
  EXPECT_FLOAT_EQ(learning_rate(s, 13, 100).value(), 1.0f);
  EXPECT_FLOAT_EQ(learning_rate(s, 14, 100).value(), 0.5f);
  EXPECT_FLOAT_EQ(learning_rate(s, 24, 100).value(), 0.25f);
  s.kind = "cosine";
  s.warmup_steps = 0;
  s.min_lr = 0.1f;
  EXPECT_FLOAT_EQ(learning_rate(s, 0, 100).value(), 1.0f);
  EXPECT_NEAR(learning_rate(s, 50, 100).value(), 0.55f, 1e-6);
  EXPECT_NEAR(learning_rate(s, 100, 100).value(), 0.1f, 1e-6);
}

// The training graph's parameter gradients (cross-entropy with label smoothing and the
// distillation term) against finite differences of its own loss.
TEST(TrainGraph, LossGradientsMatchFiniteDifferences) {
  for (bool distill : {false, true}) {
    auto model = mlp("Tanh");
    TrainGraphOptions go;
    go.temperature = distill ? 2.0f : 0.0f;
    auto tg = build_training_graph(*model, go);
    ASSERT_TRUE(tg.ok()) << tg.status().to_string();
    std::vector<std::string> params = tg->params, grads = tg->grads;
    std::string input = tg->input;
    runtime::SessionOptions so;
    so.num_threads = 1;
    auto s = runtime::Session::create(std::move(tg->model), so);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    std::vector<std::pair<std::string, RunValue>> feeds{{input, RunValue(randn({5, 4}, 9))}};
    Tensor target = Tensor::create(DataType::kFloat32, {5, 3}).value();
    for (int64_t i = 0; i < 15; ++i) target.data<float>()[i] = (i % 3 == i / 3 % 3 ? 0.9f : 0.05f) / 5;
    feeds.push_back({kTarget, RunValue(target)});
    if (distill) feeds.push_back({kSoftTarget, RunValue(randn({5, 3}, 10, 0.1f))});
    for (const std::string& p : params) feeds.push_back({p, RunValue(Tensor(*model->graph->find_local_value(p)->initializer()))});
    std::vector<std::string> outs{kLoss};
    outs.insert(outs.end(), grads.begin(), grads.end());
    auto r = (*s)->run(feeds, outs);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    for (size_t k = 0; k < params.size(); ++k) {
      Tensor& p = feeds[distill ? 3 + k : 2 + k].second.tensor;
      Tensor copy = Tensor::create(DataType::kFloat32, p.shape()).value();
      std::copy_n(p.data<float>(), p.numel(), copy.data<float>());
      p = copy;
      for (int64_t j = 0; j < p.numel(); ++j) {
        const float saved = p.data<float>()[j], eps = 1e-2f;
        p.data<float>()[j] = saved + eps;
        const double lp = (*s)->run(feeds, {kLoss}).value()[0].tensor.data<float>()[0];
        p.data<float>()[j] = saved - eps;
        const double lm = (*s)->run(feeds, {kLoss}).value()[0].tensor.data<float>()[0];
        p.data<float>()[j] = saved;
        const double numeric = (lp - lm) / (2 * eps), analytic = (*r)[1 + k].tensor.data<float>()[j];
        EXPECT_NEAR(analytic, numeric, 1e-2 * (1 + std::abs(numeric))) << params[k] << "[" << j << "] distill " << distill;
      }
    }
  }
}

TrainOptions quick_options(int64_t epochs) {
  TrainOptions o;
  o.epochs = epochs;
  o.batch = 16;
  o.seed = 5;
  o.num_threads = 1;
  o.schedule.lr = 0.1f;
  return o;
}

std::vector<float> weights_of(const ir::Model& m) {
  std::vector<float> out;
  for (ir::Value* v : m.graph->initializers()) {
    if (v->initializer()->dtype() != DataType::kFloat32) continue;
    out.insert(out.end(), v->initializer()->data<float>(), v->initializer()->data<float>() + v->initializer()->numel());
  }
  return out;
}

TEST(Trainer, LearnsBlobsDeterministicallyAndResumesExactly) {
  eval::Dataset train = blobs(240, 1), val = blobs(90, 2);
  auto a = mlp("Relu", true);
  auto before = evaluate(*a, val, 1).value();
  auto ra = train_model(*a, train, &val, quick_options(3));
  ASSERT_TRUE(ra.ok()) << ra.status().to_string();
  EXPECT_GT(ra->epochs.back().val_accuracy, 0.9);
  EXPECT_GT(ra->epochs.back().val_accuracy, before.first + 0.2);
  EXPECT_LT(ra->epochs.back().loss, ra->epochs.front().loss);
  // Same seed, same result.
  auto b = mlp("Relu", true);
  ASSERT_TRUE(train_model(*b, train, &val, quick_options(3)).ok());
  EXPECT_EQ(weights_of(*a), weights_of(*b));
  // Two epochs with a checkpoint, then resume for the third: the same weights.
  auto c = mlp("Relu", true);
  TrainOptions o = quick_options(2);
  o.checkpoint = tmp("resume.ckpt.onnx");
  ASSERT_TRUE(train_model(*c, train, &val, o).ok());
  auto ck = onnx::load_model(o.checkpoint);
  ASSERT_TRUE(ck.ok()) << ck.status().to_string();
  EXPECT_EQ(completed_epochs(**ck), 2);
  o.epochs = 3;
  o.resume = true;
  auto rc = train_model(**ck, train, &val, o);
  ASSERT_TRUE(rc.ok()) << rc.status().to_string();
  EXPECT_EQ(rc->epochs.size(), 1u);
  EXPECT_EQ(weights_of(*a), weights_of(**ck));
  // The result is an ordinary inference model: no training state left in it.
  for (ir::Value* v : (*ck)->graph->initializers()) EXPECT_EQ(v->name().find("pare_train"), std::string::npos) << v->name();
}

TEST(Trainer, AdamWSchedulesSmoothingMseAndStop) {
  eval::Dataset train = blobs(120, 3);
  for (int variant = 0; variant < 3; ++variant) {
    auto m = mlp("Sigmoid");
    TrainOptions o = quick_options(4);
    if (variant == 0) {
      o.optimizer.kind = "adamw";
      o.optimizer.weight_decay = 0.01f;
      o.schedule = {"cosine", 0.05f, 5, 0, 0.1f, 0.0f};
      o.label_smoothing = 0.1f;
    } else if (variant == 1) {
      o.loss = LossKind::kMse;
      o.schedule.lr = 0.5f;
    } else {
      o.optimizer.nesterov = true;
      o.optimizer.clip_norm = 1.0f;
      o.schedule = {"step", 0.2f, 0, 10, 0.5f, 0.0f};
    }
    auto r = train_model(*m, train, nullptr, o);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_GT(r->epochs.back().accuracy, 0.85) << variant;
  }
  std::atomic<bool> stop{true};
  auto m = mlp();
  TrainOptions o = quick_options(2);
  o.stop = &stop;
  o.checkpoint = tmp("stop.ckpt.onnx");
  auto r = train_model(*m, train, nullptr, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->interrupted);
  EXPECT_TRUE(fs::exists(o.checkpoint));
}

TEST(Trainer, BatchNormRunningStatsAndConvNet) {
  // x [N,1,6,6] → Conv(1→4) → BN → Relu → MaxPool → GlobalAveragePool → Flatten → Gemm(4→2)
  auto m = std::make_unique<ir::Model>();
  m->opsets = {{"", 13}};
  ir::Graph& g = *m->graph;
  ir::Value* x = g.add_value("x");
  x->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::vector<ir::Dim>{ir::Dim::sym("N"), ir::Dim::of(1), ir::Dim::of(6), ir::Dim::of(6)});
  g.add_input(x);
  auto v = [&](const char* n) { return g.add_value(n); };
  ir::Node* conv = g.add_node("Conv", {x, g.add_initializer("cw", randn({4, 1, 3, 3}, 20, 0.3f)), g.add_initializer("cb", randn({4}, 21, 0.1f))}, {v("c")}, "", "conv");
  conv->attributes()["pads"] = ops::attr_ints({1, 1, 1, 1});
  auto ones = Tensor::from_vector<float>({4}, {1, 1, 1, 1}), zeros = Tensor::from_vector<float>({4}, {0, 0, 0, 0});
  g.add_node("BatchNormalization", {g.find_value("c"), g.add_initializer("s", ones), g.add_initializer("b", zeros), g.add_initializer("rm", zeros),
                                    g.add_initializer("rv", ones)}, {v("bn")}, "", "bn");
  g.add_node("Relu", {g.find_value("bn")}, {v("r")});
  ir::Node* mp = g.add_node("MaxPool", {g.find_value("r")}, {v("p")}, "", "pool");
  mp->attributes()["kernel_shape"] = ops::attr_ints({2, 2});
  mp->attributes()["strides"] = ops::attr_ints({2, 2});
  g.add_node("GlobalAveragePool", {g.find_value("p")}, {v("gap")});
  g.add_node("Flatten", {g.find_value("gap")}, {v("f")});
  ir::Node* fc = g.add_node("Gemm", {g.find_value("f"), g.add_initializer("fw", randn({2, 4}, 22, 0.5f)), g.add_initializer("fb", zeros)}, {v("z")}, "", "fc");
  fc->attributes()["transB"] = ops::attr_int(1);
  g.find_value("fb")->set_initializer(Tensor::from_vector<float>({2}, {0, 0}));
  g.outputs().push_back(g.find_value("z"));
  // Class 1: bright upper half; class 0: bright lower half.
  eval::Dataset d;
  const int64_t n = 64;
  d.x = randn({n, 1, 6, 6}, 23, 0.2f);
  d.y = Tensor::create(DataType::kInt64, {n}).value();
  for (int64_t i = 0; i < n; ++i) {
    d.y.data<int64_t>()[i] = i % 2;
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t c = 0; c < 6; ++c) d.x.data<float>()[i * 36 + (i % 2 ? r : r + 3) * 6 + c] += 1.5f;
  }
  TrainOptions o = quick_options(6);
  o.schedule.lr = 0.1f;
  auto r = train_model(*m, d, &d, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_GT(r->epochs.back().val_accuracy, 0.9);
  // Running statistics moved from their initial 0 / 1 toward the batch statistics.
  const Tensor& rm = *m->graph->find_value("rm")->initializer();
  double moved = 0;
  for (int i = 0; i < 4; ++i) moved += std::abs(rm.data<float>()[i]);
  EXPECT_GT(moved, 1e-3);
}

TEST(TrainBadInput, LabelsShapesNanAndMissingGradient) {
  eval::Dataset d = blobs(30, 4);
  d.y.data<int64_t>()[7] = 3;  // 3 classes
  auto m = mlp();
  auto r = train_model(*m, d, nullptr, quick_options(1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().to_string().find("label 3 of sample 7 is out of range [0, 3)"), std::string::npos) << r.status().to_string();

  eval::Dataset wide;
  wide.x = randn({6, 5}, 5);
  wide.y = Tensor::from_vector<int64_t>({6}, {0, 1, 2, 0, 1, 2});
  r = train_model(*m, wide, nullptr, quick_options(1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().to_string().find("samples of shape [5] do not match the model input 'x'"), std::string::npos) << r.status().to_string();

  // A learning rate that overflows: stop with a message, keep the last good checkpoint.
  eval::Dataset good = blobs(30, 6);
  TrainOptions o = quick_options(1);
  o.checkpoint = tmp("nan.ckpt.onnx");
  ASSERT_TRUE(train_model(*m, good, nullptr, o).ok());
  const auto saved = fs::last_write_time(o.checkpoint);
  auto ck = onnx::load_model(o.checkpoint).value();
  o.epochs = 3;
  o.resume = true;
  o.schedule.lr = 1e30f;
  o.optimizer.momentum = 0;
  r = train_model(*ck, good, nullptr, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().to_string().find("loss became"), std::string::npos) << r.status().to_string();
  EXPECT_NE(r.status().to_string().find("last good checkpoint"), std::string::npos) << r.status().to_string();
  EXPECT_EQ(fs::last_write_time(o.checkpoint), saved);
  EXPECT_EQ(completed_epochs(*onnx::load_model(o.checkpoint).value()), 1);

  auto cosnet = mlp("Cos");
  r = train_model(*cosnet, good, nullptr, quick_options(1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().to_string().find("node 'act' (Cos)"), std::string::npos) << r.status().to_string();
}

TEST(TrainData, CsvImagesSplitAndBatcher) {
  const std::string csv = tmp("d.csv");
  std::ofstream(csv) << "label,a,b\n1,0.5,2\n0,1.5,-1\n2,3,4\n";
  auto d = load_data(csv, {});
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->x.shape(), (Shape{3, 2}));
  EXPECT_EQ(d->y.data<int64_t>()[2], 2);
  EXPECT_FLOAT_EQ(d->x.data<float>()[3], -1.0f);
  std::ofstream(tmp("bad.csv")) << "1,0.5\n0,abc\n";
  EXPECT_FALSE(load_data(tmp("bad.csv"), {}).ok());

  const fs::path root = tmp("images");
  for (int c = 0; c < 2; ++c) {
    fs::create_directories(root / ("class" + std::to_string(c)));
    for (int i = 0; i < 2; ++i) {
      uint8_t px[4 * 4 * 3];
      for (int k = 0; k < 48; ++k) px[k] = static_cast<uint8_t>(c * 200 + i * 10);
      const std::string f = (root / ("class" + std::to_string(c)) / (std::to_string(i) + ".png")).string();
      ASSERT_TRUE(stbi_write_png(f.c_str(), 4, 4, 3, px, 12));
    }
  }
  DataOptions io;
  io.image_height = io.image_width = 2;
  auto im = load_data(root.string(), io);
  ASSERT_TRUE(im.ok()) << im.status().to_string();
  EXPECT_EQ(im->x.shape(), (Shape{4, 3, 2, 2}));
  EXPECT_EQ(im->y.data<int64_t>()[3], 1);
  EXPECT_NEAR(im->x.data<float>()[12 * 3], 210.0f / 255.0f, 1e-6);

  eval::Dataset b = blobs(100, 7);
  auto val = split_validation(b, 0.2, 1);
  ASSERT_TRUE(val.ok());
  EXPECT_EQ(val->size(), 20);
  EXPECT_EQ(b.size(), 80);

  // Batcher: a permutation per epoch, the same for the same seed; flips mirror rows.
  eval::Dataset img;
  img.x = Tensor::create(DataType::kFloat32, {8, 1, 1, 3}).value();
  img.y = Tensor::create(DataType::kInt64, {8}).value();
  for (int64_t i = 0; i < 8; ++i) {
    img.y.data<int64_t>()[i] = i;
    for (int k = 0; k < 3; ++k) img.x.data<float>()[i * 3 + k] = static_cast<float>(k + 1);
  }
  Batcher b1(img, 3, 9, true, {0, true}), b2(img, 3, 9, true, {0, true});
  b1.start_epoch(0);
  b2.start_epoch(0);
  Tensor x1, y1, x2, y2;
  std::vector<int64_t> i1, i2, seen;
  int flipped = 0;
  while (b1.next(x1, y1, i1).value()) {
    ASSERT_TRUE(b2.next(x2, y2, i2).value());
    EXPECT_EQ(i1, i2);
    seen.insert(seen.end(), i1.begin(), i1.end());
    for (int64_t r = 0; r < x1.dim(0); ++r) {
      const float* p = x1.data<float>() + r * 3;
      EXPECT_TRUE((p[0] == 1 && p[2] == 3) || (p[0] == 3 && p[2] == 1));
      flipped += p[0] == 3;
    }
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_GT(flipped, 0);
  EXPECT_LT(flipped, 8);
}

TEST(Distill, ShrinkScalesWidthsAndDistillationTrains) {
  auto teacher = mlp();
  auto s = distill::shrink_model(*teacher, 0.5, 1);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ((*s)->graph->find_value("w1")->initializer()->shape(), (Shape{4, 4}));
  EXPECT_EQ((*s)->graph->find_value("w2")->initializer()->shape(), (Shape{3, 4}));
  EXPECT_LT(distill::parameter_count(**s), distill::parameter_count(*teacher));
  // Train the teacher, then distill into the student; the student learns the blobs.
  eval::Dataset train = blobs(150, 8);
  ASSERT_TRUE(train_model(*teacher, train, nullptr, quick_options(3)).ok());
  auto copy = clone_model(*teacher).value();
  auto ts = std::shared_ptr<runtime::Session>(runtime::Session::create(std::move(copy)).value().release());
  TrainOptions o = quick_options(3);
  o.temperature = 2;
  o.alpha = 0.7f;
  o.teacher = [ts](const Tensor& x, const std::vector<int64_t>&) -> Result<std::vector<Tensor>> {
    PARE_ASSIGN_OR_RETURN(auto out, ts->run({{"x", RunValue(x)}}));
    return std::vector<Tensor>{out[0].tensor};
  };
  auto r = train_model(**s, train, &train, o);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_GT(r->epochs.back().val_accuracy, 0.9);
  // The teacher's reported training accuracy is its accuracy on the training data (no
  // augmentation: every epoch sees all samples once), counted here from its own logits.
  auto tz = ts->run({{"x", RunValue(train.x)}});
  ASSERT_TRUE(tz.ok());
  int64_t right = 0;
  for (int64_t i = 0; i < train.x.dim(0); ++i) {
    const float* z = (*tz)[0].tensor.data<float>() + i * 3;
    right += std::max_element(z, z + 3) - z == train.y.data<int64_t>()[i];
  }
  for (const EpochReport& e : r->epochs) EXPECT_DOUBLE_EQ(e.teacher_accuracy, static_cast<double>(right) / train.x.dim(0));
  EXPECT_GT(right, 100);
  auto plain = train_model(**s, train, nullptr, quick_options(1));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->epochs.back().teacher_accuracy, -1);
}

}  // namespace
}  // namespace pare::train
