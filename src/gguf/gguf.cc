#include "gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <limits>

namespace pare::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;

// Bounds-checked little-endian reader over the file bytes.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  size_t pos() const { return pos_; }
  size_t left() const { return n_ - pos_; }
  template <typename T>
  Status read(T* v, const char* what) {
    if (left() < sizeof(T)) return invalid_model("gguf: file ends inside {} at byte {}", what, pos_);
    std::memcpy(v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return ok_status();
  }
  Status read_string(std::string* s, const char* what) {
    uint64_t len = 0;
    PARE_RETURN_IF_ERROR(read(&len, what));
    if (len > left()) return invalid_model("gguf: {} length {} at byte {} runs past the end of the file ({} bytes left)", what, len, pos_ - 8, left());
    s->assign(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return ok_status();
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::kU8: case ValueType::kI8: case ValueType::kBool: return 1;
    case ValueType::kU16: case ValueType::kI16: return 2;
    case ValueType::kU32: case ValueType::kI32: case ValueType::kF32: return 4;
    case ValueType::kU64: case ValueType::kI64: case ValueType::kF64: return 8;
    case ValueType::kString: return 8;   // at least the length
    case ValueType::kArray: return 12;   // at least type + count
  }
  return 0;
}

bool valid_value_type(uint32_t t) { return t <= 12; }

Status read_value(Cursor& c, ValueType t, Value* v, const std::string& key, int depth);

Status read_scalar(Cursor& c, ValueType t, Value* v, const std::string& key) {
  v->type = t;
  switch (t) {
    case ValueType::kU8: { uint8_t x = 0; PARE_RETURN_IF_ERROR(c.read(&x, "a u8 value")); v->u = x; v->i = x; break; }
    case ValueType::kI8: { int8_t x = 0; PARE_RETURN_IF_ERROR(c.read(&x, "an i8 value")); v->i = x; break; }
    case ValueType::kU16: { uint16_t x = 0; PARE_RETURN_IF_ERROR(c.read(&x, "a u16 value")); v->u = x; v->i = x; break; }
    case ValueType::kI16: { int16_t x = 0; PARE_RETURN_IF_ERROR(c.read(&x, "an i16 value")); v->i = x; break; }
    case ValueType::kU32: { uint32_t x = 0; PARE_RETURN_IF_ERROR(c.read(&x, "a u32 value")); v->u = x; v->i = x; break; }
    case ValueType::kI32: { int32_t x = 0; PARE_RETURN_IF_ERROR(c.read(&x, "an i32 value")); v->i = x; break; }
    case ValueType::kU64: { uint64_t x = 0; PARE_RETURN_IF_ERROR(c.read(&x, "a u64 value")); v->u = x; v->i = static_cast<int64_t>(x); break; }
    case ValueType::kI64: { int64_t x = 0; PARE_RETURN_IF_ERROR(c.read(&x, "an i64 value")); v->i = x; break; }
    case ValueType::kF32: { float x = 0; PARE_RETURN_IF_ERROR(c.read(&x, "an f32 value")); v->f = x; break; }
    case ValueType::kF64: { double x = 0; PARE_RETURN_IF_ERROR(c.read(&x, "an f64 value")); v->f = x; break; }
    case ValueType::kBool: {
      uint8_t x = 0;
      PARE_RETURN_IF_ERROR(c.read(&x, "a bool value"));
      if (x > 1) return invalid_model("gguf: key '{}': bool value {} is neither 0 nor 1", key, x);
      v->u = x;
      v->i = x;
      break;
    }
    case ValueType::kString: return c.read_string(&v->str, "a string value");
    default: return internal_error("read_scalar on array");
  }
  return ok_status();
}

Status read_value(Cursor& c, ValueType t, Value* v, const std::string& key, int depth) {
  if (t != ValueType::kArray) return read_scalar(c, t, v, key);
  if (depth >= kMaxArrayDepth) return invalid_model("gguf: key '{}': arrays nested deeper than {}", key, kMaxArrayDepth);
  v->type = ValueType::kArray;
  uint32_t et = 0;
  uint64_t count = 0;
  PARE_RETURN_IF_ERROR(c.read(&et, "an array element type"));
  if (!valid_value_type(et)) return invalid_model("gguf: key '{}': unknown array element type {}", key, et);
  PARE_RETURN_IF_ERROR(c.read(&count, "an array length"));
  v->elem = static_cast<ValueType>(et);
  const size_t min_size = scalar_size(v->elem);
  if (count > c.left() / min_size)
    return invalid_model("gguf: key '{}': array of {} {} values runs past the end of the file ({} bytes left)", key, count, value_type_name(v->elem), c.left());
  Value e;
  for (uint64_t k = 0; k < count; ++k) {
    if (v->elem == ValueType::kArray) {
      Value nested;
      PARE_RETURN_IF_ERROR(read_value(c, ValueType::kArray, &nested, key, depth + 1));
      if (k == 0) v->arrays.reserve(count);
      v->arrays.push_back(std::move(nested));
      continue;
    }
    PARE_RETURN_IF_ERROR(read_scalar(c, v->elem, &e, key));
    switch (v->elem) {
      case ValueType::kString:
        if (k == 0) v->strings.reserve(count);
        v->strings.push_back(std::move(e.str));
        break;
      case ValueType::kF32: case ValueType::kF64:
        if (k == 0) v->floats.reserve(count);
        v->floats.push_back(e.f);
        break;
      case ValueType::kU64:
        if (k == 0) v->uints.reserve(count);
        v->uints.push_back(e.u);
        [[fallthrough]];
      default:
        if (k == 0) v->ints.reserve(count);
        v->ints.push_back(e.i);
    }
  }
  return ok_status();
}

}  // namespace

