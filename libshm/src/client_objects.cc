// SPDX-License-Identifier: MIT
// ClientRuntime, program objects (see client.h, docs/named.md): the process
// side of shm_open, shm_unlink, memfd_create, ftruncate and mmap of a managed
// object. The helper holds names and decides; this side makes the memfd a
// new object is (so its owner is this process's, as the kernel would make
// it), maps the program's own fd (so the kernel judges access mode, offset
// and seals) and has the mapping registered before anything can touch it.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "client.h"
#include "log.h"
#include "sys/syscalls.h"
#include "uffd.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

namespace libshm::internal {
namespace {

// The device of memfds (the kernel's internal tmpfs), learned once from a
// memfd of our own; 0 if none could be made.
dev_t MemfdDevice() {
  static std::atomic<uint64_t> dev{0};
  static std::atomic<bool> known{false};
  if (known.load(std::memory_order_acquire)) return static_cast<dev_t>(dev.load());
  int fd = sys::MemfdCreate("libshm-probe", MFD_CLOEXEC);
  struct stat st;
  if (fd >= 0 && sys::Syscall(SYS_fstat, fd, reinterpret_cast<long>(&st)) == 0) {
    dev.store(st.st_dev);
  }
  if (fd >= 0) sys::Close(fd);
  known.store(true, std::memory_order_release);
  return static_cast<dev_t>(dev.load());
}

// This process's umask, without changing it (umask(2) would, for a moment,
// under every other thread): the Umask line of /proc/self/status.
mode_t CurrentUmask() {
  int fd = static_cast<int>(sys::Syscall(
      SYS_openat, AT_FDCWD, reinterpret_cast<long>("/proc/self/status"), O_RDONLY | O_CLOEXEC));
  if (fd < 0) return 022;
  char buf[4096];
  ssize_t n = sys::Read(fd, buf, sizeof(buf) - 1);
  sys::Close(fd);
  if (n <= 0) return 022;
  buf[n] = '\0';
  const char* p = strstr(buf, "\nUmask:");
  unsigned mask = 022;
  if (p == nullptr || sscanf(p + 7, "%o", &mask) != 1) return 022;
  return static_cast<mode_t>(mask & 0777);
}

// A new open file description of `fd` with access mode `acc`.
int Reopen(int fd, int acc) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  long r = sys::Syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), acc | O_CLOEXEC);
  return static_cast<int>(r);
}

}  // namespace

int ShmNameOf(const char* name, const char** out) {
  while (*name == '/') name++;
  size_t n = strlen(name);
  if (n == 0 || strchr(name, '/') != nullptr || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
      n >= NAME_MAX + 5) {
    return -EINVAL;
  }
  if (n > NAME_MAX) return -ENAMETOOLONG;
  *out = name;
  return 0;
}

bool IsMemfdFile(int fd) {
  struct stat st;
  if (fd < 0 || sys::Syscall(SYS_fstat, fd, reinterpret_cast<long>(&st)) != 0) return false;
  return S_ISREG(st.st_mode) && st.st_dev == MemfdDevice() && MemfdDevice() != 0;
}

bool ClientRuntime::MayBeObjectFd(int fd) const { return ManagesObjects() && IsMemfdFile(fd); }

bool ClientRuntime::WriteSealed(int fd) {
  long seals = sys::Syscall(SYS_fcntl, fd, F_GET_SEALS);
  return seals > 0 && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0;
}

