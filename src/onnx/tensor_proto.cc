#include "onnx/tensor_proto.h"

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "core/dispatch.h"

namespace pare::onnx {
namespace {

// Copies a typed repeated field into the tensor, converting each element.
template <typename T, typename Field>
Status copy_field(const Field& field, Tensor& t, const std::string& name) {
  if (static_cast<int64_t>(field.size()) != t.numel()) {
    return invalid_model("tensor '{}': has {} values but shape {} needs {}", name, field.size(),
                         shape_to_string(t.shape()), t.numel());
  }
  T* out = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = static_cast<T>(field.Get(static_cast<int>(i)));
  return ok_status();
}

// 16-bit floats in int32_data hold the raw bits.
template <typename T, typename Field>
Status copy_bits16(const Field& field, Tensor& t, const std::string& name) {
  if (static_cast<int64_t>(field.size()) != t.numel()) {
    return invalid_model("tensor '{}': has {} values but shape {} needs {}", name, field.size(),
                         shape_to_string(t.shape()), t.numel());
  }
  T* out = t.data<T>();
  for (int64_t i = 0; i < t.numel(); ++i) out[i].bits = static_cast<uint16_t>(field.Get(static_cast<int>(i)));
  return ok_status();
}

// External files stay mapped for the life of the process' tensors that view them; one
// mapping per path is shared.
Result<std::shared_ptr<MappedFile>> map_external(const std::string& path) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::weak_ptr<MappedFile>> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(path); it != cache.end()) {
    if (auto f = it->second.lock()) return f;
  }
  PARE_ASSIGN_OR_RETURN(auto f, MappedFile::open(path));
  cache[path] = f;
  return f;
}

Result<Tensor> load_external(const ::onnx::TensorProto& p, DataType dt, const Shape& shape,
                             const std::string& base_dir) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : p.external_data()) {
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset" || kv.key() == "length") {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(kv.value().c_str(), &end, 10);
      if (errno != 0 || end == kv.value().c_str() || *end != '\0' || v < 0) {
        return invalid_model("tensor '{}': external data {} '{}' is not a non-negative integer",
                             p.name(), kv.key(), kv.value());
      }
      (kv.key() == "offset" ? offset : length) = v;
    }
  }
  if (location.empty()) return invalid_model("tensor '{}': external data has no location", p.name());
  if (base_dir.empty()) {
    return invalid_model("tensor '{}': external data '{}' not allowed for a model loaded from memory",
                         p.name(), location);
  }
  PARE_ASSIGN_OR_RETURN(std::string path, resolve_external_path(base_dir, location));
  PARE_ASSIGN_OR_RETURN(auto file, map_external(path));
  PARE_ASSIGN_OR_RETURN(int64_t n, shape_numel(shape, "tensor '" + p.name() + "'"));
  const uint64_t need = dtype_storage_bytes(dt, static_cast<size_t>(n));
  if (length >= 0 && static_cast<uint64_t>(length) != need) {
    return invalid_model("tensor '{}': external data length {} but shape {} of {} needs {} bytes",
                         p.name(), length, shape_to_string(shape), dtype_name(dt), need);
  }
  if (static_cast<uint64_t>(offset) > file->size() || file->size() - offset < need) {
    return invalid_model("tensor '{}': external data [{}, {}) lies outside '{}' ({} bytes)", p.name(),
                         offset, offset + need, location, file->size());
  }
  // Aligned data is viewed in place (zero-copy); misaligned data is copied.
  if (offset % std::max<size_t>(dtype_size(dt), 1) == 0 && dt != DataType::kString) {
    auto buf = std::make_shared<MappedBuffer>(file, static_cast<size_t>(offset), need);
    return Tensor::view(dt, shape, buf, 0);
  }
  PARE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dt, shape));
  std::memcpy(t.raw_data(), file->data() + offset, need);
  return t;
}

}  // namespace

