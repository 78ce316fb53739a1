/* SPDX-License-Identifier: MIT
 *
 * libshm: evictable MAP_SHARED|MAP_ANONYMOUS memory.
 *
 * A managed region behaves like the kernel's shared anonymous memory - it is
 * shared with forked children, survives its creator, keeps mremap/munmap/
 * madvise meanings - but each region is a memfd "inode" backed by its own
 * contiguous extent of a session swap file, reserved when the region is made,
 * and the session keeps its resident memory under a limit by evicting pages.
 *
 * Every function returns 0 (or a documented non-negative value) on success
 * and -errno on failure; none throws, none changes errno.
 * Thread-safe: any thread may call any function at any time.
 */
#ifndef LIBSHM_LIBSHM_H
#define LIBSHM_LIBSHM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libshm/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LIBSHM_EXPORT __attribute__((visibility("default")))
#else
#define LIBSHM_EXPORT
#endif

/* The library version, e.g. "0.1.0" (LIBSHM_VERSION_STRING of the library
 * actually loaded, which may be newer than the header). */
LIBSHM_EXPORT const char* libshm_version(void);

/* Maps a managed shared region of `length` bytes (rounded up to pages) with
 * mmap's `prot` and the extra `flags` MAP_FIXED, MAP_FIXED_NOREPLACE,
 * MAP_POPULATE, MAP_NORESERVE, MAP_LOCKED, and MAP_32BIT where the platform
 * has it (x86-64) (MAP_SHARED|MAP_ANONYMOUS implied).
 * `hint` is mmap's address argument. On success stores the address in *out.
 * Errors: -EINVAL (length 0, bad flags), -ENOMEM (swap cannot be reserved or
 * no address space), -EPERM/-ENOSYS (userfaultfd unavailable), -ECONNREFUSED
 * (no helper), -EEXIST (MAP_FIXED_NOREPLACE overlap). */
LIBSHM_EXPORT int libshm_map(void* hint, size_t length, int prot, int flags, void** out);

/* POSIX shared memory managed like regions (docs/named.md): the object is a
 * memfd of the session's helper with its own swap extent, evicted under the
 * limit whether or not anyone maps it. Names follow shm_open(3) (glibc's
 * rules and errno) and live in the session: the processes of one session (a
 * process tree, or everything under shmrun) share them.
 * libshm_shm_open: oflag O_RDONLY or O_RDWR, with O_CREAT, O_EXCL, O_TRUNC;
 * `mode` is masked by the umask. Stores a new close-on-exec fd in *fd.
 * Errors as shm_open(3): -EINVAL, -ENAMETOOLONG, -EEXIST, -ENOENT, -EACCES,
 * -ENFILE, -EMFILE; or the runtime's (-ECONNREFUSED ...). */
LIBSHM_EXPORT int libshm_shm_open(const char* name, int oflag, mode_t mode, int* fd);
/* shm_unlink(3) of a name of the session: -ENOENT, -EACCES. */
LIBSHM_EXPORT int libshm_shm_unlink(const char* name);
/* ftruncate(2) of a managed object: -EINVAL (read-only fd), -ENOSPC (no swap
 * for the growth), -ENOENT (`fd` is not a managed object). */
LIBSHM_EXPORT int libshm_ftruncate(int fd, off_t length);
/* mmap(2) with MAP_SHARED of a managed object's read-write fd at `offset`
 * (page-aligned); `flags` as libshm_map's. Unmap with libshm_unmap.
 * -ENOENT: `fd` is not a managed object (map it yourself); other errors as
 * mmap(2). */
LIBSHM_EXPORT int libshm_map_fd(void* hint, size_t length, int prot, int flags, int fd,
                                off_t offset, void** out);

/* munmap(2) of a managed range (whole or partial). */
LIBSHM_EXPORT int libshm_unmap(void* addr, size_t length);

/* msync(2): MS_SYNC writes the dirty pages of the range to the swap file and
 * returns when they are durable there (the range is then clean, and evicting
 * it writes nothing); MS_ASYNC schedules that; MS_INVALIDATE as POSIX. */
LIBSHM_EXPORT int libshm_msync(void* addr, size_t length, int flags);

/* madvise(2) with the kernel's meaning on a managed range. MADV_REMOVE and
 * MADV_DONTNEED on a managed range must come through here (or the shim) for
 * pages that are swapped out: a raw MADV_REMOVE cannot be told apart from
 * MADV_DONTNEED by the helper (both send the same userfaultfd event). */
LIBSHM_EXPORT int libshm_madvise(void* addr, size_t length, int advice);

/* 1 if `addr` lies in a managed region of this process, else 0. */
LIBSHM_EXPORT int libshm_is_managed(const void* addr);

/* Why the shim left a shared anonymous mapping native (libshm_stats_t
 * native_bytes/native_mappings; names in the stats output in brackets). */
enum {
  LIBSHM_NATIVE_HUGETLB = 0,    /* [hugetlb] MAP_HUGETLB */
  LIBSHM_NATIVE_FLAGS = 1,      /* [flags] another flag libshm does not manage (MAP_SYNC, ...) */
  LIBSHM_NATIVE_MIN_SIZE = 2,   /* [min_size] smaller than LIBSHM_MIN_SIZE */
  LIBSHM_NATIVE_ERROR = 3,      /* [error] the helper refused the region (ENOMEM, EMFILE...) */
  LIBSHM_NATIVE_NO_SESSION = 4, /* [no_session] the process could not join the session */
  LIBSHM_NATIVE_REASONS = 5
};

