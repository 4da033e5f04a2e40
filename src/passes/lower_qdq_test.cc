// lower_qdq: QDQ graphs (as `pare quantize` writes them) lowered to com.pare.QConv / QMatMul /
// WeightOnlyMatMul. The oracle is the same graph run unlowered with the reference kernels
// (opt level 0): the lowered graph, with the fast kernels (oneDNN int8, AVX-512 weight-only)
// and with the fused ops' reference kernels, agrees within int8 rounding (a few output steps
// where an intermediate rounding is dropped); weight-only agrees to float precision.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "passes/test_graph.h"
#include "runtime/session.h"

namespace pare {
namespace {

class QBuilder {
 public:
  QBuilder() : model_(std::make_unique<ir::Model>()), g_(*model_->graph), rng_(11) { model_->opsets.push_back({"", 21}); }

  // symbolic_batch: dim 0 declared as "N" (a dynamic batch, as exporters write it).
  ir::Value* input(const std::string& name, const Shape& s, float range = 1.f, bool symbolic_batch = false) {
    ir::Value* v = g_.add_value(name);
    std::vector<ir::Dim> dims;
    for (int64_t d : s) dims.push_back(dims.empty() && symbolic_batch ? ir::Dim::sym("N") : ir::Dim::of(d));
    v->type() = ir::TypeInfo::tensor(DataType::kFloat32, dims);
    g_.add_input(v);
    feeds_.emplace_back(name, RunValue(random(s, range)));
    return v;
  }
  // An integer input (Gather indices) fed with `values`.
  template <typename T>
  ir::Value* int_input(const std::string& name, const Shape& s, const std::vector<T>& values) {
    Tensor t = Tensor::create(std::is_same_v<T, int32_t> ? DataType::kInt32 : DataType::kInt64, s).value();
    std::copy(values.begin(), values.end(), t.data<T>());
    ir::Value* v = g_.add_value(name);
    std::vector<ir::Dim> dims;
    for (int64_t d : s) dims.push_back(ir::Dim::of(d));
    v->type() = ir::TypeInfo::tensor(t.dtype(), dims);
    g_.add_input(v);
    feeds_.emplace_back(name, RunValue(t));
    return v;
  }
  void set_feed(const std::string& name, Tensor t) {
    for (auto& [n, v] : feeds_)
      if (n == name) v = RunValue(t);
  }
  ir::Value* constant(const Tensor& t) { return g_.add_initializer(g_.unique_name("c"), t); }
  template <typename T>
  ir::Value* scalar(T v) { return constant(Tensor::scalar<T>(v)); }
  // A Constant node's output (as PyTorch writes Clip bounds), not an initializer.
  ir::Value* constant_node(float v) {
    ir::Value* y = g_.add_value(g_.unique_name("const"));
    ir::Node* n = g_.add_node("Constant", {}, {y}, "", g_.unique_name("Constant_node"));
    ir::Attribute a;
    a.type = ir::AttrType::kTensor;
    a.t = Tensor::scalar<float>(v);
    n->attributes()["value"] = std::move(a);
    return y;
  }
  // Attributes: axis/block_size/group/transB are ints, the others int lists.
  ir::Value* op(const std::string& type, std::vector<ir::Value*> ins, std::map<std::string, std::vector<int64_t>> attrs = {},
                size_t outs = 1) {
    std::vector<ir::Value*> o;
    for (size_t i = 0; i < outs; ++i) o.push_back(g_.add_value(g_.unique_name(type)));
    ir::Node* n = g_.add_node(type, ins, o, "", g_.unique_name(type + "_node"));
    for (auto& [k, v] : attrs) {
      const bool scalar = k == "axis" || k == "block_size" || k == "group" || k == "transB";
      if (k == "perm") {
        n->attributes()[k] = ir::Attribute::of(v);
        continue;
      }
      n->attributes()[k] = scalar ? ir::Attribute::of(v[0]) : ir::Attribute::of(v);
    }
    last_ = n;
    return o[0];
  }
  // x → Q(s, z) → DQ, uint8 (z ≥ 0) or int8.
  ir::Value* qdq(ir::Value* x, float s, int z, bool u8 = true) {
    ir::Value* sv = scalar<float>(s);
    ir::Value* zv = u8 ? scalar<uint8_t>(static_cast<uint8_t>(z)) : scalar<int8_t>(static_cast<int8_t>(z));
    return op("DequantizeLinear", {op("QuantizeLinear", {x, sv, zv}), sv, zv});
  }
  // DQ of a random symmetric int8 weight, per channel along `axis` (scale = max|w|/127).
  ir::Value* weight(const Shape& s, int64_t axis, float range, std::vector<float>* scales = nullptr) {
    Tensor w = random(s, range);
    const int64_t C = s[axis];
    int64_t inner = 1;
    for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
    Tensor q = Tensor::create(DataType::kInt8, s).value(), sc = Tensor::create(DataType::kFloat32, {C}).value();
    std::vector<float> mx(C, 1e-6f);
    for (int64_t i = 0; i < w.numel(); ++i) mx[(i / inner) % C] = std::max(mx[(i / inner) % C], std::fabs(w.data<float>()[i]));
    for (int64_t c = 0; c < C; ++c) sc.data<float>()[c] = mx[c] / 127.f;
    for (int64_t i = 0; i < w.numel(); ++i)
      q.data<int8_t>()[i] = static_cast<int8_t>(std::nearbyint(w.data<float>()[i] / sc.data<float>()[(i / inner) % C]));
    if (scales) scales->assign(sc.data<float>(), sc.data<float>() + C);
    return op("DequantizeLinear", {constant(q), constant(sc)}, {{"axis", {axis}}});
  }
  // DQ of an int32 bias with scale x_s·w_s[c].
  ir::Value* bias(int64_t n, float xs, const std::vector<float>& ws) {
    Tensor q = Tensor::create(DataType::kInt32, {n}).value(), sc = Tensor::create(DataType::kFloat32, {n}).value();
    Tensor b = random({n}, 0.2f);
    for (int64_t c = 0; c < n; ++c) {
      sc.data<float>()[c] = xs * ws[c];
      q.data<int32_t>()[c] = static_cast<int32_t>(std::nearbyint(b.data<float>()[c] / sc.data<float>()[c]));
    }
    return op("DequantizeLinear", {constant(q), constant(sc)}, {{"axis", {0}}});
  }
  ir::Value* conv(ir::Value* xdq, float xs, int64_t cin, int64_t cout, int64_t k, int64_t stride, int64_t group = 1) {
    std::vector<float> ws;
    const int64_t p = k / 2;
    ir::Value* w = weight({cout, cin / group, k, k}, 0, 1.5f / std::sqrt(float(cin / group * k * k)), &ws);
    return op("Conv", {xdq, w, bias(cout, xs, ws)},
              {{"strides", {stride, stride}},
               {"pads", {p, p, p, p}}, {"group", {group}}});
  }
  void output(ir::Value* v) { g_.outputs().push_back(v); }
  ir::Node* last() { return last_; }

