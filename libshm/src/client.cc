// SPDX-License-Identifier: MIT
#include "client.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <iterator>
#include <new>
#include <utility>

#include "clock.h"
#include "engine.h"
#include "host_thread.h"
#include "log.h"
#include "session_socket.h"
#include "swap_file.h"
#include "sys/syscalls.h"
#include "test_hooks.h"
#include "uffd.h"

extern char** environ;

namespace libshm::internal {
namespace {

// (kMap32Bit, client.h: PHP's opcache asks for its segment in the first
// 2 GiB, near its code; the kernel honours the hint for the memfd mapping.)
constexpr int kAllowedMapFlags = MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | MAP_FIXED_NOREPLACE |
                                 MAP_POPULATE | MAP_NORESERVE | MAP_LOCKED | kMap32Bit;

bool IsExecutable(const char* path) { return path[0] != '\0' && access(path, X_OK) == 0; }

// Where the helper binary is: LIBSHM_HELPER, beside this library, the
// install layout relative to it (lib/ -> libexec/libshm/), the build tree,
// the configured install path.
void FindHelper(const Options& opts, char* out, size_t len) {
  if (opts.helper[0] != '\0') {
    snprintf(out, len, "%s", opts.helper);
    return;
  }
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&FindHelper), &info) != 0 && info.dli_fname != nullptr) {
    const char* slash = strrchr(info.dli_fname, '/');
    if (slash != nullptr) {
      int dir = static_cast<int>(slash - info.dli_fname);
      snprintf(out, len, "%.*s/shmd", dir, info.dli_fname);
      if (IsExecutable(out)) return;
      snprintf(out, len, "%.*s/../libexec/libshm/shmd", dir, info.dli_fname);
      if (IsExecutable(out)) return;
    }
  }
#ifdef LIBSHM_BUILD_HELPER_PATH
  snprintf(out, len, "%s", LIBSHM_BUILD_HELPER_PATH);
  if (IsExecutable(out)) return;
#endif
  snprintf(out, len, "%s", LIBSHM_INSTALL_HELPER_PATH);
}

Engine* in_process_engine = nullptr;

}  // namespace

ClientRuntime& ClientRuntime::Get() {
  // Constructed on first use and never destroyed: forked children and exit
  // handlers may still call in. With every signal of this thread blocked:
  // a handler that lands during the construction and calls into the shim
  // (a timer's handler that maps shared memory) entered this initialization
  // again, and the program aborted (recursive_init_error). Another thread
  // that calls in meanwhile waits for it as for any static.
  static std::atomic<ClientRuntime*> ready{nullptr};
  if (ClientRuntime* r = ready.load(std::memory_order_acquire)) return *r;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  alignas(ClientRuntime) static char storage[sizeof(ClientRuntime)];
  static ClientRuntime* runtime = new (storage) ClientRuntime();
  ready.store(runtime, std::memory_order_release);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return *runtime;
}

ClientRuntime::ClientRuntime() {
  // Made in the program's first interposed call, which keeps errno on
  // success: reading the options (a policy's parameters use strtoll) must
  // not change it.
  int saved_errno = errno;
  // In a session (shmrun's tree) the launcher reported the session's settings.
  bool joined = false;
  for (char** e = environ; e != nullptr && *e != nullptr; e++) {
    if (strncmp(*e, "LIBSHM_SESSION=", 15) == 0 && (*e)[15] != '\0') joined = true;
  }
  ParseOptions(&opts_, environ, /*warn=*/true, joined);
  SetLogVerbosity(static_cast<int>(opts_.verbose));
  pthread_atfork(&AtforkPrepare, &AtforkParent, &AtforkChild);
  // Test hook: a signal raised inside the construction, as a timer can
  // deliver one there (Shmrun.ASignalDuringTheShimsFirstCallIsHandledAfterIt).
  if (uint64_t sig = TestCount("LIBSHM_TEST_RAISE_IN_INIT"); sig != 0) raise(static_cast<int>(sig));
  errno = saved_errno;
}

bool ClientRuntime::SockStillOursLocked() {
  if (sock_ < 0) return false;
  if (sock_id_.StillOurs()) return true;
  LIBSHM_LOG_ERROR(
      "the program closed libshm's connection to its helper (fd %d): new shared memory stays "
      "native; the regions made before are still served (keep descriptors you did not open "
      "when closing the rest)",
      sock_);
  sock_ = -1;
  sock_id_ = HostFd();
  native_owed_ = 0;
  session_failed_ = true;
  return false;
}

int ClientRuntime::CallLocked(const Request& req, Reply* reply, int send_fd, int* recv_fd) {
  if (!SockStillOursLocked()) return -ECONNRESET;
  // Replies to native reports come first, in order.
  int rc = AwaitNativeReplies(sock_, &native_owed_, kNoDeadline);
  if (rc != 0) return rc;
  return CallHelper(sock_, req, reply, send_fd, recv_fd);
}