const char* value_type_name(ValueType t) {
  static const char* const kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  const uint32_t i = static_cast<uint32_t>(t);
  return i <= 12 ? kNames[i] : "unknown";
}

bool Value::is_integer() const {
  return type != ValueType::kF32 && type != ValueType::kF64 && type != ValueType::kString && type != ValueType::kArray;
}
int64_t Value::as_int() const { return is_float() ? static_cast<int64_t>(f) : i; }
double Value::as_double() const { return is_float() ? f : type == ValueType::kU64 ? static_cast<double>(u) : static_cast<double>(i); }
size_t Value::array_size() const {
  switch (elem) {
    case ValueType::kString: return strings.size();
    case ValueType::kF32: case ValueType::kF64: return floats.size();
    case ValueType::kArray: return arrays.size();
    default: return ints.size();
  }
}

std::string Value::to_short_string() const {
  switch (type) {
    case ValueType::kString: return str.size() > 60 ? fmt::format("\"{}…\" ({} bytes)", str.substr(0, 60), str.size()) : fmt::format("\"{}\"", str);
    case ValueType::kF32: case ValueType::kF64: return fmt::format("{}", f);
    case ValueType::kBool: return u ? "true" : "false";
    case ValueType::kU64: return fmt::format("{}", u);
    case ValueType::kArray: {
      std::string s = fmt::format("[{} × {}]", array_size(), value_type_name(elem));
      if (elem == ValueType::kString && !strings.empty()) s += fmt::format(" \"{}\", …", strings[0].substr(0, 20));
      return s;
    }
    default: return fmt::format("{}", i);
  }
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

Result<std::shared_ptr<File>> File::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error("'{}' is not a regular file", path);
  }
  std::shared_ptr<File> f(new File());
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ > 0) {
    void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      return io_error("cannot map '{}': {}", path, std::strerror(errno));
    }
    f->data_ = static_cast<const uint8_t*>(p);
    f->mapped_ = true;
  }
  ::close(fd);
  Status s = f->parse_all();
  if (!s.ok()) return s.with_context(fmt::format("while reading {}", path));
  return f;
}

Result<std::shared_ptr<File>> File::parse(const uint8_t* data, size_t size) {
  std::shared_ptr<File> f(new File());
  f->data_ = data;
  f->size_ = size;
  PARE_RETURN_IF_ERROR(f->parse_all());
  return f;
}

File::~File() {
  if (mapped_) munmap(const_cast<uint8_t*>(data_), size_);
}

