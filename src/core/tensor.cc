#include "core/tensor.h"

#include "core/dispatch.h"

#include <algorithm>

namespace pare {

void copy_elements(const Tensor& src, int64_t from, Tensor& dst, int64_t to, int64_t count) {
  if (count <= 0) return;
  if (src.dtype() == DataType::kString) {
    std::copy_n(src.data<std::string>() + from, count, dst.data<std::string>() + to);
    return;
  }
  const size_t es = dtype_size(src.dtype());
  std::memcpy(static_cast<uint8_t*>(dst.raw_data()) + to * es,
              static_cast<const uint8_t*>(src.raw_data()) + from * es, static_cast<size_t>(count) * es);
}

Result<Tensor> Tensor::create(DataType dtype, Shape shape, Allocator* allocator) {
  if (dtype == DataType::kUndefined) return invalid_input("cannot create a tensor of undefined type");
  PARE_ASSIGN_OR_RETURN(int64_t n, shape_numel(shape, "tensor"));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  if (dtype == DataType::kString) {
    if (static_cast<uint64_t>(n) * sizeof(std::string) > kMaxAllocationBytes) {
      return resource_exhausted("string tensor of {} elements is too large", n);
    }
    t.buffer_ = std::make_shared<StringBuffer>(static_cast<size_t>(n));
  } else {
    if (allocator != nullptr) {
      PARE_ASSIGN_OR_RETURN(t.buffer_, allocator->allocate(t.nbytes()));
    } else {
      PARE_ASSIGN_OR_RETURN(t.buffer_, AlignedBuffer::create(t.nbytes()));
    }
  }
  return t;
}

Result<Tensor> Tensor::create_uninitialized(DataType dtype, Shape shape, Allocator* allocator) {
  if (allocator == nullptr || dtype == DataType::kString || dtype == DataType::kUndefined) return create(dtype, std::move(shape), allocator);
  PARE_ASSIGN_OR_RETURN(int64_t n, shape_numel(shape, "tensor"));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  PARE_ASSIGN_OR_RETURN(t.buffer_, allocator->allocate_uninitialized(t.nbytes()));
  return t;
}

Result<Tensor> Tensor::view(DataType dtype, Shape shape, std::shared_ptr<Buffer> buffer,
                            size_t offset) {
  PARE_ASSIGN_OR_RETURN(int64_t n, shape_numel(shape, "tensor view"));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  size_t need = t.nbytes();
  if (!buffer || offset > buffer->size() || buffer->size() - offset < need) {
    return invalid_input("tensor view of {} bytes does not fit its storage", need);
  }
  t.buffer_ = std::move(buffer);
  t.offset_ = offset;
  return t;
}

Result<Tensor> Tensor::reshaped(Shape shape) const {
  PARE_ASSIGN_OR_RETURN(int64_t n, shape_numel(shape, "reshape"));
  if (n != numel_) {
    return invalid_input("cannot reshape {} to {}", type_string(), shape_to_string(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Result<Tensor> Tensor::clone() const {
  PARE_ASSIGN_OR_RETURN(Tensor t, create(dtype_, shape_));
  if (dtype_ == DataType::kString) {
    for (int64_t i = 0; i < numel_; ++i) t.data<std::string>()[i] = data<std::string>()[i];
  } else if (numel_ > 0) {
    std::memcpy(t.raw_data(), raw_data(), nbytes());
  }
  return t;
}

std::string Tensor::type_string() const {
  return std::string(dtype_name(dtype_)) + shape_to_string(shape_);
}

int64_t Tensor::int_at(int64_t i) const {
  int64_t v = 0;
  dispatch_numeric(dtype_, [&]<typename T>() { v = static_cast<int64_t>(compute_t<T>(data<T>()[i])); });
  return v;
}

double Tensor::float_at(int64_t i) const {
  double v = 0;
  dispatch_numeric(dtype_, [&]<typename T>() { v = static_cast<double>(compute_t<T>(data<T>()[i])); });
  return v;
}

Result<std::vector<int64_t>> Tensor::to_int64_vector(const std::string& what) const {
  if (!dtype_is_integer(dtype_)) {
    return invalid_input("{}: expected an integer tensor, got {}", what, type_string());
  }
  std::vector<int64_t> out(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) out[i] = int_at(i);
  return out;
}

}  // namespace pare