int ClientRuntime::CallRegisteringLocked(const Request& req, Reply* reply) {
  int rc = CallLocked(req, reply, -1, nullptr);
  if (rc != -EAGAIN) return rc;
  // The thread that raised mmap_changing ends it when it runs again: let it
  // run. Short sleeps first (it is usually a few microseconds away).
  const uint64_t deadline = MonotonicNs() + kRegisterRetryNs;
  long pause_ns = 20'000;
  while (rc == -EAGAIN && MonotonicNs() < deadline) {
    struct timespec ts = {0, pause_ns};
    sys::Syscall(SYS_nanosleep, reinterpret_cast<long>(&ts), 0);
    pause_ns = std::min(pause_ns * 2, 5'000'000l);
    rc = CallLocked(req, reply, -1, nullptr);
  }
  return rc;
}

// The swap directory, checked before a helper is started for it: a bad one is
// the user's to fix, so it gets one line naming the variable and the fix
// (the helper would only fail after it started).
int CheckSwapDir(const char* dir) {
  char why[160];
  int rc = ProbeSwapDir(dir, why, sizeof(why));
  if (rc != 0) {
    LIBSHM_LOG_ERROR(
        "LIBSHM_SWAP_DIR=%s cannot hold the swap file (%s): set it to a writable directory "
        "on a disk (default /var/tmp); shared memory stays native",
        dir, why);
  }
  return rc;
}

int ClientRuntime::StartHelperLocked(char* address, size_t len) {
  int bad = CheckSwapDir(opts_.swap_dir);
  if (bad != 0) return bad;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  snprintf(address, len, "@libshm-%d-%lld", static_cast<int>(getpid()),
           static_cast<long long>(ts.tv_sec * 1000000000ll + ts.tv_nsec));
  int lfd = ListenSession(address);
  if (lfd < 0) return lfd;
  if (strcmp(opts_.helper_mode, "thread") == 0) {
    // Tests: the same engine on a thread of this process.
    auto* engine = new (std::nothrow) Engine(opts_);
    if (engine == nullptr) return -ENOMEM;
    int rc = engine->Init(lfd);
    if (rc != 0) {
      delete engine;
      return rc;
    }
    rc = StartHostThread([engine] { engine->Run(); });
    if (rc != 0) {
      delete engine;
      return rc;
    }
    in_process_engine = engine;
    in_process_engine_ = true;
    return 0;
  }
  // A program that waits for all its children must not wait for the
  // helper: SpawnHelper detaches it.
  char helper[4096];
  FindHelper(opts_, helper, sizeof(helper));
  // The helper gets our LIBSHM_* settings but not the preload shim.
  char* env[1024];
  size_t n = 0;
  for (char** e = environ; *e != nullptr && n + 1 < sizeof(env) / sizeof(env[0]); e++) {
    if (strncmp(*e, "LD_PRELOAD=", 11) != 0) env[n++] = *e;
  }
  env[n] = nullptr;
  int rc = SpawnHelper(helper, lfd, env);
  close(lfd);
  if (rc == kHelperSaidWhy) return rc;
  if (rc != 0) {
    LIBSHM_LOG_ERROR(
        "cannot start the helper %s (%s): set LIBSHM_HELPER to the path of shmd; "
        "shared memory stays native",
        helper, HelperStartError(rc));
    return rc;
  }
  return 0;
}

int ClientRuntime::ConnectLocked(const char* address) {
  int fd = ConnectSession(address);
  if (fd < 0) return fd;
  sock_ = fd;
  sock_id_ = HostFd::Remember(fd);
  return 0;
}

int ClientRuntime::OpenOwnUffdLocked(bool* restricted) {
  *restricted = false;
  int uffd = OpenUffd(/*allow_user_mode_only=*/false, restricted);
  if (uffd >= 0) return uffd;
  Request req;
  req.op = Op::kUffdDevice;
  Reply reply;
  int dev = -1;
  if (CallLocked(req, &reply, -1, &dev) == 0 && dev >= 0) {
    uffd = UffdFromDevice(dev);
    close(dev);
    if (uffd >= 0) return uffd;
  }
  return OpenUffd(/*allow_user_mode_only=*/true, restricted);
}

