// GGUF reader/writer: round trip of every metadata type, and each malformed header the issue
// names gives a typed error (never a crash). Dequantization values are checked against numpy in
// tests/llm/test_gguf_types.py.
#include "gguf/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace pare::gguf {
namespace {

// Hand-made GGUF headers for the bad-input cases.
struct Bytes {
  std::vector<uint8_t> b;
  template <typename T>
  Bytes& put(T v) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s, uint64_t len_override = UINT64_MAX) {
    put<uint64_t>(len_override == UINT64_MAX ? s.size() : len_override);
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return put<uint32_t>(0x46554747).put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  }
  Bytes& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(ne.size());
    for (uint64_t d : ne) put<uint64_t>(d);
    return put<uint32_t>(type).put<uint64_t>(offset);
  }
  Bytes& pad_data(size_t n) {
    b.resize((b.size() + 31) / 32 * 32 + n, 0);
    return *this;
  }
};

Status parse(const Bytes& b) { return File::parse(b.b.data(), b.b.size()).status(); }

void expect_error(const Bytes& b, StatusCode code, const std::string& needle) {
  Status s = parse(b);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), code) << s.to_string();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
}

TEST(GgufReader, RoundTripAllMetadataTypes) {
  Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("a.u32", 4000000000u);
  w.set_i32("a.i32", -7);
  w.set_f32("a.f32", 0.5f);
  w.set_bool("a.bool", true);
  w.set_strings("a.strs", {"x", "", "ünï"});
  w.set_f32s("a.f32s", {1.5f, -2.f});
  w.set_i32s("a.i32s", {3, -4});
  Value u8;
  u8.type = ValueType::kU8;
  u8.i = 200;
  w.set("a.u8", u8);
  Value i64;
  i64.type = ValueType::kI64;
  i64.i = -(int64_t{1} << 40);
  w.set("a.i64", i64);
  Value f64;
  f64.type = ValueType::kF64;
  f64.f = 1e300;
  w.set("a.f64", f64);
  Value nested;
  nested.type = ValueType::kArray;
  nested.elem = ValueType::kArray;
  Value inner;
  inner.type = ValueType::kArray;
  inner.elem = ValueType::kI16;
  inner.ints = {1, -2};
  nested.arrays = {inner, inner};
  w.set("a.nested", nested);
  std::vector<float> vals(64);
  for (int i = 0; i < 64; ++i) vals[i] = std::sin(i * 0.3f);
  std::vector<uint8_t> q(row_bytes(GgmlType::kQ8_0, 64));
  ASSERT_TRUE(quantize(GgmlType::kQ8_0, vals.data(), q.data(), 64).ok());
  ASSERT_TRUE(w.add_tensor("t.q8", GgmlType::kQ8_0, {32, 2}, q).ok());
  std::vector<uint8_t> f(4 * 3);
  std::memcpy(f.data(), vals.data(), 12);
  ASSERT_TRUE(w.add_tensor("t.f32", GgmlType::kF32, {3}, f).ok());

  std::vector<uint8_t> bytes = w.to_bytes();
  auto r = File::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const File& file = **r;
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(*file.get_string("general.architecture"), "llama");
  EXPECT_EQ(*file.get_int("a.u32"), 4000000000LL);
  EXPECT_EQ(*file.get_int("a.i32"), -7);
  EXPECT_EQ(*file.get_float("a.f32"), 0.5);
  EXPECT_EQ(file.find("a.bool")->u, 1u);
  EXPECT_EQ(file.find("a.strs")->strings, (std::vector<std::string>{"x", "", "ünï"}));
  EXPECT_EQ(file.find("a.f32s")->floats, (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(file.find("a.i32s")->ints, (std::vector<int64_t>{3, -4}));
  EXPECT_EQ(*file.get_int("a.u8"), 200);
  EXPECT_EQ(*file.get_int("a.i64"), -(int64_t{1} << 40));
  EXPECT_EQ(*file.get_float("a.f64"), 1e300);
  ASSERT_EQ(file.find("a.nested")->arrays.size(), 2u);
  EXPECT_EQ(file.find("a.nested")->arrays[1].ints, (std::vector<int64_t>{1, -2}));
  ASSERT_EQ(file.tensors().size(), 2u);
  const TensorInfo* t = file.tensor("t.q8");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->ne, (std::vector<int64_t>{32, 2}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data) % 32, reinterpret_cast<uintptr_t>(bytes.data()) % 32);
  std::vector<float> back(64);
  ASSERT_TRUE(dequantize(t->type, t->data, back.data(), 64).ok());
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(back[i], vals[i], 0.01);
  EXPECT_EQ(file.get_string("missing.key").status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(file.get_string("a.u32").status().code(), StatusCode::kInvalidModel);
}

TEST(GgufReader, Version2Accepted) {
  Bytes b;
  b.header(0, 1, 2).str("k").put<uint32_t>(4).put<uint32_t>(9);
  EXPECT_TRUE(parse(b).ok());
}

TEST(GgufReader, BadMagicAndVersion) {
  Bytes b;
  b.put<uint32_t>(0x12345678).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(0);
  expect_error(b, StatusCode::kInvalidModel, "bad magic");
  Bytes v;
  v.header(0, 0, 1);
  expect_error(v, StatusCode::kUnsupported, "version 1");
  expect_error(Bytes{}, StatusCode::kInvalidModel, "ends inside the magic");
}

TEST(GgufReader, TensorDataBeyondFile) {
  Bytes b;
  b.header(1, 0).tensor("w", {32}, 0, 0).pad_data(128);
  EXPECT_TRUE(parse(b).ok());
  Bytes bad;
  bad.header(1, 0).tensor("w", {32}, 0, 32).pad_data(128);
  expect_error(bad, StatusCode::kInvalidModel, "beyond the end of the file");
  Bytes huge;
  huge.header(1, 0).tensor("w", {32}, 0, ~uint64_t{0} - 31).pad_data(64);
  expect_error(huge, StatusCode::kInvalidModel, "beyond the end");
}

TEST(GgufReader, DimsProductOverflows) {
  Bytes b;
  b.header(1, 0).tensor("w", {uint64_t{1} << 32, uint64_t{1} << 32}, 0, 0).pad_data(32);
  expect_error(b, StatusCode::kInvalidModel, "overflows");
  Bytes neg;
  neg.header(1, 0).tensor("w", {~uint64_t{0}}, 0, 0).pad_data(32);
  expect_error(neg, StatusCode::kInvalidModel, "negative");
  Bytes bytes_overflow;  // element count fits, byte size does not
  bytes_overflow.header(1, 0).tensor("w", {uint64_t{1} << 62}, 0, 0).pad_data(32);
  expect_error(bytes_overflow, StatusCode::kInvalidModel, "overflows");
}

TEST(GgufReader, UnknownTensorTypeAndTooManyDims) {
  Bytes b;
  b.header(1, 0).tensor("w", {32}, 77, 0).pad_data(64);
  expect_error(b, StatusCode::kInvalidModel, "unknown type id 77");
  Bytes d;
  d.header(1, 0).tensor("w", {1, 1, 1, 1, 1}, 0, 0).pad_data(64);
  expect_error(d, StatusCode::kInvalidModel, "5 dims");
  Bytes blk;  // Q4_0 row of 20 values: not a whole block
  blk.header(1, 0).tensor("w", {20}, 2, 0).pad_data(64);
  expect_error(blk, StatusCode::kInvalidModel, "block size");
  Bytes mis;
  mis.header(1, 0).tensor("w", {4}, 0, 4).pad_data(64);
  expect_error(mis, StatusCode::kInvalidModel, "alignment");
  Bytes dup;
  dup.header(2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad_data(64);
  expect_error(dup, StatusCode::kInvalidModel, "duplicate tensor name 'w'");
}

TEST(GgufReader, StringLengthPastEnd) {
  Bytes b;
  b.header(0, 1).str("key", 1000).put<uint64_t>(0);
  expect_error(b, StatusCode::kInvalidModel, "past the end");
  Bytes v;
  v.header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(~uint64_t{0});
  expect_error(v, StatusCode::kInvalidModel, "past the end");
  Bytes arr;  // array claiming 2^60 elements
  arr.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(uint64_t{1} << 60);
  expect_error(arr, StatusCode::kInvalidModel, "runs past the end");
  Bytes counts;
  counts.header(uint64_t{1} << 60, 0);
  expect_error(counts, StatusCode::kInvalidModel, "tensor count");
}

TEST(GgufReader, DuplicateKeysAndBadValues) {
  Bytes b;
  b.header(0, 2).str("k").put<uint32_t>(4).put<uint32_t>(1).str("k").put<uint32_t>(4).put<uint32_t>(2);
  expect_error(b, StatusCode::kInvalidModel, "duplicate metadata key 'k'");
  Bytes t;
  t.header(0, 1).str("k").put<uint32_t>(99).put<uint32_t>(1);
  expect_error(t, StatusCode::kInvalidModel, "unknown value type 99");
  Bytes a;
  a.header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(3);
  expect_error(a, StatusCode::kInvalidModel, "power of two");
  Bytes bo;
  bo.header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2);
  expect_error(bo, StatusCode::kInvalidModel, "bool");
}

TEST(GgufReader, DeeplyNestedArraysRejected) {
  Bytes b;
  b.header(0, 1).str("k").put<uint32_t>(9);
  for (int i = 0; i < 20; ++i) b.put<uint32_t>(9).put<uint64_t>(1);
  b.put<uint32_t>(4).put<uint64_t>(0);
  expect_error(b, StatusCode::kInvalidModel, "nested");
}

TEST(GgufReader, TruncationAtEveryByteIsAnError) {
  Writer w;
  w.set_string("general.architecture", "llama");
  w.set_strings("tok", {"a", "bb"});
  std::vector<uint8_t> data(18 * 2, 0);
  ASSERT_TRUE(w.add_tensor("w", GgmlType::kQ4_0, {64}, data).ok());
  std::vector<uint8_t> bytes = w.to_bytes();
  ASSERT_TRUE(File::parse(bytes.data(), bytes.size()).ok());
  for (size_t n = 0; n + 1 < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + n);
    EXPECT_FALSE(File::parse(cut.data(), cut.size()).ok()) << n;
  }
}

TEST(GgufReader, OpenMissingFileIsIoError) {
  EXPECT_EQ(File::open("/nonexistent/x.gguf").status().code(), StatusCode::kIo);
}

TEST(GgufTypes, QuantizeRoundTripWithinStep) {
  std::vector<float> x(512);
  for (int i = 0; i < 512; ++i) x[i] = std::sin(i * 0.37f) * (1 + (i % 7));
  for (const char* name : {"f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"}) {
    GgmlType t = *parse_type(name);
    std::vector<uint8_t> q(row_bytes(t, 512));
    ASSERT_TRUE(quantize(t, x.data(), q.data(), 512).ok());
    std::vector<float> y(512);
    ASSERT_TRUE(dequantize(t, q.data(), y.data(), 512).ok());
    double err = 0, ref = 0;
    for (int i = 0; i < 512; ++i) err += (x[i] - y[i]) * (x[i] - y[i]), ref += x[i] * x[i];
    const double rel = std::sqrt(err / ref);
    const double bound = name[0] == 'f' || name[0] == 'b' ? 0.005 : name[1] == '4' ? 0.12 : name[1] == '8' ? 0.01 : 0.06;
    EXPECT_LT(rel, bound) << name;
  }
  EXPECT_FALSE(parse_type("q3_z").ok());
  float dummy[31] = {};
  uint8_t out[64];
  EXPECT_EQ(quantize(GgmlType::kQ4_0, dummy, out, 31).code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace pare::gguf
