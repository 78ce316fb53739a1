// SPDX-License-Identifier: MIT
// File I/O on a managed object's fd (read, write, pread, pwrite and their
// 64-bit names), done through a mapping. The kernel reads a swapped page of
// an object as a hole (zeros), and a write into one makes a page whose other
// bytes are zeros: the helper never sees file I/O. A mapping is what it
// sees: the shim maps the range (registered: MapObject), copies, and unmaps,
// so every page is filled from swap, and every write found dirty, as if the
// program had used mmap itself.
//
// Only fds this process has seen name a managed object go this way
// (IsObjectFd in client.h, one bit test); a number since reused for
// another file is found out at once (the helper does not know it) and goes
// to the kernel from then on. Where no registered mapping can be made (a
// read-only or write-only fd, a write-sealed memfd: fact 2 of
// named_kernel_facts.md) the object is pinned (every page back in memory,
// kept) and the kernel does the I/O.
// Not covered: readv/writev/preadv/pwritev, sendfile, splice, copy_file_range
// (docs/design.md "Known limits").
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "client.h"
#include "libshm/libshm.h"
#include "sys/syscalls.h"
#include "uffd.h"

using libshm::internal::ClientRuntime;
using libshm::internal::kPageSize;
namespace sys = libshm::internal::sys;

namespace {

constexpr ssize_t kNotOurs = -ENOENT;

}  // namespace

// glibc's own, for every fd that is not an object's: its cancellation
// points and errno stay exactly as the program expects. Its exported
// internal names, not dlsym: a dlsym in a function-local static was entered
// again from itself under ASan, whose dlsym reads files (a
// recursive_init_error abort in a signal handler inside the shim).
extern "C" {
ssize_t __read(int, void*, size_t);
ssize_t __write(int, const void*, size_t);
ssize_t __pread64(int, void*, size_t, off_t);
ssize_t __pwrite64(int, const void*, size_t, off_t);
int __close(int);
}

namespace {

// [off, off + len) of object `fd` copied to or from `buf` through a
// registered mapping. Returns bytes, -errno, or kNotOurs.
ssize_t ObjectIo(int fd, void* buf, size_t len, off_t off, bool write) {
  ClientRuntime& rt = ClientRuntime::Get();
  // The number may name another file now (a signalfd: PostgreSQL): only a
  // regular file on the memfd device is asked about.
  if (!rt.MayBeObjectFd(fd)) return kNotOurs;
  struct stat st;
  if (sys::Syscall(SYS_fstat, fd, reinterpret_cast<long>(&st)) != 0) return kNotOurs;
  if (off < 0) return -EINVAL;
  long fl = sys::Syscall(SYS_fcntl, fd, F_GETFL);
  if (fl < 0) return kNotOurs;
  if ((fl & O_ACCMODE) != O_RDWR || ClientRuntime::WriteSealed(fd)) {
    // No registered mapping of this fd can exist: pin, then the kernel.
    int rc = rt.PinObject(fd);
    return rc == 0 ? kNotOurs : rc == -ENOENT ? kNotOurs : rc;
  }
  if (len == 0) return 0;
  if (write) {
    if (off > INT64_MAX - static_cast<off_t>(len)) return -EFBIG;
    if (off + static_cast<off_t>(len) > st.st_size) {
      int rc = rt.ResizeObject(fd, off + static_cast<off_t>(len), true);
      if (rc != 0) return rc;
    }
  } else {
    if (off >= st.st_size) return 0;
    len = std::min<uint64_t>(len, static_cast<uint64_t>(st.st_size - off));
  }
  off_t start = off & ~static_cast<off_t>(kPageSize - 1);
  size_t span = static_cast<size_t>(off - start) + len;
  void* p = nullptr;
  bool kernel_refused = false;
  int rc = rt.MapObject(nullptr, span, PROT_READ | (write ? PROT_WRITE : 0), MAP_SHARED, fd, start,
                        &p, &kernel_refused);
  if (rc != 0) return rc == -ENOENT ? kNotOurs : rc;
  char* at = static_cast<char*>(p) + (off - start);
  if (write) {
    memcpy(at, buf, len);
  } else {
    memcpy(buf, at, len);
  }
  rt.Unmap(p, span);
  return static_cast<ssize_t>(len);
}

ssize_t Finish(ssize_t rc) {
  if (rc < 0) {
    errno = static_cast<int>(-rc);
    return -1;
  }
  return rc;
}

ssize_t Pread(int fd, void* buf, size_t len, off_t off) {
  if (libshm::internal::IsObjectFd(fd)) {
    int saved = errno;
    ssize_t n = ObjectIo(fd, buf, len, off, false);
    if (n != kNotOurs) {
      errno = saved;
      return Finish(n);
    }
    libshm::internal::ClearObjectFd(fd);
    errno = saved;
  }
  return __pread64(fd, buf, len, off);
}

ssize_t Pwrite(int fd, const void* buf, size_t len, off_t off) {
  if (libshm::internal::IsObjectFd(fd)) {
    int saved = errno;
    ssize_t n = ObjectIo(fd, const_cast<void*>(buf), len, off, true);
    if (n != kNotOurs) {
      errno = saved;
      return Finish(n);
    }
    libshm::internal::ClearObjectFd(fd);
    errno = saved;
  }
  return __pwrite64(fd, buf, len, off);
}

// read/write at the file offset, which they move (O_APPEND: writes at the end).
ssize_t AtOffset(int fd, void* buf, size_t len, bool write) {
  if (libshm::internal::IsObjectFd(fd)) {
    int saved = errno;
    long off = sys::Syscall(SYS_lseek, fd, 0, SEEK_CUR);
    long fl = sys::Syscall(SYS_fcntl, fd, F_GETFL);
    struct stat st;
    if (off >= 0 && fl >= 0 && write && (fl & O_APPEND) != 0 &&
        sys::Syscall(SYS_fstat, fd, reinterpret_cast<long>(&st)) == 0) {
      off = st.st_size;
    }
    ssize_t n = off < 0 ? kNotOurs : ObjectIo(fd, buf, len, off, write);
    if (n != kNotOurs) {
      if (n > 0) sys::Syscall(SYS_lseek, fd, off + n, SEEK_SET);
      errno = saved;
      return Finish(n);
    }
    libshm::internal::ClearObjectFd(fd);
    errno = saved;
  }
  return write ? __write(fd, buf, len) : __read(fd, buf, len);
}

}  // namespace

extern "C" {

LIBSHM_EXPORT int close(int fd) {
  libshm::internal::ClearObjectFd(fd);
  return __close(fd);
}

LIBSHM_EXPORT ssize_t read(int fd, void* buf, size_t len) { return AtOffset(fd, buf, len, false); }

LIBSHM_EXPORT ssize_t write(int fd, const void* buf, size_t len) {
  return AtOffset(fd, const_cast<void*>(buf), len, true);
}

LIBSHM_EXPORT ssize_t pread(int fd, void* buf, size_t len, off_t off) {
  return Pread(fd, buf, len, off);
}

LIBSHM_EXPORT ssize_t pread64(int fd, void* buf, size_t len, off_t off) {
  return Pread(fd, buf, len, off);
}

LIBSHM_EXPORT ssize_t pwrite(int fd, const void* buf, size_t len, off_t off) {
  return Pwrite(fd, buf, len, off);
}

LIBSHM_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t len, off_t off) {
  return Pwrite(fd, buf, len, off);
}

}  // extern "C"
