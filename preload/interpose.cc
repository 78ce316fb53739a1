// SPDX-License-Identifier: MIT
// libshm_preload.so: the LD_PRELOAD shim. It forwards only: shared anonymous
// mappings (MAP_SHARED|MAP_ANONYMOUS with any fd, MAP_SHARED of /dev/zero)
// become managed regions; munmap/mremap/msync/madvise of them keep their
// meaning (remap_file_pages included: the kernel would map the memfd again,
// unregistered); dlopen loses RTLD_DEEPBIND (so plugins such as php-fpm's opcache
// still see this mmap); the exec family keeps the session's variables when
// the new environment drops them (exec.cc). Everything else goes straight to
// the kernel.
//
// Rules (DESIGN.md invariant 7): never break the host program. No malloc
// replacement, nothing thrown, libc's contract kept exactly (MAP_FAILED and a
// positive errno; errno untouched on success), safe before main. On a libshm
// failure print one line and fall back to a native mapping, unless
// LIBSHM_STRICT=1, which fails the call instead. Shared anonymous memory left
// native (MAP_HUGETLB, other flags, LIBSHM_MIN_SIZE, a fallback) is counted
// by reason when the kernel made it (docs/design.md "Native shared memory").
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>

#include "client.h"
#include "libshm/libshm.h"
#include "log.h"
#include "session_env.h"
#include "sys/syscalls.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

using libshm::internal::ClientRuntime;
namespace sys = libshm::internal::sys;

namespace {

using libshm::internal::kMap32Bit;
// Flags a managed region honours; any other flag leaves the mapping native.
constexpr int kManagedFlags = MAP_ANONYMOUS | MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_POPULATE |
                              MAP_NORESERVE | MAP_LOCKED | kMap32Bit;
// Flags the kernel ignores for shared memory; accepted and dropped.
constexpr int kIgnoredFlags = MAP_STACK | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_NONBLOCK;

void* SetErrno(long rc) {
  if (sys::IsErr(rc)) {
    errno = static_cast<int>(-rc);
    return MAP_FAILED;
  }
  return reinterpret_cast<void*>(rc);
}

int SetErrnoInt(long rc) {
  if (rc < 0) {
    errno = static_cast<int>(-rc);
    return -1;
  }
  return static_cast<int>(rc);
}

bool IsDevZero(int fd) {
  struct stat st;
  long rc = sys::Syscall(SYS_fstat, fd, reinterpret_cast<long>(&st));
  return rc == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 5);
}

bool IsSharedAnonymous(int flags, int fd) {
  int type = flags & MAP_TYPE;
  if (type != MAP_SHARED && type != MAP_SHARED_VALIDATE) return false;
  if ((flags & MAP_ANONYMOUS) != 0) return true;
  return fd >= 0 && IsDevZero(fd);
}

std::atomic<int> fallback_messages{0};

// A native mapping. MAP_FIXED replaces whatever was there, managed memory
// included: the range is ours no more.
void* NativeMmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  long rc = sys::Mmap(addr, len, prot, flags, fd, off);
  if (!sys::IsErr(rc) && (flags & MAP_FIXED) != 0 && ClientRuntime::Get().IsManaged(addr, len)) {
    int saved = errno;
    ClientRuntime::Get().NoteUnmap(addr, len);
    errno = saved;
  }
  return SetErrno(rc);
}

// Shared anonymous memory left to the kernel for `reason` (LIBSHM_NATIVE_*):
// counted only if the kernel mapped it, with the kernel's result and errno
// returned unchanged.
std::atomic<bool> counted_native{false};

void* CountedNativeMmap(int reason, void* addr, size_t len, int prot, int flags, int fd,
                        off_t off) {
  void* p = NativeMmap(addr, len, prot, flags, fd, off);
  if (p != MAP_FAILED) {
    counted_native.store(true, std::memory_order_relaxed);
    ClientRuntime::Get().NoteNative(reason, len);
  }
  return p;
}

// At exit, what was counted but not sent yet (NoteNative only counts; a
// connected process's watchdog sends at most once per interval, a process
// without a connection sends here). A process that never counted one does
// nothing here.
__attribute__((destructor)) void FlushNativeAtExit() {
  if (counted_native.load(std::memory_order_relaxed)) ClientRuntime::Get().FlushNative();
}

