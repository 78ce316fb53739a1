// SPDX-License-Identifier: MIT
// ClientRuntime: the process side of a session. It finds or starts the
// helper, creates each region's memfd, maps it, has the helper register it on
// this process's uffd, and forwards msync/madvise/stats/ctl. It keeps its own
// copy of its uffd, so that if the helper dies a fault blocks instead of
// silently reading zeros (DESIGN.md invariant 1), and a watchdog thread that
// turns such a block into a loud exit and sends the counts of native shared
// memory (NoteNative only counts).
//
// Fork: pthread_atfork handlers hold the lock across fork; the child rings its
// doorbell page (so the helper learns its pid from the fault's thread id),
// reconnects and receives its own uffd back (full mode), or creates a new
// uffd and has the helper re-register its mappings (restricted mode).
//
// Thread-safe: one mutex serializes requests (each has exactly one reply).
#ifndef LIBSHM_SRC_CLIENT_H_
#define LIBSHM_SRC_CLIENT_H_

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>

#include <atomic>
#include <map>
#include <mutex>

#include "config.h"
#include "host_fd.h"
#include "libshm/libshm.h"
#include "protocol.h"

namespace libshm::internal {

#ifdef MAP_32BIT
inline constexpr int kMap32Bit = MAP_32BIT;  // x86-64 only; PHP's opcache segment uses it
#else
inline constexpr int kMap32Bit = 0;
#endif
// mmap flags a managed mapping passes on to the kernel's mmap of its memfd.
inline constexpr int kMapFlagsPassedOn =
    MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_NORESERVE | kMap32Bit;

// Descriptors this process has seen name a managed object (shm_open,
// memfd_create, mmap of one), so that file I/O on them goes through a
// mapping (preload/object_io.cc): one bit test for any other fd. Lock-free,
// no runtime needed (close() clears a bit before main too). A number reused
// for another file without close(3) is found out on first use.
inline constexpr int kMaxObjectFds = 1 << 16;
// Set once this process has made a SHM_RDONLY attachment: until then the
// shim's mprotect is one load, and never constructs the runtime or takes its
// lock (mprotect is called from everywhere: a JIT, a signal handler, the
// runtime's own construction under ASan).
inline std::atomic<bool> g_has_no_write_ranges{false};
inline std::atomic<uint64_t> g_object_fds[kMaxObjectFds / 64];
inline void MarkObjectFd(int fd) noexcept {
  if (fd >= 0 && fd < kMaxObjectFds) {
    g_object_fds[fd / 64].fetch_or(1ull << (fd % 64), std::memory_order_relaxed);
  }
}
inline void ClearObjectFd(int fd) noexcept {
  if (fd >= 0 && fd < kMaxObjectFds) {
    g_object_fds[fd / 64].fetch_and(~(1ull << (fd % 64)), std::memory_order_relaxed);
  }
}
inline bool IsObjectFd(int fd) noexcept {
  return fd >= 0 && fd < kMaxObjectFds &&
         (g_object_fds[fd / 64].load(std::memory_order_relaxed) >> (fd % 64) & 1) != 0;
}

// Whether `fd` is a regular file on the memfd device (a memfd, or a file a
// managed object's memfd was reopened as). One fstat.
bool IsMemfdFile(int fd);

// glibc's shm_open name rules (named_kernel_facts.md fact 9): leading
// slashes dropped; empty, ".", "..", another slash, or 260 bytes and more:
// -EINVAL; 256..259 bytes: -ENAMETOOLONG (the kernel's answer). 0 and the
// name without its slashes in *out.
int ShmNameOf(const char* name, const char** out);

class ClientRuntime {
 public:
  static ClientRuntime& Get();