  Tensor random(const Shape& s, float scale = 1.0f) {
    Tensor t = Tensor::create(DataType::kFloat32, s).value();
    std::uniform_real_distribution<float> u(-scale, scale);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng_);
    return t;
  }

  // The error message of a run that must fail ("" if it succeeded).
  std::string run_status(const runtime::SessionOptions& o) {
    auto s = runtime::Session::create(test_util::copy_test_model(*model_), o);
    if (!s.ok()) return s.status().to_string();
    auto r = (*s)->run(feeds_);
    return r.ok() ? "" : r.status().to_string();
  }

  std::vector<Tensor> run(int opt_level, bool reference, std::map<std::string, int>* op_counts = nullptr) {
    runtime::SessionOptions o;
    o.opt_level = opt_level;
    o.reference_kernels = reference;
    auto s = runtime::Session::create(test_util::copy_test_model(*model_), o);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    if (!s.ok()) return {};
    if (op_counts) {
      for (const auto& n : (*s)->model().graph->nodes()) {
        ++(*op_counts)[n->op_type()];
        if (n->attr_int("output_nhwc", 0)) ++(*op_counts)["output_nhwc"];
      }
      for (const auto& [node, kernel] : (*s)->kernel_choices()) ++(*op_counts)["kernel:" + kernel];
    }
    auto r = (*s)->run(feeds_);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    std::vector<Tensor> out;
    if (r.ok())
      for (auto& v : *r) out.push_back(v.tensor);
    return out;
  }

