#include "ops/common/broadcast.h"

namespace pare::ops {

Result<Shape> broadcast_all(const std::vector<Shape>& shapes) {
  Shape out;
  for (const Shape& s : shapes) {
    auto r = broadcast_shapes(out, s);
    if (!r.ok()) {
      std::string all;
      for (const Shape& t : shapes) all += shape_to_string(t) + " ";
      return invalid_input("shapes {}cannot be broadcast together", all);
    }
    out = std::move(r).value();
  }
  return out;
}

BroadcastIterator::BroadcastIterator(const Shape& out, const std::vector<Shape>& ins) : out_(out) {
  const size_t rank = out.size();
  for (const Shape& s : ins) {
    std::vector<int64_t> st(rank, 0);
    std::vector<int64_t> own = shape_strides(s);
    const size_t lead = rank - s.size();
    for (size_t d = 0; d < s.size(); ++d) st[lead + d] = s[d] == 1 ? 0 : own[d];
    strides_.push_back(std::move(st));
  }
}

}  // namespace pare::ops