  int Map(void* hint, size_t length, int prot, int flags, void** out);
  int Unmap(void* addr, size_t length);
  int Msync(void* addr, size_t length, int flags);
  int Madvise(void* addr, size_t length, int advice);
  bool IsManaged(const void* addr, size_t length);
  // The shim saw munmap/mremap of managed memory: keep the range list right.
  void NoteUnmap(void* addr, size_t length);
  void NoteRemap(void* old_addr, size_t old_length, void* new_addr, size_t new_length);
  // mremap grew the managed mapping at `addr` to `length` bytes: the helper
  // write-protects the grown part (the kernel registers it with no event).
  void NoteGrowth(void* addr, size_t length);
  // remap_file_pages(2) on a managed region: the kernel would map the memfd
  // again unregistered (evicted pages would read zeros); map it ourselves and
  // register it. Returns 0 or -errno.
  int RemapFilePages(void* addr, size_t size, int prot, size_t pgoff, int flags);
  // The shim left a shared anonymous mapping of `length` bytes native for
  // `reason` (LIBSHM_NATIVE_*) and the kernel mapped it. Only counted here:
  // no lock, no round trip, nothing that can wait (async-signal-safe). If the
  // process has a connection, its watchdog thread is woken (a nonblocking
  // pipe write, once until it runs) and sends the count within
  // kNativeReportIntervalNs; any request of the process (map, stats, ctl)
  // sends it too; otherwise FlushNative does at exit. Never fails, keeps errno.
  void NoteNative(int reason, size_t length) noexcept;
  // At exit: sends what NoteNative counted and was not sent yet, over this
  // process's connection or, under shmrun, a short observer connection
  // (nonblocking), waiting at most kNativeExitWaitNs for the helper. Nothing
  // if a request is under way. Keeps errno.
  void FlushNative() noexcept;
  static constexpr uint64_t kNativeReportIntervalNs = 100'000'000;
  static constexpr uint64_t kNativeExitWaitNs = 200'000'000;
  // Program objects (client_objects.cc, docs/named.md): POSIX shm objects
  // and the program's memfds. The shim manages them only in a session
  // (shmrun), where names are shared by the whole tree (ManagesObjects);
  // the C API whenever it is called. kNoSession: no helper could be
  // reached; the shim then does what the kernel would.
  static constexpr int kNoSession = -ENOTCONN;
  bool ManagesObjects() const { return opts_.session[0] != '\0' && !session_failed_; }
  // Whether `fd` may be a managed object: a regular file on the memfd
  // device. One fstat; no request.
  bool MayBeObjectFd(int fd) const;
  // Whether `fd`'s memfd has a write seal (F_SEAL_WRITE, F_SEAL_FUTURE_WRITE):
  // no new mapping of it can be registered (the kernel clears VM_MAYWRITE,
  // and userfaultfd refuses such a VMA: fact 2 of named_kernel_facts.md), so
  // a mapper or file I/O of it pins the object and is the kernel's.
  static bool WriteSealed(int fd);
  // shm_open of `name` (glibc's rules applied, leading slashes removed).
  // Returns an fd or -errno (-ENOENT without O_CREAT: no managed object of
  // that name; the kernel's may exist).
  int ShmOpen(const char* name, int oflag, mode_t mode);
  int ShmUnlink(const char* name);
  // memfd_create made `fd` (close-on-exec if `cloexec`): the helper manages
  // it from now on, and `fd` names a new file of it. 0 or -errno.
  int AdoptNewMemfd(int fd, bool cloexec);
  // mmap(MAP_SHARED) of a managed object's O_RDWR fd, registered before it
  // can be touched. -ENOENT: not a managed object (map it natively). Other
  // errors: the kernel's answer to this mmap (*kernel_refused), or libshm's
  // failure (then the object must be pinned before a native mapping).
  int MapObject(void* addr, size_t len, int prot, int flags, int fd, off_t off, void** out,
                bool* kernel_refused);
  // A mapping libshm cannot register is about to be made of `fd`: every page
  // of the object comes back into memory and stays. 0, -ENOENT (not ours), -ENOMEM.
  int PinObject(int fd);
  // ftruncate of a managed object (the helper truncates through `fd`);
  // `grow_only`: to at least `length` (fallocate). -ENOENT: not ours.
  int ResizeObject(int fd, off_t length, bool grow_only = false);
  // fallocate(PUNCH_HOLE | KEEP_SIZE) of a managed object (the helper
  // punches through `fd` and forgets the punched pages' data). -ENOENT: not ours.
  int PunchObject(int fd, off_t off, off_t len);
  // System V segments (preload/sysv.cc): sends one kShmGet, kShmAt or
  // kShmCtl request built by the shim and returns its status (0, -errno,
  // kNoSession); *recv_fd (if not null) gets a passed fd or -1.
  int SysvRequest(const Request& req, Reply* reply, int* recv_fd);
  // The pid of this process's helper (0 before it has one).
  pid_t HelperPid();
  // The managed mapping [addr, addr + length) is a SysV attachment made
  // SHM_RDONLY: write permission cannot be added to it (DeniesWrite).
  void MarkNoWrite(void* addr, size_t length);
  // Whether [addr, addr + length) overlaps such an attachment (mprotect with
  // PROT_WRITE is EACCES, as the kernel's). One load when nothing is managed.
  bool DeniesWrite(const void* addr, size_t length);
  int Stats(libshm_stats_t* out);
  int Ctl(const char* name, void* oldp, size_t* oldlenp, const void* newp, size_t newlen);
  const Options& options() const { return opts_; }
  // True once this process (or the parent it was forked from) could not
  // join a session and said why: callers add no line of their own.
  bool session_failed() const { return session_failed_; }