 private:
  std::unique_ptr<ir::Model> model_;
  ir::Graph& g_;
  std::mt19937 rng_;
  std::vector<std::pair<std::string, RunValue>> feeds_;
  ir::Node* last_ = nullptr;
};

struct Diff {
  double max = 0, mean = 0;
};

Diff diff(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  Diff d{INFINITY, INFINITY};
  if (a.size() != b.size() || a.empty()) return d;
  d = {};
  int64_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].shape() != b[i].shape()) return {INFINITY, INFINITY};
    for (int64_t j = 0; j < a[i].numel(); ++j, ++n) {
      const double e = std::abs(double(a[i].data<float>()[j]) - b[i].data<float>()[j]);
      d.max = std::max(d.max, e);
      d.mean += e;
    }
  }
  d.mean /= std::max<int64_t>(n, 1);
  return d;
}

// The lowered graph with the fused ops' reference kernels vs the unlowered graph: max within
// `max_steps` output quantization steps, mean within `mean_steps` (dropped intermediate
// roundings); the fast kernels vs the fused reference: within one step, mean ≤ 0.05 step.
void expect_agree(QBuilder& b, double step, double max_steps, double mean_steps, bool oracle_reference = true) {
  const auto oracle = b.run(0, oracle_reference);
  ASSERT_FALSE(oracle.empty());
  const auto lowered_ref = b.run(3, true);
  const Diff d = diff(lowered_ref, oracle);
  EXPECT_LE(d.max, max_steps * step) << "lowered (reference kernels) vs unlowered";
  EXPECT_LE(d.mean, mean_steps * step) << "lowered (reference kernels) vs unlowered";
  const Diff f = diff(b.run(3, false), lowered_ref);
  EXPECT_LE(f.max, 1.01 * step) << "fast kernels vs the fused reference";
  EXPECT_LE(f.mean, 0.05 * step) << "fast kernels vs the fused reference";
}

TEST(LowerQdq, ResidualConvBlocksBecomeQConvInNhwc) {
  QBuilder b;
  const float s0 = 2.f / 255, s1 = 4.f / 255, s2 = 3.f / 255;
  ir::Value* x = b.input("x", {2, 8, 9, 9}, 1.f, true);
  ir::Value* xq = b.qdq(x, s0, 128);
  // conv → Q→DQ → Relu → Q→DQ (the quantizer's pattern), then a residual block.
  ir::Value* r1 = b.qdq(b.op("Relu", {b.qdq(b.conv(xq, s0, 8, 16, 3, 1), s1, 128)}), s2, 0);
  ir::Value* c2 = b.qdq(b.op("Relu", {b.qdq(b.conv(r1, s2, 16, 16, 3, 1), s1, 128)}), s2, 0);
  ir::Value* c3 = b.qdq(b.conv(c2, s2, 16, 16, 3, 1), s1, 128);
  ir::Value* r2 = b.qdq(b.op("Relu", {b.op("Add", {c3, r1})}), s2, 0);
  ir::Value* d = b.qdq(b.conv(r2, s2, 16, 24, 3, 2), s1, 128);  // stride 2, Q output to a float consumer
  b.output(b.op("GlobalAveragePool", {d}));
  b.output(b.conv(r2, s2, 16, 4, 1, 1));  // float output (no Q)
  b.output(b.conv(r2, s2, 16, 6, 1, 2));  // a 1x1 stride-2 projection of an N,H,W,C input (9x9 → 5x5, gathered)
  std::map<std::string, int> ops;
  b.run(3, false, &ops);
  EXPECT_EQ(ops["QConv"], 6);
  EXPECT_EQ(ops["kernel:onednn_int8"], 6);
  EXPECT_EQ(ops["output_nhwc"], 3);  // r1, c2, r2 flow only between QConvs
  EXPECT_EQ(ops["Conv"] + ops["Relu"] + ops["Add"], 0);
  EXPECT_EQ(ops["QuantizeLinear"], 1);    // the graph input only
  EXPECT_EQ(ops["DequantizeLinear"], 1);  // before GlobalAveragePool
  expect_agree(b, s1, 3, 0.5);
}

TEST(LowerQdq, DepthwiseClipAndInt8Activations) {
  QBuilder b;
  const float s0 = 1.f / 127, s1 = 6.f / 127;
  ir::Value* x = b.input("x", {1, 16, 10, 10});
  ir::Value* xq = b.qdq(x, s0, 0, false);
  ir::Value* c1 = b.op("Clip", {b.qdq(b.conv(xq, s0, 16, 16, 3, 1, 16), s1, 0, false), b.constant_node(0.f), b.constant_node(6.f)});
  ir::Value* c1q = b.qdq(c1, s1, 0, false);
  ir::Value* c2 = b.qdq(b.conv(c1q, s1, 16, 8, 1, 1), s1, 0, false);
  b.output(b.op("Add", {c2, b.qdq(b.conv(xq, s0, 16, 8, 1, 1), s1, 0, false)}));  // Add with a float result
  std::map<std::string, int> ops;
  b.run(3, false, &ops);
  EXPECT_EQ(ops["QConv"], 3);
  EXPECT_EQ(ops["Clip"], 0);
  expect_agree(b, s1, 3, 0.5);
}