int ClientRuntime::ShmOpen(const char* name, int oflag, mode_t mode) {
  size_t n = strlen(name);
  Request req;
  if (n >= sizeof(req.text2)) return -ENAMETOOLONG;
  std::lock_guard<std::mutex> lock(mu_);
  if (EnsureSessionLocked() != 0) return kNoSession;
  int memfd = -1, own = -1;
  if ((oflag & O_CREAT) != 0) {
    // The object is born as this process's memfd: its owner is ours. No
    // MFD_ALLOW_SEALING: like a /dev/shm file it cannot be sealed (fact 10).
    // Its label is the name (shown in /proc/PID/maps as /memfd:NAME), cut
    // to what memfd_create takes (249 bytes; a POSIX name may have 255).
    char label[240];
    snprintf(label, sizeof(label), "%s", name);
    memfd = sys::MemfdCreate(label, MFD_CLOEXEC);
    if (memfd < 0) return memfd;
    // The helper keeps the memfd itself; the program gets a file of its own,
    // opened now so that one always exists (the helper's hold probe counts
    // only such files: Engine::ProgramHold).
    own = Reopen(memfd, oflag & O_ACCMODE);
    if (own < 0) {
      sys::Close(memfd);
      return own;
    }
  }
  req.op = Op::kShmOpen;
  req.a = static_cast<uint64_t>(oflag & (O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC));
  req.b = (mode & 07777) & ~CurrentUmask();
  memcpy(req.text2, name, n + 1);
  Reply reply;
  int got = -1;
  int rc = CallLocked(req, &reply, memfd, &got);
  if (memfd >= 0) sys::Close(memfd);
  if (rc != 0) {
    if (own >= 0) sys::Close(own);
    if (got >= 0) sys::Close(got);
    return rc == -ECONNRESET || rc == -EPIPE ? kNoSession : rc;
  }
  if (reply.a == 1) {
    // The name was new: the memfd we made is the object, and `own` a file
    // of it with the access mode asked for, as open(2) gives.
    if (got >= 0) sys::Close(got);
    return own;
  }
  if (own >= 0) sys::Close(own);
  return got >= 0 ? got : -EPROTO;
}

int ClientRuntime::ShmUnlink(const char* name) {
  Request req;
  size_t n = strlen(name);
  if (n >= sizeof(req.text2)) return -ENOENT;
  std::lock_guard<std::mutex> lock(mu_);
  if (EnsureSessionLocked() != 0) return kNoSession;
  req.op = Op::kShmUnlink;
  memcpy(req.text2, name, n + 1);
  Reply reply;
  int rc = CallLocked(req, &reply, -1, nullptr);
  return rc == -ECONNRESET || rc == -EPIPE ? kNoSession : rc;
}

int ClientRuntime::AdoptNewMemfd(int fd, bool cloexec) {
  std::lock_guard<std::mutex> lock(mu_);
  if (EnsureSessionLocked() != 0) return kNoSession;
  // The helper keeps the memfd itself; the program's number `fd` is given a
  // file of its own (opened before the helper sees the object, so that one
  // always exists: the helper's hold probe counts only such files).
  int own = Reopen(fd, O_RDWR);
  if (own < 0) return own;
  Request req;
  req.op = Op::kCreate;
  req.flags = kCreateProgram;
  Reply reply;
  int rc = CallLocked(req, &reply, fd, nullptr);
  if (rc == 0) {
    long d = sys::Syscall(SYS_dup3, own, fd, cloexec ? O_CLOEXEC : 0);
    if (d < 0) rc = static_cast<int>(d);
  }
  sys::Close(own);
  return rc;
}

int ClientRuntime::PinObject(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (EnsureSessionLocked() != 0) return -ENOENT;
  Request req;
  req.op = Op::kAdoptFd;
  req.flags = kAdoptPin;
  Reply reply;
  int rc = CallLocked(req, &reply, fd, nullptr);
  return rc == -ECONNRESET || rc == -EPIPE ? -ENOENT : rc;  // no helper: the kernel's
}

int ClientRuntime::ResizeObject(int fd, off_t length, bool grow_only) {
  std::lock_guard<std::mutex> lock(mu_);
  if (EnsureSessionLocked() != 0) return -ENOENT;
  Request req;
  req.op = Op::kResize;
  req.flags = grow_only ? kResizeGrowOnly : 0;
  req.a = static_cast<uint64_t>(length);
  Reply reply;
  return CallLocked(req, &reply, fd, nullptr);
}

int ClientRuntime::PunchObject(int fd, off_t off, off_t len) {
  if (!ManagesObjects()) return -ENOENT;
  std::lock_guard<std::mutex> lock(mu_);
  if (EnsureSessionLocked() != 0) return -ENOENT;
  Request req;
  req.op = Op::kResize;
  req.flags = kResizePunch;
  req.a = static_cast<uint64_t>(off);
  req.b = static_cast<uint64_t>(len);
  Reply reply;
  return CallLocked(req, &reply, fd, nullptr);
}

