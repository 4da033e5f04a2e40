// Tensor: a dtype, a shape and shared storage (contiguous, row-major). Copying a Tensor
// shares the storage; clone() copies the elements. A default Tensor is "undefined" (no dtype).
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "core/status.h"

namespace pare {

class Tensor {
 public:
  Tensor() = default;

  // Allocates zero-filled storage; errors on negative extents, overflow or a huge request.
  static Result<Tensor> create(DataType dtype, Shape shape, Allocator* allocator = nullptr);
  // For a producer that writes every element: with an allocator, its bytes are not zero-filled.
  static Result<Tensor> create_uninitialized(DataType dtype, Shape shape, Allocator* allocator);
  // A tensor over existing storage; `buffer` must hold offset + the tensor's bytes.
  static Result<Tensor> view(DataType dtype, Shape shape, std::shared_ptr<Buffer> buffer,
                             size_t offset = 0);
  // Convenience for tests and constants.
  template <typename T>
  static Tensor from_vector(const Shape& shape, const std::vector<T>& values);
  template <typename T>
  static Tensor scalar(T value) {
    return from_vector<T>({}, {value});
  }

  bool defined() const { return dtype_ != DataType::kUndefined; }
  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return dtype_storage_bytes(dtype_, static_cast<size_t>(numel_)); }
  const std::shared_ptr<Buffer>& buffer() const { return buffer_; }

  void* raw_data() { return buffer_ ? static_cast<uint8_t*>(buffer_->data()) + offset_ : nullptr; }
  const void* raw_data() const {
    return buffer_ ? static_cast<const uint8_t*>(buffer_->data()) + offset_ : nullptr;
  }
  template <typename T>
  T* data() {
    return static_cast<T*>(raw_data());
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(raw_data());
  }

  // Same storage, new shape with the same element count.
  Result<Tensor> reshaped(Shape shape) const;
  // Deep copy.
  Result<Tensor> clone() const;
  // "float[1, 3, 224, 224]".
  std::string type_string() const;

  // Reads element i of an integer or float tensor as int64 / double (for shape inputs,
  // scalars, attributes as tensors). Caller checks the index.
  int64_t int_at(int64_t i) const;
  double float_at(int64_t i) const;
  // All elements as int64 (the tensor must be integer-typed); error names `what`.
  Result<std::vector<int64_t>> to_int64_vector(const std::string& what) const;

 private:
  DataType dtype_ = DataType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<Buffer> buffer_;
  size_t offset_ = 0;
};

// Copies `count` elements of any dtype (strings included, not packed int4) from src at element
// `from` to dst at element `to`. The caller has checked dtypes and bounds.
void copy_elements(const Tensor& src, int64_t from, Tensor& dst, int64_t to, int64_t count = 1);

template <typename T>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<T>& values) {
  Tensor t = create(dtype_of<T>(), shape).value();
  if constexpr (std::is_same_v<T, bool>) {
    for (size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i];
  } else if constexpr (std::is_same_v<T, std::string>) {
    for (size_t i = 0; i < values.size(); ++i) t.data<std::string>()[i] = values[i];
  } else {
    std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  }
  return t;
}

}  // namespace pare
