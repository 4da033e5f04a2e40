// A size-class pool of aligned buffers for a session's intermediate tensors. A tensor's
// storage returns to the pool when its last reference drops (the executor releases each
// value after its last use), so after the first run for a shape set, runs reuse memory and
// allocate nothing. Buffers handed to the caller (outputs) return when the caller drops them.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "core/buffer.h"

namespace pare::runtime {

class BufferPool final : public Allocator {
 public:
  BufferPool();
  ~BufferPool() override;
  Result<std::shared_ptr<Buffer>> allocate(size_t bytes) override;
  Result<std::shared_ptr<Buffer>> allocate_uninitialized(size_t bytes) override;

  size_t bytes_in_use() const;
  size_t peak_bytes_in_use() const;  // high-water mark of live tensor storage
  size_t bytes_reserved() const;     // held by the pool, live or free
  size_t allocations() const;        // calls that had to get new memory from the system

  struct State;  // shared with buffers, which may outlive the pool

 private:
  Result<std::shared_ptr<Buffer>> take(size_t bytes, bool zero);
  std::shared_ptr<State> state_;
};

}  // namespace pare::runtime
