// SPDX-License-Identifier: MIT
#include "extent_source.h"

#include <errno.h>
#include <sys/mman.h>

#include <algorithm>
#include <type_traits>

#include "fork_guard.h"
#include "libshm/libshm.h"

namespace libshm::internal {
namespace {

constexpr size_t kPage = 4096;

}  // namespace

ExtentSource::ExtentSource(size_t max_bytes, uint64_t owner_generation) noexcept
    : hooks_{Alloc, Dalloc, Destroy, Commit, Decommit, PurgeLazy, PurgeForced, Split, Merge},
      max_bytes_(max_bytes),
      owner_generation_(owner_generation) {}

ExtentSource* ExtentSource::From(extent_hooks_t* hooks) noexcept {
  // jemalloc passes back the pointer it was given, which is &hooks_, the
  // first member of a standard-layout object.
  static_assert(std::is_standard_layout_v<ExtentSource>);
  return reinterpret_cast<ExtentSource*>(hooks);
}

bool ExtentSource::IsOwner() const noexcept { return ForkGeneration() == owner_generation_; }

void* ExtentSource::MapRegion(size_t size, size_t alignment) noexcept {
  alignment = std::max(alignment, kPage);
  if (size == 0 || size % kPage != 0 || (alignment & (alignment - 1)) != 0 ||
      size > SIZE_MAX - alignment) {
    last_map_error_.store(-EINVAL, std::memory_order_relaxed);
    return nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    int rc = 0;
    if (num_regions_ + maps_in_flight_ >= kMaxRegions) rc = -ENOMEM;
    if (max_bytes_ != 0 && (size > max_bytes_ || mapped_bytes_ > max_bytes_ - size)) rc = -ENOMEM;
    if (rc != 0) {
      last_map_error_.store(rc, std::memory_order_relaxed);
      return nullptr;
    }
    // Counted before the map so that concurrent maps can pass neither the
    // cap nor the table's size.
    mapped_bytes_ += size;
    maps_in_flight_++;
  }
  void* addr = nullptr;
  int rc;
  if (alignment == kPage) {
    rc = libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &addr);
  } else {
    // libshm_map has no alignment argument: reserve a larger range, trim it
    // to the aligned part, and map the region over that part with MAP_FIXED
    // (which replaces the reservation atomically, so no other thread can
    // take the address in between).
    size_t span = size + alignment - kPage;
    void* r = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) {
      rc = -ENOMEM;
    } else {
      uintptr_t base = reinterpret_cast<uintptr_t>(r);
      uintptr_t aligned = (base + alignment - 1) & ~(alignment - 1);
      if (aligned > base) munmap(r, aligned - base);
      if (base + span > aligned + size) {
        munmap(reinterpret_cast<void*>(aligned + size), base + span - aligned - size);
      }
      rc = libshm_map(reinterpret_cast<void*>(aligned), size, PROT_READ | PROT_WRITE, MAP_FIXED,
                      &addr);
      if (rc != 0) munmap(reinterpret_cast<void*>(aligned), size);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  maps_in_flight_--;
  if (rc != 0) {
    mapped_bytes_ -= size;
    last_map_error_.store(rc, std::memory_order_relaxed);
    return nullptr;
  }
  Region region = {reinterpret_cast<uintptr_t>(addr), reinterpret_cast<uintptr_t>(addr) + size};
  Region* pos =
      std::upper_bound(regions_, regions_ + num_regions_, region,
                       [](const Region& a, const Region& b) { return a.start < b.start; });
  std::move_backward(pos, regions_ + num_regions_, regions_ + num_regions_ + 1);
  *pos = region;
  num_regions_++;
  return addr;
}

bool ExtentSource::SameRegion(uintptr_t a, uintptr_t b_last) const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  const Region* end = regions_ + num_regions_;
  const Region* r =
      std::upper_bound(regions_, end, a, [](uintptr_t v, const Region& x) { return v < x.start; });
  if (r == regions_) return false;
  --r;
  return a < r->end && b_last >= r->start && b_last < r->end;
}

void ExtentSource::Release() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < num_regions_; i++) {
    libshm_unmap(reinterpret_cast<void*>(regions_[i].start), regions_[i].end - regions_[i].start);
  }
  num_regions_ = 0;
  mapped_bytes_ = 0;
}

uint64_t ExtentSource::regions() const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<uint64_t>(num_regions_);
}

uint64_t ExtentSource::mapped_bytes() const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  return mapped_bytes_;
}

// The hooks. jemalloc's convention: a bool hook returns false on success and
// true to refuse (jemalloc then falls back to another operation).

void* ExtentSource::Alloc(extent_hooks_t* hooks, void* new_addr, size_t size, size_t alignment,
                          bool* zero, bool* commit, unsigned) {
  ExtentSource* self = From(hooks);
  // new_addr asks to grow an extent in place; a region cannot grow (the
  // kernel's own shared anonymous memory cannot either), so refuse.
  if (new_addr != nullptr || !self->IsOwner()) return nullptr;
  void* p = self->MapRegion(size, alignment);
  if (p != nullptr) {
    *zero = true;  // a fresh region reads zero
    *commit = true;
  }
  return p;
}

bool ExtentSource::Dalloc(extent_hooks_t*, void*, size_t, bool, unsigned) {
  // Refused, as jemalloc's default hooks do under opt.retain: jemalloc keeps
  // the extent for reuse after purging it, and Release() unmaps regions.
  return true;
}

void ExtentSource::Destroy(extent_hooks_t*, void*, size_t, bool, unsigned) {
  // Called for retained extents when the arena is destroyed; the whole
  // regions are unmapped by Release() right after.
}

bool ExtentSource::Commit(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) {
  return false;  // managed memory is always committed
}

bool ExtentSource::Decommit(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) {
  // Refused: jemalloc then purges with PurgeForced, which frees the same
  // memory and leaves the extent committed (so no Commit is ever needed).
  return true;
}

bool ExtentSource::PurgeLazy(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) {
  // MADV_FREE does not apply to shared memory (madvise(2): EINVAL), and
  // MADV_DONTNEED would keep the data in the region. Refused: jemalloc
  // purges with PurgeForced instead.
  return true;
}

bool ExtentSource::PurgeForced(extent_hooks_t* hooks, void* addr, size_t, size_t offset,
                               size_t length, unsigned) {
  ExtentSource* self = From(hooks);
  // A forked child must never discard the owner's pages.
  if (!self->IsOwner()) return true;
  // Through libshm_madvise, not madvise: the helper then discards the swap
  // copies too (a raw MADV_REMOVE of a swapped-out page would bring the old
  // data back, docs/design.md).
  if (libshm_madvise(static_cast<char*>(addr) + offset, length, MADV_REMOVE) != 0) return true;
  self->purged_bytes_.fetch_add(length, std::memory_order_relaxed);
  return false;  // the range now reads zero, as jemalloc expects
}

bool ExtentSource::Split(extent_hooks_t*, void*, size_t, size_t, size_t, bool, unsigned) {
  return false;  // extents never cross regions, so any split stays inside one
}

bool ExtentSource::Merge(extent_hooks_t* hooks, void* addr_a, size_t, void* addr_b, size_t size_b,
                         bool, unsigned) {
  // Two regions may be adjacent in the address space by chance; an extent
  // across them would make a later purge span two regions, so refuse.
  uintptr_t b_last = reinterpret_cast<uintptr_t>(addr_b) + size_b - 1;
  return !From(hooks)->SameRegion(reinterpret_cast<uintptr_t>(addr_a), b_last);
}

}  // namespace libshm::internal