// mmap of a managed object's fd (a POSIX shm object or a memfd of the
// program: objects.cc). A shared mapping of a read-write fd is registered; a
// mapping libshm cannot register (private, a read-only fd, a write-sealed
// memfd: facts 2 and 14 of named_kernel_facts.md) would read evicted pages as
// zeros, so the object is
// pinned first (every page back in memory, kept) and the mapping is the
// kernel's. An fd that is not a managed object is the kernel's business.
void* ObjectMmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  ClientRuntime& rt = ClientRuntime::Get();
  int type = flags & MAP_TYPE;
  long fl = sys::Syscall(SYS_fcntl, fd, F_GETFL);
  if ((type == MAP_SHARED || type == MAP_SHARED_VALIDATE) && fl >= 0 &&
      (fl & O_ACCMODE) == O_RDWR && !ClientRuntime::WriteSealed(fd) &&
      (flags & ~(MAP_TYPE | (kManagedFlags & ~MAP_ANONYMOUS) | kIgnoredFlags)) == 0) {
    void* out = nullptr;
    bool kernel_refused = false;
    int rc = rt.MapObject(addr, len, prot, flags, fd, off, &out, &kernel_refused);
    if (rc == 0) {
      libshm::internal::MarkObjectFd(fd);
      return out;
    }
    if (rc == -ENOENT) return NativeMmap(addr, len, prot, flags, fd, off);
    if (kernel_refused) {
      errno = -rc;
      return MAP_FAILED;
    }
    if (rt.options().strict) {
      errno = -rc;
      return MAP_FAILED;
    }
    if (fallback_messages.fetch_add(1) < 3) {
      int saved = errno;
      LIBSHM_LOG_ERROR("mmap of a shared memory object cannot be managed (%s): it stays in memory",
                       strerror(-rc));
      errno = saved;
    }
  }
  int rc = rt.PinObject(fd);
  if (rc == 0) libshm::internal::MarkObjectFd(fd);
  if (rc != 0 && rc != -ENOENT && rc != ClientRuntime::kNoSession) {
    // Not kept: a native mapping would read its swapped pages as zeros.
    // ENOMEM as for a mapping the kernel cannot account for; EPERM from a
    // page that could not come back (a write seal set past the shim).
    errno = -rc;
    return MAP_FAILED;
  }
  return NativeMmap(addr, len, prot, flags, fd, off);
}

void* ManagedMmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (len != 0 && fd >= 0 && (flags & MAP_ANONYMOUS) == 0 &&
      ClientRuntime::Get().MayBeObjectFd(fd)) {
    return ObjectMmap(addr, len, prot, flags, fd, off);
  }
  if (len == 0 || !IsSharedAnonymous(flags, fd)) return NativeMmap(addr, len, prot, flags, fd, off);
  if ((flags & MAP_HUGETLB) != 0) {
    return CountedNativeMmap(LIBSHM_NATIVE_HUGETLB, addr, len, prot, flags, fd, off);
  }
  if ((flags & ~(MAP_TYPE | kManagedFlags | kIgnoredFlags)) != 0) {
    return CountedNativeMmap(LIBSHM_NATIVE_FLAGS, addr, len, prot, flags, fd, off);
  }
  ClientRuntime& rt = ClientRuntime::Get();
  if (len < rt.options().min_size) {
    return CountedNativeMmap(LIBSHM_NATIVE_MIN_SIZE, addr, len, prot, flags, fd, off);
  }
  void* out = nullptr;
  int rc = libshm_map(addr, len, prot, (flags & kManagedFlags) | MAP_SHARED, &out);
  if (rc == 0) return out;
  if (rt.options().strict) {
    errno = -rc;
    return MAP_FAILED;
  }
  // Fall back to the kernel's own shared memory. If the kernel refuses too,
  // its errno is the one the program would have seen without libshm.
  void* native =
      CountedNativeMmap(rt.session_failed() ? LIBSHM_NATIVE_NO_SESSION : LIBSHM_NATIVE_ERROR, addr,
                        len, prot, flags, fd, off);
  // A session that could not be joined already said why, once; other
  // failures get a line each, up to three.
  if (native != MAP_FAILED && !rt.session_failed() && fallback_messages.fetch_add(1) < 3) {
    int saved = errno;
    LIBSHM_LOG_ERROR("mmap of %zu shared bytes falls back to native memory: %s", len,
                     strerror(-rc));
    errno = saved;
  }
  return native;
}

