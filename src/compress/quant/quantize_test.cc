// Quantization helpers against direct formulas: weight quantization round-trips within half a
// step per block, calibration ranges behave as documented, the blocked int4 DequantizeLinear
// kernel matches x ≈ q·s.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "compress/quant/calibrate.h"
#include "compress/quant/internal.h"
#include "runtime/session.h"

namespace pare::compress::quant {
namespace {

Tensor random_matrix(int64_t r, int64_t c, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(r * c);
  for (auto& x : v) x = d(g);
  return Tensor::from_vector<float>({r, c}, v);
}

TEST(QuantWeight, BlockedInt4RoundTripsThroughKernel) {
  for (int64_t k : {1, 31, 32, 33, 97}) {
    Tensor w = random_matrix(k, 5, 7);
    auto qw = quantize_weight(w, "w", 0, 32, 4);
    ASSERT_TRUE(qw.ok()) << qw.status().to_string();
    EXPECT_EQ(qw->scale.dim(0), (k + 31) / 32);
    ir::Model m;
    m.opsets = {{"", 21}};
    ir::Graph& g = *m.graph;
    ir::Value* q = g.add_initializer("q", qw->q);
    ir::Value* s = g.add_initializer("s", qw->scale);
    ir::Value* y = g.add_value("y");
    ir::Node* n = g.add_node("DequantizeLinear", {q, s}, {y});
    set_int_attr(n, "axis", 0);
    set_int_attr(n, "block_size", 32);
    g.outputs().push_back(y);
    auto sess = runtime::Session::create(std::make_unique<ir::Model>(std::move(m)));
    ASSERT_TRUE(sess.ok()) << sess.status().to_string();
    auto out = (*sess)->run({});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    const Tensor& yt = (*out)[0].tensor;
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < 5; ++j) {
        const float sc = qw->scale.data<float>()[(i / 32) * 5 + j];
        EXPECT_NEAR(yt.data<float>()[i * 5 + j], w.data<float>()[i * 5 + j], sc / 2 + 1e-6) << k << " " << i << " " << j;
      }
  }
}

TEST(QuantWeight, NonFiniteWeightIsAnError) {
  Tensor w = Tensor::from_vector<float>({2, 2}, {1, NAN, 2, 3});
  auto qw = quantize_weight(w, "w", 0, 0, 8);
  ASSERT_FALSE(qw.ok());
  EXPECT_NE(qw.status().message().find("'w' holds nan"), std::string::npos);
}

TEST(QuantCalib, RangesContainZeroAndClipOutliers) {
  TensorStats st;
  st.min = 0;
  st.max = 100;
  st.abs_hist.assign(kHistogramBins, 0);
  // A long-tailed (Laplace-like) distribution of |x| over [0, 100]: the bulk below ~5.
  for (int b = 0; b < kHistogramBins; ++b) st.abs_hist[b] = std::floor(1e6 * std::exp(-b / 20.0));
  st.abs_hist[kHistogramBins - 1] = 1;  // one outlier at 100
  auto mm = choose_range(st, CalibMethod::kMinMax, 99.99, 255);
  EXPECT_EQ(mm.first, 0);
  EXPECT_EQ(mm.second, 100);
  for (CalibMethod m : {CalibMethod::kPercentile, CalibMethod::kEntropy, CalibMethod::kMse}) {
    auto r = choose_range(st, m, 99.99, 255);
    EXPECT_EQ(r.first, 0);
    EXPECT_LT(r.second, 50) << static_cast<int>(m);  // the outlier is clipped
    EXPECT_GT(r.second, 1) << static_cast<int>(m);   // the bulk is kept
  }
}

}  // namespace
}  // namespace pare::compress::quant
