// Error paths and properties of the reduce family's ops that the ONNX conformance cases do not
// reach: bad shapes, axes and attributes give typed errors (never a crash); random ops give
// the right shapes, dtypes and value ranges and are deterministic with a seed; FFT lengths that
// are not powers of two agree with a direct DFT.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>

#include "runtime/session.h"

namespace pare::ops {
namespace {

// One node fed by graph inputs named in0, in1, ... (nullopt-like: an undefined Tensor leaves
// the input out); outputs out0.. are the graph outputs.
struct OneNode {
  explicit OneNode(std::string op_type, std::string op_domain = "", int64_t op_opset = 17)
      : op(std::move(op_type)), domain(std::move(op_domain)), opset(op_opset) {}

  std::string op;
  std::string domain;
  int64_t opset;
  struct Attr {  // a copyable subset of ir::Attribute
    ir::AttrType type = ir::AttrType::kUndefined;
    int64_t i = 0;
    float f = 0;
    std::string s;
    std::vector<int64_t> ints;
  };
  std::map<std::string, Attr> attrs;
  int num_outputs = 1;

  OneNode& i(const std::string& name, int64_t v) {
    attrs[name].type = ir::AttrType::kInt;
    attrs[name].i = v;
    return *this;
  }
  OneNode& f(const std::string& name, float v) {
    attrs[name].type = ir::AttrType::kFloat;
    attrs[name].f = v;
    return *this;
  }
  OneNode& s(const std::string& name, const std::string& v) {
    attrs[name].type = ir::AttrType::kString;
    attrs[name].s = v;
    return *this;
  }
  OneNode& ints(const std::string& name, std::vector<int64_t> v) {
    attrs[name].type = ir::AttrType::kInts;
    attrs[name].ints = std::move(v);
    return *this;
  }

