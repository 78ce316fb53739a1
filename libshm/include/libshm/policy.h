/* SPDX-License-Identifier: MIT
 *
 * libshm eviction-policy interface.
 *
 * A policy tracks the set of resident pages of one session and, when asked,
 * names victims. It is shaped for a pager, not for a cache that sees every
 * hit: a userspace pager learns about a page when it faults in (`miss`), and
 * afterwards only through whatever access information exists (`reference`):
 * write faults on clean pages, sampled reference bits, or - in the simulator
 * only - every reference. Each policy declares in `access_info` which of these
 * it consumes and in `live` whether it can run inside the runtime.
 *
 * Threading: the runtime calls a policy from one thread at a time (the engine
 * thread); a policy needs no locking of its own.
 *
 * Page keys are opaque 64-bit values chosen by the caller; a policy must not
 * interpret them beyond equality and hashing.
 */
#ifndef LIBSHM_POLICY_H
#define LIBSHM_POLICY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBSHM_POLICY_ABI_VERSION 1

typedef uint64_t libshm_page_key_t;

/* What access information a policy consumes (bit mask in `access_info`). */
enum libshm_access_info {
  LIBSHM_ACCESS_MISSES = 1u << 0,       /* faults that make a page resident */
  LIBSHM_ACCESS_WRITE_FAULTS = 1u << 1, /* first write to a clean page (WP fault) */
  LIBSHM_ACCESS_SAMPLED = 1u << 2,      /* sampled reference bits (live sampling) */
  LIBSHM_ACCESS_EVERY_HIT = 1u << 3,    /* every reference (simulation only) */
  LIBSHM_ACCESS_FUTURE = 1u << 4,       /* next-use distance (Belady OPT, simulation only) */
};

typedef struct libshm_policy_ops {
  uint32_t abi_version;    /* LIBSHM_POLICY_ABI_VERSION */
  const char* name;        /* short lower-case name, e.g. "clock" */
  const char* description; /* one line */
  uint32_t access_info;    /* enum libshm_access_info bits it uses */
  int live;                /* 1 if it can run inside the runtime */

  /* Create a policy instance for at most `capacity` resident pages.
   * `seed` seeds any randomness. Returns NULL on allocation failure. */
  void* (*create)(size_t capacity, uint64_t seed);
  void (*destroy)(void* self);

  /* `page` became resident (a fault). pre: page is not resident. */
  void (*miss)(void* self, libshm_page_key_t page, int write);
  /* Access information about a resident page. May be NULL. */
  void (*reference)(void* self, libshm_page_key_t page, int write);
  /* Name up to `max` victims, most preferred first, and forget them as
   * resident. Returns the number written to `out` (0 only when no page is
   * resident). The caller evicts them; one it cannot evict it hands back
   * with `miss`. */
  size_t (*choose_victims)(void* self, libshm_page_key_t* out, size_t max);
  /* `page` stopped being resident without being chosen (unmap, discard).
   * Unknown pages are ignored. */
  void (*remove)(void* self, libshm_page_key_t page);
  /* Optional (may be NULL): the dirty bit of a resident page changed. */
  void (*set_dirty)(void* self, libshm_page_key_t page, int dirty);
  /* Optional (may be NULL): time passes (monotonic ns); aging policies use it. */
  void (*tick)(void* self, uint64_t now_ns);
  /* Optional (may be NULL), simulation only: the position in the request
   * stream of this page's next reference (UINT64_MAX: never again). Called
   * right before `miss` or `reference` for the same page. */
  void (*next_use)(void* self, libshm_page_key_t page, uint64_t next_position);
} libshm_policy_ops;

/* Registry of policies. Built-in policies are always present. */

/* The library is built with hidden visibility; the registry is public API.
 * Same definition as libshm.h's, so including both is harmless. */
#ifndef LIBSHM_EXPORT
#if defined(__GNUC__)
#define LIBSHM_EXPORT __attribute__((visibility("default")))
#else
#define LIBSHM_EXPORT
#endif
#endif

/* Returns the policy called `name`, or NULL. `name` may carry parameters,
 * "clock:insert_ref=0" or "NAME:KEY=VALUE,KEY=VALUE": the result is then a
 * table of its own (its `name` is the canonical spelling) whose `create`
 * makes instances with those values; it stays valid for the life of the
 * process. docs/policies.md lists the parameters. */
LIBSHM_EXPORT const libshm_policy_ops* libshm_policy_find(const char* name);
/* libshm_policy_find that says why it returned NULL: writes one line (no
 * newline) to `error` (`error_len` bytes; may be NULL), naming an unknown
 * policy, an unknown key, a value that is not a whole number or one out of
 * range. */
LIBSHM_EXPORT const libshm_policy_ops* libshm_policy_resolve(const char* spec, char* error,
                                                             size_t error_len);
/* Fills `out` with up to `max` policies; returns how many exist in total. */
LIBSHM_EXPORT size_t libshm_policy_list(const libshm_policy_ops** out, size_t max);
/* Adds a policy (its name must be new and contain none of ":,=", which
 * spell parameters). Returns 0, -EEXIST, -EINVAL or -ENOSPC. */
LIBSHM_EXPORT int libshm_policy_register(const libshm_policy_ops* ops);

#ifdef __cplusplus
}
#endif

#endif /* LIBSHM_POLICY_H */
