#include "core/buffer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace pare {

Result<std::shared_ptr<AlignedBuffer>> AlignedBuffer::create(size_t bytes) {
  if (bytes > kMaxAllocationBytes) {
    return resource_exhausted("allocation of {} bytes exceeds the {} byte limit", bytes,
                              kMaxAllocationBytes);
  }
  std::shared_ptr<AlignedBuffer> b(new AlignedBuffer());
  size_t rounded = (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
  if (rounded == 0) rounded = kTensorAlignment;
  // Large buffers (weights, packed weights, big activations) are placed on 2 MiB boundaries and
  // advised for transparent huge pages: kernels stream them whole, and with 4 KiB pages every
  // 4 KiB costs a TLB miss (the system default here is THP only where advised).
  constexpr size_t kHuge = size_t{2} << 20;
  const bool huge = rounded >= 2 * kHuge;
  if (huge) rounded = (rounded + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(huge ? kHuge : kTensorAlignment, rounded);
  if (p == nullptr) return resource_exhausted("out of memory allocating {} bytes", bytes);
  if (huge) ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only
  std::memset(p, 0, rounded);
  b->data_ = p;
  b->size_ = bytes;
  return b;
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

StringBuffer::StringBuffer(size_t count) : strings_(new std::string[count > 0 ? count : 1]) {
  data_ = strings_.get();
  size_ = count * sizeof(std::string);
}

StringBuffer::~StringBuffer() = default;

Result<std::shared_ptr<MappedFile>> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error("'{}' is not a regular file", path);
  }
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ > 0) {
    void* addr = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      ::close(fd);
      return io_error("cannot map '{}': {}", path, std::strerror(errno));
    }
    f->addr_ = addr;
  }
  ::close(fd);
  return f;
}

MappedFile::~MappedFile() {
  if (addr_ != nullptr) ::munmap(addr_, size_);
}

MappedBuffer::MappedBuffer(std::shared_ptr<MappedFile> file, size_t offset, size_t length)
    : file_(std::move(file)) {
  data_ = const_cast<uint8_t*>(file_->data()) + offset;
  size_ = length;
}

ViewBuffer::ViewBuffer(std::shared_ptr<void> owner, void* data, size_t size)
    : owner_(std::move(owner)) {
  data_ = data;
  size_ = size;
}

}  // namespace pare