using DlopenFn = void* (*)(const char*, int);

// Before main, while the environment strings are the ones the process was
// started with: the host may write its process title over them later.
__attribute__((constructor)) void SaveEnvironment() { libshm::internal::SaveSessionEnv(environ); }

}  // namespace

extern "C" {

LIBSHM_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return ManagedMmap(addr, len, prot, flags, fd, off);
}

LIBSHM_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return ManagedMmap(addr, len, prot, flags, fd, off);
}

LIBSHM_EXPORT int munmap(void* addr, size_t len) {
  long rc = sys::Munmap(addr, len);
  if (rc == 0 && ClientRuntime::Get().IsManaged(addr, len)) {
    int saved = errno;
    ClientRuntime::Get().NoteUnmap(addr, len);
    errno = saved;
  }
  return SetErrnoInt(rc);
}

LIBSHM_EXPORT void* mremap(void* old_addr, size_t old_len, size_t new_len, int flags, ...) {
  void* new_addr = nullptr;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void*);
    va_end(ap);
  }
  ClientRuntime& rt = ClientRuntime::Get();
  bool managed = rt.IsManaged(old_addr, old_len);
  // MREMAP_DONTUNMAP would leave the old range mapped with its write-protect
  // markers moved to the new one: writes through it would go untracked and be
  // lost. Refused (EINVAL, as older kernels do for shared memory; 6.18 accepts
  // it for its own shared memory: a documented difference).
  if (managed && (flags & MREMAP_DONTUNMAP) != 0) return SetErrno(-EINVAL);
  // The helper follows the kernel's REMAP/UNMAP events (a move, a shrink);
  // growth sends none, so the helper is told (it must write-protect the
  // grown part, or a first write there would go unseen).
  long rc = sys::Syscall(SYS_mremap, reinterpret_cast<long>(old_addr), static_cast<long>(old_len),
                         static_cast<long>(new_len), flags, reinterpret_cast<long>(new_addr));
  if (!sys::IsErr(rc) && managed) {
    int saved = errno;
    rt.NoteRemap(old_addr, old_len, reinterpret_cast<void*>(rc), new_len);
    if (new_len > old_len) rt.NoteGrowth(reinterpret_cast<void*>(rc), new_len);
    errno = saved;
  }
  return SetErrno(rc);
}

LIBSHM_EXPORT int msync(void* addr, size_t len, int flags) {
  if (ClientRuntime::Get().IsManaged(addr, len)) {
    int rc = libshm_msync(addr, len, flags);
    if (rc != -ENOMEM) return SetErrnoInt(rc);  // ENOMEM: partly native; ask the kernel
  }
  return SetErrnoInt(
      sys::Syscall(SYS_msync, reinterpret_cast<long>(addr), static_cast<long>(len), flags));
}

LIBSHM_EXPORT int madvise(void* addr, size_t len, int advice) {
  if (advice == MADV_REMOVE && ClientRuntime::Get().IsManaged(addr, len)) {
    return SetErrnoInt(libshm_madvise(addr, len, advice));
  }
  return SetErrnoInt(sys::Madvise(addr, len, advice));
}

LIBSHM_EXPORT int remap_file_pages(void* addr, size_t size, int prot, size_t pgoff, int flags) {
  if (ClientRuntime::Get().IsManaged(addr, size)) {
    return SetErrnoInt(ClientRuntime::Get().RemapFilePages(addr, size, prot, pgoff, flags));
  }
  return SetErrnoInt(sys::Syscall(SYS_remap_file_pages, reinterpret_cast<long>(addr),
                                  static_cast<long>(size), prot, static_cast<long>(pgoff), flags));
}

LIBSHM_EXPORT void* dlopen(const char* file, int flags) {
  static DlopenFn real = reinterpret_cast<DlopenFn>(dlsym(RTLD_NEXT, "dlopen"));
  // RTLD_DEEPBIND would bind the plugin to libc's mmap, bypassing this shim.
  return real(file, flags & ~RTLD_DEEPBIND);
}

}  // extern "C"
