// Bad input (issue #2 §12): every malformed model or run-time input gives a typed error that
// names what is wrong — no crash, no hang, no allocation of what a header merely claims.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "onnx/onnx.h"
#include "runtime/session.h"

namespace pare {
namespace {

namespace fs = std::filesystem;

// y = Relu(x) over float[2,3], opset 13; tests mutate it.
::onnx::ModelProto relu_model() {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(1);
  tt->mutable_shape()->add_dim()->set_dim_value(2);
  tt->mutable_shape()->add_dim()->set_dim_value(3);
  auto* out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->set_name("relu");
  n->add_input("x");
  n->add_output("y");
  return m;
}

Result<std::unique_ptr<ir::Model>> load(const ::onnx::ModelProto& m, const std::string& dir = "") {
  std::string bytes = m.SerializeAsString();
  return onnx::load_model_from_memory(bytes.data(), bytes.size(), dir);
}

void expect_error(const Status& st, StatusCode code, const std::string& needle) {
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), code) << st.to_string();
  EXPECT_NE(st.message().find(needle), std::string::npos) << "'" << needle << "' not in: " << st.message();
}

// Adds initializer "w" (float) and makes the node Add(x, w).
::onnx::TensorProto* add_weight(::onnx::ModelProto& m) {
  auto* g = m.mutable_graph();
  g->mutable_node(0)->set_op_type("Add");
  g->mutable_node(0)->add_input("w");
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(1);
  return w;
}

TEST(BadModel, ValidModelLoadsAndRuns) {
  auto m = load(relu_model());
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  auto s = runtime::Session::create(std::move(m).value());
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  Tensor x = Tensor::from_vector<float>({2, 3}, {-1, 2, -3, 4, -5, 6});
  auto out = (*s)->run_tensors({{"x", x}});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->at("y").data<float>()[1], 2.0f);
  EXPECT_EQ(out->at("y").data<float>()[2], 0.0f);
}

TEST(BadModel, TruncatedFile) {
  std::string bytes = relu_model().SerializeAsString();
  for (size_t cut : {bytes.size() / 2, bytes.size() - 1, size_t{3}}) {
    auto m = onnx::load_model_from_memory(bytes.data(), cut, "");
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidModel);
  }
}

TEST(BadModel, WrongMagic) {
  const std::string png = "\x89PNG\r\n\x1a\n0000000000000000";
  auto m = onnx::load_model_from_memory(png.data(), png.size(), "");
  expect_error(m.status(), StatusCode::kInvalidModel, "not a valid ONNX model");
  auto missing = onnx::load_model("/nonexistent/model.onnx");
  expect_error(missing.status(), StatusCode::kIo, "cannot open");
}

TEST(BadModel, DimsWhoseProductOverflows) {
  auto m = relu_model();
  auto* w = add_weight(m);
  w->add_dims(int64_t{1} << 32);
  w->add_dims(int64_t{1} << 32);
  w->set_raw_data(std::string(16, '\0'));
  expect_error(load(m).status(), StatusCode::kInvalidModel, "overflow");
}

TEST(BadModel, HugeClaimedShapeIsNotAllocated) {
  // 2^38 floats (1 TiB) claimed with 4 bytes of data: refused before allocating.
  auto m = relu_model();
  auto* w = add_weight(m);
  w->add_dims(int64_t{1} << 38);
  w->add_float_data(1.0f);
  expect_error(load(m).status(), StatusCode::kInvalidModel, "needs");
}

TEST(BadModel, NegativeDims) {
  auto m = relu_model();
  auto* w = add_weight(m);
  w->add_dims(-4);
  expect_error(load(m).status(), StatusCode::kInvalidModel, "negative dimension");
}

TEST(BadModel, RawDataShorterThanShape) {
  auto m = relu_model();
  auto* w = add_weight(m);
  w->add_dims(2);
  w->add_dims(3);
  w->set_raw_data(std::string(20, '\0'));  // needs 24
  expect_error(load(m).status(), StatusCode::kInvalidModel, "raw_data has 20 bytes");
}

TEST(BadModel, UnknownDataType) {
  auto m = relu_model();
  auto* w = add_weight(m);
  w->set_data_type(99);
  expect_error(load(m).status(), StatusCode::kInvalidModel, "unknown data type 99");
}

TEST(BadModel, GraphCycle) {
  auto m = relu_model();
  auto* g = m.mutable_graph();
  // a = Relu(b); b = Relu(a); y = Relu(a)
  auto* n1 = g->add_node();
  n1->set_op_type("Relu");
  n1->set_name("n1");
  n1->add_input("b");
  n1->add_output("a");
  auto* n2 = g->add_node();
  n2->set_op_type("Relu");
  n2->set_name("n2");
  n2->add_input("a");
  n2->add_output("b");
  expect_error(load(m).status(), StatusCode::kInvalidModel, "cycle");
}

