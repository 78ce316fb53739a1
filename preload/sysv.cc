// SPDX-License-Identifier: MIT
// The shim's System V shared memory (docs/named.md): shmget, shmat, shmdt
// and shmctl. In a session (shmrun) a segment with a key is a program object
// the helper manages (a memfd each, evicted like an anonymous region); a
// managed shmat is an mmap of that memfd, because userfaultfd cannot
// register a real attachment (fact 1 of named_kernel_facts.md).
//
// What stays the kernel's: everything outside a session, a key the kernel
// has already, SHM_HUGETLB and the other flags libshm does not take, the
// namespace-wide shmctl commands (IPC_INFO, SHM_INFO, SHM_STAT), and
// IPC_PRIVATE as LIBSHM_NATIVE_PRIVATE_SYSV says (PrivateStaysNative).
//
// Ids: for a new key the shim makes a one-byte kernel *placeholder* segment
// with that key and mode in the caller's IPC namespace, marked with the
// session's helper (an orphan of a session that ended without IPC_RMID is
// taken back by the next); its id is the managed
// id, so a managed id never equals a live native id, and an outsider's
// shmget(key) meets the placeholder, not a second segment. Each process that
// attaches the segment also attaches the placeholder (read-only, one page),
// and shmdt detaches both: after IPC_RMID, which removes the placeholder too,
// the kernel keeps its id taken exactly as long as it is attached somewhere.
//
// The contract is glibc's and the kernel's: the same results and errno,
// errno untouched on success, nothing thrown.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "client.h"
#include "libshm/libshm.h"
#include "log.h"
#include "say_once.h"
#include "self_maps.h"
#include "sys/syscalls.h"

using libshm::internal::ClientRuntime;
using libshm::internal::ForEachMapping;
using libshm::internal::Op;
using libshm::internal::Reply;
using libshm::internal::Request;
namespace sys = libshm::internal::sys;

namespace {

constexpr uintptr_t kPage = 4096;
void* const kShmFailed = reinterpret_cast<void*>(-1);

// The flags a managed segment takes; any other (SHM_HUGETLB, SHM_NORESERVE,
// huge page sizes) leaves the call to the kernel.
constexpr int kManagedGetFlags = IPC_CREAT | IPC_EXCL | 0777;
constexpr int kManagedAtFlags = SHM_RDONLY | SHM_RND | SHM_REMAP | SHM_EXEC;

int Fail(int err) {
  errno = err;
  return -1;
}

std::atomic<bool> said_native_key{false}, said_native_flags{false}, said_display{false};

// LIBSHM_NATIVE_PRIVATE_SYSV: 0 manages IPC_PRIVATE segments, 1 leaves them
// to the kernel, 2 (the default) leaves them to the kernel in a program
// that may talk to an X server (DISPLAY set): an X client hands a segment's
// id to the server (MIT-SHM), which is outside the session and would attach
// the one-byte placeholder (XShmPutImage: BadValue, and most toolkits exit).
bool PrivateStaysNative(ClientRuntime& rt) {
  const uint64_t mode = rt.options().native_private_sysv;
  if (mode != 2) return mode == 1;
  const char* display = getenv("DISPLAY");
  if (display == nullptr || display[0] == '\0') return false;
  libshm::internal::SayOnce(said_display,
                            "shmget(IPC_PRIVATE) with DISPLAY=%s: the segment stays the kernel's, "
                            "outside the limit (an X server outside the session may attach it); "
                            "LIBSHM_NATIVE_PRIVATE_SYSV=0 manages it anyway",
                            display);
  return true;
}

void* FailAt(int err) {
  errno = err;
  return kShmFailed;
}

template <typename Fn>
Fn Real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

int RealShmget(key_t key, size_t size, int flg) {
  using Fn = int (*)(key_t, size_t, int);
  static Fn real = Real<Fn>("shmget");
  return real != nullptr ? real(key, size, flg) : Fail(ENOSYS);
}

void* RealShmat(int id, const void* addr, int flg) {
  using Fn = void* (*)(int, const void*, int);
  static Fn real = Real<Fn>("shmat");
  return real != nullptr ? real(id, addr, flg) : FailAt(ENOSYS);
}

int RealShmdt(const void* addr) {
  using Fn = int (*)(const void*);
  static Fn real = Real<Fn>("shmdt");
  return real != nullptr ? real(addr) : Fail(ENOSYS);
}

int RealShmctl(int id, int cmd, struct shmid_ds* buf) {
  using Fn = int (*)(int, int, struct shmid_ds*);
  static Fn real = Real<Fn>("shmctl");
  return real != nullptr ? real(id, cmd, buf) : Fail(ENOSYS);
}

// kernel.shmmax of this process's IPC namespace (the size rule of a new
// segment is the namespace's).
uint64_t ShmMax() {
  int fd = static_cast<int>(sys::Syscall(SYS_openat, AT_FDCWD,
                                         reinterpret_cast<long>("/proc/sys/kernel/shmmax"),
                                         O_RDONLY | O_CLOEXEC));
  if (fd < 0) return UINT64_MAX;
  char buf[32];
  ssize_t n = sys::Read(fd, buf, sizeof(buf) - 1);
  sys::Close(fd);
  if (n <= 0) return UINT64_MAX;
  buf[n] = '\0';
  return strtoull(buf, nullptr, 10);
}

// A managed piece's memfd label: /memfd:SYSVkkkkkkkk.ID (sysv_segments.cc).
bool ParseManagedPath(const char* path, unsigned* key, int* id) {
  int used = 0;
  return sscanf(path, "/memfd:SYSV%8x.%d (deleted)%n", key, id, &used) == 2 && used > 0;
}

// What the shim writes into a placeholder's page when it makes one: the
// session's helper, by pid and start time. A placeholder whose helper is
// gone is an orphan (its session ended without IPC_RMID: a crash), which
// the next session may take back; one whose helper lives is another
// session's, or this one's being registered.
struct PlaceholderMark {
  char magic[16];
  int64_t helper_pid;
  uint64_t helper_start;
};
constexpr char kMarkMagic[16] = "libshm-sysv-ph1";

// starttime of /proc/PID/stat (clock ticks since boot), 0 if none.
uint64_t StartTime(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  int fd = static_cast<int>(
      sys::Syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>(path), O_RDONLY | O_CLOEXEC));
  if (fd < 0) return 0;
  char buf[1024];
  ssize_t n = sys::Read(fd, buf, sizeof(buf) - 1);
  sys::Close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char* p = strrchr(buf, ')');
  // Fields after the name: state is field 3, starttime field 22.
  for (int field = 2; p != nullptr && field < 22; field++) {
    p = strchr(p + 1, ' ');
  }
  return p == nullptr ? 0 : strtoull(p + 1, nullptr, 10);
}

