// SPDX-License-Identifier: MIT
// ExtentSource: the jemalloc extent hooks of one heap. Every extent jemalloc
// asks for is a fresh managed region (libshm_map), aligned as asked; regions
// are kept until Release() so that jemalloc may split and merge inside them
// (never across two regions), and a forced purge discards pages and their
// swap copies through libshm_madvise(MADV_REMOVE).
//
// jemalloc calls the hooks from any thread that allocates in the arena, and
// concurrently: the region table is guarded by mu_. The hooks never allocate
// with malloc, because jemalloc may call them with its own locks held.
#ifndef LIBSHM_HEAP_EXTENT_SOURCE_H_
#define LIBSHM_HEAP_EXTENT_SOURCE_H_

#include <jemalloc/jemalloc.h>
#include <stddef.h>
#include <stdint.h>

#include <atomic>
#include <mutex>

namespace libshm::internal {

class ExtentSource {
 public:
  // `max_bytes` caps the bytes of regions mapped at once (0: no cap).
  // `owner_generation` is the fork generation (see fork_guard.h) of the
  // process that may change the heap's memory.
  ExtentSource(size_t max_bytes, uint64_t owner_generation) noexcept;
  ExtentSource(const ExtentSource&) = delete;
  ExtentSource& operator=(const ExtentSource&) = delete;

  // The hook table to hand to jemalloc; the hooks find this object from it.
  extent_hooks_t* hooks() noexcept { return &hooks_; }

  // Unmaps every region. pre: jemalloc no longer uses the hooks (the arena
  // is destroyed).
  void Release() noexcept;

  uint64_t regions() const noexcept;
  uint64_t mapped_bytes() const noexcept;
  uint64_t purged_bytes() const noexcept { return purged_bytes_.load(std::memory_order_relaxed); }
  int last_map_error() const noexcept { return last_map_error_.load(std::memory_order_relaxed); }

 private:
  struct Region {
    uintptr_t start;
    uintptr_t end;
  };
  // Under opt.retain (jemalloc's default on Linux) jemalloc grows its
  // regions geometrically and needs few; without it every extent is a
  // region. libshm's client keeps at most 4096 ranges per process anyway.
  static constexpr int kMaxRegions = 4096;

  static ExtentSource* From(extent_hooks_t* hooks) noexcept;
  static void* Alloc(extent_hooks_t* hooks, void* new_addr, size_t size, size_t alignment,
                     bool* zero, bool* commit, unsigned arena_ind);
  static bool Dalloc(extent_hooks_t* hooks, void* addr, size_t size, bool committed,
                     unsigned arena_ind);
  static void Destroy(extent_hooks_t* hooks, void* addr, size_t size, bool committed,
                      unsigned arena_ind);
  static bool Commit(extent_hooks_t* hooks, void* addr, size_t size, size_t offset, size_t length,
                     unsigned arena_ind);
  static bool Decommit(extent_hooks_t* hooks, void* addr, size_t size, size_t offset, size_t length,
                       unsigned arena_ind);
  static bool PurgeLazy(extent_hooks_t* hooks, void* addr, size_t size, size_t offset,
                        size_t length, unsigned arena_ind);
  static bool PurgeForced(extent_hooks_t* hooks, void* addr, size_t size, size_t offset,
                          size_t length, unsigned arena_ind);
  static bool Split(extent_hooks_t* hooks, void* addr, size_t size, size_t size_a, size_t size_b,
                    bool committed, unsigned arena_ind);
  static bool Merge(extent_hooks_t* hooks, void* addr_a, size_t size_a, void* addr_b, size_t size_b,
                    bool committed, unsigned arena_ind);

  void* MapRegion(size_t size, size_t alignment) noexcept;
  bool SameRegion(uintptr_t a, uintptr_t b_last) const noexcept;
  bool IsOwner() const noexcept;

  // First member: jemalloc hands this address back to every hook.
  extent_hooks_t hooks_;
  const size_t max_bytes_;
  const uint64_t owner_generation_;
  mutable std::mutex mu_;
  Region regions_[kMaxRegions];  // GUARDED_BY(mu_), sorted by start
  int num_regions_ = 0;          // GUARDED_BY(mu_)
  int maps_in_flight_ = 0;       // GUARDED_BY(mu_), slots reserved by MapRegion
  size_t mapped_bytes_ = 0;      // GUARDED_BY(mu_), includes maps in flight
  std::atomic<uint64_t> purged_bytes_{0};
  std::atomic<int> last_map_error_{0};
};

}  // namespace libshm::internal

#endif  // LIBSHM_HEAP_EXTENT_SOURCE_H_
