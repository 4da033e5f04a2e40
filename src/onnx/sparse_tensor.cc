// SparseTensorProto (graph.sparse_initializer) ⇄ dense Tensor. Loading validates the untrusted
// proto: values 1-D [NNZ]; indices int64, either linear [NNZ] or coordinates [NNZ, rank], each in
// range and strictly ascending (the ONNX spec's order; a repeat is reported as a duplicate);
// counts consistent. Saving writes linear int64 indices (what ONNX's checker requires).
#include <cstring>

#include "onnx/onnx.h"
#include "onnx/tensor_proto.h"

namespace pare::onnx {

Result<Tensor> tensor_from_sparse_proto(const ::onnx::SparseTensorProto& sp, const std::string& base_dir) {
  const std::string& name = sp.values().name();
  if (!sp.has_values() || name.empty()) return invalid_model("a sparse initializer has no named values tensor");
  Shape shape(sp.dims().begin(), sp.dims().end());
  for (int64_t d : shape) {
    if (d < 0) return invalid_model("sparse initializer '{}': negative dimension {} in {}", name, d, shape_to_string(shape));
  }
  PARE_ASSIGN_OR_RETURN(const int64_t numel, shape_numel(shape, "sparse initializer '" + name + "'"));
  PARE_ASSIGN_OR_RETURN(Tensor values, tensor_from_proto(sp.values(), base_dir));
  if (values.rank() != 1) {
    return invalid_model("sparse initializer '{}': values must be 1-D [NNZ], got shape {}", name, shape_to_string(values.shape()));
  }
  const DataType dt = values.dtype();
  if (dt == DataType::kString || dt == DataType::kInt4 || dt == DataType::kUInt4 || dtype_size(dt) == 0) {
    return unsupported("sparse initializer '{}': values of type {} are not supported", name, dtype_name(dt));
  }
  const int64_t nnz = values.dim(0);
  if (nnz > numel) return invalid_model("sparse initializer '{}': {} values for a shape {} of {} elements", name, nnz, shape_to_string(shape), numel);
  Tensor idx;
  if (sp.has_indices()) {
    PARE_ASSIGN_OR_RETURN(idx, tensor_from_proto(sp.indices(), base_dir));
  } else if (nnz > 0) {
    return invalid_model("sparse initializer '{}': {} values but no indices", name, nnz);
  }
  const int64_t rank = static_cast<int64_t>(shape.size());
  bool linear = true;
  if (idx.defined()) {
    if (idx.dtype() != DataType::kInt64) return invalid_model("sparse initializer '{}': indices must be int64, got {}", name, dtype_name(idx.dtype()));
    if (idx.rank() == 1 && idx.dim(0) == nnz) {
      linear = true;
    } else if (idx.rank() == 2 && idx.dim(0) == nnz && idx.dim(1) == rank) {
      linear = false;
    } else {
      return invalid_model("sparse initializer '{}': {} values need indices [{}] or [{}, {}], got {}", name, nnz, nnz, nnz, rank,
                           shape_to_string(idx.shape()));
    }
  }
  auto created = Tensor::create(dt, shape);
  if (!created.ok()) return created.status().with_context("sparse initializer '" + name + "'");
  Tensor dense = std::move(created).value();
  const size_t es = dtype_size(dt);
  const auto* src = static_cast<const uint8_t*>(values.raw_data());
  auto* dst = static_cast<uint8_t*>(dense.raw_data());
  const int64_t* ip = nnz > 0 ? idx.data<int64_t>() : nullptr;
  int64_t prev = -1;
  for (int64_t i = 0; i < nnz; ++i) {
    int64_t at = 0;
    if (linear) {
      at = ip[i];
      if (at < 0 || at >= numel) return invalid_model("sparse initializer '{}': index {} (entry {}) is out of range for shape {}", name, at, i, shape_to_string(shape));
    } else {
      for (int64_t d = 0; d < rank; ++d) {
        const int64_t c = ip[i * rank + d];
        if (c < 0 || c >= shape[d]) {
          return invalid_model("sparse initializer '{}': coordinate {} of entry {} is {}, out of range for shape {}", name, d, i, c,
                               shape_to_string(shape));
        }
        at = at * shape[d] + c;
      }
    }
    if (at == prev) return invalid_model("sparse initializer '{}': duplicate index {} (entry {})", name, at, i);
    if (at < prev) return invalid_model("sparse initializer '{}': indices are not in ascending order at entry {}", name, i);
    prev = at;
    std::memcpy(dst + at * es, src + i * es, es);
  }
  return dense;
}

bool stores_as_sparse(const Tensor& t, const SaveOptions& options) {
  if (!options.sparse_initializers || !dtype_is_float(t.dtype()) || t.numel() < 64) return false;
  const size_t es = dtype_size(t.dtype());
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  int64_t nnz = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const uint8_t* e = p + i * es;
    bool zero = true;
    for (size_t b = 0; b < es && zero; ++b) zero = e[b] == 0;
    nnz += !zero;
  }
  const double sparsity = 1.0 - static_cast<double>(nnz) / static_cast<double>(t.numel());
  // Worth it only when smaller: each nonzero costs its value plus an 8-byte index.
  return sparsity >= options.sparse_min_sparsity &&
         static_cast<uint64_t>(nnz) * (es + 8) < static_cast<uint64_t>(t.numel()) * es;
}

Result<std::pair<Tensor, Tensor>> sparse_encode(const Tensor& t) {
  const size_t es = dtype_size(t.dtype());
  if (es == 0 || t.dtype() == DataType::kInt4 || t.dtype() == DataType::kUInt4) {
    return unsupported("a {} tensor cannot be stored sparse", dtype_name(t.dtype()));
  }
  const auto* p = static_cast<const uint8_t*>(t.raw_data());
  auto is_zero = [&](int64_t i) {
    for (size_t b = 0; b < es; ++b)
      if (p[i * es + b] != 0) return false;
    return true;
  };
  int64_t nnz = 0;
  for (int64_t i = 0; i < t.numel(); ++i) nnz += !is_zero(i);
  PARE_ASSIGN_OR_RETURN(Tensor values, Tensor::create(t.dtype(), {nnz}));
  PARE_ASSIGN_OR_RETURN(Tensor indices, Tensor::create(DataType::kInt64, {nnz}));
  auto* vp = static_cast<uint8_t*>(values.raw_data());
  int64_t* ip = indices.data<int64_t>();
  int64_t k = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (is_zero(i)) continue;
    std::memcpy(vp + k * es, p + i * es, es);
    ip[k++] = i;
  }
  return std::make_pair(std::move(values), std::move(indices));
}

}  // namespace pare::onnx