Result<std::string> resolve_external_path(const std::string& base_dir, const std::string& location) {
  namespace fs = std::filesystem;
  fs::path loc(location);
  if (location.empty() || loc.is_absolute()) {
    return invalid_model("external data location '{}' must be a relative path inside the model's "
                         "folder", location);
  }
  for (const auto& part : loc) {
    if (part == "..") {
      return invalid_model("external data location '{}' contains '..'", location);
    }
  }
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(base_dir), ec);
  if (ec) return io_error("cannot resolve model folder '{}'", base_dir);
  fs::path full = fs::weakly_canonical(base / loc, ec);
  if (ec) return io_error("cannot resolve external data '{}'", location);
  // Symlinks are resolved by weakly_canonical: the target must still be inside the folder.
  auto b = base.string(), f = full.string();
  if (f.size() <= b.size() || f.compare(0, b.size(), b) != 0 || f[b.size()] != '/') {
    return invalid_model("external data location '{}' resolves outside the model's folder", location);
  }
  return f;
}

Result<Tensor> tensor_from_proto(const ::onnx::TensorProto& p, const std::string& base_dir) {
  const std::string& name = p.name();
  if (!dtype_is_valid(p.data_type())) {
    return invalid_model("tensor '{}': unknown data type {}", name, p.data_type());
  }
  const DataType dt = static_cast<DataType>(p.data_type());
  Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape) {
    if (d < 0) return invalid_model("tensor '{}': negative dimension {} in {}", name, d, shape_to_string(shape));
  }
  if (shape_numel_checked(shape) < 0) {
    return invalid_model("tensor '{}': dims {} overflow (more than 2^40 elements)", name,
                         shape_to_string(shape));
  }
  if (p.has_data_location() && p.data_location() == ::onnx::TensorProto::EXTERNAL) {
    return load_external(p, dt, shape, base_dir);
  }
  const int64_t n = shape_numel_unchecked(shape);
  if (p.has_raw_data() && dt != DataType::kString) {
    const size_t need = dtype_storage_bytes(dt, static_cast<size_t>(n));
    if (p.raw_data().size() != need) {
      return invalid_model("tensor '{}': raw_data has {} bytes but {} of shape {} needs {}", name,
                           p.raw_data().size(), dtype_name(dt), shape_to_string(shape), need);
    }
    PARE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dt, shape));
    if (need) std::memcpy(t.raw_data(), p.raw_data().data(), need);
    return t;
  }
  // Typed fields: check the count before allocating so a lying header costs nothing.
  int64_t have = 0;
  switch (dt) {
    case DataType::kFloat32: have = p.float_data_size(); break;
    case DataType::kFloat64: have = p.double_data_size(); break;
    case DataType::kInt64: have = p.int64_data_size(); break;
    case DataType::kUInt32: case DataType::kUInt64: have = p.uint64_data_size(); break;
    case DataType::kString: have = p.string_data_size(); break;
    case DataType::kComplex64: have = p.float_data_size() / 2; break;
    case DataType::kComplex128: have = p.double_data_size() / 2; break;
    case DataType::kInt4: case DataType::kUInt4: have = p.int32_data_size() * 2; break;
    default: have = p.int32_data_size(); break;
  }
  if (have != n && !(n % 2 == 1 && (dt == DataType::kInt4 || dt == DataType::kUInt4) && have == n + 1)) {
    return invalid_model("tensor '{}': has {} values but shape {} needs {}", name, have,
                         shape_to_string(shape), n);
  }
  PARE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dt, shape));
  Status st;
  switch (dt) {
    case DataType::kFloat32: st = copy_field<float>(p.float_data(), t, name); break;
    case DataType::kFloat64: st = copy_field<double>(p.double_data(), t, name); break;
    case DataType::kInt64: st = copy_field<int64_t>(p.int64_data(), t, name); break;
    case DataType::kUInt32: st = copy_field<uint32_t>(p.uint64_data(), t, name); break;
    case DataType::kUInt64: st = copy_field<uint64_t>(p.uint64_data(), t, name); break;
    case DataType::kInt32: st = copy_field<int32_t>(p.int32_data(), t, name); break;
    case DataType::kInt16: st = copy_field<int16_t>(p.int32_data(), t, name); break;
    case DataType::kUInt16: st = copy_field<uint16_t>(p.int32_data(), t, name); break;
    case DataType::kInt8: st = copy_field<int8_t>(p.int32_data(), t, name); break;
    case DataType::kUInt8: st = copy_field<uint8_t>(p.int32_data(), t, name); break;
    case DataType::kBool: st = copy_field<bool>(p.int32_data(), t, name); break;
    case DataType::kFloat16: st = copy_bits16<Float16>(p.int32_data(), t, name); break;
    case DataType::kBFloat16: st = copy_bits16<BFloat16>(p.int32_data(), t, name); break;
    case DataType::kString:
      for (int64_t i = 0; i < n; ++i) t.data<std::string>()[i] = p.string_data(static_cast<int>(i));
      break;
    case DataType::kComplex64: {
      auto* out = t.data<std::complex<float>>();
      for (int64_t i = 0; i < n; ++i) out[i] = {p.float_data(2 * i), p.float_data(2 * i + 1)};
      break;
    }
    case DataType::kComplex128: {
      auto* out = t.data<std::complex<double>>();
      for (int64_t i = 0; i < n; ++i) out[i] = {p.double_data(2 * i), p.double_data(2 * i + 1)};
      break;
    }
    case DataType::kInt4: case DataType::kUInt4: {
      auto* out = t.data<uint8_t>();
      for (int64_t i = 0; i < (n + 1) / 2; ++i) out[i] = static_cast<uint8_t>(p.int32_data(i));
      break;
    }
    default: return unsupported("tensor '{}': data type {} not supported", name, dtype_name(dt));
  }
  PARE_RETURN_IF_ERROR(st);
  return t;
}

