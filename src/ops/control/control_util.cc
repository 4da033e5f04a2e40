#include "ops/control/control_util.h"

#include <cstring>

namespace pare::ops {

Result<const ir::Graph*> control_graph_attr(const ir::Node& node, const char* name) {
  const ir::Attribute* a = node.attr(name);
  if (a == nullptr || a->type != ir::AttrType::kGraph || !a->g) {
    return invalid_model("{}: missing graph attribute '{}'", node.describe(), name);
  }
  return a->g.get();
}

Status control_copy_elements(Tensor& dst, int64_t dst_at, const Tensor& src, int64_t src_at,
                             int64_t count) {
  if (dst.dtype() != src.dtype()) {
    return invalid_input("cannot copy {} elements into {}", src.type_string(), dst.type_string());
  }
  if (dst.dtype() == DataType::kInt4 || dst.dtype() == DataType::kUInt4) {
    return unsupported("packed {} tensors cannot be sliced", dtype_name(dst.dtype()));
  }
  if (count < 0 || dst_at < 0 || src_at < 0 || dst_at + count > dst.numel() ||
      src_at + count > src.numel()) {
    return internal_error("element copy out of range ({} from {} into {})", count,
                          src.type_string(), dst.type_string());
  }
  if (count == 0) return ok_status();
  if (dst.dtype() == DataType::kString) {
    const std::string* s = src.data<std::string>() + src_at;
    std::string* d = dst.data<std::string>() + dst_at;
    for (int64_t i = 0; i < count; ++i) d[i] = s[i];
    return ok_status();
  }
  const size_t es = dtype_size(dst.dtype());
  std::memcpy(static_cast<uint8_t*>(dst.raw_data()) + dst_at * es,
              static_cast<const uint8_t*>(src.raw_data()) + src_at * es, count * es);
  return ok_status();
}

Result<Tensor> control_slice_axis0(const Tensor& x, int64_t index) {
  if (x.rank() < 1 || index < 0 || index >= x.dim(0)) {
    return internal_error("slice {} of {} out of range", index, x.type_string());
  }
  Shape s(x.shape().begin() + 1, x.shape().end());
  PARE_ASSIGN_OR_RETURN(Tensor out, Tensor::create(x.dtype(), s));
  PARE_RETURN_IF_ERROR(control_copy_elements(out, 0, x, index * out.numel(), out.numel()));
  return out;
}

Result<Shape> control_static_shape(const ir::Value& v, const std::string& what) {
  const ir::TypeInfo& t = v.type();
  if (t.kind == ir::TypeInfo::Kind::kTensor && t.shape) {
    Shape s;
    for (const ir::Dim& d : *t.shape) {
      if (!d.known()) break;
      s.push_back(d.value);
    }
    if (s.size() == t.shape->size()) return s;
  }
  return invalid_input("{}: no iteration ran and the body output '{}' has no static shape", what,
                       v.name());
}

}  // namespace pare::ops
