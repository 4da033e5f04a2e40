// Shared oneDNN plumbing: one CPU engine and stream for the process, plain-layout memory
// descriptors for pare's row-major tensors, and errors turned into Status (oneDNN throws
// dnnl::error; exceptions stop at this module's edge, STYLE.md).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <mutex>
#include <unordered_map>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace pare::kernels::onednn {

dnnl::engine& engine();
// A stream per thread (streams are not thread-safe; sessions may run concurrently).
dnnl::stream& stream();

// Attributes every pare primitive is created with: a user-managed scratchpad. oneDNN's default
// (library-managed) scratchpad belongs to the thread that created the primitive, so a session
// planned on one thread crashed when run on another; execute() passes a per-thread buffer.
dnnl::primitive_attr scratchpad_attr(dnnl::primitive_attr attr = {});
// Runs `prim` (made from `pd`) on this thread's stream with its scratchpad, and waits.
void execute(const dnnl::primitive& prim, const dnnl::primitive_desc_base& pd, std::unordered_map<int, dnnl::memory> args);
// A reorder src → dst created with scratchpad_attr, run with execute().
void reorder(const dnnl::memory& src, const dnnl::memory& dst);
// Weights `user` reordered into layout `to`, in new storage that `storage` keeps (uint8 tensor);
// returns the memory over that storage.
Result<dnnl::memory> pack(const dnnl::memory& user, const dnnl::memory::desc& to, Tensor& storage);
// A 64-byte-aligned buffer of at least `bytes`, owned by this thread and kept (grown) between
// calls; one per `slot`, so a kernel may hold one while execute() uses the scratchpad's.
enum class ThreadBuffer { kScratchpad, kIntermediate };
void* thread_buffer(ThreadBuffer slot, size_t bytes);

// Convolution implementation choice by measurement. time_conv: one run of a primitive made from
// `pd` on zero data as warm-up, then timed runs, in ms (the arithmetic does not depend on
// the values; best of three). fastest_conv: oneDNN lists several implementations for most convolutions
// (brgemm-based, direct JIT, 1x1-specific, depthwise …) and takes the first that applies; which
// is fastest depends on the shape, so the first `max_tried` non-reference ones are timed with
// the calling thread's OpenMP threads and the fastest kept.
double time_conv(const dnnl::convolution_forward::primitive_desc& pd);
dnnl::convolution_forward::primitive_desc fastest_conv(const dnnl::convolution_forward::desc& desc, const dnnl::primitive_attr& attr,
                                                       int max_tried = 4);

// Whether node `n` may write its output over input value `v`'s buffer: v is an intermediate
// (not a graph input, output or constant) and every other consumer of v is an ancestor of n,
// so it has run before n in any execution order (a residual block's input: read by the
// block's first convolution, then added by its last). Callers still check at run time that
// nobody else holds the buffer. Ancestors are searched up to a bounded depth; beyond it, no.
bool may_overwrite_input(const ir::Node& n, const ir::Value* v);

dnnl::memory::dims to_dims(const Shape& s);
// Plain row-major descriptor (abc.., i.e. nchw / oihw / goihw by rank).
dnnl::memory::desc plain_desc(const Shape& s, dnnl::memory::data_type dt = dnnl::memory::data_type::f32);
// Descriptor of plain dims `s` ([N, C, spatial…]) stored in pare's blocked layout with `block`
// channels per block (ops/fused/blocked.h: nCw16c / nChw16c / nCdhw16c, or 8c); block 0: plain.
dnnl::memory::desc layout_desc(const Shape& s, int64_t block);
// Plain [N, C, spatial…] dims of a tensor of shape `stored` in that layout.
Shape plain_dims(const Shape& stored, int64_t channels, int64_t block);

// Runs `f`, mapping a dnnl::error to kInternal/kUnsupported with `what` as context.
template <typename F>
Status guarded(const char* what, F&& f) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    if (e.status == dnnl_unimplemented) return unsupported("{}: oneDNN has no implementation ({})", what, e.what());
    return internal_error("{}: oneDNN error: {}", what, e.what());
  } catch (const std::exception& e) {
    return internal_error("{}: {}", what, e.what());
  }
}

}  // namespace pare::kernels::onednn