void tensor_to_proto(const Tensor& t, ::onnx::TensorProto* p) {
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  p->clear_dims();
  for (int64_t d : t.shape()) p->add_dims(d);
  if (t.dtype() == DataType::kString) {
    for (int64_t i = 0; i < t.numel(); ++i) p->add_string_data(t.data<std::string>()[i]);
  } else {
    p->set_raw_data(t.raw_data(), t.nbytes());
  }
}

ir::TypeInfo type_from_proto(const ::onnx::TypeProto& p) {
  ir::TypeInfo t;
  if (p.has_tensor_type()) {
    const auto& tt = p.tensor_type();
    t.kind = ir::TypeInfo::Kind::kTensor;
    t.dtype = dtype_is_valid(tt.elem_type()) ? static_cast<DataType>(tt.elem_type()) : DataType::kUndefined;
    if (tt.has_shape()) {
      std::vector<ir::Dim> dims;
      for (const auto& d : tt.shape().dim()) {
        if (d.has_dim_value() && d.dim_value() >= 0) dims.push_back(ir::Dim::of(d.dim_value()));
        else if (d.has_dim_param()) dims.push_back(ir::Dim::sym(d.dim_param()));
        else dims.push_back(ir::Dim{});
      }
      t.shape = std::move(dims);
    }
  } else if (p.has_sequence_type()) {
    t.kind = ir::TypeInfo::Kind::kSequence;
    t.elem = std::make_shared<ir::TypeInfo>(type_from_proto(p.sequence_type().elem_type()));
  } else if (p.has_optional_type()) {
    t.kind = ir::TypeInfo::Kind::kOptional;
    t.elem = std::make_shared<ir::TypeInfo>(type_from_proto(p.optional_type().elem_type()));
  }
  return t;
}

void type_to_proto(const ir::TypeInfo& t, ::onnx::TypeProto* p) {
  switch (t.kind) {
    case ir::TypeInfo::Kind::kTensor: {
      auto* tt = p->mutable_tensor_type();
      tt->set_elem_type(static_cast<int32_t>(t.dtype));
      if (t.shape) {
        auto* sh = tt->mutable_shape();
        for (const ir::Dim& d : *t.shape) {
          auto* dp = sh->add_dim();
          if (d.known()) dp->set_dim_value(d.value);
          else if (!d.symbol.empty()) dp->set_dim_param(d.symbol);
        }
      }
      break;
    }
    case ir::TypeInfo::Kind::kSequence:
      if (t.elem) type_to_proto(*t.elem, p->mutable_sequence_type()->mutable_elem_type());
      else p->mutable_sequence_type();
      break;
    case ir::TypeInfo::Kind::kOptional:
      if (t.elem) type_to_proto(*t.elem, p->mutable_optional_type()->mutable_elem_type());
      else p->mutable_optional_type();
      break;
    case ir::TypeInfo::Kind::kUnknown: break;
  }
}

}  // namespace pare::onnx