int ClientRuntime::SysvRequest(const Request& req, Reply* reply, int* recv_fd) {
  if (recv_fd != nullptr) *recv_fd = -1;
  if (!ManagesObjects()) return kNoSession;
  std::lock_guard<std::mutex> lock(mu_);
  if (EnsureSessionLocked() != 0) return kNoSession;
  int rc = CallLocked(req, reply, -1, recv_fd);
  return rc == -ECONNRESET || rc == -EPIPE ? kNoSession : rc;
}

pid_t ClientRuntime::HelperPid() {
  std::lock_guard<std::mutex> lock(mu_);
  return helper_pid_;
}

void ClientRuntime::MarkNoWrite(void* addr, size_t length) {
  uintptr_t start = reinterpret_cast<uintptr_t>(addr), end = start + length;
  g_has_no_write_ranges.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = ranges_.lower_bound(start); it != ranges_.end() && it->first < end; ++it) {
    it->second.no_write = true;
  }
}

bool ClientRuntime::DeniesWrite(const void* addr, size_t length) {
  if (!ever_managed_.load(std::memory_order_acquire) || length == 0) return false;
  uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  uintptr_t end = start + length < start ? UINTPTR_MAX : start + length;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin() && std::prev(it)->second.end > start) --it;
  for (; it != ranges_.end() && it->first < end; ++it) {
    if (it->second.no_write) return true;
  }
  return false;
}

int ClientRuntime::MapObject(void* addr, size_t len, int prot, int flags, int fd, off_t off,
                             void** out, bool* kernel_refused) {
  *kernel_refused = false;
  if (len == 0 || off < 0 || off % static_cast<off_t>(kPageSize) != 0) return -ENOENT;
  size_t size = (len + kPageSize - 1) & ~(kPageSize - 1);
  if (size < len) return -ENOENT;
  std::lock_guard<std::mutex> lock(mu_);
  if (EnsureSessionLocked() != 0) return -ENOENT;
  RangeMap::node_type range = NewRangeNode();
  if (range.empty()) return -ENOMEM;
  Request req;
  req.op = Op::kAdoptFd;
  Reply reply;
  int rc = CallLocked(req, &reply, fd, nullptr);
  if (rc != 0) return rc;
  uint64_t handle = reply.a;
  // PROT_NONE until registered: a racing access (another thread, over a
  // MAP_FIXED range) gets SIGSEGV, never a zero page filled into a swapped
  // page's hole for every mapper (DESIGN.md invariant 1).
  int mflags = MAP_SHARED | (flags & kMapFlagsPassedOn);
  long mapped = sys::Mmap(addr, size, PROT_NONE, mflags, fd, off);
  if (sys::IsErr(mapped)) {
    ReleaseLocked(handle);
    *kernel_refused = true;
    return static_cast<int>(mapped);
  }
  rc = RegisterLocked(handle, static_cast<uintptr_t>(mapped), size,
                      static_cast<uint64_t>(off) / kPageSize);
  if (rc == 0) {
    rc = static_cast<int>(
        sys::Syscall(SYS_mprotect, mapped, static_cast<long>(size), static_cast<long>(prot)));
    if (rc != 0) {
      sys::Munmap(reinterpret_cast<void*>(mapped), size);
      *kernel_refused = true;  // as mmap with that protection would be
    }
  } else {
    sys::Munmap(reinterpret_cast<void*>(mapped), size);
    ReleaseLocked(handle);
    // libshm's failure, not the kernel's answer: the caller pins and maps
    // natively. (-ENOENT means "not ours" to the caller: keep it apart.)
    return rc == -ENOENT ? -EIO : rc;
  }
  if (rc != 0) return rc;
  AddRangeLocked(std::move(range), static_cast<uintptr_t>(mapped),
                 static_cast<uintptr_t>(mapped) + size, prot);
  ever_managed_.store(true, std::memory_order_release);
  if ((flags & (MAP_POPULATE | MAP_LOCKED)) != 0 && size <= opts_.limit) {
    sys::Madvise(reinterpret_cast<void*>(mapped), size, MADV_POPULATE_READ);
  }
  *out = reinterpret_cast<void*>(mapped);
  return 0;
}

}  // namespace libshm::internal