 private:
  ClientRuntime();
  int EnsureSessionLocked();
  int StartHelperLocked(char* address, size_t len);
  int ConnectLocked(const char* address);
  int HelloLocked();
  // Opens this process's uffd: full if we may, else borrowed from a root
  // helper (privilege separation), else user-mode-only (restricted).
  int OpenOwnUffdLocked(bool* restricted);
  int CallLocked(const Request& req, Reply* reply, int send_fd, int* recv_fd);
  // CallLocked for a request that registers a range (kRegister, kExtend):
  // -EAGAIN means another thread of this process is changing its mappings
  // and the helper has not seen that thread finish yet; ask again, backing
  // off, for up to kRegisterRetryNs, then return what the helper said.
  int CallRegisteringLocked(const Request& req, Reply* reply);
  static constexpr uint64_t kRegisterRetryNs = 10ull * 1000 * 1000 * 1000;
  // kRegister of [addr, addr + len) at page `pgoff` with `handle` (which the
  // registration takes), and kRelease of a handle that will not be.
  int RegisterLocked(uint64_t handle, uintptr_t addr, size_t len, uint64_t pgoff);
  void ReleaseLocked(uint64_t handle);
  void StartWatchdog();
  // The watchdog thread: waits for the helper's exit (then kills this
  // process) and sends native counts when NoteNative wakes it.
  void WatchdogLoop(HostFd pidfd, pid_t helper, HostFd wake) noexcept;
  // False, and the connection forgotten (not closed: the number is the
  // program's now), if the program closed sock_; new mappings then stay
  // native, with one line. The regions made before are still served: the
  // helper holds their uffd.
  bool SockStillOursLocked();
  bool NativePending() const noexcept;
  // Sends the pending native counts on `sock` without waiting (MSG_DONTWAIT),
  // one kNative request per reason; *owed counts the replies to read. What
  // cannot be sent stays pending. Returns 0 or -errno.
  int SendNativeLocked(int sock, int* owed) noexcept;
  // Reads the *owed replies to kNative reports (their status is not needed:
  // figures the helper refuses are dropped) until `deadline_ns`
  // (MonotonicNs; kNoDeadline: as long as it takes). Returns 0, -ETIMEDOUT,
  // or -errno of the connection.
  static int AwaitNativeReplies(int sock, int* owed, uint64_t deadline_ns) noexcept;
  static constexpr uint64_t kNoDeadline = UINT64_MAX;
  // Sends the native counts not reported yet with a request of this process
  // on its own connection (the request's CallLocked reads the replies first).
  void ReportNativeLocked() noexcept;
  // Forgets [start, end) of the managed ranges; a range that contains it
  // keeps its head and tail. Never throws: if the tail cannot be stored, the
  // range stays whole (a hole counted managed, never a piece forgotten).
  void ForgetRangeLocked(uintptr_t start, uintptr_t end) noexcept;

  static void AtforkPrepare();
  static void AtforkParent();
  static void AtforkChild();
  void ChildAfterFork();

  std::mutex mu_;
  Options opts_;
  bool session_failed_ = false;  // do not retry a helper that cannot start
  int sock_ = -1;
  int uffd_ = -1;
  HostFd sock_id_, uffd_id_;  // what sock_ and uffd_ named when opened
  bool restricted_ = false;
  uint64_t fork_token_ = 0;  // restricted mode: the pin of the fork in progress
  void* doorbell_ = nullptr;
  pid_t helper_pid_ = 0;
  char address_[108] = {};
  bool in_process_engine_ = false;
  // Native shared memory not yet reported to the helper, by reason: pages
  // and mappings in one word each (client.cc), lock-free because NoteNative
  // may run in a signal handler. A forked child starts from zero (its parent
  // reports its own).
  std::atomic<uint64_t> native_pending_[LIBSHM_NATIVE_REASONS] = {};
  // The write end of the watchdog's wake-up pipe (-1: none, or no
  // watchdog), what it named (set before it is published), and whether it
  // was written since the watchdog last ran, so a burst wakes it once.
  std::atomic<int> native_wake_fd_{-1};
  HostFd wake_write_id_;
  // The watchdog's pidfd and the pipe's read end, for a forked child to close
  // (the thread does not follow it across fork).
  HostFd watchdog_pidfd_, wake_read_id_;
  std::atomic<bool> native_woken_{false};
  // Replies to kNative reports sent on sock_ and not read yet (GUARDED_BY
  // mu_): CallLocked reads them before its own request's.
  int native_owed_ = 0;
  // Managed ranges of this process, [start, end), disjoint, keyed by start:
  // IsManaged runs on every munmap/mremap/msync/madvise of the process once
  // it has a managed region, so lookups are O(log n); there is no cap.
  struct Range {
    uintptr_t start, end;
    int prot;
    // A SysV attachment made SHM_RDONLY: the kernel's would refuse
    // mprotect(PROT_WRITE) (its file is read-only), ours is a read-write
    // description mapped PROT_READ (it must be, to be registered: fact 2).
    bool no_write = false;
  };
  using RangeMap = std::map<uintptr_t, Range>;
  // A node for one range, allocated before a step that cannot be undone;
  // empty if memory is short.
  static RangeMap::node_type NewRangeNode() noexcept;
  const Range* FindRangeLocked(uintptr_t addr) const;
  bool OverlapsRangeLocked(uintptr_t addr, size_t length) const;
  // Adds [start, end) (after ForgetRangeLocked of it) using `node`.
  void AddRangeLocked(RangeMap::node_type node, uintptr_t start, uintptr_t end, int prot,
                      bool no_write = false) noexcept;
  RangeMap ranges_;
  // Set once the process has mapped a managed region: until then the shim's
  // munmap/mremap/msync/madvise skip the lock (programs without shared memory
  // pay one load).
  std::atomic<bool> ever_managed_{false};
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_CLIENT_H_
