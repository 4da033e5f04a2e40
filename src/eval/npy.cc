#include "eval/npy.h"

#include <zlib.h>

#include <cstring>
#include <fstream>
#include <regex>

namespace pare::eval {
namespace {

Result<DataType> dtype_from_descr(const std::string& d, const std::string& what) {
  static const std::map<std::string, DataType> kMap = {
      {"<f4", DataType::kFloat32}, {"<f8", DataType::kFloat64}, {"<f2", DataType::kFloat16},
      {"|i1", DataType::kInt8},    {"|u1", DataType::kUInt8},   {"<i2", DataType::kInt16},
      {"<u2", DataType::kUInt16},  {"<i4", DataType::kInt32},   {"<u4", DataType::kUInt32},
      {"<i8", DataType::kInt64},   {"<u8", DataType::kUInt64},  {"|b1", DataType::kBool},
      {"<c8", DataType::kComplex64}, {"<c16", DataType::kComplex128}};
  auto it = kMap.find(d);
  if (it == kMap.end()) return unsupported("{}: npy dtype '{}' is not supported", what, d);
  return it->second;
}

std::string descr_of(DataType t) {
  switch (t) {
    case DataType::kFloat32: return "<f4";
    case DataType::kFloat64: return "<f8";
    case DataType::kFloat16: return "<f2";
    case DataType::kInt8: return "|i1";
    case DataType::kUInt8: return "|u1";
    case DataType::kInt16: return "<i2";
    case DataType::kUInt16: return "<u2";
    case DataType::kInt32: return "<i4";
    case DataType::kUInt32: return "<u4";
    case DataType::kInt64: return "<i8";
    case DataType::kUInt64: return "<u8";
    case DataType::kBool: return "|b1";
    case DataType::kComplex64: return "<c8";
    case DataType::kComplex128: return "<c16";
    default: return "";
  }
}

uint32_t le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

}  // namespace

Result<Tensor> npy_parse(const uint8_t* data, size_t size, const std::string& what) {
  if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0) return invalid_input("{}: not a .npy file (bad magic)", what);
  const int major = data[6];
  size_t header_len, pos;
  if (major == 1) {
    header_len = le16(data + 8);
    pos = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return invalid_input("{}: truncated .npy header", what);
    header_len = le32(data + 8);
    pos = 12;
  } else {
    return unsupported("{}: .npy version {} not supported", what, major);
  }
  if (header_len > size - pos) return invalid_input("{}: truncated .npy header", what);
  const std::string header(reinterpret_cast<const char*>(data + pos), header_len);
  pos += header_len;
  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([^']*)')"))) {
    return invalid_input("{}: .npy header has no descr", what);
  }
  PARE_ASSIGN_OR_RETURN(DataType dt, dtype_from_descr(m[1].str(), what));
  if (std::regex_search(header, m, std::regex(R"('fortran_order'\s*:\s*True)"))) {
    return unsupported("{}: Fortran-ordered .npy arrays are not supported", what);
  }
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(([^)]*)\))"))) {
    return invalid_input("{}: .npy header has no shape", what);
  }
  Shape shape;
  const std::string dims = m[1].str();
  std::regex num(R"(\d+)");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it) {
    const std::string s = it->str();
    if (s.size() > 15) return invalid_input("{}: .npy dimension {} is too large", what, s);
    shape.push_back(std::stoll(s));
  }
  if (shape_numel_checked(shape) < 0) return invalid_input("{}: .npy shape {} overflows", what, shape_to_string(shape));
  const size_t need = dtype_storage_bytes(dt, static_cast<size_t>(shape_numel_unchecked(shape)));
  if (size - pos < need) {
    return invalid_input("{}: .npy data has {} bytes, shape {} needs {}", what, size - pos, shape_to_string(shape), need);
  }
  PARE_ASSIGN_OR_RETURN(Tensor t, Tensor::create(dt, shape));
  if (need) std::memcpy(t.raw_data(), data + pos, need);
  return t;
}

Result<Tensor> npy_read(const std::string& path) {
  PARE_ASSIGN_OR_RETURN(auto f, MappedFile::open(path));
  return npy_parse(f->data(), f->size(), path);
}

