// SPDX-License-Identifier: MIT
// The shim's program objects (docs/named.md): shm_open, shm_unlink,
// memfd_create, ftruncate and fallocate of managed objects. In a session
// (shmrun) a POSIX shm object is a memfd the helper names and manages like
// an anonymous region; outside one, or for what libshm does not take (a name
// that exists in /dev/shm already, hugetlb memfds), each call is the
// kernel's own. mmap of an object's fd is in interpose.cc; seals in seals.cc.
//
// The contract is glibc's: shm_open's name rules and errno (fact 9 of
// named_kernel_facts.md: EINVAL for a bad name, but ENOENT from shm_unlink),
// FD_CLOEXEC always, errno untouched on success, nothing thrown.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "client.h"
#include "libshm/libshm.h"
#include "log.h"
#include "say_once.h"
#include "sys/syscalls.h"

using libshm::internal::ClientRuntime;
using libshm::internal::SayOnce;
namespace sys = libshm::internal::sys;

namespace {

int Fail(int err) {
  errno = err;
  return -1;
}

// glibc's name rules (ShmNameOf in client.h), as an errno.
int ShmName(const char* name, const char** out) { return -libshm::internal::ShmNameOf(name, out); }

// A name the kernel has in /dev/shm already stays the kernel's.
bool ExistsNatively(const char* name) {
  char path[sizeof("/dev/shm/") + NAME_MAX];
  strcpy(path, "/dev/shm/");
  strcat(path, name);
  struct stat st;
  return sys::Syscall(SYS_newfstatat, AT_FDCWD, reinterpret_cast<long>(path),
                      reinterpret_cast<long>(&st), AT_SYMLINK_NOFOLLOW) == 0;
}

// What stays the kernel's is said once per process, naming why and what
// it costs (docs/named.md "What stays native").
std::atomic<bool> said_native_name{false}, said_hugetlb{false};

using ShmOpenFn = int (*)(const char*, int, mode_t);
using ShmUnlinkFn = int (*)(const char*);

int NativeShmOpen(const char* name, int oflag, mode_t mode) {
  static ShmOpenFn real = reinterpret_cast<ShmOpenFn>(dlsym(RTLD_NEXT, "shm_open"));
  if (real == nullptr) return Fail(ENOSYS);
  return real(name, oflag, mode);
}

int NativeShmUnlink(const char* name) {
  static ShmUnlinkFn real = reinterpret_cast<ShmUnlinkFn>(dlsym(RTLD_NEXT, "shm_unlink"));
  if (real == nullptr) return Fail(ENOSYS);
  return real(name);
}

// posix_fallocate and fallocate (mode 0 or KEEP_SIZE) of a managed object:
// the helper grows it if the range ends past its end. Allocation is what
// libshm does not do: the swap extent reserved for the object is the
// guarantee that every page has a home, and allocating every page would put
// the whole object in memory, past the limit. Returns 0, -errno, or -ENOENT
// (not a managed object).
int ManagedFallocate(int fd, int mode, off_t off, off_t len) {
  // The kernel's order (vfs_fallocate): no file (O_PATH) EBADF, then the
  // range EINVAL, then a file not open for writing EBADF; the helper's
  // kResize would answer as ftruncate does (EINVAL).
  long fl = sys::Syscall(SYS_fcntl, fd, F_GETFL);
  if (fl < 0 || (fl & O_PATH) != 0) return -EBADF;
  if (off < 0 || len <= 0) return -EINVAL;
  if ((fl & O_ACCMODE) == O_RDONLY) return -EBADF;
  if (off > INT64_MAX - len) return -EFBIG;
  return ClientRuntime::Get().ResizeObject(fd, mode == FALLOC_FL_KEEP_SIZE ? 0 : off + len, true);
}

}  // namespace