TEST(BadModel, MissingNodeInput) {
  auto m = relu_model();
  m.mutable_graph()->mutable_node(0)->set_input(0, "nowhere");
  expect_error(load(m).status(), StatusCode::kInvalidModel, "input 'nowhere'");
}

TEST(BadModel, ValueProducedTwice) {
  auto m = relu_model();
  *m.mutable_graph()->add_node() = m.graph().node(0);
  expect_error(load(m).status(), StatusCode::kInvalidModel, "produced twice");
}

TEST(BadModel, UnknownOp) {
  auto m = relu_model();
  m.mutable_graph()->mutable_node(0)->set_op_type("FrobnicateTensor");
  auto model = load(m);
  ASSERT_TRUE(model.ok());
  auto s = runtime::Session::create(std::move(model).value());
  expect_error(s.status(), StatusCode::kUnsupported, "unknown operator 'FrobnicateTensor'");
}

TEST(BadModel, UnknownDomainAndOpset) {
  auto m = relu_model();
  m.mutable_graph()->mutable_node(0)->set_domain("com.example");
  auto s = runtime::Session::create(load(m).value());
  expect_error(s.status(), StatusCode::kUnsupported, "com.example");

  auto future = relu_model();
  future.mutable_opset_import(0)->set_version(0);
  expect_error(load(future).status(), StatusCode::kInvalidModel, "version 0");
}

TEST(BadModel, WrongInputDtypeShapeOrNameAtRunTime) {
  auto s = runtime::Session::create(load(relu_model()).value());
  ASSERT_TRUE(s.ok());
  auto& sess = **s;
  expect_error(sess.run_tensors({{"x", Tensor::from_vector<double>({2, 3}, std::vector<double>(6))}}).status(),
               StatusCode::kInvalidInput, "input 'x' must be float");
  expect_error(sess.run_tensors({{"x", Tensor::from_vector<float>({3, 2}, std::vector<float>(6))}}).status(),
               StatusCode::kInvalidInput, "shape");
  expect_error(sess.run_tensors({}).status(), StatusCode::kInvalidInput, "was not given");
  expect_error(sess.run_tensors({{"z", Tensor::from_vector<float>({2, 3}, std::vector<float>(6))}}).status(),
               StatusCode::kInvalidInput, "'z' is not an input");
}

class ExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("pare_ext_" + std::to_string(::getpid()));
    fs::create_directories(root_ / "model");
    std::ofstream(root_ / "secret.bin", std::ios::binary) << std::string(24, 'x');
    std::ofstream(root_ / "model" / "w.bin", std::ios::binary) << std::string(24, '\0');
  }
  void TearDown() override { fs::remove_all(root_); }

  Result<std::unique_ptr<ir::Model>> with_location(const std::string& loc, int64_t offset = 0) {
    auto m = relu_model();
    auto* w = add_weight(m);
    w->add_dims(2);
    w->add_dims(3);
    w->set_data_location(::onnx::TensorProto::EXTERNAL);
    auto* e = w->add_external_data();
    e->set_key("location");
    e->set_value(loc);
    auto* o = w->add_external_data();
    o->set_key("offset");
    o->set_value(std::to_string(offset));
    const fs::path path = root_ / "model" / "m.onnx";
    std::ofstream(path, std::ios::binary) << m.SerializeAsString();
    return onnx::load_model(path.string());
  }
  fs::path root_;
};

TEST_F(ExternalData, InsideTheFolderLoadsZeroCopy) {
  auto m = with_location("w.bin");
  ASSERT_TRUE(m.ok()) << m.status().to_string();
}

TEST_F(ExternalData, AbsolutePathRefused) {
  expect_error(with_location((root_ / "secret.bin").string()).status(), StatusCode::kInvalidModel,
               "must be a relative path");
}

TEST_F(ExternalData, DotDotRefused) {
  expect_error(with_location("../secret.bin").status(), StatusCode::kInvalidModel, "contains '..'");
}

TEST_F(ExternalData, SymlinkOutsideRefused) {
  fs::create_symlink(root_ / "secret.bin", root_ / "model" / "link.bin");
  expect_error(with_location("link.bin").status(), StatusCode::kInvalidModel, "resolves outside");
}

TEST_F(ExternalData, RangeOutsideTheFileRefused) {
  expect_error(with_location("w.bin", 8).status(), StatusCode::kInvalidModel, "lies outside");
}

