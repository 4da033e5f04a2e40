// Shapes are plain vectors of non-negative extents; helpers check for overflow because
// extents come from untrusted files and requests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace pare {

using Shape = std::vector<int64_t>;

// Upper bound on the element count of any tensor pare creates (2^40): a product beyond it
// is treated as overflow, long before int64 wraps.
inline constexpr int64_t kMaxElements = int64_t{1} << 40;

// Product of extents; kInvalidModel/kInvalidInput-free: returns -1 when an extent is negative
// or the product exceeds kMaxElements.
int64_t shape_numel_checked(const Shape& shape);
// Same, as a Result naming `what` in the error.
Result<int64_t> shape_numel(const Shape& shape, const std::string& what);
// Product without checks, for shapes already validated.
int64_t shape_numel_unchecked(const Shape& shape);
// Row-major strides in elements.
std::vector<int64_t> shape_strides(const Shape& shape);
// "[2, 3, 4]".
std::string shape_to_string(const Shape& shape);
// Numpy-style broadcast of two shapes; error names both shapes.
Result<Shape> broadcast_shapes(const Shape& a, const Shape& b);
// Normalizes an axis in [-rank, rank) to [0, rank); error names `what`.
Result<int64_t> normalize_axis(int64_t axis, int64_t rank, const std::string& what);

}  // namespace pare