extern "C" {

LIBSHM_EXPORT int shm_open(const char* name, int oflag, mode_t mode) {
  ClientRuntime& rt = ClientRuntime::Get();
  const char* bare = nullptr;
  if (!rt.ManagesObjects()) return NativeShmOpen(name, oflag, mode);
  int bad = ShmName(name, &bare);
  if (bad != 0) return Fail(bad);
  // Flags libshm does not manage (O_WRONLY and the rest of open's) and names
  // the kernel has already stay the kernel's.
  if ((oflag & ~(O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW | O_CLOEXEC)) != 0 ||
      (oflag & O_ACCMODE) == O_WRONLY || (oflag & O_ACCMODE) == O_ACCMODE) {
    return NativeShmOpen(name, oflag, mode);
  }
  if ((oflag & O_CREAT) != 0 && ExistsNatively(bare)) {
    SayOnce(said_native_name,
            "shm_open(\"/%s\"): the name exists in /dev/shm, made outside this session: it stays "
            "the kernel's object, outside the limit (remove it, or start its users under shmrun)",
            bare);
    return NativeShmOpen(name, oflag, mode);
  }
  int fd = rt.ShmOpen(bare, oflag, mode);
  if (fd >= 0) {
    libshm::internal::MarkObjectFd(fd);
    return fd;
  }
  if (fd == ClientRuntime::kNoSession || (fd == -ENOENT && (oflag & O_CREAT) == 0)) {
    // Not a managed name: the kernel's, if it has one.
    return NativeShmOpen(name, oflag, mode);
  }
  return Fail(-fd);
}

LIBSHM_EXPORT int shm_unlink(const char* name) {
  ClientRuntime& rt = ClientRuntime::Get();
  const char* bare = nullptr;
  if (!rt.ManagesObjects()) return NativeShmUnlink(name);
  int bad = ShmName(name, &bare);
  if (bad != 0) return Fail(bad == EINVAL ? ENOENT : bad);
  int rc = rt.ShmUnlink(bare);
  if (rc == 0) return 0;
  if (rc == ClientRuntime::kNoSession || rc == -ENOENT) return NativeShmUnlink(name);
  return Fail(-rc);
}

LIBSHM_EXPORT int memfd_create(const char* name, unsigned flags) {
  int fd = static_cast<int>(
      sys::Syscall(SYS_memfd_create, reinterpret_cast<long>(name), static_cast<long>(flags)));
  if (fd < 0) return Fail(-fd);
  // Hugetlb has its own userfaultfd path and stays the kernel's. A sealable
  // memfd is managed; a write seal pins it first (seals.cc).
  ClientRuntime& rt = ClientRuntime::Get();
  if ((flags & MFD_HUGETLB) != 0) {
    if (rt.ManagesObjects()) {
      SayOnce(said_hugetlb,
              "memfd_create(\"%s\", MFD_HUGETLB): a hugetlb memfd stays the kernel's, outside "
              "the limit (its huge pages are not evicted)",
              name);
    }
  } else if (rt.ManagesObjects()) {
    int saved = errno;
    // Refused: it stays the kernel's.
    if (rt.AdoptNewMemfd(fd, (flags & MFD_CLOEXEC) != 0) == 0) libshm::internal::MarkObjectFd(fd);
    errno = saved;
  }
  return fd;
}

LIBSHM_EXPORT int ftruncate(int fd, off_t length) {
  if (length >= 0 && ClientRuntime::Get().MayBeObjectFd(fd)) {
    int saved = errno;
    int rc = ClientRuntime::Get().ResizeObject(fd, length);
    errno = saved;
    if (rc != -ENOENT) return rc == 0 ? 0 : Fail(-rc);
  }
  long rc = sys::Syscall(SYS_ftruncate, fd, static_cast<long>(length));
  return rc == 0 ? 0 : Fail(static_cast<int>(-rc));
}

LIBSHM_EXPORT int ftruncate64(int fd, off_t length) { return ftruncate(fd, length); }

LIBSHM_EXPORT int posix_fallocate(int fd, off_t off, off_t len) {
  if (ClientRuntime::Get().MayBeObjectFd(fd)) {
    int saved = errno;
    int rc = ManagedFallocate(fd, 0, off, len);
    errno = saved;
    if (rc != -ENOENT) return -rc;
  }
  // glibc's own, returning the error number (never -1).
  long rc = sys::Syscall(SYS_fallocate, fd, 0, static_cast<long>(off), static_cast<long>(len));
  if (rc == -EOPNOTSUPP) {
    using Fn = int (*)(int, off_t, off_t);
    static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "posix_fallocate"));
    return real != nullptr ? real(fd, off, len)
                           : EOPNOTSUPP;  // its emulation for other file systems
  }
  return static_cast<int>(-rc);
}

LIBSHM_EXPORT int posix_fallocate64(int fd, off_t off, off_t len) {
  return posix_fallocate(fd, off, len);
}

LIBSHM_EXPORT int fallocate(int fd, int mode, off_t off, off_t len) {
  if ((mode == 0 || mode == FALLOC_FL_KEEP_SIZE) && ClientRuntime::Get().MayBeObjectFd(fd)) {
    int saved = errno;
    int rc = ManagedFallocate(fd, mode, off, len);
    errno = saved;
    if (rc != -ENOENT) return rc == 0 ? 0 : Fail(-rc);
  }
  // A hole punched in a managed object: the helper punches and forgets the
  // data of the pages it had swapped out (the kernel, alone, would leave
  // their slots to be read back). The kernel's checks of off and len first.
  if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) && off >= 0 && len > 0 &&
      ClientRuntime::Get().MayBeObjectFd(fd)) {
    int saved = errno;
    int rc = ClientRuntime::Get().PunchObject(fd, off, len);
    errno = saved;
    if (rc != -ENOENT) return rc == 0 ? 0 : Fail(-rc);
  }
  long rc = sys::Syscall(SYS_fallocate, fd, mode, static_cast<long>(off), static_cast<long>(len));
  return rc == 0 ? 0 : Fail(static_cast<int>(-rc));
}

LIBSHM_EXPORT int fallocate64(int fd, int mode, off_t off, off_t len) {
  return fallocate(fd, mode, off, len);
}

}  // extern "C"
