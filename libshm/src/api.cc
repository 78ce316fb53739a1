// SPDX-License-Identifier: MIT
// The C ABI (libshm.h). Each entry point is noexcept, returns 0 or -errno,
// and leaves the caller's errno as it found it.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
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

LIBSHM_EXPORT int libshm_shm_open(const char* name, int oflag, mode_t mode, int* fd) {
  return Guard([&] {
    const char* bare = nullptr;
    if (name == nullptr || fd == nullptr) return -EINVAL;
    int rc = libshm::internal::ShmNameOf(name, &bare);
    if (rc != 0) return rc;
    if ((oflag & ~(O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC)) != 0 ||
        (oflag & O_ACCMODE) == O_WRONLY || (oflag & O_ACCMODE) == O_ACCMODE) {
      return -EINVAL;
    }
    int got = ClientRuntime::Get().ShmOpen(bare, oflag, mode);
    if (got < 0) return got == ClientRuntime::kNoSession ? -ECONNREFUSED : got;
    libshm::internal::MarkObjectFd(got);
    *fd = got;
    return 0;
  });
}

LIBSHM_EXPORT int libshm_shm_unlink(const char* name) {
  return Guard([&] {
    const char* bare = nullptr;
    if (name == nullptr) return -ENOENT;
    int rc = libshm::internal::ShmNameOf(name, &bare);
    if (rc != 0) return rc == -EINVAL ? -ENOENT : rc;  // as glibc's shm_unlink
    rc = ClientRuntime::Get().ShmUnlink(bare);
    return rc == ClientRuntime::kNoSession ? -ECONNREFUSED : rc;
  });
}

LIBSHM_EXPORT int libshm_ftruncate(int fd, off_t length) {
  return Guard([&] {
    if (length < 0) return -EINVAL;
    return ClientRuntime::Get().ResizeObject(fd, length);
  });
}

LIBSHM_EXPORT int libshm_map_fd(void* hint, size_t length, int prot, int flags, int fd,
                                off_t offset, void** out) {
  return Guard([&] {
    const int known = MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_POPULATE | MAP_NORESERVE |
                      MAP_LOCKED | libshm::internal::kMap32Bit;
    if (out == nullptr || length == 0 || (flags & ~known) != 0) return -EINVAL;
    if (offset < 0 || offset % 4096 != 0) return -EINVAL;
    bool kernel_refused = false;
    return ClientRuntime::Get().MapObject(hint, length, prot, flags, fd, offset, out,
                                          &kernel_refused);
  });
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
