// com.pare.LayoutToBlocked(X; block) and com.pare.LayoutToPlain(X; channels): conversions
// between the plain and the blocked channel layout (ops/fused/blocked.h).
#include "ops/fused/blocked.h"

#include <cstring>

#include "ops/grad/gradient.h"
#include "ops/kernel.h"

namespace pare::ops {

namespace {

// Bytes of one element, or 0 for strings / packed types.
size_t element_bytes(DataType dt) {
  if (dt == DataType::kString) return 0;
  return dtype_size(dt);
}

}  // namespace

Result<Tensor> to_blocked(const Tensor& x, int64_t block, Allocator* allocator) {
  const size_t es = element_bytes(x.dtype());
  if (x.rank() < 3 || block < 1 || es == 0) return invalid_input("cannot block {} by {}", x.type_string(), block);
  const int64_t n = x.dim(0), c = x.dim(1), cb = (c + block - 1) / block;
  const int64_t sp = x.numel() / std::max<int64_t>(n * c, 1);
  Shape ys{n, cb};
  ys.insert(ys.end(), x.shape().begin() + 2, x.shape().end());
  ys.push_back(block);
  PARE_ASSIGN_OR_RETURN(Tensor y, Tensor::create(x.dtype(), ys, allocator));
  const auto* px = static_cast<const uint8_t*>(x.raw_data());
  auto* py = static_cast<uint8_t*>(y.raw_data());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t b = ch / block, j = ch % block;
      const uint8_t* src = px + ((i * c + ch) * sp) * es;
      uint8_t* dst = py + (((i * cb + b) * sp) * block + j) * es;
      for (int64_t s = 0; s < sp; ++s) std::memcpy(dst + s * block * es, src + s * es, es);
    }
  }
  return y;
}

Result<Tensor> to_plain(const Tensor& x, int64_t channels, Allocator* allocator) {
  const size_t es = element_bytes(x.dtype());
  if (x.rank() < 4 || es == 0) return invalid_input("{} is not a blocked tensor", x.type_string());
  const int64_t n = x.dim(0), cb = x.dim(1), block = x.dim(x.rank() - 1);
  if (channels < 0 || channels > cb * block || channels <= (cb - 1) * block) {
    return invalid_input("blocked tensor {} cannot hold {} channels", x.type_string(), channels);
  }
  Shape ys{n, channels};
  ys.insert(ys.end(), x.shape().begin() + 2, x.shape().end() - 1);
  PARE_ASSIGN_OR_RETURN(Tensor y, Tensor::create(x.dtype(), ys, allocator));
  const int64_t sp = y.numel() / std::max<int64_t>(n * channels, 1);
  const auto* px = static_cast<const uint8_t*>(x.raw_data());
  auto* py = static_cast<uint8_t*>(y.raw_data());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < channels; ++ch) {
      const int64_t b = ch / block, j = ch % block;
      const uint8_t* src = px + (((i * cb + b) * sp) * block + j) * es;
      uint8_t* dst = py + ((i * channels + ch) * sp) * es;
      for (int64_t s = 0; s < sp; ++s) std::memcpy(dst + s * es, src + s * block * es, es);
    }
  }
  return y;
}

namespace {

Status run_to_blocked(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  const int64_t block = ctx.node().attr_int("block", 16);
  if (block < 1 || block > 64) return ctx.error("block {} outside [1, 64]", block);
  PARE_ASSIGN_OR_RETURN(Tensor y, to_blocked(*x, block));
  ctx.set_output(0, RunValue(std::move(y)));
  return ok_status();
}

Status run_to_plain(KernelContext& ctx) {
  PARE_ASSIGN_OR_RETURN(const Tensor* x, ctx.required_input(0));
  PARE_ASSIGN_OR_RETURN(Tensor y, to_plain(*x, ctx.node().attr_int("channels", -1)));
  ctx.set_output(0, RunValue(std::move(y)));
  return ok_status();
}

}  // namespace

void register_LayoutToBlocked(KernelRegistry& r) {
  add_fn<run_to_blocked>(r, "LayoutToBlocked", 1, kMaxOpset, kPareDomain);
}
void register_LayoutToPlain(KernelRegistry& r) { add_fn<run_to_plain>(r, "LayoutToPlain", 1, kMaxOpset, kPareDomain); }

}  // namespace pare::ops
