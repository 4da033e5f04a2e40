// The N:M format and kernels against a double-precision reference (every instruction set this
// CPU has; 1:4, 2:4, 2:8, 4:8 and others; odd K with a dense tail, odd N, rows 1/3/17/64, bias,
// alpha, all-zero columns, both B layouts), the plan's choice (nm for N:M weights, not for other
// weights; CSR keeps unstructured sparse ones), and a model pruned by prune::prune_model
// (method nm) running on the nm kernel with the reference kernels' result.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "compress/prune/prune.h"
#include "kernels/sparse/nm_weight.h"
#include "kernels/sparse/sparse_weight.h"
#include "kernels/sparse/test_reference.h"
#include "runtime/session.h"

namespace pare {
namespace {

using kernels::sparse::NmPattern;
using kernels::sparse::NmWeight;

// B [k, n] row-major (or [n, k] when transposed): in every full run of m along K, exactly
// `n_keep` nonzeros at random positions (fewer in columns listed in `zero_cols`: none); the
// tail rows dense.
std::vector<float> random_nm(int64_t k, int64_t n, int n_keep, int m, bool transposed, std::mt19937& rng,
                             const std::vector<int64_t>& zero_cols = {}) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> b(k * n, 0.0f);
  auto at = [&](int64_t kk, int64_t j) -> float& { return transposed ? b[j * k + kk] : b[kk * n + j]; };
  std::vector<int> pos(m);
  for (int64_t j = 0; j < n; ++j) {
    if (std::find(zero_cols.begin(), zero_cols.end(), j) != zero_cols.end()) continue;
    int64_t g0 = 0;
    for (; g0 + m <= k; g0 += m) {
      std::iota(pos.begin(), pos.end(), 0);
      std::shuffle(pos.begin(), pos.end(), rng);
      for (int i = 0; i < n_keep; ++i) at(g0 + pos[i], j) = u(rng);
    }
    for (; g0 < k; ++g0) at(g0, j) = u(rng);
  }
  return b;
}

TEST(NmKernels, MatchReferenceEveryIsa) {
  std::mt19937 rng(5);
  struct Case { int64_t m, k, n; };
  const Case cases[] = {{1, 8, 1}, {1, 64, 16}, {1, 131, 37}, {3, 70, 33}, {17, 259, 50}, {64, 96, 40}, {2, 8, 17},
                        {9, 403, 5}};
  const NmPattern patterns[] = {{2, 4}, {1, 4}, {2, 8}, {4, 8}, {1, 8}, {3, 8}};
  int isas = 0;
  for (const char* isa : {"avx512", "avx2", "generic"}) {
    if (!kernels::sparse::force_sparse_isa(isa)) continue;
    ++isas;
    for (const Case& c : cases) {
      for (const NmPattern& p : patterns) {
        if (c.k < p.m) continue;
        for (bool trans : {false, true}) {
          const bool with_bias = trans == (c.n % 2 == 0);
          const std::vector<int64_t> zero_cols = {0, c.n / 2};
          auto b = random_nm(c.k, c.n, p.n, p.m, trans, rng, zero_cols);
          std::uniform_real_distribution<float> u(-1.0f, 1.0f);
          std::vector<float> a(c.m * c.k), bias(c.n);
          for (auto& x : a) x = u(rng);
          for (auto& x : bias) x = u(rng);
          const float alpha = trans ? 0.5f : 1.0f;
          auto w = NmWeight::pack(b.data(), c.k, c.n, trans, p);
          ASSERT_TRUE(w.has_value());
          EXPECT_EQ(w->tail, c.k % p.m);
          std::vector<float> y(c.m * c.n, 123.0f);
          kernels::sparse::nm_matmul(*w, a.data(), c.m, y.data(), with_bias ? bias.data() : nullptr, alpha, 2);
          const double worst = kernels::sparse::testing::max_error_vs_reference(
              a.data(), b.data(), with_bias ? bias.data() : nullptr, alpha, c.m, c.k, c.n, trans, y.data());
          EXPECT_LT(worst, 1e-4 * std::sqrt(double(c.k)) + 1e-5)
              << isa << " m=" << c.m << " k=" << c.k << " n=" << c.n << " " << p.n << ":" << p.m << " trans=" << trans;
        }
      }
    }
  }
  kernels::sparse::force_sparse_isa("");
  EXPECT_GE(isas, 1);
}

TEST(NmKernels, DetectsTheCheapestPattern) {
  std::mt19937 rng(9);
  struct Case { int n_keep, m; NmPattern want; };
  // 2:4 is cheaper stored as 2:4 than as 4:8 (2-bit codes); 2:8 and 1:8 need M = 8; 1:4 as 1:4.
  const Case cases[] = {{2, 4, {2, 4}}, {1, 4, {1, 4}}, {2, 8, {2, 8}}, {4, 8, {4, 8}}, {1, 8, {1, 8}}};
  for (const Case& c : cases) {
    for (bool trans : {false, true}) {
      auto b = random_nm(203, 40, c.n_keep, c.m, trans, rng);  // 203: a dense tail of 3 (M = 4, 8)
      auto p = NmWeight::detect(b.data(), 203, 40, trans);
      ASSERT_TRUE(p.has_value()) << c.n_keep << ":" << c.m;
      EXPECT_EQ(p->n, c.want.n);
      EXPECT_EQ(p->m, c.want.m);
    }
  }
  // Not N:M: in column 5, k 8..10 and 14..15 nonzero (a run of 4 with 3, a run of 8 with ≥ 5).
  auto b = random_nm(64, 32, 2, 4, false, rng);
  b[(8 + 0) * 32 + 5] = b[(8 + 1) * 32 + 5] = b[(8 + 2) * 32 + 5] = 1.0f;
  b[(12 + 2) * 32 + 5] = b[(12 + 3) * 32 + 5] = 1.0f;
  EXPECT_FALSE(NmWeight::detect(b.data(), 64, 32, false).has_value());
  std::vector<float> dense(64 * 32, 1.0f);
  EXPECT_FALSE(NmWeight::detect(dense.data(), 64, 32, false).has_value());
  EXPECT_FALSE(NmWeight::pack(dense.data(), 64, 32, false, {2, 4}).has_value());  // pack checks too
  EXPECT_FALSE(NmWeight::detect(dense.data(), 3, 32, false).has_value());          // no full group
  // All zeros: the cheapest pattern, 1:8.
  std::vector<float> zeros(64 * 32, 0.0f);
  auto pz = NmWeight::detect(zeros.data(), 64, 32, false);
  ASSERT_TRUE(pz.has_value());
  EXPECT_EQ(pz->n, 1);
  EXPECT_EQ(pz->m, 8);
}

TEST(NmKernels, FormatPacksValuesAndPositions) {
  // B [4, 2] 2:4: column 0 has k = 1, 3; column 1 has k = 0 only (the second slot pads with 0).
  const float b[] = {0, 5,   //
                     1, 0,   //
                     0, 0,   //
                     2, 0};
  auto w = NmWeight::pack(b, 4, 2, false, {2, 4});
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->blocks, 1);
  EXPECT_EQ(w->groups, 1);
  const float* v = w->val.get();
  const auto* c = static_cast<const uint32_t*>(w->code.get());
  EXPECT_EQ(v[0], 1.0f);        // slot 0, lane 0
  EXPECT_EQ(v[1], 5.0f);        // slot 0, lane 1
  EXPECT_EQ(v[16 + 0], 2.0f);   // slot 1, lane 0
  EXPECT_EQ(v[16 + 1], 0.0f);   // slot 1, lane 1: padding
  EXPECT_EQ(c[0], 1u | (0u << 2));
  EXPECT_EQ(c[1] & 3u, 3u);
  // 2:4 costs about half of dense: 16 lanes × (2 values + 2 two-bit codes) per 4 k.
  EXPECT_EQ(w->bytes(), 16u * 2 * 4 + 2 * 4);
}