TEST(LowerQdq, StaticGemmAndDynamicMatMul) {
  QBuilder b;
  const float s0 = 2.f / 255;
  ir::Value* x = b.input("x", {3, 40});
  std::vector<float> ws;
  ir::Value* w = b.weight({12, 40}, 0, 0.2f, &ws);  // Gemm transB: W [N, K], per row
  ir::Value* g = b.op("Gemm", {b.qdq(x, s0, 128), w, b.bias(12, s0, ws)}, {{"transB", {1}}});
  b.output(b.op("Relu", {g}));
  // Dynamic: DynamicQuantizeLinear → DQ → MatMul(DQ(W)) → Add(bias), rank-3 A.
  ir::Value* a = b.input("a", {2, 5, 40}, 3.f);
  ir::Value* q = b.op("DynamicQuantizeLinear", {a}, {}, 3);
  ir::Node* dql = b.last();
  ir::Value* adq = b.op("DequantizeLinear", {q, dql->output(1), dql->output(2)});
  ir::Value* mm = b.op("MatMul", {adq, b.weight({40, 24}, 1, 0.3f)});
  b.output(b.op("Add", {mm, b.constant(b.random({24}))}));
  std::map<std::string, int> ops;
  b.run(3, false, &ops);
  EXPECT_EQ(ops["QMatMul"], 2);
  EXPECT_EQ(ops["kernel:onednn_int8"], 2);
  EXPECT_EQ(ops["Gemm"] + ops["MatMul"] + ops["DynamicQuantizeLinear"], 0);
  // Both are float outputs: same integer sums, float rounding only.
  expect_agree(b, 1e-4, 10, 2);
}

TEST(LowerQdq, WeightOnlyInt4AndInt8) {
  QBuilder b;
  const int64_t K = 96, N = 40;
  // int4 blocks of 32 along K with zero points, MatMul [K, N] (DQ axis 0).
  Tensor q = Tensor::create(DataType::kInt4, {K, N}).value();
  Tensor s = b.random({K / 32, N}, 0.05f), z = Tensor::create(DataType::kInt4, {K / 32, N}).value();
  std::mt19937 rng(3);
  for (size_t i = 0; i < q.nbytes(); ++i) q.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < z.nbytes(); ++i) z.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < s.numel(); ++i) s.data<float>()[i] = std::fabs(s.data<float>()[i]) + 0.01f;
  ir::Value* w4 = b.op("DequantizeLinear", {b.constant(q), b.constant(s), b.constant(z)},
                       {{"axis", {0}}, {"block_size", {32}}});
  for (int64_t m : {1, 6}) {
    ir::Value* a = b.input("a" + std::to_string(m), {m, K});
    b.output(b.op("Add", {b.op("MatMul", {a, w4}), b.constant(b.random({N}))}));
  }
  // int8 per output channel, Gemm transB (W [N, K], DQ axis 0), odd K.
  ir::Value* a8 = b.input("a8", {2, 3, 33});
  ir::Value* w8 = b.weight({33, 17}, 1, 0.5f);
  b.output(b.op("MatMul", {a8, w8}));
  ir::Value* g8 = b.input("g8", {5, 33});
  b.output(b.op("Gemm", {g8, b.weight({17, 33}, 0, 0.5f), b.constant(b.random({17}))}, {{"transB", {1}}}));
  std::map<std::string, int> ops;
  b.run(3, false, &ops);
  EXPECT_EQ(ops["WeightOnlyMatMul"], 4);
  EXPECT_EQ(ops["kernel:avx512"], 4);
  EXPECT_EQ(ops["MatMul"] + ops["Gemm"] + ops["DequantizeLinear"] + ops["Add"], 0);
  expect_agree(b, 1e-4, 5, 1, false);  // the opset-21 blocked DequantizeLinear is not a reference kernel
}

