// The blocked channel layout pare keeps between oneDNN ops (passes/convert_layout_blocked.cc):
// a plain [N, C, spatial…] tensor is stored as [N, ⌈C/b⌉, spatial…, b] with channel
// c = cb·b + j at [n, cb, s…, j]; the channels past C (padding) hold zeros when made here and
// are ignored by every consumer (convolution weights are zero there, LayoutToPlain drops them).
// This is oneDNN's nChw16c / nCdhw8c… format, so oneDNN kernels use such tensors directly.
#pragma once

#include "core/tensor.h"

namespace pare::ops {

// Plain → blocked; `x` of rank ≥ 3, any fixed-size dtype.
Result<Tensor> to_blocked(const Tensor& x, int64_t block, Allocator* allocator = nullptr);
// Blocked → plain with `channels` channels (≤ ⌈C/b⌉·b).
Result<Tensor> to_plain(const Tensor& x, int64_t channels, Allocator* allocator = nullptr);

}  // namespace pare::ops
