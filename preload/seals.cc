// SPDX-License-Identifier: MIT
// Seals of managed memfds (docs/named.md "Seals"): fcntl(F_ADD_SEALS) with
// F_SEAL_WRITE or F_SEAL_FUTURE_WRITE forbids the hole punch that eviction
// is, and the pwrite that brings a swapped page back (fact 3 of
// named_kernel_facts.md). So before such a seal reaches the kernel, the
// object is pinned: every swapped page comes back into the memfd, and none
// is evicted again. The seal itself, and every other fcntl, is the kernel's
// (the same results and errno). A pin that cannot fit under the limit is
// ENOMEM and nothing is sealed.
//
// Only fds this process has seen name a managed object are asked about
// (IsObjectFd in client.h, one bit test); every other call goes straight
// to glibc's fcntl.
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>

#include "client.h"
#include "libshm/libshm.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

using libshm::internal::ClientRuntime;

// glibc's own, by its exported internal name (no dlsym: see object_io.cc).
extern "C" int __fcntl(int, int, ...);

namespace {

// fcntl's one argument, whatever its type: an int or a pointer, passed in
// the same register (glibc reads it as a pointer the same way).
int Fcntl(int fd, int cmd, void* arg) {
  if (cmd == F_ADD_SEALS && libshm::internal::IsObjectFd(fd) &&
      (reinterpret_cast<uintptr_t>(arg) & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0) {
    int saved = errno;
    int rc = ClientRuntime::Get().PinObject(fd);
    // -ENOENT: not a managed object (any more): the kernel's alone.
    if (rc != 0 && rc != -ENOENT) {
      errno = -rc;
      return -1;
    }
    errno = saved;
  }
  return __fcntl(fd, cmd, arg);
}

}  // namespace

extern "C" {

LIBSHM_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return Fcntl(fd, cmd, arg);
}

LIBSHM_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return Fcntl(fd, cmd, arg);
}

}  // extern "C"
