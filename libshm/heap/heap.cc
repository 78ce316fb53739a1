// SPDX-License-Identifier: MIT
// The heap's C ABI (libshm/heap.h): one jemalloc arena per heap, created with
// the heap's ExtentSource hooks for its extents and jemalloc's default hooks
// for its metadata, used without a thread cache.
//
// Why no thread cache: a tcache holds freed objects per thread and hands
// them out again without the arena, so an object of this heap could be
// cached by a thread past libshm_heap_destroy; MALLOCX_TCACHE_NONE keeps
// every operation in the arena (whose own locks make it thread-safe).
//
// Why private metadata: jemalloc's postfork-child handler rewrites each
// arena's mutexes and counters. With the arena's metadata in a shared
// region, a forked child would rewrite them under the parent's feet.
#include "libshm/heap.h"

#include <errno.h>
#include <stdio.h>

#include <new>

#include "extent_source.h"
#include "fork_guard.h"

#if JEMALLOC_VERSION_MAJOR < 5 || (JEMALLOC_VERSION_MAJOR == 5 && JEMALLOC_VERSION_MINOR < 3)
#error "libshm_heap needs jemalloc 5.3 or later (experimental.arenas_create_ext)"
#endif

using libshm::internal::ExtentSource;

struct libshm_heap {
  libshm_heap(size_t max_bytes, uint64_t generation) noexcept
      : source(max_bytes, generation), generation(generation) {}
  ExtentSource source;
  const uint64_t generation;
  unsigned arena = 0;
  int flags = 0;  // mallocx/dallocx flags: this arena, no thread cache
};

namespace {

// jemalloc 5.3's arena_config_t (internal header arena_types.h), the input
// of "experimental.arenas_create_ext". jemalloc checks the size we pass, so
// a jemalloc whose struct differs fails with EINVAL instead of misreading.
struct ArenaConfig {
  extent_hooks_t* extent_hooks;
  bool metadata_use_hooks;
};

bool Owns(const libshm_heap* heap) {
  return libshm::internal::ForkGeneration() == heap->generation;
}

// Reports a failed allocation the way malloc does. Returns nullptr.
void* Fail(int err) {
  errno = err;
  return nullptr;
}

}  // namespace

extern "C" {

LIBSHM_EXPORT int libshm_heap_create(size_t max_bytes, libshm_heap_t** out) {
  if (out == nullptr) return -EINVAL;
  int saved = errno;
  // Start the runtime (and its helper) now rather than inside the first
  // extent hook, which jemalloc may call with its locks held.
  uint64_t limit = 0;
  size_t len = sizeof(limit);
  int rc = libshm_ctl("opt.limit", &limit, &len, nullptr, 0);
  uint64_t generation = libshm::internal::InstallForkGuard();
  if (rc == 0 && generation == 0) rc = -ENOMEM;
  libshm_heap* heap = nullptr;
  if (rc == 0) {
    heap = new (std::nothrow) libshm_heap(max_bytes, generation);
    if (heap == nullptr) rc = -ENOMEM;
  }
  if (rc == 0) {
    ArenaConfig config = {heap->source.hooks(), false};
    size_t sz = sizeof(heap->arena);
    int jrc = mallctl("experimental.arenas_create_ext", &heap->arena, &sz, &config, sizeof(config));
    if (jrc != 0) {
      // ENOENT: no such ctl; EINVAL: another arena_config_t layout.
      rc = jrc == EAGAIN ? -ENOMEM : -ENOTSUP;
      delete heap;
      heap = nullptr;
    }
  }
  if (heap != nullptr) {
    heap->flags = MALLOCX_ARENA(heap->arena) | MALLOCX_TCACHE_NONE;
    *out = heap;
  }
  errno = saved;
  return rc;
}

LIBSHM_EXPORT int libshm_heap_destroy(libshm_heap_t* heap) {
  if (heap == nullptr) return 0;
  if (!Owns(heap)) return -EPERM;
  int saved = errno;
  char name[64];
  snprintf(name, sizeof(name), "arena.%u.destroy", heap->arena);
  int jrc = mallctl(name, nullptr, nullptr, nullptr, 0);
  // The regions can go only once jemalloc has forgotten the arena; if it
  // refused, keep them (and the heap) rather than leave it dangling memory.
  if (jrc != 0) {
    errno = saved;
    return -EBUSY;
  }
  heap->source.Release();
  delete heap;
  errno = saved;
  return 0;
}

LIBSHM_EXPORT void* libshm_heap_malloc(libshm_heap_t* heap, size_t size) {
  if (heap == nullptr) return Fail(EINVAL);
  if (!Owns(heap)) return Fail(EPERM);
  // mallocx(0) is undefined in jemalloc; malloc(0) returns a unique pointer.
  void* p = mallocx(size == 0 ? 1 : size, heap->flags);
  return p != nullptr ? p : Fail(ENOMEM);
}

LIBSHM_EXPORT void* libshm_heap_calloc(libshm_heap_t* heap, size_t count, size_t size) {
  if (heap == nullptr) return Fail(EINVAL);
  if (!Owns(heap)) return Fail(EPERM);
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) return Fail(ENOMEM);
  void* p = mallocx(total == 0 ? 1 : total, heap->flags | MALLOCX_ZERO);
  return p != nullptr ? p : Fail(ENOMEM);
}

