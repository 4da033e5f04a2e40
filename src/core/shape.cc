#include "core/shape.h"

#include <algorithm>

namespace pare {

int64_t shape_numel_checked(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d == 0) n = 0;
    else if (n > 0 && d > kMaxElements / n) return -1;
    else n *= d;
  }
  // A zero extent anywhere makes the product zero, but later extents must still be valid.
  return n;
}

Result<int64_t> shape_numel(const Shape& shape, const std::string& what) {
  int64_t n = shape_numel_checked(shape);
  if (n < 0) {
    return invalid_input("{}: shape {} has a negative extent or more than 2^40 elements", what,
                         shape_to_string(shape));
  }
  return n;
}

int64_t shape_numel_unchecked(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<int64_t> shape_strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) {
    s[i] = s[i + 1] * std::max<int64_t>(shape[i + 1], 1);
  }
  return s;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Result<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else
      return invalid_input("shapes {} and {} cannot be broadcast", shape_to_string(a),
                           shape_to_string(b));
  }
  return out;
}

Result<int64_t> normalize_axis(int64_t axis, int64_t rank, const std::string& what) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) {
    return invalid_input("{}: axis {} out of range for rank {}", what, axis, rank);
  }
  return axis < 0 ? axis + rank : axis;
}

}  // namespace pare
