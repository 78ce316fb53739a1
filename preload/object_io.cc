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
// The vector calls (readv, writev, preadv, pwritev and their 2 and 64
// names) take each buffer in turn the same way. The calls that copy between
// files inside the kernel (sendfile, splice, copy_file_range) pin the object
// first (ENOMEM if it cannot be kept: kept_pages.cc), then are the kernel's.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
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

// An object's I/O at its file offset, which it moves (O_APPEND: a write
// goes at the end): `at(off)` does it. Returns as the call does (-1 and
// errno), or kNotOurs if `fd` is no object's (its mark cleared).
template <typename At>
ssize_t ObjectAtOffset(int fd, bool write, At at) {
  int saved = errno;
  long off = sys::Syscall(SYS_lseek, fd, 0, SEEK_CUR);
  long fl = sys::Syscall(SYS_fcntl, fd, F_GETFL);
  struct stat st;
  if (off >= 0 && fl >= 0 && write && (fl & O_APPEND) != 0 &&
      sys::Syscall(SYS_fstat, fd, reinterpret_cast<long>(&st)) == 0) {
    off = st.st_size;
  }
  ssize_t n = off < 0 ? kNotOurs : at(static_cast<off_t>(off));
  if (n != kNotOurs) {
    if (n > 0) sys::Syscall(SYS_lseek, fd, off + n, SEEK_SET);
    errno = saved;
    return Finish(n);
  }
  libshm::internal::ClearObjectFd(fd);
  errno = saved;
  return kNotOurs;
}

// read/write at the file offset.
ssize_t AtOffset(int fd, void* buf, size_t len, bool write) {
  if (libshm::internal::IsObjectFd(fd)) {
    ssize_t n =
        ObjectAtOffset(fd, write, [&](off_t off) { return ObjectIo(fd, buf, len, off, write); });
    if (n != kNotOurs) return n;
  }
  return write ? __write(fd, buf, len) : __read(fd, buf, len);
}

// glibc's own vector and copy calls (no exported internal names): looked up
// once, at load, never from inside a call (see above); a call before that
// is the system call.
using ReadvFn = ssize_t (*)(int, const struct iovec*, int);
using PreadvFn = ssize_t (*)(int, const struct iovec*, int, off_t);
using Preadv2Fn = ssize_t (*)(int, const struct iovec*, int, off_t, int);
using SendfileFn = ssize_t (*)(int, int, off_t*, size_t);
using SpliceFn = ssize_t (*)(int, loff_t*, int, loff_t*, size_t, unsigned);
using CopyFileRangeFn = ssize_t (*)(int, loff_t*, int, loff_t*, size_t, unsigned);
struct {
  ReadvFn readv, writev;
  PreadvFn preadv, pwritev;
  Preadv2Fn preadv2, pwritev2;
  SendfileFn sendfile;
  SpliceFn splice;
  CopyFileRangeFn copy_file_range;
} glibc;

__attribute__((constructor)) void FindGlibcVectorIo() {
  glibc.readv = reinterpret_cast<ReadvFn>(dlsym(RTLD_NEXT, "readv"));
  glibc.writev = reinterpret_cast<ReadvFn>(dlsym(RTLD_NEXT, "writev"));
  glibc.preadv = reinterpret_cast<PreadvFn>(dlsym(RTLD_NEXT, "preadv"));
  glibc.pwritev = reinterpret_cast<PreadvFn>(dlsym(RTLD_NEXT, "pwritev"));
  glibc.preadv2 = reinterpret_cast<Preadv2Fn>(dlsym(RTLD_NEXT, "preadv2"));
  glibc.pwritev2 = reinterpret_cast<Preadv2Fn>(dlsym(RTLD_NEXT, "pwritev2"));
  glibc.sendfile = reinterpret_cast<SendfileFn>(dlsym(RTLD_NEXT, "sendfile"));
  glibc.splice = reinterpret_cast<SpliceFn>(dlsym(RTLD_NEXT, "splice"));
  glibc.copy_file_range = reinterpret_cast<CopyFileRangeFn>(dlsym(RTLD_NEXT, "copy_file_range"));
}

