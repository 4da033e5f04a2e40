#include "eval/dataset.h"

#include <zlib.h>

#include <cstring>
#include <filesystem>

#include "core/dispatch.h"
#include "eval/npy.h"

namespace pare::eval {
namespace fs = std::filesystem;
namespace {

// Reads a whole file, inflating gzip transparently; refuses more than `max_bytes`.
Result<std::vector<uint8_t>> read_maybe_gz(const std::string& path, size_t max_bytes) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return io_error("cannot open '{}'", path);
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      gzclose(f);
      return resource_exhausted("'{}' inflates to more than {} bytes", path, max_bytes);
    }
    out.insert(out.end(), buf, buf + n);
  }
  int err = 0;
  const char* msg = gzerror(f, &err);
  gzclose(f);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) return invalid_input("'{}' is corrupt: {}", path, msg);
  return out;
}

uint32_t be32(const uint8_t* p) { return static_cast<uint32_t>(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

Result<std::string> find_idx(const std::string& dir, const std::string& prefix, const std::string& kind) {
  for (const std::string ext : {"-ubyte.gz", "-ubyte"}) {
    for (const std::string mid : {"-idx3", "-idx1"}) {
      fs::path p = fs::path(dir) / (prefix + "-" + kind + mid + ext);
      if (fs::exists(p)) return p.string();
    }
  }
  return io_error("'{}' has no {}-{}-idx*-ubyte[.gz] file", dir, prefix, kind);
}

Status normalize(Tensor& x, const DatasetOptions& o) {
  if (o.mean.empty() && o.std.empty()) return ok_status();
  const int64_t n = x.dim(0), c = x.rank() >= 2 ? x.dim(1) : 1;
  const int64_t inner = x.numel() / std::max<int64_t>(n * c, 1);
  auto pick = [&](const std::vector<float>& v, int64_t ch, float def) -> Result<float> {
    if (v.empty()) return def;
    if (v.size() == 1) return v[0];
    if (static_cast<int64_t>(v.size()) != c) return invalid_input("{} normalization values given for {} channels", v.size(), c);
    return v[ch];
  };
  float* p = x.data<float>();
  for (int64_t ch = 0; ch < c; ++ch) {
    PARE_ASSIGN_OR_RETURN(float m, pick(o.mean, ch, 0.0f));
    PARE_ASSIGN_OR_RETURN(float s, pick(o.std, ch, 1.0f));
    if (s == 0) return invalid_input("normalization std is 0");
    for (int64_t i = 0; i < n; ++i) {
      float* q = p + (i * c + ch) * inner;
      for (int64_t k = 0; k < inner; ++k) q[k] = (q[k] - m) / s;
    }
  }
  return ok_status();
}

Result<Tensor> to_float_images(const Tensor& raw, float scale) {
  Shape shape = raw.shape();
  if (shape.size() == 3) shape.insert(shape.begin() + 1, 1);  // [N,H,W] → [N,1,H,W]
  PARE_ASSIGN_OR_RETURN(Tensor x, Tensor::create(DataType::kFloat32, shape));
  float* out = x.data<float>();
  const bool integer = dtype_is_integer(raw.dtype());
  bool ok = dispatch_numeric(raw.dtype(), [&]<typename T>() {
    const T* in = raw.data<T>();
    for (int64_t i = 0; i < raw.numel(); ++i) {
      float v = static_cast<float>(compute_t<T>(in[i]));
      out[i] = integer ? v * scale : v;
    }
  });
  if (!ok) return invalid_input("image data of type {} is not numeric", dtype_name(raw.dtype()));
  return x;
}

Result<Tensor> to_labels(const Tensor& raw, int64_t n) {
  if (raw.numel() != n) return invalid_input("{} labels for {} samples", raw.numel(), n);
  PARE_ASSIGN_OR_RETURN(Tensor y, Tensor::create(DataType::kInt64, {n}));
  if (!dtype_is_integer(raw.dtype())) return invalid_input("labels must be integers, got {}", dtype_name(raw.dtype()));
  for (int64_t i = 0; i < n; ++i) y.data<int64_t>()[i] = raw.int_at(i);
  return y;
}

Result<Tensor> take_first(const Tensor& t, int64_t limit) {
  if (limit <= 0 || limit >= t.dim(0)) return t;
  Shape s = t.shape();
  s[0] = limit;
  PARE_ASSIGN_OR_RETURN(Tensor out, Tensor::create(t.dtype(), s));
  std::memcpy(out.raw_data(), t.raw_data(), out.nbytes());
  return out;
}

}  // namespace

Result<Tensor> idx_read(const std::string& path) {
  PARE_ASSIGN_OR_RETURN(auto bytes, read_maybe_gz(path, kMaxAllocationBytes / 8));
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0) return invalid_input("'{}' is not an IDX file (bad magic)", path);
  DataType dt;
  switch (bytes[2]) {
    case 0x08: dt = DataType::kUInt8; break;
    case 0x09: dt = DataType::kInt8; break;
    case 0x0b: dt = DataType::kInt16; break;
    case 0x0c: dt = DataType::kInt32; break;
    case 0x0d: dt = DataType::kFloat32; break;
    case 0x0e: dt = DataType::kFloat64; break;
    default: return invalid_input("'{}': unknown IDX element type 0x{:02x}", path, bytes[2]);
  }
  const size_t rank = bytes[3];
  if (rank == 0 || bytes.size() < 4 + 4 * rank) return invalid_input("'{}': truncated IDX header", path);
  Shape shape;
  for (size_t i = 0; i < rank; ++i) shape.push_back(be32(bytes.data() + 4 + 4 * i));
  if (shape_numel_checked(shape) < 0) return invalid_input("'{}': IDX dims overflow", path);
  const size_t need = dtype_storage_bytes(dt, static_cast<size_t>(shape_numel_unchecked(shape)));
  const size_t off = 4 + 4 * rank;
  if (bytes.size() - off != need) {
    return invalid_input("'{}': IDX data has {} bytes, dims {} need {}", path, bytes.size() - off, shape_to_string(shape), need);
  }
  PARE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dt, shape));
  const size_t es = dtype_size(dt);
  uint8_t* out = static_cast<uint8_t*>(t.raw_data());
  for (size_t i = 0; i < need; i += es) {  // big-endian → little-endian
    for (size_t b = 0; b < es; ++b) out[i + b] = bytes[off + i + es - 1 - b];
  }
  return t;
}

