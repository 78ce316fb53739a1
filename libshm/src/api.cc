// SPDX-License-Identifier: MIT
// The C ABI (libshm.h). Each entry point is noexcept, returns 0 or -errno,
// and leaves the caller's errno as it found it.
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "libshm/libshm.h"
#include "libshm/version.h"
#include "stats.h"

using libshm::internal::ClientRuntime;

namespace {

// Runs f() with errno preserved and no exception escaping.
template <typename F>
int Guard(F f) noexcept {
  int saved = errno;
  int rc;
  try {
    rc = f();
  } catch (...) {
    rc = -ENOMEM;
  }
  errno = saved;
  return rc;
}

void WriteToStderr(void*, const char* s) { fputs(s, stderr); }

}  // namespace

extern "C" {

LIBSHM_EXPORT const char* libshm_version(void) { return LIBSHM_VERSION_STRING; }

LIBSHM_EXPORT int libshm_map(void* hint, size_t length, int prot, int flags, void** out) {
  return Guard([&] { return ClientRuntime::Get().Map(hint, length, prot, flags, out); });
}

LIBSHM_EXPORT int libshm_unmap(void* addr, size_t length) {
  return Guard([&] { return ClientRuntime::Get().Unmap(addr, length); });
}

LIBSHM_EXPORT int libshm_msync(void* addr, size_t length, int flags) {
  return Guard([&] { return ClientRuntime::Get().Msync(addr, length, flags); });
}

LIBSHM_EXPORT int libshm_madvise(void* addr, size_t length, int advice) {
  return Guard([&] { return ClientRuntime::Get().Madvise(addr, length, advice); });
}

LIBSHM_EXPORT int libshm_is_managed(const void* addr) {
  return Guard([&] { return ClientRuntime::Get().IsManaged(addr, 1) ? 1 : 0; });
}

LIBSHM_EXPORT int libshm_stats(libshm_stats_t* out) {
  return Guard([&] { return ClientRuntime::Get().Stats(out); });
}

LIBSHM_EXPORT int libshm_stats_print(void (*write_cb)(void*, const char*), void* cbopaque,
                                     const char* opts) {
  return Guard([&] {
    libshm_stats_t s;
    s.size = sizeof(s);
    int rc = ClientRuntime::Get().Stats(&s);
    if (rc != 0) return rc;
    bool json = opts != nullptr && strchr(opts, 'J') != nullptr;
    bool brief = opts != nullptr && strchr(opts, 'b') != nullptr;
    auto cb = write_cb != nullptr ? write_cb : WriteToStderr;
    if (brief && !json) {
      libshm::internal::PrintStatsBrief(s, cb, cbopaque);
    } else {
      libshm::internal::PrintStats(s, json, cb, cbopaque);
    }
    return 0;
  });
}

LIBSHM_EXPORT int libshm_ctl(const char* name, void* oldp, size_t* oldlenp, const void* newp,
                             size_t newlen) {
  return Guard([&] { return ClientRuntime::Get().Ctl(name, oldp, oldlenp, newp, newlen); });
}

}  // extern "C"