ssize_t SyscallResult(long rc) {
  if (rc < 0 && rc > -4096) {
    errno = static_cast<int>(-rc);
    return -1;
  }
  return rc;
}

// The buffers of `iov` in turn at `off` (kNotOurs if `fd` is not an
// object's). Stops at a short transfer (end of the object) or an error
// after some bytes, as the kernel does.
ssize_t ObjectIoV(int fd, const struct iovec* iov, int count, off_t off, bool write) {
  if (count < 0 || count > IOV_MAX) return -EINVAL;
  size_t sum = 0;
  for (int i = 0; i < count; i++) {
    // The kernel's EINVAL when the lengths add up past SSIZE_MAX.
    if (iov[i].iov_len > static_cast<size_t>(SSIZE_MAX) - sum) return -EINVAL;
    sum += iov[i].iov_len;
  }
  ssize_t total = 0;
  if (count == 0) return ObjectIo(fd, nullptr, 0, off, write);  // 0, or not ours
  for (int i = 0; i < count; i++) {
    ssize_t n = ObjectIo(fd, iov[i].iov_base, iov[i].iov_len, off + total, write);
    if (n == kNotOurs) return total > 0 ? total : kNotOurs;
    if (n < 0) return total > 0 ? total : n;
    total += n;
    if (static_cast<size_t>(n) < iov[i].iov_len) break;
  }
  return total;
}

ssize_t VectorAt(int fd, const struct iovec* iov, int count, off_t off, bool write) {
  if (libshm::internal::IsObjectFd(fd)) {
    int saved = errno;
    ssize_t n = off < 0 ? -EINVAL : ObjectIoV(fd, iov, count, off, write);
    if (n != kNotOurs) {
      errno = saved;
      return Finish(n);
    }
    libshm::internal::ClearObjectFd(fd);
    errno = saved;
  }
  PreadvFn real = write ? glibc.pwritev : glibc.preadv;
  if (real != nullptr) return real(fd, iov, count, off);
  return SyscallResult(sys::Syscall(write ? SYS_pwritev : SYS_preadv, fd,
                                    reinterpret_cast<long>(iov), count, static_cast<long>(off), 0));
}

// readv/writev at the file offset.
ssize_t VectorAtOffset(int fd, const struct iovec* iov, int count, bool write) {
  if (libshm::internal::IsObjectFd(fd)) {
    ssize_t n =
        ObjectAtOffset(fd, write, [&](off_t off) { return ObjectIoV(fd, iov, count, off, write); });
    if (n != kNotOurs) return n;
  }
  ReadvFn real = write ? glibc.writev : glibc.readv;
  if (real != nullptr) return real(fd, iov, count);
  return SyscallResult(
      sys::Syscall(write ? SYS_writev : SYS_readv, fd, reinterpret_cast<long>(iov), count));
}

ssize_t Vector2(int fd, const struct iovec* iov, int count, off_t off, int flags, bool write) {
  // Flags (RWF_NOWAIT, RWF_APPEND, ...) are the kernel's to apply: pin,
  // then the kernel.
  if (flags == 0 && libshm::internal::IsObjectFd(fd)) {
    return off == -1 ? VectorAtOffset(fd, iov, count, write) : VectorAt(fd, iov, count, off, write);
  }
  if (flags != 0 && libshm::internal::IsObjectFd(fd)) {
    int saved = errno;
    int rc = ClientRuntime::Get().PinObject(fd);
    if (rc == -ENOENT) libshm::internal::ClearObjectFd(fd);
    if (rc != 0 && rc != -ENOENT) return Finish(rc);
    errno = saved;
  }
  Preadv2Fn real = write ? glibc.pwritev2 : glibc.preadv2;
  if (real != nullptr) return real(fd, iov, count, off, flags);
  return SyscallResult(sys::Syscall(write ? SYS_pwritev2 : SYS_preadv2, fd,
                                    reinterpret_cast<long>(iov), count, static_cast<long>(off), 0,
                                    flags));
}

