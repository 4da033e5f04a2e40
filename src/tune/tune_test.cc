// Unit tests of pare tune's pieces: Pareto fronts, the choice of the best candidate, quality
// metrics, data checks and the HTML page. End to end: tests/tune/test_tune.py.
#include <gtest/gtest.h>

#include <cmath>

#include "tune/internal.h"

namespace pare::tune {
namespace {
using nlohmann::json;

json cand(const std::string& id, double q, double lat, int64_t size, bool meets = true) {
  return {{"id", id}, {"status", "measured"}, {"quality", q}, {"meets", meets}, {"parent", "original"}, {"reason", ""},
          {"violations", json::array()},
          {"measure", {{"latency_p50_ms", lat}, {"latency_p99_ms", lat * 2}, {"size_bytes", size}, {"peak_memory_bytes", size},
                       {"quality", {{"accuracy", q / 100}, {"agreement", 1.0}, {"sqnr_db", 30.0}}}}}};
}

TEST(TunePareto, FrontsInThreeAndTwoDimensions) {
  json c = json::array({cand("a", 92, 1.0, 1000), cand("b", 91, 0.5, 2000), cand("c", 90, 0.6, 2500), cand("d", 89, 2.0, 500),
                        json{{"id", "e"}, {"status", "pruned"}, {"reason", "x"}}});
  mark_pareto(c);
  EXPECT_TRUE(c[0]["pareto"]);   // most accurate
  EXPECT_TRUE(c[1]["pareto"]);   // fastest
  EXPECT_FALSE(c[2]["pareto"]);  // b is better in all three
  EXPECT_TRUE(c[3]["pareto"]);   // smallest
  EXPECT_FALSE(c[4].contains("pareto"));
  EXPECT_FALSE(c[3]["front_latency"]);  // a is more accurate and faster
  EXPECT_TRUE(c[3]["front_size"]);
  EXPECT_FALSE(c[1]["front_size"]);     // a is more accurate and smaller
}

TEST(TunePareto, BestByObjectiveAmongThoseMeetingConstraints) {
  json c = json::array({cand("a", 92, 1.0, 1000), cand("b", 91, 0.5, 2000), cand("fast", 80, 0.1, 100, false)});
  EXPECT_EQ(pick_best(c, Objective::kLatency), 1);
  EXPECT_EQ(pick_best(c, Objective::kSize), 0);
  EXPECT_EQ(pick_best(c, Objective::kAccuracy), 0);
  json none = json::array({cand("x", 80, 1, 1, false), cand("y", 81, 1, 1, false)});
  none[0]["miss"] = 0.5;
  none[1]["miss"] = 0.2;
  EXPECT_EQ(pick_best(none, Objective::kLatency), -1);
  EXPECT_EQ(pick_best_effort(none), 1);
}

TEST(TuneQuality, AccuracyAgreementSqnrCosine) {
  EvalSet d;
  d.x = Tensor::from_vector<float>({2, 1}, {0, 0});
  d.y = Tensor::from_vector<int64_t>({2}, {0, 1});
  Tensor ref = Tensor::from_vector<float>({2, 2}, {1, 0, 0, 1});
  Tensor out = Tensor::from_vector<float>({2, 2}, {1, 0, 1, 0.5f});
  json q = quality(out, ref, d);
  EXPECT_DOUBLE_EQ(q["accuracy"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(q["agreement"].get<double>(), 0.5);
  // signal 2, noise 1 + 0.25
  EXPECT_NEAR(q["sqnr_db"].get<double>(), 10 * std::log10(2 / 1.25), 1e-9);
  EXPECT_NEAR(q["cosine"].get<double>(), (1 + 0.5 / std::sqrt(1.25)) / 2, 1e-9);
  EXPECT_DOUBLE_EQ(quality(ref, ref, d)["sqnr_db"].get<double>(), 150.0);
  d.y = Tensor();
  EXPECT_TRUE(quality(out, ref, d)["accuracy"].is_null());
}

TEST(TuneData, RandomSamplesAndInputChecks) {
  runtime::IoInfo in;
  in.name = "x";
  in.type.kind = ir::TypeInfo::Kind::kTensor;
  in.type.dtype = DataType::kFloat32;
  in.type.shape = std::vector<ir::Dim>{ir::Dim::sym("N"), ir::Dim::of(3), ir::Dim::of(4)};
  auto d = load_eval_set("random:5", {}, 0, in, 1);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->x.shape(), (Shape{5, 3, 4}));
  EXPECT_FALSE(d->labelled());
  EXPECT_FALSE(load_eval_set("random:x", {}, 0, in, 1).ok());
  EXPECT_FALSE(load_eval_set("nothing.txt", {}, 0, in, 1).ok());
  EXPECT_EQ(*check_input(in, {7, 3, 4}, 1), 1);
  auto bad = check_input(in, {7, 3, 5}, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("does not match the model"), std::string::npos);
  in.type.shape = std::vector<ir::Dim>{ir::Dim::of(8), ir::Dim::of(12)};  // fixed batch, flattened samples
  EXPECT_EQ(*check_input(in, {7, 3, 4}, 1), 8);
}

TEST(TuneReport, HtmlIsSelfContainedAndEscaped) {
  json c = json::array({cand("fp32", 92, 1.0, 1000), cand("q<1>", 91.5, 0.5, 300)});
  mark_pareto(c);
  json r = {{"model", "m.onnx"}, {"eval_data", "d"}, {"eval_samples", 10}, {"quality_metric", "accuracy"}, {"objective", "latency"},
            {"constraints", {{"max_accuracy_drop", 1.0}, {"min_sqnr_db", nullptr}, {"max_latency_ms", nullptr}, {"max_size_mb", nullptr}}},
            {"budget_minutes", 1.0}, {"elapsed_minutes", 0.5}, {"threads", 1}, {"batch", 1}, {"candidates", c},
            {"sensitivity", json::array({{{"node", "conv"}, {"op_type", "Conv"}, {"sqnr_db", 25.0}}})},
            {"met", true}, {"best", "q<1>"}, {"best_effort", "q<1>"}, {"commands", {"pare quantize a -o best.onnx"}}};
  const std::string h = render_html(r);
  EXPECT_EQ(h.find("<script"), std::string::npos);
  EXPECT_EQ(h.find("http://www.w3.org/2000/svg") != std::string::npos, true);
  EXPECT_EQ(h.find("src=\"http"), std::string::npos);
  EXPECT_NE(h.find("data-best=\"q&lt;1&gt;\""), std::string::npos);
  EXPECT_EQ(h.find("q<1>"), std::string::npos);
  EXPECT_NE(h.find("2.00× faster"), std::string::npos);
  EXPECT_NE(h.find("3.33× smaller"), std::string::npos);
  EXPECT_NE(h.find("id=\"sensitivity\""), std::string::npos);
  const std::string t = summary_table(r);
  EXPECT_NE(t.find("BEST"), std::string::npos);
}

TEST(TuneReport, ShellQuote) {
  EXPECT_EQ(shell_quote("a/b.onnx"), "a/b.onnx");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
}

TEST(TuneRecipes, TableIsInCostOrderWithTheBaselineFirst) {
  const auto& t = recipe_table();
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t[0].kind, "fp32");
  EXPECT_EQ(t[0].stage, 0);
  for (size_t i = 1; i < t.size(); ++i) EXPECT_LE(t[i - 1].cost, t[i].cost) << t[i].kind;
  EXPECT_NE(find_recipe("static-int8"), nullptr);
  EXPECT_EQ(find_recipe("nope"), nullptr);
  TuneOptions o;
  EXPECT_FALSE(find_recipe("distill")->available(o));  // needs training data
  o.train_data = "x";
  EXPECT_TRUE(find_recipe("distill")->available(o));
}

}  // namespace
}  // namespace pare::tune