  // Session creation and run; the first error of either.
  Result<std::vector<RunValue>> run(const std::vector<Tensor>& inputs) const {
    auto m = std::make_unique<ir::Model>();
    m->opsets.push_back({domain, opset});
    if (!domain.empty()) m->opsets.push_back({"", 17});
    ir::Graph& g = *m->graph;
    std::vector<ir::Value*> ins;
    std::vector<std::pair<std::string, RunValue>> feeds;
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (!inputs[k].defined()) {
        ins.push_back(nullptr);
        continue;
      }
      const std::string name = "in" + std::to_string(k);
      ir::Value* v = g.add_value(name);
      std::vector<ir::Dim> dims;
      for (int64_t d : inputs[k].shape()) dims.push_back(ir::Dim::of(d));
      v->type() = ir::TypeInfo::tensor(inputs[k].dtype(), dims);
      g.add_input(v);
      ins.push_back(v);
      feeds.emplace_back(name, RunValue(inputs[k]));
    }
    std::vector<ir::Value*> outs;
    for (int k = 0; k < num_outputs; ++k) outs.push_back(g.add_value("out" + std::to_string(k)));
    ir::Node* n = g.add_node(op, ins, outs, domain);
    for (const auto& [name, a] : attrs) {
      ir::Attribute copy;
      copy.type = a.type;
      copy.i = a.i;
      copy.f = a.f;
      copy.s = a.s;
      copy.ints = a.ints;
      n->attributes()[name] = std::move(copy);
    }
    for (ir::Value* o : outs) g.outputs().push_back(o);
    PARE_ASSIGN_OR_RETURN(auto session, runtime::Session::create(std::move(m)));
    return session->run(feeds);
  }
};

Tensor floats(const Shape& s, float start = 0) {
  Tensor t = Tensor::create(DataType::kFloat32, s).value();
  for (int64_t k = 0; k < t.numel(); ++k) t.data<float>()[k] = start + static_cast<float>(k);
  return t;
}

template <typename T>
void expect_error(const Result<T>& r) {
  ASSERT_FALSE(r.ok());
  const StatusCode c = r.status().code();
  EXPECT_TRUE(c == StatusCode::kInvalidInput || c == StatusCode::kInvalidModel || c == StatusCode::kUnsupported)
      << r.status().to_string();
}

TEST(ReduceFamilyDet, NonSquareAndLowRankAreErrors) {
  expect_error(OneNode{"Det"}.run({floats({2, 3})}));
  expect_error(OneNode{"Det"}.run({floats({4})}));
}

TEST(ReduceFamilyDet, SingularAndPivotedMatrices) {
  // [[0, 1], [1, 0]] needs a row swap: det = −1; [[1, 2], [2, 4]] is singular.
  Tensor x = Tensor::from_vector<float>({2, 2, 2}, {0, 1, 1, 0, 1, 2, 2, 4});
  auto r = OneNode{"Det"}.run({x});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Tensor& y = (*r)[0].tensor;
  ASSERT_EQ(y.shape(), (Shape{2}));
  EXPECT_FLOAT_EQ(y.data<float>()[0], -1.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[1], 0.0f);
}

TEST(ReduceFamilyDft, BadAxisAndChannelCountAreErrors) {
  expect_error(OneNode{"DFT"}.i("axis", 3).run({floats({1, 8, 1})}));
  expect_error(OneNode{"DFT"}.run({floats({1, 8, 3})}));
  expect_error(OneNode{"DFT"}.run({floats({1, 8, 1}), Tensor::scalar<int64_t>(0)}));
  expect_error(OneNode{"DFT"}.i("onesided", 1).i("inverse", 1).run({floats({1, 8, 1})}));
}

// Lengths 12 (Bluestein) and 16 (radix-2), truncated and zero-padded, match a direct DFT.
TEST(ReduceFamilyDft, MatchesDirectTransformForAnyLength) {
  for (int64_t n : {12, 16, 5, 1}) {
    Tensor x = floats({1, 10, 1}, 1.0f);
    auto r = OneNode{"DFT"}.run({x, Tensor::scalar<int64_t>(n)});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    const Tensor& y = (*r)[0].tensor;
    ASSERT_EQ(y.shape(), (Shape{1, n, 2}));
    for (int64_t k = 0; k < n; ++k) {
      std::complex<double> acc = 0;
      for (int64_t t = 0; t < std::min<int64_t>(n, 10); ++t) {
        acc += static_cast<double>(t + 1) * std::polar(1.0, -2.0 * std::numbers::pi * k * t / n);
      }
      EXPECT_NEAR(y.data<float>()[2 * k], acc.real(), 1e-3) << "n=" << n << " k=" << k;
      EXPECT_NEAR(y.data<float>()[2 * k + 1], acc.imag(), 1e-3) << "n=" << n << " k=" << k;
    }
  }
}

TEST(ReduceFamilyStft, WindowAndFrameLengthMismatchIsAnError) {
  Tensor step = Tensor::scalar<int64_t>(4);
  expect_error(OneNode{"STFT"}.run({floats({1, 32, 1}), step, floats({8}), Tensor::scalar<int64_t>(16)}));
  expect_error(OneNode{"STFT"}.run({floats({1, 32, 1}), step}));  // neither window nor frame_length
  expect_error(OneNode{"STFT"}.run({floats({1, 32, 1}), Tensor::scalar<int64_t>(0), floats({8})}));
  expect_error(OneNode{"STFT"}.run({floats({1, 4, 1}), step, floats({8})}));  // frame longer than signal
}

TEST(ReduceFamilyMelWeightMatrix, EdgesAboveNyquistAreAnError) {
  auto r = OneNode{"MelWeightMatrix"}.run({Tensor::scalar<int32_t>(8), Tensor::scalar<int32_t>(16),
                                           Tensor::scalar<int32_t>(8192), Tensor::scalar<float>(0),
                                           Tensor::scalar<float>(20000)});
  expect_error(r);
}

OneNode tfidf() {
  OneNode n("TfIdfVectorizer", "", 9);
  n.s("mode", "TF").i("min_gram_length", 1).i("max_gram_length", 2).i("max_skip_count", 0);
  n.ints("ngram_counts", {0, 2}).ints("ngram_indexes", {0, 1, 2}).ints("pool_int64s", {1, 2, 1, 2});
  return n;
}

TEST(ReduceFamilyTfIdf, CountsUnigramsAndBigrams) {
  auto r = tfidf().run({Tensor::from_vector<int64_t>({2, 3}, {1, 2, 1, 2, 2, 3})});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Tensor& y = (*r)[0].tensor;
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  const std::vector<float> want = {2, 1, 1, 0, 2, 0};  // row 0: 1,2,1 → {1:2, 2:1, (1,2):1}
  for (size_t k = 0; k < want.size(); ++k) EXPECT_EQ(y.data<float>()[k], want[k]) << k;
}

TEST(ReduceFamilyTfIdf, InconsistentPoolIsAnError) {
  expect_error(tfidf().ints("ngram_counts", {0, 3}).run({Tensor::from_vector<int64_t>({3}, {1, 2, 3})}));
  expect_error(tfidf().ints("ngram_indexes", {0, 1}).run({Tensor::from_vector<int64_t>({3}, {1, 2, 3})}));
  expect_error(tfidf().s("mode", "BM25").run({Tensor::from_vector<int64_t>({3}, {1, 2, 3})}));
  expect_error(tfidf().run({floats({3})}));  // float input
}

OneNode training(const std::string& op, int outputs) {
  OneNode n(op, "ai.onnx.preview.training", 1);
  n.num_outputs = outputs;
  return n;
}

TEST(ReduceFamilyOptimizers, InputCountAndShapeMismatchAreErrors) {
  Tensor r = Tensor::scalar<float>(0.1f);
  Tensor t = Tensor::scalar<int64_t>(1);
  // Adagrad needs 2 + 3n inputs.
  expect_error(training("Adagrad", 2).run({r, t, floats({2}), floats({2})}));
  // G has another shape than X.
  expect_error(training("Adagrad", 2).run({r, t, floats({2}), floats({3}), floats({2})}));
  // T must be int64.
  expect_error(training("Adagrad", 2).run({r, Tensor::scalar<float>(1), floats({2}), floats({2}), floats({2})}));
  // Momentum's attributes are required; mode must be known.
  expect_error(training("Momentum", 2).run({r, t, floats({2}), floats({2}), floats({2})}));
  expect_error(training("Momentum", 2).f("alpha", 0.9f).f("beta", 1).f("norm_coefficient", 0).s("mode", "heavy")
                   .run({r, t, floats({2}), floats({2}), floats({2})}));
}

TEST(ReduceFamilyRandom, UniformShapeRangeAndSeed) {
  auto node = OneNode{"RandomUniform"}.ints("shape", {3, 50}).f("low", -2).f("high", 3).f("seed", 5).i("dtype", 11);
  auto a = node.run({});
  auto b = node.run({});
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(b.ok());
  const Tensor& y = (*a)[0].tensor;
  ASSERT_EQ(y.dtype(), DataType::kFloat64);
  ASSERT_EQ(y.shape(), (Shape{3, 50}));
  for (int64_t k = 0; k < y.numel(); ++k) {
    EXPECT_GE(y.data<double>()[k], -2.0);
    EXPECT_LT(y.data<double>()[k], 3.0);
    EXPECT_EQ(y.data<double>()[k], (*b)[0].tensor.data<double>()[k]);  // same seed, same draws
  }
  expect_error(OneNode{"RandomUniform"}.ints("shape", {2, -1}).run({}));
  expect_error(OneNode{"RandomUniform"}.ints("shape", {2}).i("dtype", 7).run({}));
}

TEST(ReduceFamilyRandom, NormalLikeKeepsShapeAndDtype) {
  auto r = OneNode{"RandomNormalLike"}.f("mean", 10).f("scale", 0.5f).run({floats({4, 5})});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Tensor& y = (*r)[0].tensor;
  ASSERT_EQ(y.dtype(), DataType::kFloat32);
  ASSERT_EQ(y.shape(), (Shape{4, 5}));
  double mean = 0;
  for (int64_t k = 0; k < y.numel(); ++k) mean += y.data<float>()[k] / 20.0;
  EXPECT_NEAR(mean, 10.0, 0.6);
}

TEST(ReduceFamilyRandom, BernoulliIsZeroOrOneAndFollowsCertainProbabilities) {
  Tensor p = Tensor::from_vector<float>({4}, {0, 1, 0, 1});
  auto r = OneNode{"Bernoulli"}.i("dtype", 9).run({p});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Tensor& y = (*r)[0].tensor;
  ASSERT_EQ(y.dtype(), DataType::kBool);
  EXPECT_EQ(y.data<bool>()[0], false);
  EXPECT_EQ(y.data<bool>()[1], true);
  EXPECT_EQ(y.data<bool>()[2], false);
  EXPECT_EQ(y.data<bool>()[3], true);
}

TEST(ReduceFamilyRandom, MultinomialDrawsValidClasses) {
  // Class 1 has all the mass of row 0; row 1 is uniform over 3 classes.
  Tensor logits = Tensor::from_vector<float>({2, 3}, {-1e30f, 0, -1e30f, 0, 0, 0});
  auto r = OneNode{"Multinomial"}.i("sample_size", 20).i("dtype", 7).run({logits});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Tensor& y = (*r)[0].tensor;
  ASSERT_EQ(y.dtype(), DataType::kInt64);
  ASSERT_EQ(y.shape(), (Shape{2, 20}));
  for (int64_t s = 0; s < 20; ++s) {
    EXPECT_EQ(y.data<int64_t>()[s], 1);
    EXPECT_GE(y.data<int64_t>()[20 + s], 0);
    EXPECT_LT(y.data<int64_t>()[20 + s], 3);
  }
  expect_error(OneNode{"Multinomial"}.run({floats({6})}));
  expect_error(OneNode{"Multinomial"}.run({Tensor::from_vector<float>({1, 2}, {NAN, 0})}));
}

}  // namespace
}  // namespace pare::ops