// Before a copy inside the kernel: each managed object among `fds` pinned.
// Returns 0 or -errno (ENOMEM: it cannot be kept under the limit).
int PinForKernelCopy(int in, int out) {
  for (int fd : {in, out}) {
    if (!libshm::internal::IsObjectFd(fd)) continue;
    int saved = errno;
    int rc = ClientRuntime::Get().PinObject(fd);
    errno = saved;
    if (rc == -ENOENT) {
      libshm::internal::ClearObjectFd(fd);
    } else if (rc != 0) {
      return rc;
    }
  }
  return 0;
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

LIBSHM_EXPORT ssize_t readv(int fd, const struct iovec* iov, int count) {
  return VectorAtOffset(fd, iov, count, false);
}

LIBSHM_EXPORT ssize_t writev(int fd, const struct iovec* iov, int count) {
  return VectorAtOffset(fd, iov, count, true);
}

LIBSHM_EXPORT ssize_t preadv(int fd, const struct iovec* iov, int count, off_t off) {
  return VectorAt(fd, iov, count, off, false);
}

LIBSHM_EXPORT ssize_t preadv64(int fd, const struct iovec* iov, int count, off_t off) {
  return VectorAt(fd, iov, count, off, false);
}

LIBSHM_EXPORT ssize_t pwritev(int fd, const struct iovec* iov, int count, off_t off) {
  return VectorAt(fd, iov, count, off, true);
}

LIBSHM_EXPORT ssize_t pwritev64(int fd, const struct iovec* iov, int count, off_t off) {
  return VectorAt(fd, iov, count, off, true);
}

LIBSHM_EXPORT ssize_t preadv2(int fd, const struct iovec* iov, int count, off_t off, int flags) {
  return Vector2(fd, iov, count, off, flags, false);
}

LIBSHM_EXPORT ssize_t preadv64v2(int fd, const struct iovec* iov, int count, off_t off, int flags) {
  return Vector2(fd, iov, count, off, flags, false);
}

LIBSHM_EXPORT ssize_t pwritev2(int fd, const struct iovec* iov, int count, off_t off, int flags) {
  return Vector2(fd, iov, count, off, flags, true);
}

LIBSHM_EXPORT ssize_t pwritev64v2(int fd, const struct iovec* iov, int count, off_t off,
                                  int flags) {
  return Vector2(fd, iov, count, off, flags, true);
}

LIBSHM_EXPORT ssize_t sendfile(int out, int in, off_t* off, size_t count) {
  int rc = PinForKernelCopy(in, out);
  if (rc != 0) return Finish(rc);
  if (glibc.sendfile != nullptr) return glibc.sendfile(out, in, off, count);
  return SyscallResult(
      sys::Syscall(SYS_sendfile, out, in, reinterpret_cast<long>(off), static_cast<long>(count)));
}

LIBSHM_EXPORT ssize_t sendfile64(int out, int in, off_t* off, size_t count) {
  return sendfile(out, in, off, count);
}

LIBSHM_EXPORT ssize_t splice(int in, loff_t* in_off, int out, loff_t* out_off, size_t len,
                             unsigned flags) {
  int rc = PinForKernelCopy(in, out);
  if (rc != 0) return Finish(rc);
  if (glibc.splice != nullptr) return glibc.splice(in, in_off, out, out_off, len, flags);
  return SyscallResult(sys::Syscall(SYS_splice, in, reinterpret_cast<long>(in_off), out,
                                    reinterpret_cast<long>(out_off), static_cast<long>(len),
                                    flags));
}

LIBSHM_EXPORT ssize_t copy_file_range(int in, loff_t* in_off, int out, loff_t* out_off, size_t len,
                                      unsigned flags) {
  int rc = PinForKernelCopy(in, out);
  if (rc != 0) return Finish(rc);
  if (glibc.copy_file_range != nullptr) {
    return glibc.copy_file_range(in, in_off, out, out_off, len, flags);
  }
  return SyscallResult(sys::Syscall(SYS_copy_file_range, in, reinterpret_cast<long>(in_off), out,
                                    reinterpret_cast<long>(out_off), static_cast<long>(len),
                                    flags));
}

}  // extern "C"