Status File::parse_all() {
  Cursor c(data_, size_);
  uint32_t magic = 0;
  PARE_RETURN_IF_ERROR(c.read(&magic, "the magic"));
  if (magic != kMagic) return invalid_model("gguf: bad magic 0x{:08x} (expected \"GGUF\")", magic);
  PARE_RETURN_IF_ERROR(c.read(&version_, "the version"));
  if (version_ != 2 && version_ != 3) return unsupported("gguf: version {} (pare reads versions 2 and 3)", version_);
  uint64_t n_tensors = 0, n_kv = 0;
  PARE_RETURN_IF_ERROR(c.read(&n_tensors, "the tensor count"));
  PARE_RETURN_IF_ERROR(c.read(&n_kv, "the metadata count"));
  if (n_kv > c.left() / 12) return invalid_model("gguf: metadata count {} exceeds what the file can hold", n_kv);
  if (n_tensors > c.left() / 24) return invalid_model("gguf: tensor count {} exceeds what the file can hold", n_tensors);

  kv_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    PARE_RETURN_IF_ERROR(c.read_string(&key, "a metadata key"));
    uint32_t t = 0;
    PARE_RETURN_IF_ERROR(c.read(&t, "a metadata value type"));
    if (!valid_value_type(t)) return invalid_model("gguf: key '{}': unknown value type {}", key, t);
    Value v;
    PARE_RETURN_IF_ERROR(read_value(c, static_cast<ValueType>(t), &v, key, 0));
    if (kv_index_.count(key)) return invalid_model("gguf: duplicate metadata key '{}'", key);
    kv_index_[key] = kv_.size();
    kv_.emplace_back(std::move(key), std::move(v));
  }
  if (const Value* a = find("general.alignment")) {
    if (a->type != ValueType::kU32) return invalid_model("gguf: general.alignment must be u32, got {}", value_type_name(a->type));
    if (a->u == 0 || (a->u & (a->u - 1))) return invalid_model("gguf: general.alignment {} is not a power of two", a->u);
    alignment_ = a->u;
  }

  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo ti;
    PARE_RETURN_IF_ERROR(c.read_string(&ti.name, "a tensor name"));
    uint32_t n_dims = 0;
    PARE_RETURN_IF_ERROR(c.read(&n_dims, "a tensor rank"));
    if (n_dims > kMaxDims) return invalid_model("gguf: tensor '{}' has {} dims (at most {})", ti.name, n_dims, kMaxDims);
    int64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t e = 0;
      PARE_RETURN_IF_ERROR(c.read(&e, "a tensor dim"));
      if (e > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return invalid_model("gguf: tensor '{}' dim {} is {} (negative as int64)", ti.name, d, e);
      if (__builtin_mul_overflow(n, static_cast<int64_t>(e), &n))
        return invalid_model("gguf: tensor '{}': the product of its dims overflows int64", ti.name);
      ti.ne.push_back(static_cast<int64_t>(e));
    }
    uint32_t type = 0;
    PARE_RETURN_IF_ERROR(c.read(&type, "a tensor type"));
    const TypeTraits* tr = type_traits(type);
    if (!tr) return invalid_model("gguf: tensor '{}' has unknown type id {}", ti.name, type);
    ti.type = static_cast<GgmlType>(type);
    PARE_RETURN_IF_ERROR(c.read(&ti.offset, "a tensor offset"));
    const int64_t ne0 = ti.ne.empty() ? 1 : ti.ne[0];
    if (ne0 % tr->block) return invalid_model("gguf: tensor '{}': row of {} values is not a multiple of the {} block size {}", ti.name, ne0, tr->name, tr->block);
    int64_t nbytes;
    if (__builtin_mul_overflow(n / tr->block, tr->bytes, &nbytes))
      return invalid_model("gguf: tensor '{}': byte size overflows int64", ti.name);
    ti.nbytes = static_cast<uint64_t>(nbytes);
    if (ti.offset % alignment_) return invalid_model("gguf: tensor '{}' offset {} is not a multiple of the alignment {}", ti.name, ti.offset, alignment_);
    if (tensor_index_.count(ti.name)) return invalid_model("gguf: duplicate tensor name '{}'", ti.name);
    tensor_index_[ti.name] = tensors_.size();
    tensors_.push_back(std::move(ti));
  }
  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (n_tensors > 0 && data_offset_ > size_) return invalid_model("gguf: tensor data section starts at {} past the end of the file ({} bytes)", data_offset_, size_);
  const uint64_t avail = size_ > data_offset_ ? size_ - data_offset_ : 0;
  for (TensorInfo& ti : tensors_) {
    if (ti.offset > avail || ti.nbytes > avail - ti.offset)
      return invalid_model("gguf: tensor '{}' data [{}, {}) lies beyond the end of the file (data section holds {} bytes)", ti.name, ti.offset, ti.offset + ti.nbytes, avail);
    ti.data = data_ + data_offset_ + ti.offset;
  }
  return ok_status();
}