LIBSHM_EXPORT void* libshm_heap_realloc(libshm_heap_t* heap, void* ptr, size_t size) {
  if (ptr == nullptr) return libshm_heap_malloc(heap, size);
  if (heap == nullptr) return Fail(EINVAL);
  if (!Owns(heap)) return Fail(EPERM);
  if (size == 0) {
    dallocx(ptr, heap->flags);
    return nullptr;
  }
  // On failure rallocx leaves ptr untouched, as realloc must.
  void* p = rallocx(ptr, size, heap->flags);
  return p != nullptr ? p : Fail(ENOMEM);
}

LIBSHM_EXPORT void* libshm_heap_aligned_alloc(libshm_heap_t* heap, size_t alignment, size_t size) {
  if (heap == nullptr || alignment == 0 || (alignment & (alignment - 1)) != 0) {
    return Fail(EINVAL);
  }
  if (!Owns(heap)) return Fail(EPERM);
  void* p = mallocx(size == 0 ? 1 : size, heap->flags | MALLOCX_ALIGN(alignment));
  return p != nullptr ? p : Fail(ENOMEM);
}

LIBSHM_EXPORT void libshm_heap_free(libshm_heap_t* heap, void* ptr) {
  if (heap == nullptr || ptr == nullptr || !Owns(heap)) return;
  dallocx(ptr, heap->flags);
}

LIBSHM_EXPORT int libshm_heap_purge(libshm_heap_t* heap) {
  if (heap == nullptr) return -EINVAL;
  if (!Owns(heap)) return -EPERM;
  int saved = errno;
  char name[64];
  snprintf(name, sizeof(name), "arena.%u.purge", heap->arena);
  int jrc = mallctl(name, nullptr, nullptr, nullptr, 0);
  errno = saved;
  return jrc == 0 ? 0 : -EIO;
}

LIBSHM_EXPORT int libshm_heap_stats(libshm_heap_t* heap, libshm_heap_stats_t* out) {
  if (heap == nullptr || out == nullptr || out->size < sizeof(libshm_heap_stats_t)) return -EINVAL;
  int saved = errno;
  out->regions = heap->source.regions();
  out->mapped_bytes = heap->source.mapped_bytes();
  out->purged_bytes = heap->source.purged_bytes();
  out->last_map_error = heap->source.last_map_error();
  out->arena = heap->arena;
  // jemalloc's statistics are a snapshot refreshed by writing "epoch".
  uint64_t epoch = 1;
  size_t len = sizeof(epoch);
  mallctl("epoch", &epoch, &len, &epoch, len);
  out->allocated_bytes = 0;
  for (const char* kind : {"small", "large"}) {
    char name[64];
    size_t bytes = 0;
    len = sizeof(bytes);
    snprintf(name, sizeof(name), "stats.arenas.%u.%s.allocated", heap->arena, kind);
    if (mallctl(name, &bytes, &len, nullptr, 0) == 0) out->allocated_bytes += bytes;
  }
  errno = saved;
  return 0;
}

}  // extern "C"
