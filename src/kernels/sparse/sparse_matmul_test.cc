// The sparse kernels against a double-precision reference (every instruction set this CPU has,
// odd shapes, both index widths), and the sparse MatMul/Gemm/FusedMatMul kernels chosen by the
// plan against the reference kernels (bias, alpha/beta, activation, batch), plus the crossover:
// a dense weight stays on oneDNN.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/sparse/sparse_weight.h"
#include "kernels/sparse/test_reference.h"
#include "runtime/session.h"

namespace pare {
namespace {

using kernels::sparse::SparseWeight;

std::vector<float> random_sparse(int64_t count, double density, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), p(0.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = p(rng) < density ? u(rng) : 0.0f;
  return v;
}

TEST(SparseKernels, MatchReferenceOnOddShapesEveryIsa) {
  std::mt19937 rng(3);
  struct Case { int64_t m, k, n; };
  const Case cases[] = {{1, 1, 1}, {1, 17, 33}, {1, 100, 7}, {2, 33, 17}, {5, 64, 130}, {16, 31, 16},
                        {17, 70, 45}, {20, 1100, 40}, {33, 129, 65}, {64, 300, 100}, {70, 257, 33}, {3, 70000, 5}};
  int isas = 0;
  for (const char* isa : {"avx512", "avx2", "generic"}) {
    if (!kernels::sparse::force_sparse_isa(isa)) continue;
    ++isas;
    for (const Case& c : cases) {
      for (double dens : {0.0, 0.03, 0.3, 1.0}) {
        if (c.k > 4096 && dens > 0.03) continue;
        for (bool trans : {false, true}) {
          for (bool with_bias : {false, true}) {
            auto b = random_sparse(c.k * c.n, dens, rng);
            auto a = random_sparse(c.m * c.k, 1.0, rng);
            auto bias = random_sparse(c.n, 1.0, rng);
            const float alpha = trans ? 0.5f : 1.0f;
            SparseWeight w = SparseWeight::from_dense(b.data(), c.k, c.n, trans);
            if (w.nnz() > 0) EXPECT_EQ(w.idx32.empty(), c.k <= 65536);
            std::vector<float> y(c.m * c.n, 123.0f);
            ASSERT_TRUE(kernels::sparse::sparse_matmul(w, a.data(), c.m, y.data(), with_bias ? bias.data() : nullptr, alpha, 2));
            const double worst = kernels::sparse::testing::max_error_vs_reference(
                a.data(), b.data(), with_bias ? bias.data() : nullptr, alpha, c.m, c.k, c.n, trans, y.data());
            EXPECT_LT(worst, 1e-4 * std::sqrt(double(c.k)) + 1e-5)
                << isa << " m=" << c.m << " k=" << c.k << " n=" << c.n << " density=" << dens << " trans=" << trans;
          }
        }
      }
    }
  }
  kernels::sparse::force_sparse_isa("");
  EXPECT_GE(isas, 1);
  EXPECT_FALSE(kernels::sparse::force_sparse_isa("sse9"));
}

TEST(SparseKernels, FormatHoldsTheNonzerosByColumn) {
  const float b[] = {0, 2, 0,   //
                     3, 0, 0,   //
                     0, 4, 5};  // [3, 3]
  SparseWeight w = SparseWeight::from_dense(b, 3, 3, false);
  EXPECT_EQ(w.nnz(), 4);
  EXPECT_EQ(w.row_ptr, (std::vector<int64_t>{0, 1, 3, 4}));
  EXPECT_EQ(w.idx16, (std::vector<uint16_t>{1, 0, 2, 2}));
  EXPECT_EQ(w.val, (std::vector<float>{3, 2, 4, 5}));
  EXPECT_DOUBLE_EQ(kernels::sparse::density(b, 9), 4.0 / 9.0);
}

struct Built {
  std::unique_ptr<ir::Model> model;
  std::vector<std::pair<std::string, RunValue>> feeds;
};

// One MatMul or Gemm node, then (epilogue 1) Relu, which the optimizer fuses into FusedMatMul,
// or (epilogue 2) Add bias + Relu (MatMul + Add become Gemm): A [a_shape] is fed, B [b_shape] with the given density is an initializer.
Built build(const std::string& op, Shape a_shape, Shape b_shape, double density, int epilogue, int seed,
            bool symbolic_rows = false) {
  std::mt19937 rng(seed);
  Built r;
  r.model = std::make_unique<ir::Model>();
  r.model->opsets.push_back({"", 17});
  ir::Graph& g = *r.model->graph;
  ir::Value* a = g.add_value("A");
  std::vector<ir::Dim> dims;
  for (size_t i = 0; i < a_shape.size(); ++i) dims.push_back(symbolic_rows && i == 0 ? ir::Dim::sym("rows") : ir::Dim::of(a_shape[i]));
  a->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
  g.add_input(a);
  auto make = [&](const Shape& s, double d) {
    Tensor t = Tensor::create(DataType::kFloat32, s).value();
    auto v = random_sparse(t.numel(), d, rng);
    std::copy(v.begin(), v.end(), t.data<float>());
    return t;
  };
  r.feeds.emplace_back("A", RunValue(make(a_shape, 1.0)));
  ir::Value* b = g.add_initializer("B", make(b_shape, density));
  const int64_t n = op == "Gemm" ? b_shape[0] : b_shape[1];  // Gemm cases use transB = 1
  std::vector<ir::Value*> ins{a, b};
  if (op == "Gemm") ins.push_back(g.add_initializer("C", make({n}, 1.0)));
  ir::Value* y = g.add_value("Y");
  ir::Node* node = g.add_node(op, ins, {y}, "", "mm");
  if (op == "Gemm") {
    node->attributes()["transB"] = ir::Attribute::of(int64_t{1});
    node->attributes()["alpha"] = ir::Attribute::of(0.75f);
    node->attributes()["beta"] = ir::Attribute::of(-2.0f);
  }
  if (epilogue > 0) {
    if (epilogue == 2) {
      ir::Value* c = g.add_initializer("bias", make({n}, 1.0));
      ir::Value* s = g.add_value("S");
      g.add_node("Add", {y, c}, {s}, "", "add");
      y = s;
    }
    ir::Value* z = g.add_value("Z");
    g.add_node("Relu", {y}, {z}, "", "relu");
    y = z;
  }
  g.outputs().push_back(y);
  return r;
}

// (kernel chosen for the matmul node, max |fast − reference|).
std::pair<std::string, double> compare(const std::string& op, Shape a, Shape b, double density, int epilogue,
                                       bool symbolic_rows = false) {
  Tensor outs[2];
  std::string kernel = "?";
  for (int ref = 0; ref < 2; ++ref) {
    Built m = build(op, a, b, density, epilogue, 11, symbolic_rows);
    runtime::SessionOptions o;
    o.reference_kernels = ref == 1;
    if (ref == 1) o.opt_level = 0;
    auto s = runtime::Session::create(std::move(m.model), o);
    if (!s.ok()) return {"error: " + s.status().to_string(), INFINITY};
    for (const auto& [node, k] : (*s)->kernel_choices()) {
      if (ref == 0 && kernel == "?") kernel = k;  // the matmul comes first (possibly fused)
    }
    auto r = (*s)->run(m.feeds);
    if (!r.ok()) return {"error: " + r.status().to_string(), INFINITY};
    outs[ref] = (*r)[0].tensor;
  }
  if (outs[0].shape() != outs[1].shape()) return {kernel + " shape mismatch", INFINITY};
  double diff = 0;
  for (int64_t i = 0; i < outs[0].numel(); ++i) diff = std::max(diff, std::abs(double(outs[0].data<float>()[i]) - outs[1].data<float>()[i]));
  return {kernel, diff};
}

TEST(SparseKernels, PlanPicksSparseBelowTheCrossoverAndMatchesReference) {
  struct Case { std::string op; Shape a, b; int epilogue; };
  const Case cases[] = {
      {"MatMul", {1, 256}, {256, 97}, 0},     // GEMV
      {"MatMul", {2, 3, 256}, {256, 80}, 0},  // batch dims flattened into rows
      {"MatMul", {37, 200}, {200, 130}, 1},   // → FusedMatMul with Relu
      {"MatMul", {1, 200}, {200, 130}, 1},
      {"MatMul", {20, 200}, {200, 130}, 2},   // → Gemm with bias, then Relu
      {"Gemm", {9, 160}, {150, 160}, 0},      // transB, alpha, beta·C
      {"Gemm", {1, 300}, {64, 300}, 0},
  };
  for (const Case& c : cases) {
    auto [kernel, diff] = compare(c.op, c.a, c.b, 0.05, c.epilogue);
    EXPECT_EQ(kernel, "sparse") << c.op << shape_to_string(c.a);
    EXPECT_LT(diff, 1e-4) << c.op << shape_to_string(c.a) << " " << kernel;
  }
}

TEST(SparseKernels, DenseWeightsStayOnTheDenseKernel) {
  auto [kernel, diff] = compare("MatMul", {4, 256}, {256, 96}, 0.95, 0);
  EXPECT_EQ(kernel, "onednn");
  EXPECT_LT(diff, 1e-4);
  // Small weights (not measured) stay dense whatever their sparsity.
  auto [k2, d2] = compare("MatMul", {4, 16}, {16, 16}, 0.05, 0);
  EXPECT_NE(k2, "sparse");
  EXPECT_LT(d2, 1e-4);
  // Rows unknown at plan time: the stricter crossover of GEMV and GEMM applies.
  const double between = (kernels::sparse::kMaxDensityGemv + kernels::sparse::kMaxDensityGemm) / 2;
  auto [k3, d3] = compare("MatMul", {3, 512}, {512, 64}, between, 0, true);
  EXPECT_NE(k3, "sparse");
  EXPECT_LT(d3, 1e-4);
}

}  // namespace
}  // namespace pare
