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
// Only F_ADD_SEALS with a write seal of a memfd is asked about; every
// other call goes straight to glibc's fcntl (F_DUPFD of an object's fd
// marks the copy as one: IsObjectFd in client.h).
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "client.h"
#include "libshm/libshm.h"
#include "self_maps.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

using libshm::internal::ClientRuntime;

// glibc's own, by its exported internal name (no dlsym: see object_io.cc).
extern "C" int __fcntl(int, int, ...);

namespace {

// Whether a write seal asked of `fd` will need the pin: the fd may be an
// object's (one fstat, only for this rare command: the bitmap does not know
// a descriptor that came by dup, SCM_RIGHTS or exec), and the kernel will
// take the seal (sealing allowed, no write seal yet: then nothing changes).
bool SealNeedsPin(int fd, uintptr_t seals) {
  if ((seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) == 0) return false;
  if (!ClientRuntime::Get().MayBeObjectFd(fd)) return false;
  int have = __fcntl(fd, F_GET_SEALS);
  if (have < 0 || (have & (F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0) return false;
  // F_SEAL_WRITE while a shared mapping of it may be written is EBUSY: a
  // pin then would outlive the refused seal (stress-ng --seal asks for
  // exactly that, in a loop, and the pins filled the limit: ENOMEM instead
  // of EBUSY). This process's own shared mappings of it are in its maps;
  // another process's are not seen (the pin then stays).
  if ((seals & F_SEAL_WRITE) != 0) {
    struct stat st;
    if (fstat(fd, &st) != 0) return false;
    bool mapped = false;
    libshm::internal::ForEachMapping([&](unsigned long, unsigned long, unsigned long,
                                         unsigned long ino, bool shared, const char* path) {
      mapped = shared && ino == static_cast<unsigned long>(st.st_ino) &&
               strncmp(path, "/memfd:", 7) == 0;
      return !mapped;
    });
    if (mapped) return false;
  }
  return true;
}

// fcntl's one argument, whatever its type: an int or a pointer, passed in
// the same register (glibc reads it as a pointer the same way).
int Fcntl(int fd, int cmd, void* arg) {
  if (cmd == F_ADD_SEALS && SealNeedsPin(fd, reinterpret_cast<uintptr_t>(arg))) {
    int saved = errno;
    int rc = ClientRuntime::Get().PinObject(fd);
    // -ENOENT: not a managed object: the kernel's alone.
    if (rc != 0 && rc != -ENOENT) {
      errno = -rc;
      return -1;
    }
    if (rc == 0) libshm::internal::MarkObjectFd(fd);
    errno = saved;
  }
  int rc = __fcntl(fd, cmd, arg);
  // A copy of an object's descriptor is one too (read and write look at
  // the bitmap: file I/O of it goes through a mapping).
  if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && libshm::internal::IsObjectFd(fd)) {
    libshm::internal::MarkObjectFd(rc);
  }
  return rc;
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