void File::drop_pages(const uint8_t* p, size_t n) const {
  if (!mapped_ || p < data_ || p + n > data_ + size_) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

const Value* File::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* File::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::string> File::get_string(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return invalid_model("gguf: missing required metadata '{}'", key);
  if (v->type != ValueType::kString) return invalid_model("gguf: metadata '{}' is {}, expected string", key, value_type_name(v->type));
  return v->str;
}
Result<int64_t> File::get_int(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return invalid_model("gguf: missing required metadata '{}'", key);
  if (!v->is_integer()) return invalid_model("gguf: metadata '{}' is {}, expected an integer", key, value_type_name(v->type));
  return v->as_int();
}
Result<double> File::get_float(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return invalid_model("gguf: missing required metadata '{}'", key);
  if (!v->is_integer() && !v->is_float()) return invalid_model("gguf: metadata '{}' is {}, expected a number", key, value_type_name(v->type));
  return v->as_double();
}
int64_t File::get_int_or(const std::string& key, int64_t dflt) const {
  const Value* v = find(key);
  return v && v->is_integer() ? v->as_int() : dflt;
}
double File::get_float_or(const std::string& key, double dflt) const {
  const Value* v = find(key);
  return v && (v->is_integer() || v->is_float()) ? v->as_double() : dflt;
}
std::string File::get_string_or(const std::string& key, const std::string& dflt) const {
  const Value* v = find(key);
  return v && v->type == ValueType::kString ? v->str : dflt;
}

// ---- writer ----

void Writer::set(const std::string& key, Value v) {
  for (auto& kv : kv_)
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  kv_.emplace_back(key, std::move(v));
}
void Writer::set_string(const std::string& key, const std::string& s) {
  Value v;
  v.type = ValueType::kString;
  v.str = s;
  set(key, std::move(v));
}
void Writer::set_u32(const std::string& key, uint32_t x) {
  Value v;
  v.type = ValueType::kU32;
  v.u = x;
  v.i = x;
  set(key, std::move(v));
}
void Writer::set_i32(const std::string& key, int32_t x) {
  Value v;
  v.type = ValueType::kI32;
  v.i = x;
  set(key, std::move(v));
}
void Writer::set_f32(const std::string& key, float x) {
  Value v;
  v.type = ValueType::kF32;
  v.f = x;
  set(key, std::move(v));
}
void Writer::set_bool(const std::string& key, bool x) {
  Value v;
  v.type = ValueType::kBool;
  v.u = x;
  v.i = x;
  set(key, std::move(v));
}
void Writer::set_strings(const std::string& key, std::vector<std::string> s) {
  Value v;
  v.type = ValueType::kArray;
  v.elem = ValueType::kString;
  v.strings = std::move(s);
  set(key, std::move(v));
}
void Writer::set_f32s(const std::string& key, const std::vector<float>& s) {
  Value v;
  v.type = ValueType::kArray;
  v.elem = ValueType::kF32;
  v.floats.assign(s.begin(), s.end());
  set(key, std::move(v));
}
void Writer::set_i32s(const std::string& key, const std::vector<int32_t>& s) {
  Value v;
  v.type = ValueType::kArray;
  v.elem = ValueType::kI32;
  v.ints.assign(s.begin(), s.end());
  set(key, std::move(v));
}

Status Writer::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, std::vector<uint8_t> bytes) {
  const TypeTraits* tr = type_traits(static_cast<uint32_t>(type));
  if (!tr) return invalid_input("gguf writer: tensor '{}' has unknown type", name);
  if (ne.empty() || ne.size() > kMaxDims) return invalid_input("gguf writer: tensor '{}' needs 1 to 4 dims", name);
  if (ne[0] % tr->block) return invalid_input("gguf writer: tensor '{}' row {} is not a multiple of the {} block", name, ne[0], tr->name);
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  if (static_cast<int64_t>(bytes.size()) != n / tr->block * tr->bytes)
    return invalid_input("gguf writer: tensor '{}' has {} bytes, {} {} values need {}", name, bytes.size(), n, tr->name, n / tr->block * tr->bytes);
  tensors_.push_back({name, type, std::move(ne), std::move(bytes)});
  return ok_status();
}

