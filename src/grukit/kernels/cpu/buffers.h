// Large buffers for the fused kernels: reused between calls and backed by huge pages.
//
// glibc serves allocations above 32 MB with a fresh mmap, so every call would page-fault
// (and zero) its outputs and saved activations again: at (B, T, H) = (64, 200, 512) that
// is hundreds of MB per training step. Buffers from here come back to a small pool when
// their tensor dies and are advised as transparent huge pages (this machine's THP mode is
// "madvise": nothing is huge unless asked for). The pool holds at most 1 GiB (counted in
// the real, huge-page-rounded sizes), frees what has not been reused for 30 s at its next
// use, and grukit.kernels.release_buffers() empties it.
#pragma once

#include <torch/extension.h>

#include <sys/mman.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>

namespace grukit {

class BufferPool {
 public:
  static constexpr size_t kHugePage = size_t(2) << 20;
  static constexpr size_t kSmallest = size_t(1) << 20;   // below this: ordinary allocation
  static constexpr size_t kCacheLimit = size_t(1) << 30;  // most bytes kept (real sizes)
  static constexpr double kIdleSeconds = 30;  // a buffer unused this long is freed

  // A buffer of at least `bytes` and its capacity: the smallest kept one that fits and is
  // at most twice the size rounded to huge pages (shapes that vary a little reuse the same
  // buffers), else a new one.
  std::pair<void*, size_t> take(size_t bytes) {
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      free_idle();
      auto found = free_.lower_bound(rounded);
      if (found != free_.end() && found->first <= 2 * rounded) {
        const auto [capacity, kept] = *found;
        free_.erase(found);
        cached_ -= capacity;
        return {kept.buffer, capacity};
      }
    }
    void* buffer = std::aligned_alloc(kHugePage, rounded);
    TORCH_CHECK(buffer != nullptr, "grukit: out of memory allocating ", bytes, " bytes");
    madvise(buffer, rounded, MADV_HUGEPAGE);
    return {buffer, rounded};
  }

  // Keep a buffer for reuse; beyond kCacheLimit the largest kept ones are freed.
  void give(void* buffer, size_t capacity) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.emplace(capacity, Kept{buffer, Clock::now()});
    cached_ += capacity;
    while (cached_ > kCacheLimit) free_entry(std::prev(free_.end()));
    free_idle();
  }

  // Free every kept buffer (grukit.kernels.release_buffers()); returns the bytes freed.
  size_t release() {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t freed = cached_;
    while (!free_.empty()) free_entry(free_.begin());
    return freed;
  }

  size_t cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Kept {
    void* buffer;
    Clock::time_point since;
  };
  using Map = std::multimap<size_t, Kept>;

  // Free a kept buffer; returns the entry after it.
  Map::iterator free_entry(Map::iterator entry) {
    std::free(entry->second.buffer);
    cached_ -= entry->first;
    return free_.erase(entry);
  }

  void free_idle() {
    const auto now = Clock::now();
    for (auto entry = free_.begin(); entry != free_.end();) {
      const double idle = std::chrono::duration<double>(now - entry->second.since).count();
      entry = idle > kIdleSeconds ? free_entry(entry) : std::next(entry);
    }
  }

  std::mutex mutex_;
  Map free_;  // capacity -> kept buffer, ordered for best fit
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
  const auto [buffer, capacity] = buffer_pool().take(bytes);
  return at::from_blob(
      buffer, sizes, [capacity = capacity](void* data) { buffer_pool().give(data, capacity); },
      options);
}

}  // namespace grukit
