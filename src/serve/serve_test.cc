// Unit tests of serve's pure pieces: OIP tensor parsing/encoding, config parsing, name safety,
// constant-time compare.
#include <gtest/gtest.h>

#include <cstring>

#include "serve/model.h"
#include "serve/openai_request.h"
#include "serve/repository.h"
#include "serve/server.h"
#include "serve/tensor_codec.h"

namespace pare::serve {

TEST(ServeCodec, JsonTensorNestedAndFlat) {
  auto r = parse_infer_request(
      R"({"inputs":[{"name":"x","datatype":"INT64","shape":[2,2],"data":[[1,2],[3,-4]]}],"outputs":[{"name":"y"}]})", -1);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const Tensor& t = r->inputs[0].second;
  EXPECT_EQ(t.dtype(), DataType::kInt64);
  EXPECT_EQ(t.data<int64_t>()[3], -4);
  EXPECT_EQ(r->outputs[0].name, "y");
}

TEST(ServeCodec, BadInputsRejected) {
  EXPECT_FALSE(parse_infer_request("{", -1).ok());
  EXPECT_FALSE(parse_infer_request(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[3],"data":[1,2]}]})", -1).ok());
  EXPECT_FALSE(parse_infer_request(R"({"inputs":[{"name":"x","datatype":"FP7","shape":[1],"data":[1]}]})", -1).ok());
  EXPECT_FALSE(parse_infer_request(R"({"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[1.5]}]})", -1).ok());
  EXPECT_FALSE(parse_infer_request(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[-1],"data":[]}]})", -1).ok());
  EXPECT_FALSE(parse_infer_request("{}", 10).ok());  // header length beyond body
}

TEST(ServeCodec, BinaryExtension) {
  std::string head = R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]})";
  float v[2] = {1.5f, -2.f};
  std::string body = head + std::string(reinterpret_cast<char*>(v), 8);
  auto r = parse_infer_request(body, head.size());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->inputs[0].second.data<float>()[1], -2.f);
  EXPECT_FALSE(parse_infer_request(body.substr(0, body.size() - 1), head.size()).ok());  // short
  EXPECT_FALSE(parse_infer_request(body + "x", head.size()).ok());                       // extra bytes
}

TEST(ServeCodec, EncodeBinaryAndJson) {
  Tensor t = Tensor::from_vector<float>({2}, {1.f, 2.f});
  int64_t hl = 0;
  std::string b = encode_infer_response("m", "1", "", {{"y", t}}, {true}, &hl);
  ASSERT_EQ(b.size(), static_cast<size_t>(hl) + 8);
  float got[2];
  std::memcpy(got, b.data() + hl, 8);
  EXPECT_EQ(got[1], 2.f);
  b = encode_infer_response("m", "1", "", {{"y", t}}, {false}, &hl);
  EXPECT_EQ(hl, -1);
  EXPECT_NE(b.find("\"data\":[1.0,2.0]"), std::string::npos);
}

TEST(ServeConfig, ParseAndReject) {
  auto c = parse_model_config("instances = 3\nthreads = 2\nmax_queue_size = 5\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->instances, 3);
  EXPECT_EQ(c->max_queue_size, 5);
  EXPECT_FALSE(parse_model_config("instances = 0").ok());
  EXPECT_FALSE(parse_model_config("instances = ").ok());
  EXPECT_FALSE(parse_model_config("sha256 = \"abc\"").ok());
}

TEST(ServeConfig, DynamicBatching) {
  auto c = parse_model_config(
      "max_batch_size = 8\n[dynamic_batching]\nmax_queue_delay_microseconds = 500\npreferred_batch_size = [4, 8]\n");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->max_batch_size, 8);
  EXPECT_EQ(c->max_queue_delay_us, 500);
  EXPECT_EQ(c->preferred_batch_sizes, (std::vector<int>{4, 8}));
  EXPECT_FALSE(parse_model_config("max_batch_size = 4\n[dynamic_batching]\npreferred_batch_size = [5]\n").ok());
  EXPECT_FALSE(parse_model_config("max_batch_size = 4\n[dynamic_batching]\npreferred_batch_size = [0]\n").ok());
  EXPECT_FALSE(parse_model_config("max_batch_size = 4\n[dynamic_batching]\npreferred_batch_size = 2\n").ok());
  EXPECT_FALSE(parse_model_config("max_batch_size = -1\n").ok());
  EXPECT_FALSE(parse_model_config("dynamic_batching = 3\n").ok());
  EXPECT_FALSE(parse_model_config("[dynamic_batching]\nmax_queue_delay_microseconds = -1\n").ok());
}

TEST(ServeBatch, RowsOfFeeds) {
  auto feed = [](const char* n, Shape s) {
    int64_t k = 1;
    for (auto d : s) k *= d;
    return std::pair<std::string, RunValue>(n, RunValue(Tensor::from_vector<float>(s, std::vector<float>(k))));
  };
  EXPECT_EQ(batch_rows({feed("a", {3, 2}), feed("b", {3})}), 3);
  EXPECT_EQ(batch_rows({feed("a", {3, 2}), feed("b", {2})}), -1);  // dim 0 differs
  EXPECT_EQ(batch_rows({feed("a", {})}), -1);                      // scalar
  EXPECT_EQ(batch_rows({feed("a", {0, 4})}), -1);                  // no rows
  EXPECT_EQ(batch_rows({}), -1);
}

TEST(ServeOpenAi, ParseRequests) {
  auto r = parse_openai_request(R"({"prompt":["hi"],"max_tokens":3,"temperature":0,"stop":"x","seed":5,"top_k":2})", false);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->prompt, "hi");
  EXPECT_EQ(r->opt.max_tokens, 3);
  EXPECT_EQ(r->opt.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(r->opt.sampling.seed, 5u);
  EXPECT_EQ(r->opt.sampling.top_k, 2);
  auto c = parse_openai_request(R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"stream":true})", true);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->messages[0].content, "ab");
  EXPECT_TRUE(c->stream);
  for (const char* bad : {R"({"prompt":"a","max_tokens":-1})", R"({"prompt":"a","max_tokens":16777217})",
                          R"({"prompt":"a","max_tokens":2.5})", R"({"prompt":"a","n":3})", R"({"prompt":["a","b"]})",
                          R"({"prompt":"a","stop":[1]})", R"({"prompt":"a","top_p":0})", R"({"prompt":"a","stream":"yes"})",
                          R"({})", R"([1])", "{\"prompt\":\"\xff\"}"})
    EXPECT_FALSE(parse_openai_request(bad, false).ok()) << bad;
  EXPECT_FALSE(parse_openai_request(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", true).ok());
  EXPECT_FALSE(parse_openai_request(R"({"messages":[{"content":"x"}]})", true).ok());
}

TEST(ServeNames, SafeNamesAndCompare) {
  EXPECT_TRUE(is_safe_model_name("resnet-18_v1.2"));
  EXPECT_FALSE(is_safe_model_name(".."));
  EXPECT_FALSE(is_safe_model_name("a/b"));
  EXPECT_FALSE(is_safe_model_name("/etc"));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("", "a"));
}

}  // namespace pare::serve