// A ResNet stem: conv → Q→DQ → Relu → MaxPool → Q→DQ → conv. The Q moves before the MaxPool
// (exact), so the first QConv ends in uint8 and the MaxPool runs on uint8 (oneDNN); and a
// float input → MaxPool → Q(int8) → DQ (odd shape, no padding). Oracle: the unlowered graph.
TEST(LowerQdq, MaxPoolRunsOnQuantizedValues) {
  QBuilder b;
  const float s0 = 2.f / 255, s1 = 0.05f, s2 = 0.03f;
  ir::Value* x = b.input("x", {1, 3, 13, 11});
  ir::Value* r = b.op("Relu", {b.qdq(b.conv(b.qdq(x, s0, 128), s0, 3, 8, 3, 2), s1, 128)});
  ir::Value* p = b.qdq(b.op("MaxPool", {r}, {{"kernel_shape", {3, 3}}, {"strides", {2, 2}}, {"pads", {1, 1, 1, 1}}}), s2, 0);
  b.output(b.conv(p, s2, 8, 5, 3, 1));
  ir::Value* x2 = b.input("x2", {2, 4, 7, 9});
  b.output(b.qdq(b.op("MaxPool", {x2}, {{"kernel_shape", {2, 3}}, {"strides", {2, 2}}}), 1.f / 127, 0, false));
  std::map<std::string, int> ops;
  b.run(3, false, &ops);
  EXPECT_EQ(ops["QConv"], 2);
  // Between the two QConvs the pooling runs N,H,W,C (no reorder); x2's stays a plain MaxPool.
  EXPECT_EQ(ops["MaxPoolNhwc"], 1);
  EXPECT_EQ(ops["MaxPool"], 1);
  EXPECT_EQ(ops["output_nhwc"], 1);
  EXPECT_EQ(ops["kernel:onednn_int8"], 4);  // 2 QConv + 2 MaxPool
  EXPECT_EQ(ops["Relu"] + ops["Conv"], 0);
  EXPECT_EQ(ops["QuantizeLinear"], 2);  // the graph inputs
  expect_agree(b, s2, 3, 0.5);
}

