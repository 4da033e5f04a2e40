// Storage behind tensors: 64-byte aligned heap memory, a view into a memory-mapped file
// (zero-copy weights), or an array of std::string. Shared by tensors that view it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/status.h"

namespace pare {

inline constexpr size_t kTensorAlignment = 64;
// Largest single allocation pare makes on behalf of a model or request (64 GiB); larger
// requests are reported as kResourceExhausted instead of being attempted.
inline constexpr size_t kMaxAllocationBytes = size_t{64} << 30;

class Buffer {
 public:
  virtual ~Buffer() = default;
  void* data() const { return data_; }
  size_t size() const { return size_; }

 protected:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Heap memory aligned to kTensorAlignment, zero-filled.
class AlignedBuffer final : public Buffer {
 public:
  static Result<std::shared_ptr<AlignedBuffer>> create(size_t bytes);
  ~AlignedBuffer() override;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

 private:
  AlignedBuffer() = default;
};

// An array of `count` strings (dtype string tensors).
class StringBuffer final : public Buffer {
 public:
  explicit StringBuffer(size_t count);
  ~StringBuffer() override;

 private:
  std::unique_ptr<std::string[]> strings_;
};

// A read-only memory-mapped file. Views (MappedBuffer) keep it alive.
class MappedFile {
 public:
  static Result<std::shared_ptr<MappedFile>> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return static_cast<const uint8_t*>(addr_); }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  void* addr_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// [offset, offset+length) of a mapped file, already bounds-checked by the creator.
class MappedBuffer final : public Buffer {
 public:
  MappedBuffer(std::shared_ptr<MappedFile> file, size_t offset, size_t length);

 private:
  std::shared_ptr<MappedFile> file_;
};

// Source of tensor storage. The default is AlignedBuffer::create; a session uses a pool so
// that steady-state runs allocate nothing (runtime/buffer_pool.h).
class Allocator {
 public:
  virtual ~Allocator() = default;
  // Zero-filled, kTensorAlignment-aligned storage of at least `bytes`.
  virtual Result<std::shared_ptr<Buffer>> allocate(size_t bytes) = 0;
  // The same without the zero fill, for a kernel that writes every byte (a pool hands back an
  // earlier tensor's bytes of this run's session; the default zero-fills anyway).
  virtual Result<std::shared_ptr<Buffer>> allocate_uninitialized(size_t bytes) { return allocate(bytes); }
};

// A buffer that views memory owned elsewhere (kept alive by `owner`).
class ViewBuffer final : public Buffer {
 public:
  ViewBuffer(std::shared_ptr<void> owner, void* data, size_t size);

 private:
  std::shared_ptr<void> owner_;
};

}  // namespace pare