int ClientRuntime::HelloLocked() {
  bool user_mode_only = false;
  int uffd = OpenOwnUffdLocked(&user_mode_only);
  if (uffd < 0) return uffd;
  restricted_ = user_mode_only;
  if (!restricted_ && doorbell_ == nullptr) {
    long addr = sys::Mmap(nullptr, kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sys::IsErr(addr)) {
      close(uffd);
      return static_cast<int>(addr);
    }
    doorbell_ = reinterpret_cast<void*>(addr);
  }
  Request req;
  req.op = Op::kHello;
  req.flags = restricted_ ? kHelloRestricted : 0;
  req.a = restricted_ ? 0 : reinterpret_cast<uintptr_t>(doorbell_);
  Reply reply;
  int rc = CallLocked(req, &reply, uffd, nullptr);
  if (rc == -EPERM && !restricted_) {
    // A full userfaultfd (vm.unprivileged_userfaultfd=1, /dev/userfaultfd)
    // but a helper without CAP_SYS_PTRACE: the kernel refuses it fork events.
    // Restricted mode still serves us.
    close(uffd);
    uffd = sys::Userfaultfd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (uffd < 0) return rc;
    restricted_ = true;
    req.flags = kHelloRestricted;
    req.a = 0;
    rc = CallLocked(req, &reply, uffd, nullptr);
  }
  if (rc != 0) {
    close(uffd);
    return rc;
  }
  uffd_ = uffd;  // our own copy: helper death then blocks faults, never zero-fills
  uffd_id_ = HostFd::Remember(uffd);
  helper_pid_ = static_cast<pid_t>(reply.a);
  // A session's launcher (shmrun) reported the mode once for its whole tree.
  if (restricted_ && opts_.session[0] == '\0') {
    static bool said;
    if (!said) {
      said = true;
      LIBSHM_LOG_WARN(
          "restricted mode (no userfaultfd privilege): read(2) or write(2) of managed "
          "memory that is evicted fails with EFAULT; run the program under shmrun as root "
          "for full mode (vm.unprivileged_userfaultfd=1 or access to /dev/userfaultfd is not "
          "enough: fork events need CAP_SYS_PTRACE)");
    }
  }
  return 0;
}

int ClientRuntime::EnsureSessionLocked() {
  if (sock_ >= 0 && !SockStillOursLocked()) return -ECONNRESET;
  if (sock_ >= 0 && uffd_ >= 0) {
    ReportNativeLocked();
    return 0;
  }
  if (session_failed_) return -ECONNREFUSED;
  if (opts_.strict && opts_.bad_values > 0) return -EINVAL;
  int rc;
  if (sock_ < 0) {
    if (opts_.session[0] != '\0') {
      // A "#..." suffix (the session key of older versions) is not part of
      // the address; membership is proven by the kernel now.
      const char* hash = strchr(opts_.session, '#');
      size_t n =
          hash != nullptr ? static_cast<size_t>(hash - opts_.session) : strlen(opts_.session);
      if (n >= sizeof(address_)) return -EINVAL;
      memcpy(address_, opts_.session, n);
      address_[n] = '\0';
    } else if (address_[0] == '\0') {
      rc = StartHelperLocked(address_, sizeof(address_));
      if (rc != 0) {
        session_failed_ = true;  // said why, once
        return rc;
      }
    }
    rc = ConnectLocked(address_);
    if (rc != 0) {
      LIBSHM_LOG_ERROR("cannot reach the helper at %s: %s; shared memory stays native", address_,
                       strerror(-rc));
      session_failed_ = true;
      return rc;
    }
  }
  rc = HelloLocked();
  if (rc != 0) {
    LIBSHM_LOG_ERROR("the helper refused this process: %s; shared memory stays native",
                     strerror(-rc));
    close(sock_);
    sock_ = -1;
    sock_id_ = HostFd();
    native_owed_ = 0;
    session_failed_ = true;
    return rc;
  }
  if (!in_process_engine_) StartWatchdog();
  ReportNativeLocked();
  return 0;
}

namespace {

// A pending count: mappings in the high bits, pages in the low ones, so that
// one atomic word keeps both in step (a report never has a mapping without
// its pages). Adds that would not fit are dropped: it takes 16 Mi mappings or
// 4 PiB that could not be sent to fill it.
constexpr int kPendingPageBits = 40;
constexpr uint64_t kPendingPages = (uint64_t{1} << kPendingPageBits) - 1;
constexpr uint64_t kPendingMappings = (uint64_t{1} << (64 - kPendingPageBits)) - 1;

void AddPending(std::atomic<uint64_t>& word, uint64_t pages, uint64_t mappings) noexcept {
  uint64_t old = word.load(std::memory_order_relaxed);
  for (;;) {
    if (pages > kPendingPages - (old & kPendingPages) ||
        mappings > kPendingMappings - (old >> kPendingPageBits)) {
      return;
    }
    uint64_t sum = old + pages + (mappings << kPendingPageBits);
    if (word.compare_exchange_weak(old, sum, std::memory_order_relaxed)) return;
  }
}

}  // namespace

void ClientRuntime::NoteNative(int reason, size_t length) noexcept {
  if (reason < 0 || reason >= LIBSHM_NATIVE_REASONS || length == 0) return;
  int saved = errno;
  // Lock-free and never waits: this mmap may come from a signal handler, or
  // from a thread while another waits for a helper that is stopped.
  AddPending(native_pending_[reason], (static_cast<uint64_t>(length) + kPageSize - 1) / kPageSize,
             1);
  // Wakes the watchdog once per burst; it sends at most once per
  // kNativeReportIntervalNs. O_NONBLOCK: a full pipe fails, never waits. The
  // number is written only while it is still our pipe (HostFd).
  int wake = native_wake_fd_.load(std::memory_order_acquire);
  char one = 1;
  if (wake >= 0 && !native_woken_.exchange(true) &&
      (!wake_write_id_.StillOurs() || write(wake, &one, sizeof(one)) < 0)) {
    native_woken_.store(false);
  }
  errno = saved;
}

