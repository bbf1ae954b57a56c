// Large buffers for the fused kernels: reused between calls and backed by huge pages.
//
// glibc serves allocations above 32 MB with a fresh mmap, so every call would page-fault
// (and zero) its outputs and saved activations again: at (B, T, H) = (64, 200, 512) that
// is hundreds of MB per training step. Buffers from here come back to a small pool when
// their tensor dies and are advised as transparent huge pages (this machine's THP mode is
// "madvise": nothing is huge unless asked for).
#pragma once

#include <torch/extension.h>

#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace grukit {

class BufferPool {
 public:
  static constexpr size_t kHugePage = size_t(2) << 20;
  static constexpr size_t kSmallest = size_t(1) << 20;   // below this: ordinary allocation
  static constexpr size_t kCacheLimit = size_t(1) << 30;  // most bytes kept for reuse

  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto found = free_.find(bytes);
      if (found != free_.end()) {
        void* buffer = found->second;
        free_.erase(found);
        cached_ -= bytes;
        return buffer;
      }
    }
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* buffer = std::aligned_alloc(kHugePage, rounded);
    TORCH_CHECK(buffer != nullptr, "grukit: out of memory allocating ", bytes, " bytes");
    madvise(buffer, rounded, MADV_HUGEPAGE);
    return buffer;
  }

  void give(void* buffer, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + bytes > kCacheLimit) {
      std::free(buffer);
      return;
    }
    free_.emplace(bytes, buffer);
    cached_ += bytes;
  }

 private:
  std::mutex mutex_;
  std::unordered_multimap<size_t, void*> free_;
  size_t cached_ = 0;
};

// Never destroyed: tensors may outlive static destruction at exit.
inline BufferPool& buffer_pool() {
  static BufferPool* pool = new BufferPool();
  return *pool;
}

// at::empty, from the pool when large.
inline at::Tensor allocate(at::IntArrayRef sizes, const at::TensorOptions& options) {
  size_t bytes = c10::elementSize(c10::typeMetaToScalarType(options.dtype()));
  for (auto size : sizes) bytes *= static_cast<size_t>(size);
  if (bytes < BufferPool::kSmallest) return at::empty(sizes, options);
  void* buffer = buffer_pool().take(bytes);
  return at::from_blob(
      buffer, sizes, [bytes](void* data) { buffer_pool().give(data, bytes); }, options);
}

}  // namespace grukit