// Marks the new placeholder `ph` as this session's, then gives it `mode`
// (it was made 0600, so its creator can write the mark whatever mode is
// asked for). Returns 0 or an errno.
int MarkPlaceholder(int ph, pid_t helper, int mode) {
  void* p = RealShmat(ph, nullptr, 0);
  if (p == kShmFailed) return errno;
  PlaceholderMark mark;
  memcpy(mark.magic, kMarkMagic, sizeof(mark.magic));
  mark.helper_pid = helper;
  mark.helper_start = StartTime(helper);
  memcpy(p, &mark, sizeof(mark));  // the page is whole: the tail past 1 byte is usable
  RealShmdt(p);
  if ((mode & 0777) != 0600) {
    struct shmid_ds ds;
    if (RealShmctl(ph, IPC_STAT, &ds) != 0) return errno;
    ds.shm_perm.mode = static_cast<unsigned short>(mode & 0777);
    if (RealShmctl(ph, IPC_SET, &ds) != 0) return errno;
  }
  return 0;
}

enum class Placeholder { kNot, kOrphan, kLive };

// Whether the kernel's segment `id` is a libshm placeholder, and whether
// the session that made it is still there.
Placeholder ClassifyNative(int id) {
  struct shmid_ds ds;
  if (RealShmctl(id, IPC_STAT, &ds) != 0 || ds.shm_segsz != 1) return Placeholder::kNot;
  void* p = RealShmat(id, nullptr, SHM_RDONLY);
  if (p == kShmFailed) return Placeholder::kNot;
  PlaceholderMark mark;
  memcpy(&mark, p, sizeof(mark));
  RealShmdt(p);
  if (memcmp(mark.magic, kMarkMagic, sizeof(mark.magic)) != 0) return Placeholder::kNot;
  pid_t helper = static_cast<pid_t>(mark.helper_pid);
  bool live = helper > 0 && StartTime(helper) == mark.helper_start;
  // Attached somewhere means a live segment, whatever became of its helper.
  return live || ds.shm_nattch != 0 ? Placeholder::kLive : Placeholder::kOrphan;
}

}  // namespace

