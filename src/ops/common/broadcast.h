// Numpy-style multidirectional broadcasting for reference kernels: walks the output in
// row-major order and yields, for each element, the offset into every input.
#pragma once

#include <vector>

#include "core/shape.h"
#include "core/status.h"

namespace pare::ops {

// Output shape of broadcasting all `shapes` together; error lists them.
Result<Shape> broadcast_all(const std::vector<Shape>& shapes);

class BroadcastIterator {
 public:
  // `out` must be the broadcast of `ins` (see broadcast_all).
  BroadcastIterator(const Shape& out, const std::vector<Shape>& ins);

  // f(int64_t out_index, const int64_t* in_offsets) for every output element.
  template <typename F>
  void run(F&& f) const {
    const size_t n_in = strides_.size();
    const size_t rank = out_.size();
    int64_t total = 1;
    for (int64_t d : out_) total *= d;
    if (total == 0) return;
    std::vector<int64_t> idx(rank, 0), off(n_in, 0);
    const int64_t inner = rank ? out_[rank - 1] : 1;
    std::vector<int64_t> inner_stride(n_in, 0);
    for (size_t k = 0; k < n_in; ++k) inner_stride[k] = rank ? strides_[k][rank - 1] : 0;
    std::vector<int64_t> cur(n_in);
    for (int64_t o = 0; o < total; o += inner) {
      for (size_t k = 0; k < n_in; ++k) cur[k] = off[k];
      for (int64_t j = 0; j < inner; ++j) {
        f(o + j, cur.data());
        for (size_t k = 0; k < n_in; ++k) cur[k] += inner_stride[k];
      }
      // advance the outer index (all dims but the last)
      for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
        if (++idx[d] < out_[d]) {
          for (size_t k = 0; k < n_in; ++k) off[k] += strides_[k][d];
          break;
        }
        for (size_t k = 0; k < n_in; ++k) off[k] -= strides_[k][d] * (out_[d] - 1);
        idx[d] = 0;
      }
    }
  }

 private:
  Shape out_;
  std::vector<std::vector<int64_t>> strides_;  // per input, per output dim; 0 where broadcast
};

}  // namespace pare::ops