struct Built {
  std::unique_ptr<ir::Model> model;
  std::vector<std::pair<std::string, RunValue>> feeds;
};

Tensor tensor_of(const Shape& s, const std::vector<float>& v) {
  Tensor t = Tensor::create(DataType::kFloat32, s).value();
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

std::vector<float> uniform(int64_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = u(rng);
  return v;
}

// One MatMul (B [K, N]) or Gemm (transB: B [N, K], alpha, beta·C); epilogue 1 adds a Relu (fused
// into FusedMatMul). `b` holds B's values.
Built build(const std::string& op, Shape a_shape, Shape b_shape, const std::vector<float>& b, int epilogue,
            bool symbolic_rows = false) {
  std::mt19937 rng(17);
  Built r;
  r.model = std::make_unique<ir::Model>();
  r.model->opsets.push_back({"", 17});
  ir::Graph& g = *r.model->graph;
  ir::Value* a = g.add_value("A");
  std::vector<ir::Dim> dims;
  for (size_t i = 0; i < a_shape.size(); ++i) dims.push_back(symbolic_rows && i == 0 ? ir::Dim::sym("rows") : ir::Dim::of(a_shape[i]));
  a->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
  g.add_input(a);
  int64_t a_count = 1;
  for (int64_t d : a_shape) a_count *= d;
  r.feeds.emplace_back("A", RunValue(tensor_of(a_shape, uniform(a_count, rng))));
  const int64_t n = op == "Gemm" ? b_shape[0] : b_shape[1];
  std::vector<ir::Value*> ins{a, g.add_initializer("B", tensor_of(b_shape, b))};
  if (op == "Gemm") ins.push_back(g.add_initializer("C", tensor_of({n}, uniform(n, rng))));
  ir::Value* y = g.add_value("Y");
  ir::Node* node = g.add_node(op, ins, {y}, "", "mm");
  if (op == "Gemm") {
    node->attributes()["transB"] = ir::Attribute::of(int64_t{1});
    node->attributes()["alpha"] = ir::Attribute::of(0.75f);
    node->attributes()["beta"] = ir::Attribute::of(-2.0f);
  }
  if (epilogue == 1) {
    ir::Value* z = g.add_value("Z");
    g.add_node("Relu", {y}, {z}, "", "relu");
    y = z;
  }
  g.outputs().push_back(y);
  return r;
}

// Runs `make()` with the fast kernels and with the reference kernels: (kernels chosen by the
// fast plan, in node order, max |fast − reference| over the first output).
std::pair<std::vector<std::string>, double> compare(const std::function<Built()>& make) {
  Tensor outs[2];
  std::vector<std::string> kernels;
  for (int ref = 0; ref < 2; ++ref) {
    Built m = make();
    runtime::SessionOptions o;
    o.reference_kernels = ref == 1;
    if (ref == 1) o.opt_level = 0;
    auto s = runtime::Session::create(std::move(m.model), o);
    if (!s.ok()) return {{"error: " + s.status().to_string()}, INFINITY};
    if (ref == 0) {
      for (const auto& [node, k] : (*s)->kernel_choices()) kernels.push_back(k);
    }
    auto r = (*s)->run(m.feeds);
    if (!r.ok()) return {{"error: " + r.status().to_string()}, INFINITY};
    outs[ref] = (*r)[0].tensor;
  }
  if (outs[0].shape() != outs[1].shape()) return {kernels, INFINITY};
  double diff = 0;
  for (int64_t i = 0; i < outs[0].numel(); ++i) diff = std::max(diff, std::abs(double(outs[0].data<float>()[i]) - outs[1].data<float>()[i]));
  return {kernels, diff};
}

TEST(NmKernels, PlanPicksNmForNmWeightsAndMatchesReference) {
  struct Case { std::string op; Shape a, b; int n_keep, m, epilogue; bool symbolic; };
  const Case cases[] = {
      {"MatMul", {1, 256}, {256, 97}, 2, 4, 0, false},      // GEMV, N not a multiple of 16
      {"MatMul", {2, 3, 256}, {256, 80}, 2, 4, 0, false},   // batch dims flattened into rows
      {"MatMul", {17, 202}, {202, 130}, 2, 4, 1, false},    // → FusedMatMul + Relu; K tail of 2
      {"MatMul", {64, 256}, {256, 96}, 2, 8, 0, false},
      {"MatMul", {3, 256}, {256, 128}, 1, 4, 0, true},      // rows unknown at plan time
      {"Gemm", {9, 160}, {150, 160}, 2, 4, 0, false},       // transB, alpha, beta·C
      {"Gemm", {1, 320}, {64, 320}, 4, 8, 0, false},
      {"MatMul", {1, 256}, {256, 128}, 1, 4, 0, false},     // 75% zeros: CSR's range, nm faster
  };
  for (const Case& c : cases) {
    const bool gemm = c.op == "Gemm";
    const int64_t k = gemm ? c.b[1] : c.b[0], n = gemm ? c.b[0] : c.b[1];
    auto [kernels, diff] = compare([&] {
      std::mt19937 rng(23);
      return build(c.op, c.a, c.b, random_nm(k, n, c.n_keep, c.m, gemm, rng), c.epilogue, c.symbolic);
    });
    ASSERT_FALSE(kernels.empty());
    EXPECT_EQ(kernels[0], "nm") << c.op << shape_to_string(c.a) << " " << c.n_keep << ":" << c.m;
    EXPECT_LT(diff, 1e-4) << c.op << shape_to_string(c.a);
  }
}

TEST(NmKernels, OtherWeightsKeepTheirKernel) {
  // Not N:M (dense): oneDNN.
  {
    auto [kernels, diff] = compare([] {
      std::mt19937 rng(3);
      return build("MatMul", {4, 256}, {256, 96}, uniform(256 * 96, rng), 0);
    });
    EXPECT_EQ(kernels.at(0), "onednn");
    EXPECT_LT(diff, 1e-4);
  }
  // 2:4 but one run of 4 with 3 nonzeros (so no 4:8 either): not nm.
  {
    auto [kernels, diff] = compare([] {
      std::mt19937 rng(4);
      auto b = random_nm(256, 96, 2, 4, false, rng);
      for (int64_t kk = 40; kk < 48; ++kk) b[kk * 96 + 7] = 1.0f;
      return build("MatMul", {4, 256}, {256, 96}, b, 0);
    });
    EXPECT_EQ(kernels.at(0), "onednn");
    EXPECT_LT(diff, 1e-4);
  }
  // Unstructured 95% zeros: the CSR kernel, even where runs happen to hold ≤ M/2 nonzeros.
  {
    auto [kernels, diff] = compare([] {
      std::mt19937 rng(5);
      std::uniform_real_distribution<float> p(0.0f, 1.0f);
      auto b = uniform(512 * 64, rng);
      for (auto& x : b) x = p(rng) < 0.95f ? 0.0f : x;
      return build("MatMul", {1, 512}, {512, 64}, b, 0);
    });
    EXPECT_EQ(kernels.at(0), "sparse");
    EXPECT_LT(diff, 1e-4);
  }
  // Too small to have been measured: not nm.
  {
    auto [kernels, diff] = compare([] {
      std::mt19937 rng(6);
      return build("MatMul", {4, 32}, {32, 32}, random_nm(32, 32, 2, 4, false, rng), 0);
    });
    EXPECT_NE(kernels.at(0), "nm");
    EXPECT_LT(diff, 1e-4);
  }
}

TEST(NmKernels, PlanFollowsTheIsa) {
  // 2:4 for 4 rows: nm with AVX-512; with AVX2 only from 1:4 (or for one row); never scalar.
  auto kernel_for = [](int n_keep, int64_t rows) {
    auto [kernels, diff] = compare([&] {
      std::mt19937 rng(12);
      return build("MatMul", {rows, 256}, {256, 96}, random_nm(256, 96, n_keep, 4, false, rng), 0);
    });
    EXPECT_LT(diff, 1e-4);
    return kernels.at(0);
  };
  if (kernels::sparse::force_sparse_isa("avx512")) EXPECT_EQ(kernel_for(2, 4), "nm");
  if (kernels::sparse::force_sparse_isa("avx2")) {
    EXPECT_EQ(kernel_for(2, 4), "onednn");
    EXPECT_EQ(kernel_for(2, 1), "nm");
    EXPECT_EQ(kernel_for(1, 4), "nm");
  }
  ASSERT_TRUE(kernels::sparse::force_sparse_isa("generic"));
  EXPECT_EQ(kernel_for(2, 1), "onednn");
  kernels::sparse::force_sparse_isa("");
}

TEST(NmKernels, PrunedModelRunsOnNmAndMatchesReference) {
  // A 2-layer MLP (MatMul + Relu, Gemm transB) with dense weights, pruned 2:4 by prune_model.
  auto make = [] {
    std::mt19937 rng(31);
    Built r;
    r.model = std::make_unique<ir::Model>();
    r.model->opsets.push_back({"", 17});
    ir::Graph& g = *r.model->graph;
    ir::Value* x = g.add_value("x");
    x->type() = ir::TypeInfo::tensor(DataType::kFloat32, std::vector<ir::Dim>{ir::Dim::sym("batch"), ir::Dim::of(384)});
    g.add_input(x);
    ir::Value* h = g.add_value("h");
    g.add_node("MatMul", {x, g.add_initializer("w1", tensor_of({384, 256}, uniform(384 * 256, rng)))}, {h}, "", "fc1");
    ir::Value* r1 = g.add_value("r1");
    g.add_node("Relu", {h}, {r1}, "", "relu");
    ir::Value* y = g.add_value("y");
    ir::Node* fc2 = g.add_node("Gemm", {r1, g.add_initializer("w2", tensor_of({128, 256}, uniform(128 * 256, rng))),
                                        g.add_initializer("b2", tensor_of({128}, uniform(128, rng)))},
                               {y}, "", "fc2");
    fc2->attributes()["transB"] = ir::Attribute::of(int64_t{1});
    g.outputs().push_back(y);
    prune::Options o;
    o.method = prune::Method::kNM;
    auto pr = prune::prune_model(*r.model, o);
    EXPECT_TRUE(pr.ok()) << pr.status().to_string();
    r.feeds.emplace_back("x", RunValue(tensor_of({5, 384}, uniform(5 * 384, rng))));
    return r;
  };
  auto [kernels, diff] = compare(make);
  EXPECT_EQ(std::count(kernels.begin(), kernels.end(), "nm"), 2) << ::testing::PrintToString(kernels);
  EXPECT_LT(diff, 1e-4);
}

}  // namespace
}  // namespace pare