bool ClientRuntime::NativePending() const noexcept {
  for (const auto& word : native_pending_) {
    if (word.load(std::memory_order_relaxed) != 0) return true;
  }
  return false;
}

int ClientRuntime::SendNativeLocked(int sock, int* owed) noexcept {
  for (int r = 0; r < LIBSHM_NATIVE_REASONS; r++) {
    uint64_t word = native_pending_[r].exchange(0, std::memory_order_relaxed);
    if (word == 0) continue;
    Request req;
    req.op = Op::kNative;
    req.a = static_cast<uint64_t>(r);
    req.b = (word & kPendingPages) * kPageSize;
    req.c = word >> kPendingPageBits;
    int rc = SendPacket(sock, &req, sizeof(req), -1, MSG_DONTWAIT);
    if (rc != 0) {
      AddPending(native_pending_[r], word & kPendingPages, word >> kPendingPageBits);
      return rc;
    }
    ++*owed;
  }
  return 0;
}

int ClientRuntime::AwaitNativeReplies(int sock, int* owed, uint64_t deadline_ns) noexcept {
  while (*owed > 0) {
    if (deadline_ns != kNoDeadline) {
      uint64_t now = MonotonicNs();
      int ms = now >= deadline_ns ? 0 : static_cast<int>((deadline_ns - now + 999'999) / 1'000'000);
      struct pollfd p = {sock, POLLIN, 0};
      int rc = poll(&p, 1, ms);
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return -errno;
      if (rc == 0) return -ETIMEDOUT;
    }
    Reply reply;
    int fd = -1;
    long n = RecvPacket(sock, &reply, sizeof(reply), &fd);
    if (fd >= 0) close(fd);
    if (n != static_cast<long>(sizeof(reply))) return n < 0 ? static_cast<int>(n) : -ECONNRESET;
    --*owed;
  }
  return 0;
}

void ClientRuntime::ReportNativeLocked() noexcept {
  if (uffd_ >= 0 && NativePending() && SockStillOursLocked()) {
    SendNativeLocked(sock_, &native_owed_);
  }
}

void ClientRuntime::FlushNative() noexcept {
  int saved = errno;
  if (NativePending() && mu_.try_lock()) {
    uint64_t deadline = MonotonicNs() + kNativeExitWaitNs;
    if (sock_ >= 0 && uffd_ >= 0) {
      if (SockStillOursLocked() && AwaitNativeReplies(sock_, &native_owed_, deadline) == 0 &&
          SendNativeLocked(sock_, &native_owed_) == 0) {
        AwaitNativeReplies(sock_, &native_owed_, deadline);
      }
    } else if (opts_.session[0] != '\0') {
      // No connection: under shmrun, a short observer connection (it does not
      // keep the session alive and holds no fd of the host's once done),
      // nonblocking so that a stopped helper costs at most the deadline. A
      // process without a session starts no helper for this.
      int sock = ConnectSession(opts_.session, /*nonblocking=*/true);
      if (sock >= 0) {
        Request hello;
        hello.op = Op::kHello;
        hello.flags = kHelloObserver;
        int owed = 1;  // the hello's reply
        if (SendPacket(sock, &hello, sizeof(hello), -1) == 0 &&
            AwaitNativeReplies(sock, &owed, deadline) == 0 && SendNativeLocked(sock, &owed) == 0) {
          AwaitNativeReplies(sock, &owed, deadline);
        }
        close(sock);
      }
    }
    mu_.unlock();
  }
  errno = saved;
}

void ClientRuntime::StartWatchdog() {
  pid_t helper = helper_pid_;
  // -1 (no pidfd: an old kernel, or pidfd_open refused): the watchdog polls
  // the helper's pid ten times a second instead of going without one.
  HostFd pidfd = HostFd::Remember(sys::PidfdOpen(helper));
  // No pipe: the watchdog looks for native counts every interval. A pipe,
  // not an eventfd: its inode is its own, so HostFd can tell it from any
  // descriptor the program opens on its number after closing it.
  int ends[2] = {-1, -1};
  if (pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) ends[0] = ends[1] = -1;
  HostFd wake = HostFd::Remember(ends[0]);
  watchdog_pidfd_ = pidfd;
  wake_read_id_ = wake;
  wake_write_id_ = HostFd::Remember(ends[1]);
  native_woken_.store(false);  // what was counted before is seen by its first look
  native_wake_fd_.store(ends[1], std::memory_order_release);
  // A detached thread that sleeps in poll until the helper exits. Clients
  // keep their uffd, so without the helper a fault would block forever; this
  // turns that into a loud exit instead (never a silent zero-fill). It blocks
  // every signal: the host's signals are the host's (issue 9).
  int rc = StartHostThread([this, pidfd, helper, wake] { WatchdogLoop(pidfd, helper, wake); });
  if (rc != 0) {
    native_wake_fd_.store(-1);
    for (int fd : {ends[0], ends[1], pidfd.fd}) {
      if (fd >= 0) close(fd);
    }
    watchdog_pidfd_ = wake_read_id_ = wake_write_id_ = HostFd();
    LIBSHM_LOG_WARN("cannot start the helper watchdog: %s", strerror(-rc));
  }
}

void ClientRuntime::WatchdogLoop(HostFd pidfd, pid_t helper, HostFd wake) noexcept {
  constexpr int kPollMs = 100;
  uint64_t last = 0;  // when native counts were last sent
  for (;;) {
    int timeout = pidfd.fd >= 0 && wake.fd >= 0 ? -1 : kPollMs;
    if (NativePending()) {
      uint64_t now = MonotonicNs(), due = last + kNativeReportIntervalNs;
      timeout = now >= due ? 0 : static_cast<int>((due - now + 999'999) / 1'000'000);
    }
    struct pollfd p[2];
    nfds_t n = 0;
    if (pidfd.fd >= 0) p[n++] = {pidfd.fd, POLLIN, 0};
    if (wake.fd >= 0) p[n++] = {wake.fd, POLLIN, 0};
    if (poll(p, n, timeout) < 0 && errno != EINTR) usleep(kPollMs * 1000);
    // A program may close our descriptors (closefrom in a forked child) and
    // reuse their numbers: an event on a number that is no longer ours says
    // nothing about the helper. Such a number is dropped, not closed (it is
    // the program's), and the helper's pid is polled instead.
    if (pidfd.fd >= 0 && p[0].revents != 0 && !IsOurPidfdOfExited(pidfd, helper)) {
      pidfd = HostFd();
      continue;
    }
    if (wake.fd >= 0 && p[n - 1].revents != 0 && !wake.StillOurs()) {
      wake = HostFd();
      native_wake_fd_.store(-1);
      continue;
    }
    if (pidfd.fd >= 0 ? p[0].revents != 0 : kill(helper, 0) != 0 && errno == ESRCH) break;
    char drain[64];
    if (wake.fd >= 0 && (p[n - 1].revents & POLLIN) != 0)
      (void)!read(wake.fd, drain, sizeof(drain));
    native_woken_.store(false);  // before the counts are taken: a later one wakes us again
    uint64_t now = MonotonicNs();
    if (!NativePending() || now - last < kNativeReportIntervalNs) continue;
    last = now;
    // Only nonblocking calls under the lock, and none if a request is under
    // way (it sends the counts itself) or the last report is unanswered
    // (a stopped helper: retried next interval).
    if (mu_.try_lock()) {
      if (uffd_ >= 0 && SockStillOursLocked() && AwaitNativeReplies(sock_, &native_owed_, 0) == 0) {
        SendNativeLocked(sock_, &native_owed_);
      }
      mu_.unlock();
    }
  }
  LIBSHM_LOG_ERROR(
      "the helper (pid %d) is gone: managed memory can no longer be served; "
      "killing pid %d",
      static_cast<int>(helper), static_cast<int>(getpid()));
  kill(getpid(), SIGKILL);
}

int ClientRuntime::Map(void* hint, size_t length, int prot, int flags, void** out) {
  if (length == 0 || (flags & ~kAllowedMapFlags) != 0 || out == nullptr) return -EINVAL;
  size_t size = (length + kPageSize - 1) & ~(kPageSize - 1);
  if (size < length) return -ENOMEM;
  std::lock_guard<std::mutex> lock(mu_);
  int rc = EnsureSessionLocked();
  if (rc != 0) return rc;
  RangeMap::node_type range = NewRangeNode();
  if (range.empty()) return -ENOMEM;
  // Sealable: the helper seals it against shrinking under its page table.
  int memfd = sys::MemfdCreate("libshm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0) return memfd;
  rc = sys::Ftruncate(memfd, static_cast<off_t>(size));
  if (rc != 0) {
    close(memfd);
    return rc == -EFBIG || rc == -ENOSPC ? -ENOMEM : rc;
  }
  Request req;
  req.op = Op::kCreate;
  req.a = size;
  // MAP_NORESERVE: no swap reserved up front (a sparse mapping must not fill
  // the disk at mmap time), as the kernel reserves no swap for it.
  req.flags = (flags & MAP_NORESERVE) != 0 ? kCreateNoReserve : 0;
  Reply reply;
  rc = CallLocked(req, &reply, memfd, nullptr);
  if (rc != 0) {
    close(memfd);
    return rc;
  }
  uint64_t handle = reply.a;
  // Pages must not be populated before the helper registers the mapping, so
  // MAP_POPULATE/MAP_LOCKED are applied afterwards.
  int mflags = MAP_SHARED | (flags & kMapFlagsPassedOn);
  long addr = sys::Mmap(hint, size, prot, mflags, memfd, 0);
  close(memfd);
  if (sys::IsErr(addr)) {
    req = Request();
    req.op = Op::kRelease;
    req.a = handle;
    CallLocked(req, &reply, -1, nullptr);
    return static_cast<int>(addr);
  }
  req = Request();
  req.op = Op::kRegister;
  req.a = handle;
  req.b = static_cast<uint64_t>(addr);
  req.c = size;
  rc = CallRegisteringLocked(req, &reply);
  if (rc != 0) {
    sys::Munmap(reinterpret_cast<void*>(addr), size);
    Request release;
    release.op = Op::kRelease;
    release.a = handle;
    CallLocked(release, &reply, -1, nullptr);
    return rc;
  }
  AddRangeLocked(std::move(range), static_cast<uintptr_t>(addr),
                 static_cast<uintptr_t>(addr) + size, prot);
  ever_managed_.store(true, std::memory_order_release);
  if ((flags & (MAP_POPULATE | MAP_LOCKED)) && size <= opts_.limit) {
    sys::Madvise(reinterpret_cast<void*>(addr), size, MADV_POPULATE_READ);
  }
  *out = reinterpret_cast<void*>(addr);
  return 0;
}

ClientRuntime::RangeMap::node_type ClientRuntime::NewRangeNode() noexcept {
  try {
    RangeMap one;
    return one.extract(one.emplace(0, Range{}).first);
  } catch (const std::bad_alloc&) {
    return {};
  }
}

void ClientRuntime::AddRangeLocked(RangeMap::node_type node, uintptr_t start, uintptr_t end,
                                   int prot, bool no_write) noexcept {
  ForgetRangeLocked(start, end);
  node.key() = start;
  node.mapped() = {start, end, prot, no_write};
  ranges_.insert(std::move(node));
}

void ClientRuntime::ForgetRangeLocked(uintptr_t start, uintptr_t end) noexcept {
  if (start >= end) return;
  auto it = ranges_.upper_bound(start);
  if (it != ranges_.begin() && std::prev(it)->second.end > start) --it;
  while (it != ranges_.end() && it->first < end) {
    Range& r = it->second;
    if (r.start < start && r.end > end) {
      // Inside one range: its head stays here, its tail needs a node.
      RangeMap::node_type tail = NewRangeNode();
      if (tail.empty()) {
        LIBSHM_LOG_ERROR("out of memory: [%#lx, %#lx) stays counted as managed",
                         static_cast<unsigned long>(start), static_cast<unsigned long>(end));
        return;
      }
      tail.key() = end;
      tail.mapped() = {end, r.end, r.prot, r.no_write};
      r.end = start;
      ranges_.insert(std::next(it), std::move(tail));
      return;
    }
    if (r.start < start) {
      r.end = start;  // keeps its head
      ++it;
    } else if (r.end > end) {
      // Keeps its tail: the same node under its new start.
      RangeMap::node_type tail = ranges_.extract(it++);
      tail.key() = end;
      tail.mapped().start = end;
      ranges_.insert(it, std::move(tail));
      return;
    } else {
      it = ranges_.erase(it);
    }
  }
}

int ClientRuntime::Unmap(void* addr, size_t length) {
  uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  if (start % kPageSize != 0 || length == 0) return -EINVAL;
  int rc = sys::Munmap(addr, length);
  if (rc != 0) return rc;
  std::lock_guard<std::mutex> lock(mu_);
  ForgetRangeLocked(start, start + ((length + kPageSize - 1) & ~(kPageSize - 1)));
  return 0;
}

void ClientRuntime::NoteUnmap(void* addr, size_t length) {
  uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(mu_);
  ForgetRangeLocked(start, start + ((length + kPageSize - 1) & ~(kPageSize - 1)));
}

void ClientRuntime::NoteRemap(void* old_addr, size_t old_length, void* new_addr,
                              size_t new_length) {
  uintptr_t o = reinterpret_cast<uintptr_t>(old_addr), n = reinterpret_cast<uintptr_t>(new_addr);
  auto round = [](size_t v) { return (v + kPageSize - 1) & ~(kPageSize - 1); };
  RangeMap::node_type range = NewRangeNode();
  std::lock_guard<std::mutex> lock(mu_);
  const Range* old = FindRangeLocked(o);
  int prot = old != nullptr ? old->prot : PROT_READ | PROT_WRITE;
  bool no_write = old != nullptr && old->no_write;
  ForgetRangeLocked(o, o + round(old_length));
  if (range.empty()) {
    LIBSHM_LOG_ERROR("out of memory: mremap to %#lx is not counted as managed",
                     static_cast<unsigned long>(n));
    return;
  }
  // The kernel replaced whatever was mapped at the destination.
  AddRangeLocked(std::move(range), n, n + round(new_length), prot, no_write);
}

void ClientRuntime::NoteGrowth(void* addr, size_t length) {
  std::lock_guard<std::mutex> lock(mu_);
  Request req;
  req.op = Op::kExtend;
  req.a = reinterpret_cast<uintptr_t>(addr);
  req.b = length;
  Reply reply;
  int rc = CallRegisteringLocked(req, &reply);
  if (rc != 0) {
    LIBSHM_LOG_ERROR(
        "mremap grew a managed region the helper cannot follow (%s): writes "
        "to the grown part may not be tracked",
        strerror(-rc));
  }
}

const ClientRuntime::Range* ClientRuntime::FindRangeLocked(uintptr_t addr) const {
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return nullptr;
  --it;
  return addr < it->second.end ? &it->second : nullptr;
}

bool ClientRuntime::OverlapsRangeLocked(uintptr_t addr, size_t length) const {
  auto it = ranges_.upper_bound(addr);  // the first range that starts after addr
  if (it != ranges_.begin() && addr < std::prev(it)->second.end) return true;
  return it != ranges_.end() && it->first - addr < length;
}

int ClientRuntime::RegisterLocked(uint64_t handle, uintptr_t addr, size_t len, uint64_t pgoff) {
  Request req;
  req.op = Op::kRegister;
  req.a = handle;
  req.b = addr;
  req.c = len;
  req.d = pgoff;
  Reply reply;
  return CallRegisteringLocked(req, &reply);
}

void ClientRuntime::ReleaseLocked(uint64_t handle) {
  Request req;
  req.op = Op::kRelease;
  req.a = handle;
  Reply ignored;
  CallLocked(req, &ignored, -1, nullptr);
}

int ClientRuntime::RemapFilePages(void* addr, size_t size, int prot, size_t pgoff, int flags) {
  uintptr_t start = reinterpret_cast<uintptr_t>(addr);
  if (prot != 0 || (flags & ~MAP_NONBLOCK) != 0 || start % kPageSize != 0 || size == 0) {
    return -EINVAL;
  }
  size = (size + kPageSize - 1) & ~(kPageSize - 1);
  std::lock_guard<std::mutex> lock(mu_);
  const Range* range = FindRangeLocked(start);
  if (range == nullptr || start + size > range->end) return -EINVAL;
  int vma_prot = range->prot;
  Request req;
  req.op = Op::kInodeFd;
  req.a = start;
  Reply reply;
  int memfd = -1;
  int rc = CallLocked(req, &reply, -1, &memfd);
  if (rc != 0) return rc;
  if (memfd < 0) return -EPROTO;
  uint64_t handle = reply.a, pages = reply.b;
  if (pgoff > pages || size / kPageSize > pages - pgoff) {
    close(memfd);
    ReleaseLocked(handle);
    return -EINVAL;  // the kernel would map past the end; keep the old mapping
  }
  // PROT_NONE until registered: a racing access gets SIGSEGV, never a zero
  // page in the shared page cache (DESIGN.md invariant 1).
  long mapped = sys::Mmap(addr, size, PROT_NONE, MAP_SHARED | MAP_FIXED, memfd,
                          static_cast<off_t>(pgoff * kPageSize));
  close(memfd);
  if (sys::IsErr(mapped)) {
    ReleaseLocked(handle);
    return static_cast<int>(mapped);
  }
  rc = RegisterLocked(handle, start, size, pgoff);
  if (rc != 0) {
    // Cannot serve it: leave it inaccessible rather than unregistered.
    LIBSHM_LOG_ERROR("remap_file_pages: cannot register the new mapping: %s", strerror(-rc));
    ReleaseLocked(handle);
    return rc;
  }
  return static_cast<int>(
      sys::Syscall(SYS_mprotect, static_cast<long>(start), static_cast<long>(size), vma_prot));
}

bool ClientRuntime::IsManaged(const void* addr, size_t length) {
  if (!ever_managed_.load(std::memory_order_acquire)) return false;
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(mu_);
  return OverlapsRangeLocked(a, length == 0 ? 1 : length);
}

int ClientRuntime::Msync(void* addr, size_t length, int flags) {
  std::lock_guard<std::mutex> lock(mu_);
  if (sock_ < 0) return -ENOMEM;
  Request req;
  req.op = Op::kMsync;
  req.a = reinterpret_cast<uintptr_t>(addr);
  req.b = length;
  req.c = static_cast<uint64_t>(flags);
  Reply reply;
  return CallLocked(req, &reply, -1, nullptr);
}

int ClientRuntime::Madvise(void* addr, size_t length, int advice) {
  if (advice == MADV_REMOVE && IsManaged(addr, length)) {
    std::lock_guard<std::mutex> lock(mu_);
    Request req;
    req.op = Op::kDiscard;
    req.a = reinterpret_cast<uintptr_t>(addr);
    req.b = length;
    Reply reply;
    return CallLocked(req, &reply, -1, nullptr);
  }
  return sys::Madvise(addr, length, advice);
}

int ClientRuntime::Stats(libshm_stats_t* out) {
  // `size` says how much the caller's struct holds: a caller built against
  // an older, shorter header gets the fields it knows.
  if (out == nullptr || out->size < offsetof(libshm_stats_t, regions)) return -EINVAL;
  size_t size = out->size < sizeof(libshm_stats_t) ? out->size : sizeof(libshm_stats_t);
  std::lock_guard<std::mutex> lock(mu_);
  int rc = EnsureSessionLocked();
  if (rc != 0) return rc;
  Request req;
  req.op = Op::kStats;
  Reply reply;
  rc = CallLocked(req, &reply, -1, nullptr);
  if (rc == 0) {
    reply.stats.size = size;
    memcpy(out, &reply.stats, size);
  }
  return rc;
}

int ClientRuntime::Ctl(const char* name, void* oldp, size_t* oldlenp, const void* newp,
                       size_t newlen) {
  if (name == nullptr || strlen(name) >= sizeof(Request::text)) return -EINVAL;
  if ((oldp == nullptr) != (oldlenp == nullptr)) return -EINVAL;
  Request req;
  req.op = Op::kCtl;
  snprintf(req.text, sizeof(req.text), "%s", name);
  if (newp != nullptr) {
    req.a = 1;
    if (strcmp(name, "evict.policy") == 0 || strcmp(name, "swap.dir") == 0) {
      if (newlen == 0 || newlen >= sizeof(req.text2)) return -EINVAL;
      memcpy(req.text2, newp, newlen);
    } else {
      if (newlen != sizeof(uint64_t)) return -EINVAL;
      memcpy(&req.b, newp, sizeof(uint64_t));
    }
  }
  Reply reply;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int rc = EnsureSessionLocked();
    if (rc != 0) return rc;
    rc = CallLocked(req, &reply, -1, nullptr);
    if (rc != 0) return rc;
  }
  if (oldp == nullptr) return 0;
  if (reply.type == ValueType::kNumber) {
    if (*oldlenp != sizeof(uint64_t)) return -EINVAL;
    memcpy(oldp, &reply.a, sizeof(uint64_t));
  } else if (reply.type == ValueType::kString) {
    size_t need = strlen(reply.text) + 1;
    if (*oldlenp < need) return -EINVAL;
    memcpy(oldp, reply.text, need);
    *oldlenp = need;
  }
  return 0;
}

void ClientRuntime::AtforkPrepare() {
  ClientRuntime& rt = Get();
  rt.mu_.lock();
  if (rt.restricted_ && rt.uffd_ >= 0 && rt.sock_ >= 0 && rt.ever_managed_.load()) {
    // No fork event in restricted mode: the helper holds our regions for the
    // child until it introduces itself, even if we exit at once.
    Request req;
    req.op = Op::kForkPending;
    Reply reply;
    rt.fork_token_ = rt.CallLocked(req, &reply, -1, nullptr) == 0 ? reply.a : 0;
  }
}
void ClientRuntime::AtforkParent() { Get().mu_.unlock(); }
void ClientRuntime::AtforkChild() {
  ClientRuntime& rt = Get();
  rt.ChildAfterFork();
  rt.mu_.unlock();
}

void ClientRuntime::ChildAfterFork() {
  // The parent reports what it left native; the child reports its own, on
  // its own connection, woken through its own watchdog's pipe. The parent's
  // descriptors are closed only if they are still ours: the parent may have
  // closed them and opened files of its own on their numbers.
  for (auto& word : native_pending_) word.store(0, std::memory_order_relaxed);
  native_wake_fd_.store(-1);
  for (HostFd* inherited : {&wake_write_id_, &wake_read_id_, &watchdog_pidfd_, &sock_id_}) {
    if (inherited->StillOurs()) close(inherited->fd);
    *inherited = HostFd();
  }
  native_woken_.store(false);
  native_owed_ = 0;
  if (uffd_ >= 0 && StillOurUffd(uffd_id_)) close(uffd_);
  uffd_id_ = HostFd();
  bool had_session = uffd_ >= 0;
  sock_ = -1;
  uffd_ = -1;
  // No session in the parent: nothing is registered; start afresh on use.
  if (!had_session) return;
  int rc;
  if (!restricted_) {
    // Ring the doorbell: the helper resolves this fault on our new uffd (from
    // the fork event) and learns our pid from its thread id.
    (void)*static_cast<volatile const char*>(doorbell_);
    rc = ConnectLocked(address_);
    if (rc == 0) {
      Request req;
      req.op = Op::kHelloChild;
      Reply reply;
      int fd = -1;
      rc = CallLocked(req, &reply, -1, &fd);
      if (rc == 0 && fd < 0) rc = -EPROTO;
      if (rc == 0) {
        uffd_ = fd;
        uffd_id_ = HostFd::Remember(fd);
      }
    }
    // Re-arm the doorbell for our own children.
    sys::Madvise(doorbell_, kPageSize, MADV_DONTNEED);
  } else {
    bool umo;
    int fd = OpenUffd(true, &umo);
    rc = fd < 0 ? fd : ConnectLocked(address_);
    if (rc == 0) {
      Request req;
      req.op = Op::kHelloRestrictedChild;
      req.a = fork_token_;  // inherited: names the pin our parent took for us
      Reply reply;
      rc = CallLocked(req, &reply, fd, nullptr);
      if (rc == 0) {
        uffd_ = fd;
        uffd_id_ = HostFd::Remember(fd);
      }
    }
    if (rc != 0 && fd >= 0) close(fd);
  }
  if (rc != 0) {
    // Our mappings cannot be served safely; stop before user code touches them.
    LIBSHM_LOG_ERROR("forked child %d cannot join the helper (%s); exiting",
                     static_cast<int>(getpid()), strerror(-rc));
    _exit(127);
  }
  if (!in_process_engine_) StartWatchdog();
}

}  // namespace libshm::internal
