// sparse_initializer: loading (linear and coordinate indices) and the untrusted-input checks —
// indices out of range, count mismatches, duplicates, wrong order, wrong types — each a typed
// error naming the initializer; and the sparse save path round-trips exactly.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "onnx/onnx.h"

namespace pare {
namespace {

struct Sparse {
  std::vector<int64_t> dims{2, 3};
  std::vector<float> values{1.5f, -2.0f, 3.0f};
  std::vector<int64_t> indices{1, 3, 5};
  std::vector<int64_t> index_dims{};  // default [NNZ]
  int32_t index_type = ::onnx::TensorProto::INT64;
  std::vector<int64_t> value_dims{};  // default [NNZ]
  bool with_indices = true;
  std::string name = "w";
};

// A model y = Identity(w) with w a sparse initializer.
std::string model_bytes(const Sparse& s, bool also_dense = false) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* sp = g->add_sparse_initializer();
  for (int64_t d : s.dims) sp->add_dims(d);
  auto* v = sp->mutable_values();
  v->set_name(s.name);
  v->set_data_type(::onnx::TensorProto::FLOAT);
  if (s.value_dims.empty()) {
    v->add_dims(static_cast<int64_t>(s.values.size()));
  } else {
    for (int64_t d : s.value_dims) v->add_dims(d);
  }
  for (float f : s.values) v->add_float_data(f);
  if (s.with_indices) {
    auto* ip = sp->mutable_indices();
    ip->set_data_type(s.index_type);
    if (s.index_dims.empty()) {
      ip->add_dims(static_cast<int64_t>(s.indices.size()));
    } else {
      for (int64_t d : s.index_dims) ip->add_dims(d);
    }
    for (int64_t i : s.indices) {
      if (s.index_type == ::onnx::TensorProto::INT64) {
        ip->add_int64_data(i);
      } else {
        ip->add_int32_data(static_cast<int32_t>(i));
      }
    }
  }
  if (also_dense) {
    auto* t = g->add_initializer();
    t->set_name(s.name);
    t->set_data_type(::onnx::TensorProto::FLOAT);
    t->add_float_data(0.0f);
  }
  auto* n = g->add_node();
  n->set_op_type("Identity");
  n->add_input(s.name);
  n->add_output("y");
  g->add_output()->set_name("y");
  return m.SerializeAsString();
}

Result<std::unique_ptr<ir::Model>> load(const Sparse& s, bool also_dense = false) {
  const std::string b = model_bytes(s, also_dense);
  return onnx::load_model_from_memory(b.data(), b.size(), "");
}

std::vector<float> dense_of(const ir::Model& m, const std::string& name) {
  const ir::Value* v = m.graph->find_value(name);
  const Tensor& t = *v->initializer();
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

void expect_error(const Sparse& s, const std::string& fragment, bool also_dense = false) {
  auto r = load(s, also_dense);
  ASSERT_FALSE(r.ok()) << fragment;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidModel) << r.status().to_string();
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().to_string();
  EXPECT_NE(r.status().message().find("'" + s.name + "'"), std::string::npos) << r.status().to_string();
}

TEST(SparseInitializer, LoadsLinearAndCoordinateIndices) {
  Sparse s;
  auto m = load(s);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(dense_of(**m, "w"), (std::vector<float>{0, 1.5f, 0, -2.0f, 0, 3.0f}));
  EXPECT_EQ((*m)->graph->find_value("w")->initializer()->shape(), (Shape{2, 3}));
  Sparse c;
  c.indices = {0, 1, 1, 0, 1, 2};  // (0,1) (1,0) (1,2)
  c.index_dims = {3, 2};
  auto m2 = load(c);
  ASSERT_TRUE(m2.ok()) << m2.status().to_string();
  EXPECT_EQ(dense_of(**m2, "w"), (std::vector<float>{0, 1.5f, 0, -2.0f, 0, 3.0f}));
  Sparse empty;
  empty.values = {};
  empty.indices = {};
  auto m3 = load(empty);
  ASSERT_TRUE(m3.ok()) << m3.status().to_string();
  EXPECT_EQ(dense_of(**m3, "w"), std::vector<float>(6, 0.0f));
}

TEST(SparseInitializer, RejectsBadIndices) {
  Sparse s;
  s.indices = {1, 3, 6};
  expect_error(s, "out of range");
  s.indices = {-1, 3, 5};
  expect_error(s, "out of range");
  Sparse c;
  c.indices = {0, 1, 1, 0, 2, 0};  // row 2 of a 2-row tensor
  c.index_dims = {3, 2};
  expect_error(c, "out of range");
  Sparse dup;
  dup.indices = {1, 3, 3};
  expect_error(dup, "duplicate index 3");
  Sparse order;
  order.indices = {3, 1, 5};
  expect_error(order, "ascending");
  Sparse type;
  type.index_type = ::onnx::TensorProto::INT32;
  expect_error(type, "must be int64");
}

TEST(SparseInitializer, RejectsInconsistentCounts) {
  Sparse fewer;
  fewer.indices = {1, 3};
  expect_error(fewer, "3 values need indices [3] or [3, 2]");
  Sparse coords;
  coords.indices = {0, 1, 1, 0, 1, 2};
  coords.index_dims = {3, 3};
  coords.indices.resize(9, 0);
  expect_error(coords, "need indices");
  Sparse none;
  none.with_indices = false;
  expect_error(none, "no indices");
  Sparse too_many;
  too_many.dims = {2};
  expect_error(too_many, "3 values for a shape");
  Sparse two_d;
  two_d.value_dims = {3, 1};
  expect_error(two_d, "1-D");
  Sparse neg;
  neg.dims = {2, -3};
  expect_error(neg, "negative dimension");
  Sparse twice;
  expect_error(twice, "defined twice", true);
  // A huge dense shape behind a few values: refused before anything that size is allocated.
  Sparse huge;
  huge.dims = {int64_t{1} << 19, int64_t{1} << 19};
  auto r = load(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().to_string();
  EXPECT_NE(r.status().to_string().find("sparse initializer 'w'"), std::string::npos) << r.status().to_string();
}

TEST(SparseInitializer, SaveWritesSparseAndRoundTrips) {
  auto model = std::make_unique<ir::Model>();
  model->opsets.push_back({"", 13});
  ir::Graph& g = *model->graph;
  Tensor w = Tensor::create(DataType::kFloat32, {16, 8}).value();
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = i % 10 == 3 ? float(i) : (i == 7 ? -0.0f : 0.0f);
  Tensor d = Tensor::create(DataType::kFloat32, {8, 8}).value();
  for (int64_t i = 0; i < d.numel(); ++i) d.data<float>()[i] = float(i + 1);
  ir::Value* wv = g.add_initializer("w", w);
  ir::Value* dv = g.add_initializer("d", d);
  ir::Value* y = g.add_value("y");
  g.add_node("MatMul", {wv, dv}, {y}, "", "mm");
  g.outputs().push_back(y);
  onnx::SaveOptions o;
  o.sparse_initializers = true;
  o.sparse_min_sparsity = 0.8;
  EXPECT_TRUE(onnx::stores_as_sparse(w, o));
  EXPECT_FALSE(onnx::stores_as_sparse(d, o));
  const std::string path = (std::filesystem::temp_directory_path() / "pare_sparse_save_test.onnx").string();
  ASSERT_TRUE(onnx::save_model(*model, path, o).ok());
  {
    std::ifstream in(path, std::ios::binary);
    ::onnx::ModelProto mp;
    ASSERT_TRUE(mp.ParseFromIstream(&in));
    ASSERT_EQ(mp.graph().sparse_initializer_size(), 1);
    EXPECT_EQ(mp.graph().sparse_initializer(0).values().name(), "w");
    EXPECT_EQ(mp.graph().sparse_initializer(0).values().dims(0), 14);  // 13 nonzeros and a -0.0
    ASSERT_EQ(mp.graph().initializer_size(), 1);
    EXPECT_EQ(mp.graph().initializer(0).name(), "d");
  }
  auto back = onnx::load_model(path);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  const Tensor& w2 = *(*back)->graph->find_value("w")->initializer();
  ASSERT_EQ(w2.shape(), w.shape());
  EXPECT_EQ(std::memcmp(w2.raw_data(), w.raw_data(), w.nbytes()), 0);  // -0.0 kept too
  o.sparse_min_sparsity = 0.95;
  EXPECT_FALSE(onnx::stores_as_sparse(w, o));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace pare
