/* SPDX-License-Identifier: MIT
 *
 * libshm heap: malloc on managed memory (target libshm_heap, opt-in).
 *
 * A heap is a jemalloc arena whose extents come from managed regions through
 * jemalloc's extent hooks, so a program can hold a heap far larger than the
 * session's memory limit: cold objects are evicted to the swap file like any
 * managed page. Freed memory that jemalloc purges is discarded with
 * libshm_madvise(MADV_REMOVE), which drops the pages and their swap copies.
 * jemalloc's own metadata for the arena stays in ordinary private memory.
 *
 * Linking libshm_heap links Debian's jemalloc, which is not prefixed: it
 * becomes the process's malloc. That is why the heap is a separate library
 * that a program chooses; libshm itself and the preload shim never link it.
 *
 * Fork: the heap's regions are shared with forked children like any managed
 * region, so a child reads and writes the objects that existed at fork. Only
 * the process that created the heap allocates and frees in it (the
 * allocator's bookkeeping is private to that process): in a forked child,
 * allocation fails with EPERM and free, purge and destroy do nothing.
 *
 * The heap keeps the address space and swap reservation of its regions until
 * libshm_heap_destroy (like jemalloc's opt.retain); purged pages cost neither
 * memory nor swap-file data. Thread-safe: any thread may call any function.
 * No function throws or leaves an exception; none changes errno except the
 * allocation functions, which set it on failure as malloc does.
 */
#ifndef LIBSHM_HEAP_H
#define LIBSHM_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "libshm/libshm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct libshm_heap libshm_heap_t;

/* Creates a heap. `max_bytes` caps the bytes of managed regions the heap may
 * map (0: no cap beyond the swap file's); an allocation that would pass it
 * fails with ENOMEM and the heap stays usable. Starts the libshm runtime if
 * this is the process's first libshm call.
 * Returns 0 and stores the heap in *out, or -EINVAL (out is NULL),
 * -ENOMEM, -ENOTSUP (this jemalloc cannot create an arena with private
 * metadata), or the error libshm reports for its runtime (-EPERM, -ENOSYS,
 * -ECONNREFUSED ...). */
LIBSHM_EXPORT int libshm_heap_create(size_t max_bytes, libshm_heap_t** out);

/* Frees every object of the heap and unmaps its regions in this process
 * (a forked child that still maps them keeps them). NULL is a no-op.
 * Returns 0, or -EPERM in a forked child (nothing is done). */
LIBSHM_EXPORT int libshm_heap_destroy(libshm_heap_t* heap);

/* malloc/calloc/realloc/aligned_alloc in the heap. NULL with errno ENOMEM
 * when memory or the cap runs out, EINVAL for a bad alignment (not a power
 * of two), EPERM in a forked child. realloc(heap, NULL, n) is malloc;
 * realloc(heap, p, 0) frees p and returns NULL. */
LIBSHM_EXPORT void* libshm_heap_malloc(libshm_heap_t* heap, size_t size);
LIBSHM_EXPORT void* libshm_heap_calloc(libshm_heap_t* heap, size_t count, size_t size);
LIBSHM_EXPORT void* libshm_heap_realloc(libshm_heap_t* heap, void* ptr, size_t size);
LIBSHM_EXPORT void* libshm_heap_aligned_alloc(libshm_heap_t* heap, size_t alignment, size_t size);

/* Frees an object of `heap` (NULL is a no-op). pre: ptr came from heap. */
LIBSHM_EXPORT void libshm_heap_free(libshm_heap_t* heap, void* ptr);

/* Purges every unused page of the heap now, instead of after jemalloc's
 * decay delay: the pages and their swap copies are discarded.
 * Returns 0, -EPERM in a forked child, or -EIO if jemalloc refused. */
LIBSHM_EXPORT int libshm_heap_purge(libshm_heap_t* heap);

typedef struct libshm_heap_stats {
  size_t size;              /* set to sizeof(libshm_heap_stats_t) */
  uint64_t regions;         /* managed regions the heap maps */
  uint64_t mapped_bytes;    /* their total size */
  uint64_t allocated_bytes; /* bytes in live objects (jemalloc's count) */
  uint64_t purged_bytes;    /* bytes discarded with MADV_REMOVE so far */
  int32_t last_map_error;   /* -errno of the last failed region map, or 0 */
  uint32_t arena;           /* the jemalloc arena index */
} libshm_heap_stats_t;

/* Returns 0, or -EINVAL (heap or out NULL, out->size too small). */
LIBSHM_EXPORT int libshm_heap_stats(libshm_heap_t* heap, libshm_heap_stats_t* out);

#ifdef __cplusplus
}
#endif

#endif /* LIBSHM_HEAP_H */