TEST_F(ExternalData, MissingFileIsAnIoError) {
  expect_error(with_location("absent.bin").status(), StatusCode::kIo, "cannot open");
}

TEST_F(ExternalData, ModelsOver2GBLoadThroughMappedExternalData) {
  // A 2.5 GB initializer in a sparse file: mapped, not read, so the test costs no disk or RAM.
  const int64_t n = int64_t{625} << 20;  // floats
  fs::resize_file(root_ / "model" / "w.bin", static_cast<uintmax_t>(n) * 4);
  auto m = relu_model();
  auto* w = add_weight(m);
  w->add_dims(n);
  w->set_data_location(::onnx::TensorProto::EXTERNAL);
  auto* e = w->add_external_data();
  e->set_key("location");
  e->set_value("w.bin");
  const fs::path path = root_ / "model" / "big.onnx";
  std::ofstream(path, std::ios::binary) << m.SerializeAsString();
  auto model = onnx::load_model(path.string());
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const Tensor& t = *(*model)->graph->find_value("w")->initializer();
  EXPECT_EQ(t.nbytes(), static_cast<size_t>(n) * 4);
  EXPECT_EQ(t.data<float>()[n - 1], 0.0f);
}

TEST(SaveLoad, RoundTripKeepsSemanticsWithAndWithoutExternalData) {
  auto m = relu_model();
  auto* w = add_weight(m);
  w->add_dims(2);
  w->add_dims(3);
  for (int i = 0; i < 6; ++i) w->add_float_data(static_cast<float>(i) - 2.5f);
  const fs::path dir = fs::temp_directory_path() / ("pare_save_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 1, 1, 1, 1, 1});
  for (bool external : {false, true}) {
    const std::string path = (dir / (external ? "ext.onnx" : "plain.onnx")).string();
    ASSERT_TRUE(onnx::save_model(*load(m).value(), path, {external, 4}).ok());
    EXPECT_EQ(fs::exists(path + ".data"), external);
    auto s = runtime::Session::load(path);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    auto out = (*s)->run_tensors({{"x", x}});
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->at("y").data<float>()[0], -1.5f);
    EXPECT_EQ(out->at("y").data<float>()[5], 3.5f);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace pare

namespace pare {
namespace {

TEST(LocalFunctions, CallsAreInlinedWithAttributeReferences) {
  // f(x) = LeakyRelu(x, alpha=@alpha) called as y = f(x) with alpha = 0.5.
  auto m = relu_model();
  m.set_ir_version(8);
  auto* f = m.add_functions();
  f->set_name("leaky");
  f->set_domain("local");
  f->add_input("fx");
  f->add_output("fy");
  f->add_attribute("alpha");
  f->add_opset_import()->set_version(13);
  auto* body = f->add_node();
  body->set_op_type("LeakyRelu");
  body->add_input("fx");
  body->add_output("fy");
  auto* ref = body->add_attribute();
  ref->set_name("alpha");
  ref->set_type(::onnx::AttributeProto::FLOAT);
  ref->set_ref_attr_name("alpha");
  auto* call = m.mutable_graph()->mutable_node(0);
  call->set_op_type("leaky");
  call->set_domain("local");
  auto* alpha = call->add_attribute();
  alpha->set_name("alpha");
  alpha->set_type(::onnx::AttributeProto::FLOAT);
  alpha->set_f(0.5f);
  auto* imp = m.add_opset_import();
  imp->set_domain("local");
  imp->set_version(1);
  auto model = load(m);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  ASSERT_EQ((*model)->graph->num_nodes(), 1u);
  EXPECT_EQ((*model)->graph->nodes().front()->op_type(), "LeakyRelu");
  EXPECT_EQ((*model)->graph->nodes().front()->attr_float("alpha", 0.01f), 0.5f);
  EXPECT_EQ((*model)->graph->nodes().front()->output(0)->name(), "y");
}

TEST(LocalFunctions, RecursionIsRefused) {
  auto m = relu_model();
  auto* f = m.add_functions();
  f->set_name("loop");
  f->set_domain("local");
  f->add_input("a");
  f->add_output("b");
  auto* body = f->add_node();
  body->set_op_type("loop");
  body->set_domain("local");
  body->add_input("a");
  body->add_output("b");
  m.mutable_graph()->mutable_node(0)->set_op_type("loop");
  m.mutable_graph()->mutable_node(0)->set_domain("local");
  expect_error(load(m).status(), StatusCode::kInvalidModel, "nest");
}

}  // namespace
}  // namespace pare