extern "C" {

LIBSHM_EXPORT int shmget(key_t key, size_t size, int flg) {
  ClientRuntime& rt = ClientRuntime::Get();
  if (!rt.ManagesObjects() || (key == IPC_PRIVATE && PrivateStaysNative(rt))) {
    return RealShmget(key, size, flg);
  }
  if ((flg & ~kManagedGetFlags) != 0) {
    libshm::internal::SayOnce(
        said_native_flags,
        "shmget with %s: the segment stays the kernel's, outside the limit "
        "(libshm manages segments of ordinary pages only)",
        (flg & SHM_HUGETLB) != 0 ? "SHM_HUGETLB" : "SHM_NORESERVE or a huge page size");
    return RealShmget(key, size, flg);
  }
  const int saved = errno;
  for (int attempt = 0; attempt < 4; attempt++) {
    Request req;
    req.op = Op::kShmGet;
    req.a = static_cast<uint32_t>(key);
    req.b = size;
    req.c = static_cast<uint64_t>(flg);
    if (key != IPC_PRIVATE) {
      Reply reply;
      int rc = rt.SysvRequest(req, &reply, nullptr);
      if (rc == ClientRuntime::kNoSession) return RealShmget(key, size, flg);
      if (rc == 0) {
        errno = saved;
        return static_cast<int>(reply.a);
      }
      if (rc != -ENOENT) return Fail(-rc);
      // Not a managed key: the kernel's, if it has it (flag 0 asks no access).
      int native = RealShmget(key, 0, 0);
      if (native >= 0 || errno != ENOENT) {
        Placeholder kind = native >= 0 ? ClassifyNative(native) : Placeholder::kNot;
        if (kind == Placeholder::kOrphan && RealShmctl(native, IPC_RMID, nullptr) == 0) {
          // Left by a session that ended without removing its segment (its
          // data went with it): the key is free again.
          continue;
        }
        // A fresh placeholder another member has not registered yet (or not
        // marked yet: size 1, attached nowhere): ask again, briefly.
        struct shmid_ds ds;
        if (native >= 0 && attempt < 3 && kind != Placeholder::kOrphan &&
            RealShmctl(native, IPC_STAT, &ds) == 0 && ds.shm_segsz == 1 && ds.shm_nattch == 0 &&
            ds.shm_cpid != getpid()) {
          usleep(1000);
          continue;
        }
        if (native >= 0 && kind == Placeholder::kNot) {
          char what[32];
          snprintf(what, sizeof(what), "0x%08x", static_cast<unsigned>(key));
          libshm::internal::SayOnce(
              said_native_key,
              "shmget(key %s): the kernel has a segment with this key already (made outside the "
              "session): it stays the kernel's, outside the limit; remove it (ipcrm -M KEY) "
              "before the session starts to have it managed",
              what);
        }
        errno = saved;
        return RealShmget(key, size, flg);
      }
      if ((flg & IPC_CREAT) == 0) return Fail(ENOENT);
    }
    // A new segment (IPC_PRIVATE always makes one, IPC_CREAT or not).
    if (size == 0 || size > ShmMax()) return Fail(EINVAL);
    // The placeholder: its id is the new segment's (ENOSPC past shmmni
    // comes from here, as the kernel's own shmget would give it).
    int ph = RealShmget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
    if (ph < 0) {
      if (errno == EEXIST) continue;  // made meanwhile, by a member or not: ask again
      return -1;
    }
    int err = MarkPlaceholder(ph, rt.HelperPid(), flg);
    if (err != 0) {
      RealShmctl(ph, IPC_RMID, nullptr);
      return Fail(err);
    }
    req.flags = libshm::internal::kShmGetCreate;
    req.d = static_cast<uint64_t>(ph);
    Reply reply;
    int rc = rt.SysvRequest(req, &reply, nullptr);
    if (rc != 0 || reply.b != 0) RealShmctl(ph, IPC_RMID, nullptr);
    // -ENOENT: the helper could not check the placeholder (it has no
    // privilege over this IPC namespace): the segment is the kernel's.
    if (rc == ClientRuntime::kNoSession || rc == -ENOENT) {
      errno = saved;
      return RealShmget(key, size, flg);
    }
    if (rc != 0) return Fail(-rc);
    errno = saved;
    return static_cast<int>(reply.a);
  }
  return RealShmget(key, size, flg);
}

LIBSHM_EXPORT void* shmat(int id, const void* addr, int flg) {
  ClientRuntime& rt = ClientRuntime::Get();
  if (!rt.ManagesObjects() || (flg & ~kManagedAtFlags) != 0 || id < 0) {
    return RealShmat(id, addr, flg);
  }
  // do_shmat's address rules, before the id is looked at (fact 6): SHM_RND
  // rounds down to SHMLBA, to 0 too (then MAP_FIXED at 0); an unaligned
  // address without it, or SHM_REMAP without an address, is EINVAL.
  uintptr_t at = reinterpret_cast<uintptr_t>(addr);
  int map_flags = 0;
  if (at != 0) {
    if ((at & (SHMLBA - 1)) != 0) {
      if ((flg & SHM_RND) == 0) return FailAt(EINVAL);
      at &= ~static_cast<uintptr_t>(SHMLBA - 1);
      if (at == 0 && (flg & SHM_REMAP) != 0) return FailAt(EINVAL);
    }
    // A range in use is EINVAL unless SHM_REMAP replaces it.
    map_flags = (flg & SHM_REMAP) != 0 ? MAP_FIXED : MAP_FIXED_NOREPLACE;
  } else if ((flg & SHM_REMAP) != 0) {
    return FailAt(EINVAL);
  }
  const int saved = errno;
  Request req;
  req.op = Op::kShmAt;
  req.a = static_cast<uint64_t>(id);
  req.c = static_cast<uint64_t>(flg);
  Reply reply;
  int fd = -1;
  int rc = rt.SysvRequest(req, &reply, &fd);
  if (rc == ClientRuntime::kNoSession || rc == -ENOENT) {
    errno = saved;
    return RealShmat(id, addr, flg);
  }
  if (rc != 0) return FailAt(-rc);
  if (fd < 0) return FailAt(ENOMEM);
  const size_t size = (reply.b + kPage - 1) & ~(kPage - 1);
  int prot = (flg & SHM_RDONLY) != 0 ? PROT_READ : PROT_READ | PROT_WRITE;
  if ((flg & SHM_EXEC) != 0) prot |= PROT_EXEC;
  void* out = nullptr;
  long fl = sys::Syscall(SYS_fcntl, fd, F_GETFL);
  rc = -ENOENT;
  if (fl >= 0 && (fl & O_ACCMODE) == O_RDWR) {
    bool kernel_refused = false;
    rc = rt.MapObject(reinterpret_cast<void*>(at), size, prot, map_flags, fd, 0, &out,
                      &kernel_refused);
    if (rc != 0 && kernel_refused) {
      sys::Close(fd);
      return FailAt(rc == -EEXIST ? EINVAL : -rc);
    }
    if (rc == 0 && (flg & SHM_RDONLY) != 0) rt.MarkNoWrite(out, size);
  }
  if (rc != 0) {
    LIBSHM_LOG_DEBUG("shmat of segment %d: not registered (%s): pinned", id, strerror(-rc));
    // A caller who may only read (or libshm could not register): a mapping
    // libshm cannot register reads evicted pages as zeros, so every page of
    // the segment comes back and stays first (named.md "Read-only mappers").
    rc = rt.PinObject(fd);
    long m =
        rc != 0 ? rc
                : sys::Mmap(reinterpret_cast<void*>(at), size, prot, MAP_SHARED | map_flags, fd, 0);
    if (sys::IsErr(m) || rc != 0) {
      sys::Close(fd);
      int err = rc != 0 ? ENOMEM : static_cast<int>(-m);
      return FailAt(err == EEXIST ? EINVAL : err);
    }
    out = reinterpret_cast<void*>(m);
  }
  sys::Close(fd);
  // Keep the id taken while this attachment lives (see the file comment).
  if (RealShmat(id, nullptr, SHM_RDONLY) == kShmFailed) {
    int err = errno;
    munmap(out, size);
    return FailAt(err == EINVAL || err == EIDRM ? EINVAL : err);
  }
  errno = saved;
  return out;
}

LIBSHM_EXPORT int shmdt(const void* addr) {
  ClientRuntime& rt = ClientRuntime::Get();
  const uintptr_t at = reinterpret_cast<uintptr_t>(addr);
  if (!rt.ManagesObjects() || (at & (kPage - 1)) != 0) return RealShmdt(addr);
  const int saved = errno;
  // Every piece of the attachment made at `addr` (fact 5): the pieces of a
  // managed segment whose start less their offset is `addr`.
  constexpr int kMaxPieces = 64;
  uintptr_t starts[kMaxPieces], ends[kMaxPieces];
  int pieces = 0;
  unsigned key = 0;
  int id = -1;
  bool more = true;
  while (more) {
    more = false;
    pieces = 0;
    ForEachMapping([&](unsigned long start, unsigned long end, unsigned long off, unsigned long,
                       bool, const char* path) {
      unsigned k;
      int i;
      if (start - off != at || !ParseManagedPath(path, &k, &i)) return true;
      if (pieces == kMaxPieces) {
        more = true;
        return false;
      }
      key = k;
      id = i;
      starts[pieces] = start;
      ends[pieces] = end;
      pieces++;
      return true;
    });
    for (int i = 0; i < pieces; i++) {
      munmap(reinterpret_cast<void*>(starts[i]), ends[i] - starts[i]);
    }
    if (pieces == 0 && id < 0) return RealShmdt(addr);  // the kernel's, or EINVAL
  }
  // One attachment of the placeholder goes with it.
  char want[32];
  snprintf(want, sizeof(want), "/SYSV%08x (deleted)", key);
  uintptr_t ph = 0;
  bool found = false;
  ForEachMapping([&](unsigned long start, unsigned long, unsigned long, unsigned long ino, bool,
                     const char* path) {
    if (ino != static_cast<unsigned long>(id) || strcmp(path, want) != 0) return true;
    ph = start;
    found = true;
    return false;
  });
  if (found) RealShmdt(reinterpret_cast<void*>(ph));
  errno = saved;
  return 0;
}

// mprotect: only to refuse write on a SHM_RDONLY attachment, as the kernel
// does (EACCES); everything else is the kernel's call.
LIBSHM_EXPORT int mprotect(void* addr, size_t len, int prot) {
  if ((prot & PROT_WRITE) != 0 &&
      libshm::internal::g_has_no_write_ranges.load(std::memory_order_acquire) &&
      ClientRuntime::Get().DeniesWrite(addr, len)) {
    return Fail(EACCES);
  }
  long rc = sys::Syscall(SYS_mprotect, reinterpret_cast<long>(addr), static_cast<long>(len), prot);
  return rc == 0 ? 0 : Fail(static_cast<int>(-rc));
}

LIBSHM_EXPORT int shmctl(int id, int cmd, struct shmid_ds* buf) {
  ClientRuntime& rt = ClientRuntime::Get();
  if (!rt.ManagesObjects() || id < 0 ||
      (cmd != IPC_STAT && cmd != IPC_SET && cmd != IPC_RMID && cmd != SHM_LOCK &&
       cmd != SHM_UNLOCK)) {
    return RealShmctl(id, cmd, buf);
  }
  const int saved = errno;
  Request req;
  req.op = Op::kShmCtl;
  req.a = static_cast<uint64_t>(id);
  req.b = static_cast<uint64_t>(cmd);
  if (cmd == IPC_SET) {
    // The kernel copies the caller's buffer first: EFAULT before anything.
    if (buf == nullptr) return Fail(EFAULT);
    req.c = static_cast<uint64_t>(buf->shm_perm.uid) | static_cast<uint64_t>(buf->shm_perm.gid)
                                                           << 32;
    req.d = buf->shm_perm.mode;
  }
  Reply reply;
  int rc = rt.SysvRequest(req, &reply, nullptr);
  if (rc == ClientRuntime::kNoSession || rc == -ENOENT) {
    errno = saved;
    return RealShmctl(id, cmd, buf);
  }
  if (rc != 0) return Fail(-rc);
  if (cmd == IPC_STAT) {
    if (buf == nullptr) return Fail(EFAULT);
    memcpy(buf, reply.text, sizeof(*buf));
  } else if (cmd == IPC_SET || cmd == IPC_RMID) {
    // The placeholder follows: owner and mode (so its owner may remove it),
    // and removal (its key is free at once; its id stays taken while it is
    // attached, which is while the segment is).
    RealShmctl(id, cmd, buf);
  }
  errno = saved;
  return 0;
}

}  // extern "C"