/* Session statistics. Set `size` to sizeof(libshm_stats_t) before calling; a
 * smaller size (a caller built against an older header) gets only the bytes
 * that fit. Before 1.0 fields may still move; use libshm_ctl("stats.<name>")
 * for a stable interface. */
typedef struct libshm_stats {
  size_t size;
  uint32_t version; /* 1 */
  uint32_t reserved0;
  uint64_t regions; /* live inodes */
  uint64_t clients; /* live client processes */
  uint64_t limit_bytes;
  uint64_t resident_bytes;
  uint64_t peak_resident_bytes;
  uint64_t dirty_bytes;
  uint64_t swapped_bytes;       /* bytes whose only copy is in the swap file */
  uint64_t swap_reserved_bytes; /* extents reserved in the swap file */
  uint64_t faults;              /* missing faults served */
  uint64_t zero_fills;
  uint64_t swap_ins;  /* pages read back from swap */
  uint64_t swap_outs; /* pages written to swap (dirty evictions and writeback) */
  uint64_t writeback_bytes;
  uint64_t evictions;       /* pages evicted (clean and dirty) */
  uint64_t clean_evictions; /* pages evicted with no I/O */
  uint64_t wp_faults;       /* first writes to clean pages */
  uint64_t msyncs;
  uint64_t forks;
  uint64_t eexist;       /* fills that lost a race to another process */
  uint64_t fault_ns_p50; /* fault service time in the helper, ns */
  uint64_t fault_ns_p99;
  uint64_t samples;     /* pages soft-evicted to sample references */
  uint64_t sample_hits; /* sampled pages accessed again (references seen) */
  /* Fault service time histogram: [0] under 1 us, [i] from 2^(i-1) to 2^i us,
   * the last bucket everything from 2^(LIBSHM_FAULT_HIST_BUCKETS-2) us up. */
#define LIBSHM_FAULT_HIST_BUCKETS 20
  uint64_t fault_us_hist[LIBSHM_FAULT_HIST_BUCKETS];
  char policy[32];
  char mode[16]; /* "full" or "restricted" */
  /* Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS, MAP_SHARED of
   * /dev/zero) that the preload shim saw and left to the kernel, by reason
   * (LIBSHM_NATIVE_*): bytes (each mapping's length rounded up to 4 KiB) and
   * mappings, counted when the native mmap succeeded. The processes of the
   * session report them; raw syscall(SYS_mmap) is not seen (docs/design.md
   * "Native shared memory"). */
  uint64_t native_bytes[LIBSHM_NATIVE_REASONS];
  uint64_t native_mappings[LIBSHM_NATIVE_REASONS];
  uint64_t swap_syncs; /* fdatasync calls on the swap file that succeeded (MS_SYNC) */
  uint64_t swap_off;   /* 1 after swapoff: no swap file, eviction suspended, limit not enforced */
  /* Program objects (shm_open, memfd_create under the shim). */
  uint64_t shm_objects;     /* POSIX shm names held */
  uint64_t program_objects; /* POSIX shm objects and memfds managed */
  uint64_t handed_back;     /* objects handed back to the kernel, their holders unknown */
  uint64_t pinned_objects;  /* objects kept resident: a private or read-only mapper */
  uint64_t objects_made;    /* program objects made in the session */
  uint64_t objects_freed;   /* program objects freed when no process held them */
} libshm_stats_t;

/* Fills *out with a snapshot of the session's statistics (starting the
 * session if this is the process's first libshm call).
 * pre: out->size is set (see libshm_stats_t). Returns 0, -EINVAL (out is
 * NULL or out->size too small for the header fields), or the error of the
 * runtime (-EPERM, -ENOSYS, -ECONNREFUSED ...). */
LIBSHM_EXPORT int libshm_stats(libshm_stats_t* out);

/* Prints the stats: `write_cb(cbopaque, text)` is called with pieces of
 * text (stderr if write_cb is NULL). `opts`: NULL or "" for the table, "J"
 * for JSON, "b" for a brief table (limit, peak resident, faults, swap traffic,
 * fault latency and its histogram). */
LIBSHM_EXPORT int libshm_stats_print(void (*write_cb)(void*, const char*), void* cbopaque,
                                     const char* opts);

/* mallctl-style introspection and control. Numbers are uint64_t, strings
 * are copied into `oldp` (a char buffer of *oldlenp bytes) and written from
 * a NUL-terminated `newp`. Names: version, epoch, opt.<option> (r-),
 * stats.<field> (r-), kernel.mode, kernel.uffd.features (r-),
 * evict.policy (rw), evict.run (-w: evict newp bytes, 0 = everything),
 * swap.off (-w: bring every swapped page back and close the swap file),
 * swap.dir (rw: the swap file's directory; writing moves the swap there).
 * Returns 0, -ENOENT (unknown name), -EPERM (read-only), -EINVAL. */
LIBSHM_EXPORT int libshm_ctl(const char* name, void* oldp, size_t* oldlenp, const void* newp,
                             size_t newlen);

#ifdef __cplusplus
}
#endif

#endif /* LIBSHM_LIBSHM_H */