Status npy_write(const Tensor& t, const std::string& path) {
  const std::string descr = descr_of(t.dtype());
  if (descr.empty()) return unsupported("cannot write {} as .npy", dtype_name(t.dtype()));
  std::string shape = "(";
  for (int64_t d : t.shape()) shape += std::to_string(d) + ",";
  if (t.rank() > 1) shape.pop_back();
  shape += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad so the data starts at a multiple of 64 bytes, newline-terminated (format 1.0).
  const size_t total = ((10 + header.size() + 1 + 63) / 64) * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return io_error("cannot write '{}'", path);
  const uint16_t hl = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {static_cast<char>(hl & 0xff), static_cast<char>(hl >> 8)};
  out.write(len, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
  return out ? ok_status() : io_error("cannot write '{}'", path);
}

Result<std::map<std::string, Tensor>> npz_read(const std::string& path) {
  PARE_ASSIGN_OR_RETURN(auto f, MappedFile::open(path));
  const uint8_t* d = f->data();
  const size_t n = f->size();
  std::map<std::string, Tensor> out;
  // Walk local file headers (PK\3\4); numpy writes sizes in the local header.
  size_t pos = 0;
  while (pos + 30 <= n && le32(d + pos) == 0x04034b50u) {
    const uint16_t flags = le16(d + pos + 6), method = le16(d + pos + 8);
    uint64_t csize = le32(d + pos + 18), usize = le32(d + pos + 22);
    const uint16_t name_len = le16(d + pos + 26), extra_len = le16(d + pos + 28);
    if (pos + 30 + name_len + extra_len > n) return invalid_input("{}: truncated zip entry", path);
    std::string name(reinterpret_cast<const char*>(d + pos + 30), name_len);
    // zip64: sizes live in the extra field (id 0x0001).
    if (csize == 0xffffffffu || usize == 0xffffffffu) {
      const uint8_t* e = d + pos + 30 + name_len;
      for (size_t k = 0; k + 4 <= extra_len;) {
        uint16_t id = le16(e + k), sz = le16(e + k + 2);
        if (id == 1 && sz >= 16 && k + 4 + 16 <= extra_len) {
          uint64_t u = le32(e + k + 4) | static_cast<uint64_t>(le32(e + k + 8)) << 32;
          uint64_t c = le32(e + k + 12) | static_cast<uint64_t>(le32(e + k + 16)) << 32;
          usize = u;
          csize = c;
        }
        k += 4 + sz;
      }
    }
    if (flags & 0x8) return unsupported("{}: zip entries with data descriptors are not supported", path);
    const size_t data_pos = pos + 30 + name_len + extra_len;
    if (csize > n - data_pos) return invalid_input("{}: zip entry '{}' is truncated", path, name);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0) name.resize(name.size() - 4);
    if (method == 0) {
      PARE_ASSIGN_OR_RETURN(Tensor t, npy_parse(d + data_pos, csize, path + ":" + name));
      out[name] = std::move(t);
    } else if (method == 8) {
      if (usize > kMaxAllocationBytes) return resource_exhausted("{}: entry '{}' is too large", path, name);
      std::vector<uint8_t> buf(usize);
      z_stream zs{};
      if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return internal_error("zlib init failed");
      zs.next_in = const_cast<uint8_t*>(d + data_pos);
      zs.avail_in = static_cast<uInt>(csize);
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(usize);
      int rc = inflate(&zs, Z_FINISH);
      inflateEnd(&zs);
      if (rc != Z_STREAM_END || zs.total_out != usize) return invalid_input("{}: entry '{}' is corrupt", path, name);
      PARE_ASSIGN_OR_RETURN(Tensor t, npy_parse(buf.data(), buf.size(), path + ":" + name));
      out[name] = std::move(t);
    } else {
      return unsupported("{}: zip compression method {} not supported", path, method);
    }
    pos = data_pos + csize;
  }
  if (out.empty()) return invalid_input("{}: not an .npz archive (no arrays found)", path);
  return out;
}

}  // namespace pare::eval
