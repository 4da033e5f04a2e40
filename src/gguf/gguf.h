// GGUF (llama.cpp's model container), versions 2 and 3, little-endian.
//
// Layout: "GGUF" u32 version, u64 n_tensors, u64 n_kv; n_kv × (string key, u32 type, value);
// n_tensors × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset); padding to
// general.alignment (default 32); tensor data, each at data_start + offset (offset aligned).
// Strings are u64 length + bytes (no terminator); arrays are u32 element type, u64 count, values.
//
// The reader maps the file and never copies tensor data: TensorInfo::data points into the map.
// Every count, length, offset and size is checked against the bytes that remain before use, so a
// header cannot make the reader allocate or read more than the file holds.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/types.h"

namespace pare::gguf {

enum class ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* value_type_name(ValueType t);

// One metadata value. Scalars use the field of their kind; arrays keep their element type and
// values in the vector of that kind (integers and bools in ints, floats in floats, strings,
// nested arrays in arrays).
struct Value {
  ValueType type = ValueType::kU32;
  uint64_t u = 0;  // unsigned scalars and bool
  int64_t i = 0;   // signed scalars
  double f = 0;    // f32/f64
  std::string str;
  ValueType elem = ValueType::kU32;  // arrays
  std::vector<int64_t> ints;
  std::vector<uint64_t> uints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  std::vector<Value> arrays;

  bool is_integer() const;
  bool is_float() const { return type == ValueType::kF32 || type == ValueType::kF64; }
  int64_t as_int() const;    // any integer/bool type (u64 values above INT64_MAX wrap)
  double as_double() const;  // any numeric type
  size_t array_size() const;
  std::string to_short_string() const;  // for inspect: arrays abbreviated
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the contiguous (row) extent
  GgmlType type = GgmlType::kF32;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping
  int64_t n_elements() const;
  int64_t n_rows() const { return ne.empty() ? 1 : n_elements() / ne[0]; }
};

class File {
 public:
  // Maps PATH read-only and parses it.
  static Result<std::shared_ptr<File>> open(const std::string& path);
  // Parses a buffer the caller keeps alive (fuzzing, tests).
  static Result<std::shared_ptr<File>> parse(const uint8_t* data, size_t size);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  size_t file_size() const { return size_; }
  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  const Value* find(const std::string& key) const;
  const TensorInfo* tensor(const std::string& name) const;
  bool mapped() const { return mapped_; }
  // Lets the OS drop the mapped pages that lie wholly inside [P, P+N) (data that was copied
  // elsewhere, e.g. repacked weights); reading them again re-reads the file. No-op unless mapped.
  void drop_pages(const uint8_t* p, size_t n) const;
  // Typed getters: a missing key or a wrong type is an invalid-model error naming the key.
  Result<std::string> get_string(const std::string& key) const;
  Result<int64_t> get_int(const std::string& key) const;
  Result<double> get_float(const std::string& key) const;  // also accepts integers
  int64_t get_int_or(const std::string& key, int64_t dflt) const;
  double get_float_or(const std::string& key, double dflt) const;
  std::string get_string_or(const std::string& key, const std::string& dflt) const;

 private:
  File() = default;
  Status parse_all();

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// Builds a GGUF v3 file. Tensor bytes are copied in; write() lays them out aligned.
class Writer {
 public:
  void set(const std::string& key, Value v);
  void set_string(const std::string& key, const std::string& s);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_strings(const std::string& key, std::vector<std::string> v);
  void set_f32s(const std::string& key, const std::vector<float>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  // BYTES must hold exactly the size that TYPE and NE imply.
  Status add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, std::vector<uint8_t> bytes);
  Status write(const std::string& path) const;
  std::vector<uint8_t> to_bytes() const;

 private:
  std::vector<std::pair<std::string, Value>> kv_;
  struct T {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> bytes;
  };
  std::vector<T> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace pare::gguf
