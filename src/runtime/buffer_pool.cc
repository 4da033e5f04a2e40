#include "runtime/buffer_pool.h"

#include <cstdlib>
#include <cstring>

namespace pare::runtime {

struct BufferPool::State {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free;  // size class → blocks
  size_t in_use = 0, peak = 0, reserved = 0, allocations = 0;
  bool closed = false;  // the pool is gone: blocks are freed, not kept

  ~State() {
    for (auto& [size, blocks] : free) {
      for (void* p : blocks) std::free(p);
    }
  }
};

namespace {

// Rounds up to a size class: 64-byte steps below 4 KiB, else 1/8 of the enclosing power of
// two (at most 12.5% slack), so buffers of nearby sizes share a class.
size_t size_class(size_t bytes) {
  if (bytes <= 4096) return std::max<size_t>((bytes + 63) / 64 * 64, 64);
  size_t p = 4096;
  while (p < bytes) p <<= 1;
  const size_t step = p / 8;
  return (bytes + step - 1) / step * step;
}

class PooledBuffer final : public Buffer {
 public:
  PooledBuffer(std::shared_ptr<BufferPool::State> state, void* p, size_t size, size_t cls)
      : state_(std::move(state)), cls_(cls) {
    data_ = p;
    size_ = size;
  }
  ~PooledBuffer() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->in_use -= cls_;
    if (state_->closed) {
      state_->reserved -= cls_;
      std::free(data_);
    } else {
      state_->free[cls_].push_back(data_);
    }
  }

 private:
  std::shared_ptr<BufferPool::State> state_;
  size_t cls_;
};

}  // namespace

BufferPool::BufferPool() : state_(std::make_shared<State>()) {}

BufferPool::~BufferPool() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->closed = true;
  for (auto& [size, blocks] : state_->free) {
    for (void* p : blocks) std::free(p);
    state_->reserved -= size * blocks.size();
  }
  state_->free.clear();
}

Result<std::shared_ptr<Buffer>> BufferPool::allocate(size_t bytes) { return take(bytes, true); }
Result<std::shared_ptr<Buffer>> BufferPool::allocate_uninitialized(size_t bytes) { return take(bytes, false); }

Result<std::shared_ptr<Buffer>> BufferPool::take(size_t bytes, bool zero) {
  if (bytes > kMaxAllocationBytes) {
    return resource_exhausted("allocation of {} bytes exceeds the {} byte limit", bytes, kMaxAllocationBytes);
  }
  const size_t cls = size_class(bytes);
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->free.find(cls);
    if (it != state_->free.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
    }
    state_->in_use += cls;
    state_->peak = std::max(state_->peak, state_->in_use);
  }
  if (p == nullptr) {
    p = std::aligned_alloc(kTensorAlignment, cls);
    std::lock_guard<std::mutex> lock(state_->mu);
    if (p == nullptr) {
      state_->in_use -= cls;
      return resource_exhausted("out of memory allocating {} bytes", bytes);
    }
    state_->reserved += cls;
    state_->allocations++;
  }
  if (zero) std::memset(p, 0, bytes);
  return std::shared_ptr<Buffer>(std::make_shared<PooledBuffer>(state_, p, bytes, cls));
}

size_t BufferPool::bytes_in_use() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->in_use;
}
size_t BufferPool::peak_bytes_in_use() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->peak;
}
size_t BufferPool::bytes_reserved() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->reserved;
}
size_t BufferPool::allocations() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->allocations;
}

}  // namespace pare::runtime
