// SPDX-License-Identifier: MIT
// ClientRuntime: the process side of a session. It finds or starts the
// helper, creates each region's memfd, maps it, has the helper register it on
// this process's uffd, and forwards msync/madvise/stats/ctl. It keeps its own
// copy of its uffd, so that if the helper dies a fault blocks instead of
// silently reading zeros (DESIGN.md invariant 1), and a watchdog thread that
// turns such a block into a loud exit.
//
// Fork: pthread_atfork handlers hold the lock across fork; the child rings its
// doorbell page (so the helper learns its pid from the fault's thread id),
// reconnects and receives its own uffd back (full mode), or creates a new
// uffd and has the helper re-register its mappings (restricted mode).
//
// Thread-safe: one mutex serializes requests (each has exactly one reply).
#ifndef LIBSHM_SRC_CLIENT_H_
#define LIBSHM_SRC_CLIENT_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>
#include <map>
#include <mutex>

#include "config.h"
#include "libshm/libshm.h"
#include "protocol.h"

namespace libshm::internal {

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
  // `reason` (LIBSHM_NATIVE_*) and the kernel mapped it. Counted here and
  // reported to the helper, at most once per kNativeReportIntervalNs: over
  // this process's connection if it has one, else over a short observer
  // connection to the session named by LIBSHM_SESSION (no helper is started
  // for it), else when the process joins a session later. Never fails, keeps
  // errno, takes no lock (async-signal-safe but for the report).
  void NoteNative(int reason, size_t length) noexcept;
  // Sends what NoteNative has not sent yet, unless a request is under way
  // (the shim calls it at exit). Keeps errno.
  void FlushNative() noexcept;
  static constexpr uint64_t kNativeReportIntervalNs = 100'000'000;
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
  void StartWatchdog();
  // Sends the native counts not reported yet (see NoteNative); what cannot
  // be sent stays pending. Called with every request that makes sure of the
  // session (map, stats, ctl), so a count NoteNative could not send goes
  // with the next one.
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
  std::atomic<uint64_t> native_sent_ns_{0};  // when NoteNative last reported
  bool native_report_failed_ = false;        // the observer connection was refused once
  // Managed ranges of this process, [start, end), disjoint, keyed by start:
  // IsManaged runs on every munmap/mremap/msync/madvise of the process once
  // it has a managed region, so lookups are O(log n); there is no cap.
  struct Range {
    uintptr_t start, end;
    int prot;
  };
  using RangeMap = std::map<uintptr_t, Range>;
  // A node for one range, allocated before a step that cannot be undone;
  // empty if memory is short.
  static RangeMap::node_type NewRangeNode() noexcept;
  const Range* FindRangeLocked(uintptr_t addr) const;
  bool OverlapsRangeLocked(uintptr_t addr, size_t length) const;
  // Adds [start, end) (after ForgetRangeLocked of it) using `node`.
  void AddRangeLocked(RangeMap::node_type node, uintptr_t start, uintptr_t end, int prot) noexcept;
  RangeMap ranges_;
  // Set once the process has mapped a managed region: until then the shim's
  // munmap/mremap/msync/madvise skip the lock (programs without shared memory
  // pay one load).
  std::atomic<bool> ever_managed_{false};
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_CLIENT_H_