// Random packed bytes for an int4/uint4/int8/uint8 tensor.
Tensor random_ints(DataType dt, const Shape& s, std::mt19937& rng) {
  Tensor t = Tensor::create(dt, s).value();
  for (size_t i = 0; i < t.nbytes(); ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  return t;
}

Tensor positive_scales(QBuilder& b, const Shape& s) {
  Tensor t = b.random(s, 0.05f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = std::fabs(t.data<float>()[i]) + 0.01f;
  return t;
}

// Quantized embedding tables: Gather(DQ(T_q)) ⇒ com.pare.QGather (odd sizes, partial last
// block, zero points, negative indices), a tied head MatMul(x, Transpose(DQ(T_q))) ⇒
// WeightOnlyMatMul; with constant indices folded. Oracle: the unlowered graph.
TEST(LowerQdq, QuantizedGatherTables) {
  QBuilder b;
  std::mt19937 rng(5);
  const int64_t V = 37, D = 50;
  // int4 blocks of 16 along D (4 blocks, the last partial), int4 zero points.
  ir::Value* t4 = b.op("DequantizeLinear", {b.constant(random_ints(DataType::kInt4, {V, D}, rng)),
                                            b.constant(positive_scales(b, {V, 4})),
                                            b.constant(random_ints(DataType::kInt4, {V, 4}, rng))},
                       {{"axis", {1}}, {"block_size", {16}}});
  ir::Value* ids = b.int_input<int64_t>("ids", {2, 3}, {0, 36, -1, 5, -37, 17});
  b.output(b.op("Gather", {t4, ids}, {{"axis", {0}}}));
  // int8 per row (axis 0) with zero points, int32 indices.
  ir::Value* t8 = b.op("DequantizeLinear", {b.constant(random_ints(DataType::kInt8, {V, 9}, rng)),
                                            b.constant(positive_scales(b, {V})),
                                            b.constant(random_ints(DataType::kInt8, {V}, rng))},
                       {{"axis", {0}}});
  b.output(b.op("Gather", {t8, b.int_input<int32_t>("ids32", {4}, {3, 3, 0, 36})}, {{"axis", {0}}}));
  // uint8 per tensor; uint4 per column (axis 1).
  ir::Value* tu = b.op("DequantizeLinear", {b.constant(random_ints(DataType::kUInt8, {V, 7}, rng)), b.scalar<float>(0.02f),
                                            b.scalar<uint8_t>(128)});
  b.output(b.op("Gather", {tu, ids}, {{"axis", {0}}}));
  ir::Value* tc = b.op("DequantizeLinear", {b.constant(random_ints(DataType::kUInt4, {V, 6}, rng)), b.constant(positive_scales(b, {6}))},
                       {{"axis", {1}}});
  b.output(b.op("Gather", {tc, ids}, {{"axis", {0}}}));
  // Constant indices: lowered, then folded (QGather's reference kernel reads two rows).
  ir::Value* folded = b.op("Gather", {t4, b.constant(Tensor::from_vector<int64_t>({2}, {4, 1}))}, {{"axis", {0}}});
  b.output(b.op("Add", {folded, b.input("y", {2, D})}));
  // Tied head: x [3, D] · T^T → [3, V].
  ir::Value* x = b.input("x", {3, D});
  b.output(b.op("MatMul", {x, b.op("Transpose", {t4}, {{"perm", {1, 0}}})}));
  std::map<std::string, int> ops;
  b.run(3, false, &ops);
  EXPECT_EQ(ops["QGather"], 4);
  EXPECT_EQ(ops["WeightOnlyMatMul"], 1);
  EXPECT_EQ(ops["Gather"] + ops["DequantizeLinear"] + ops["Transpose"] + ops["MatMul"], 0);
  expect_agree(b, 1e-4, 5, 1, false);  // the opset-21 blocked DequantizeLinear is not a reference kernel
  // An index out of range is an error naming it, lowered or not.
  Tensor bad = Tensor::from_vector<int64_t>({2, 3}, {0, 1, 2, 37, 4, 5});
  b.set_feed("ids", bad);
  for (int level : {0, 3}) {
    runtime::SessionOptions o;
    o.opt_level = level;
    SCOPED_TRACE(level);
    EXPECT_TRUE(b.run_status(o).find("37") != std::string::npos);
  }
}

// A QGather whose scale does not fit its table, or whose table is not 2-D: an error naming it
// when the session is planned (no crash, no out-of-bounds read).
TEST(LowerQdq, QGatherRejectsBadParameters) {
  auto check = [](const Shape& table, const Shape& scale, int64_t block, const std::string& text) {
    auto model = std::make_unique<ir::Model>();
    model->opsets = {{"", 21}, {"com.pare", 1}};
    ir::Graph& g = *model->graph;
    ir::Value* ids = g.add_value("ids");
    ids->type() = ir::TypeInfo::tensor(DataType::kInt64, std::vector<ir::Dim>{ir::Dim::of(2)});
    g.add_input(ids);
    ir::Value* q = g.add_initializer("q", Tensor::create(DataType::kInt4, table).value());
    Tensor st = Tensor::create(DataType::kFloat32, scale).value();
    for (int64_t i = 0; i < st.numel(); ++i) st.data<float>()[i] = 0.1f;
    ir::Value* s = g.add_initializer("s", st);
    ir::Value* y = g.add_value("y");
    ir::Node* n = g.add_node("QGather", {q, s, nullptr, ids}, {y}, "com.pare", "qg");
    n->attributes()["axis"] = ir::Attribute::of(int64_t{1});
    n->attributes()["block_size"] = ir::Attribute::of(block);
    g.outputs().push_back(y);
    runtime::SessionOptions o;
    auto sess = runtime::Session::create(std::move(model), o);
    std::string msg = sess.ok() ? "" : sess.status().to_string();
    if (sess.ok()) {
      auto r = (*sess)->run({{"ids", RunValue(Tensor::from_vector<int64_t>({2}, {0, 1}))}});
      msg = r.ok() ? "" : r.status().to_string();
    }
    EXPECT_NE(msg.find(text), std::string::npos) << msg;
  };
  check({10, 64}, {10, 3}, 32, "does not match");  // 64 / 32 = 2 blocks, not 3
  check({10, 64}, {10}, 0, "one value per index");  // axis 1 needs 64
  check({640}, {1}, 0, "2-D");
}

TEST(LowerQdq, PortablePipelineKeepsQdq) {
  QBuilder b;
  ir::Value* x = b.input("x", {1, 4, 5, 5});
  b.output(b.conv(b.qdq(x, 0.01f, 128), 0.01f, 4, 4, 3, 1));
  std::map<std::string, int> ops;
  b.run(1, false, &ops);  // level 1: no lowering
  EXPECT_EQ(ops["QConv"], 0);
  ops.clear();
  b.run(2, false, &ops);
  EXPECT_EQ(ops["QConv"], 1);
}

}  // namespace
}  // namespace pare