Result<Dataset> load_dataset(const std::string& spec, const DatasetOptions& o) {
  Dataset d;
  Tensor raw_x, raw_y;
  if (fs::is_directory(spec)) {
    if (o.split != "test" && o.split != "train") return invalid_input("split must be 'test' or 'train', got '{}'", o.split);
    const std::string prefix = o.split == "test" ? "t10k" : "train";
    PARE_ASSIGN_OR_RETURN(std::string xp, find_idx(spec, prefix, "images"));
    PARE_ASSIGN_OR_RETURN(std::string yp, find_idx(spec, prefix, "labels"));
    PARE_ASSIGN_OR_RETURN(raw_x, idx_read(xp));
    PARE_ASSIGN_OR_RETURN(raw_y, idx_read(yp));
  } else if (spec.size() > 4 && spec.compare(spec.size() - 4, 4, ".npz") == 0) {
    PARE_ASSIGN_OR_RETURN(auto arrays, npz_read(spec));
    if (!arrays.count("x") || !arrays.count("y")) return invalid_input("'{}' must hold arrays 'x' and 'y'", spec);
    raw_x = arrays["x"];
    raw_y = arrays["y"];
  } else {
    return invalid_input("data spec '{}' is neither a folder of IDX files nor an .npz", spec);
  }
  if (raw_x.rank() < 2) return invalid_input("'{}': samples must have rank ≥ 2, got {}", spec, raw_x.type_string());
  PARE_ASSIGN_OR_RETURN(raw_x, take_first(raw_x, o.limit));
  PARE_ASSIGN_OR_RETURN(raw_y, take_first(raw_y, o.limit));
  PARE_ASSIGN_OR_RETURN(d.x, to_float_images(raw_x, o.scale));
  PARE_ASSIGN_OR_RETURN(d.y, to_labels(raw_y, d.x.dim(0)));
  PARE_RETURN_IF_ERROR(normalize(d.x, o));
  return d;
}

}  // namespace pare::eval