namespace {
template <typename T>
void put(std::vector<uint8_t>& o, T v) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
  o.insert(o.end(), p, p + sizeof(T));
}
void put_string(std::vector<uint8_t>& o, const std::string& s) {
  put<uint64_t>(o, s.size());
  o.insert(o.end(), s.begin(), s.end());
}
void put_scalar(std::vector<uint8_t>& o, ValueType t, const Value& v, size_t k, bool in_array) {
  const int64_t i = in_array ? (k < v.ints.size() ? v.ints[k] : 0) : v.i;
  const uint64_t u = in_array ? (k < v.uints.size() ? v.uints[k] : static_cast<uint64_t>(i)) : v.u;
  const double f = in_array ? (k < v.floats.size() ? v.floats[k] : 0) : v.f;
  switch (t) {
    case ValueType::kU8: put<uint8_t>(o, static_cast<uint8_t>(i)); break;
    case ValueType::kI8: put<int8_t>(o, static_cast<int8_t>(i)); break;
    case ValueType::kU16: put<uint16_t>(o, static_cast<uint16_t>(i)); break;
    case ValueType::kI16: put<int16_t>(o, static_cast<int16_t>(i)); break;
    case ValueType::kU32: put<uint32_t>(o, static_cast<uint32_t>(in_array ? i : static_cast<int64_t>(u))); break;
    case ValueType::kI32: put<int32_t>(o, static_cast<int32_t>(i)); break;
    case ValueType::kU64: put<uint64_t>(o, u); break;
    case ValueType::kI64: put<int64_t>(o, i); break;
    case ValueType::kF32: put<float>(o, static_cast<float>(f)); break;
    case ValueType::kF64: put<double>(o, f); break;
    case ValueType::kBool: put<uint8_t>(o, (in_array ? i : static_cast<int64_t>(v.u)) ? 1 : 0); break;
    case ValueType::kString: put_string(o, in_array ? v.strings[k] : v.str); break;
    case ValueType::kArray: break;
  }
}
void put_value(std::vector<uint8_t>& o, const Value& v) {
  if (v.type != ValueType::kArray) return put_scalar(o, v.type, v, 0, false);
  put<uint32_t>(o, static_cast<uint32_t>(v.elem));
  put<uint64_t>(o, v.array_size());
  for (size_t k = 0; k < v.array_size(); ++k) {
    if (v.elem == ValueType::kArray) put_value(o, v.arrays[k]);
    else put_scalar(o, v.elem, v, k, true);
  }
}
}  // namespace

std::vector<uint8_t> Writer::to_bytes() const {
  std::vector<uint8_t> o;
  put<uint32_t>(o, kMagic);
  put<uint32_t>(o, 3);
  put<uint64_t>(o, tensors_.size());
  put<uint64_t>(o, kv_.size());
  for (const auto& [k, v] : kv_) {
    put_string(o, k);
    put<uint32_t>(o, static_cast<uint32_t>(v.type));
    put_value(o, v);
  }
  uint64_t off = 0;
  std::vector<uint64_t> offsets;
  for (const T& t : tensors_) {
    put_string(o, t.name);
    put<uint32_t>(o, t.ne.size());
    for (int64_t d : t.ne) put<uint64_t>(o, d);
    put<uint32_t>(o, static_cast<uint32_t>(t.type));
    put<uint64_t>(o, off);
    offsets.push_back(off);
    off = (off + t.bytes.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  o.resize((o.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  const size_t base = o.size();
  for (size_t k = 0; k < tensors_.size(); ++k) {
    o.resize(base + offsets[k], 0);
    o.insert(o.end(), tensors_[k].bytes.begin(), tensors_[k].bytes.end());
  }
  return o;
}

Status Writer::write(const std::string& path) const {
  std::vector<uint8_t> bytes = to_bytes();
  std::ofstream f(path, std::ios::binary);
  if (!f) return io_error("cannot write '{}'", path);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) return io_error("write to '{}' failed", path);
  return ok_status();
}

}  // namespace pare::gguf
