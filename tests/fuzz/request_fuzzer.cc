// SPDX-License-Identifier: MIT
// request_fuzzer: a libFuzzer target over what the helper reads from a
// client (libshm/src/requests.cc: decoding, admission, every handler) and
// over the engine work those requests start, driven one loop turn at a time
// through Engine::RunOnce. Built with ASan+UBSan (tests/fuzz/CMakeLists.txt).
//
// Processes. The engine runs in the fuzzer process. It is never given a uffd
// of this process (it would register the fuzzer's own memory and serve its
// faults from the thread that takes them: a deadlock). Instead every input
// gets a fresh "puppet" process, forked from a zygote made at start-up. The
// puppet maps fixed regions at kWindow (below), makes uffds of its own mm on
// request, connects to the engine (so every connection's peer, pid and pidfd
// are the puppet's, as for a real client) and hands the sockets back. Its
// child "stranger" drops to uid 65534 at once: its connections are the
// non-trusted members (admitted by ancestry). When the input ends the puppet
// is killed and the engine must reap every client of it, which resets the
// engine's state for the next input.
//
// Input: a sequence of steps, each a control byte then its body.
//   ctl bits 0-1: connection slot (0-2 the puppet's; 3 the stranger's)
//   ctl bits 2-4: fd to attach (see MakeFds)
//   ctl bits 5-7: 0-2 compact request, then run the engine and read replies
//                 3   compact request, queued (no engine turn)
//                 4   compact request, its address field folded into kWindow
//                 5   raw packet: u16 length (mod kMaxPacket), then the bytes
//                 6-7 an action (see Action): no packet
//   compact request: op u8, flags u8, a b c d u64 (little endian); for kCtl
//   also u8 length + text, u8 length + text2.
// Missing bytes read as zeros. tests/fuzz/make_corpus.py writes seeds.
//
// Oracles besides the sanitizers: a loop turn never blocks (a watchdog
// aborts RunOnce after 5 s); every request is answered or its connection
// closed within a few loop turns (protocol.h: exactly one reply each); a
// packet of the wrong size is never answered (it closes the connection); an
// msync or discard of a range that wraps around the address space never
// succeeds; a puppet never waits on the helper for long (a fork or munmap
// waits for the helper to read the uffd event); nothing in this process
// closes an fd it does not hold (close() below: EBADF aborts); and once
// every process of an input has exited the engine has no client left (unless a restricted
// parent's fork pin, kForkPending, holds the session for its child: then
// not for the next 30 s).
//
// Environment: REQUEST_FUZZER_TRACE=1 prints each step and reply;
// LIBSHM_VERBOSE=N the helper's log; REQUEST_FUZZER_SKIP_FINDINGS=1,2,3
// steps around known findings until they are fixed (docs/fuzzing.md): 1
// never sends a blocking uffd, 2 and 3 turn off those two oracles.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <vector>

#include "config.h"
#include "engine.h"
#include "log.h"
#include "protocol.h"
#include "session_socket.h"

namespace libshm::fuzz {
namespace {

using internal::Engine;
using internal::Op;
using internal::Options;
using internal::Reply;
using internal::Request;

constexpr size_t kPage = 4096;

// The puppet's address space, fixed so that inputs can name it. kWindow is
// high in the user half and clear of the ASan shadow and allocator ranges.
constexpr uintptr_t kWindow = 0x200000000000ull;
constexpr uint64_t kWindowSize = 8ull << 20;
enum RegionKind { kMemfdRegion, kAnonRegion, kDoorbellRegion };
struct Region {
  uintptr_t start;
  size_t bytes;
  RegionKind kind;
};
// A: a 2 MiB memfd (more than the 1 MiB limit: eviction happens); B: a
// 64 KiB memfd; C: private anonymous memory; D: a read-only doorbell page.
constexpr Region kRegions[] = {
    {kWindow, 2u << 20, kMemfdRegion},
    {kWindow + (4u << 20), 64u << 10, kMemfdRegion},
    {kWindow + (6u << 20), 64u << 10, kAnonRegion},
    {kWindow + (7u << 20), kPage, kDoorbellRegion},
};
constexpr int kRegionCount = 4;
// Where a moved range goes (mremap), inside the window.
constexpr uintptr_t kMoveTarget = kWindow + (5u << 20);

constexpr int kSlots = 4;
constexpr int kStrangerSlot = 3;
constexpr int kForkSlot = 2;
constexpr size_t kMaxPacket = 640;  // longer than Request: oversized packets too
constexpr int kMaxSteps = 128;
constexpr int kMaxTouches = 16;
constexpr int kMaxForks = 2;
constexpr uid_t kNobody = 65534;

// ---------------------------------------------------------------------------
// Packets with fds.

int SendWithFds(int sock, const void* buf, size_t len, const int* fds, int nfds, int flags) {
  struct iovec iov = {const_cast<void*>(buf), len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 2)] = {};
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, flags | MSG_NOSIGNAL);
    if (n >= 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

// Receives one packet; *fd gets the first passed fd or -1 (others are
// closed). Returns bytes, 0 at EOF, or -errno.
long RecvWithFd(int sock, void* buf, size_t len, int* fd, int flags) {
  struct iovec iov = {buf, len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (fd != nullptr) *fd = -1;
  if (n < 0) return -errno;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (fd != nullptr && *fd < 0) {
        *fd = got;
      } else {
        close(got);
      }
    }
  }
  return n;
}

// ---------------------------------------------------------------------------
// The puppet (a process per input) and its stranger child.

enum class Cmd : uint32_t {
  kConnect = 1,  // connect to the engine; reply fd: the socket
  kStranger,     // the stranger connects (uid 65534); it sends the reply
  kUffd,         // a uffd of the puppet's mm; arg: UffdVariant bits
  kMemfd,        // reply fd: the memfd behind region arg (0: A, 1: B)
  kTouch,        // a thread reads (arg 0) or writes (arg 1) addr; kTouched when done
  kFork,         // fork a child; arg: ForkFlags; the child sends the reply
  kVm,           // arg: VmOp on [addr, addr + len); addr2: mremap target
  kExit,         // exit now
  kReply = 100,
  kTouched,
  kChildUffd,  // a forked child's own uffd (user-mode-only), before its reply
};
// kForkChildUffd: not a new uffd but a dup of the forked child's own.
enum UffdVariant : uint32_t { kUserModeOnly = 1, kBlocking = 2, kApiDone = 4, kForkChildUffd = 8 };
enum ForkFlags : uint32_t { kRingDoorbell = 1, kDropToNobody = 2 };
enum VmOp : uint32_t { kUnmap, kMove, kDontNeed, kRemove, kRemapRegion, kGrow, kVmOps };

struct PuppetMsg {
  Cmd cmd;
  int32_t status;
  uint32_t arg;
  uint32_t pad;
  uint64_t addr, len, addr2;
};

void PuppetReply(int sock, int status, int fd, uint32_t arg = 0) {
  PuppetMsg m = {};
  m.cmd = Cmd::kReply;
  m.status = status;
  m.arg = arg;
  SendWithFds(sock, &m, sizeof(m), &fd, fd >= 0 ? 1 : 0, 0);
}

// A puppet that cannot set itself up says which step failed, and exits.
[[noreturn]] void SetupFailed(int sock, uint32_t step) {
  PuppetReply(sock, -errno, -1, step);
  _exit(3);
}

// In each helper process: the process that forked it, which it dies with.
pid_t parent_pid;

// Forks a process that dies with this one. Returns as fork() does.
pid_t ForkLinked() {
  pid_t me = getpid();
  pid_t child = fork();
  if (child == 0) {
    parent_pid = me;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent_pid) _exit(0);  // gone before the line above
  }
  return child;
}

int DropToNobody() {
  int rc = 0;
  if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) rc = -errno;
  // A change of credentials clears the parent-death signal.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent_pid) _exit(0);
  return rc;
}

// The stranger: forked by the puppet before it has any uffd (no fork event),
// uid 65534; connects whenever the puppet relays kStranger.
[[noreturn]] void StrangerMain(int cmd_sock, int reply_sock, const char* address) {
  int dropped = DropToNobody();
  for (;;) {
    char c;
    if (recv(cmd_sock, &c, 1, 0) <= 0) _exit(0);
    if (dropped != 0) {
      PuppetReply(reply_sock, dropped, -1);
      continue;
    }
    int fd = internal::ConnectSession(address);
    PuppetReply(reply_sock, fd < 0 ? fd : 0, fd);
    if (fd >= 0) close(fd);
  }
}

struct Touch {
  int sock;
  uintptr_t addr;
  bool write;
};

// Never instrumented: the address is the puppet's managed memory.
__attribute__((no_sanitize("address", "undefined"))) void Access(uintptr_t addr, bool write) {
  volatile char* p = reinterpret_cast<volatile char*>(addr);
  if (write) {
    *p = 1;
  } else {
    (void)*p;
  }
}

void* TouchThread(void* arg) {
  Touch t = *static_cast<Touch*>(arg);
  free(arg);
  Access(t.addr, t.write);
  PuppetMsg m = {};
  m.cmd = Cmd::kTouched;
  m.addr = t.addr;
  send(t.sock, &m, sizeof(m), MSG_NOSIGNAL);
  return nullptr;
}

int MapRegion(int i, const int* memfds) {
  const Region& r = kRegions[i];
  void* want = reinterpret_cast<void*>(r.start);
  void* got;
  if (r.kind == kMemfdRegion) {
    got = mmap(want, r.bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfds[i], 0);
  } else {
    int prot = r.kind == kDoorbellRegion ? PROT_READ : PROT_READ | PROT_WRITE;
    got = mmap(want, r.bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  }
  return got == MAP_FAILED ? -errno : 0;
}

int DoVm(const PuppetMsg& m, const int* memfds) {
  void* addr = reinterpret_cast<void*>(m.addr);
  void* r;
  switch (m.arg) {
    case kUnmap:
      return munmap(addr, m.len) == 0 ? 0 : -errno;
    case kMove:
      r = mremap(addr, m.len, m.len, MREMAP_MAYMOVE | MREMAP_FIXED,
                 reinterpret_cast<void*>(m.addr2));
      return r == MAP_FAILED ? -errno : 0;
    case kDontNeed:
      return madvise(addr, m.len, MADV_DONTNEED) == 0 ? 0 : -errno;
    case kRemove:
      return madvise(addr, m.len, MADV_REMOVE) == 0 ? 0 : -errno;
    case kRemapRegion:
      return MapRegion(static_cast<int>(m.addr2 % kRegionCount), memfds);
    case kGrow:
      // In place only (the kExtend case): addr is a region's start.
      r = mremap(addr, m.len, m.addr2, 0);
      return r == MAP_FAILED ? -errno : 0;
    default:
      return -EINVAL;
  }
}

[[noreturn]] void PuppetMain(int sock, const char* address) {
  signal(SIGCHLD, SIG_IGN);
  // A touch of memory an input unmapped kills the puppet quietly (no
  // sanitizer report: it is not a finding).
  signal(SIGSEGV, SIG_DFL);
  signal(SIGBUS, SIG_DFL);
  int memfds[kRegionCount] = {-1, -1, -1, -1};
  for (int i = 0; i < kRegionCount; i++) {
    if (kRegions[i].kind != kMemfdRegion) continue;
    // Named like the library's own memfds (kHelloRestrictedChild looks for them).
    memfds[i] = memfd_create("libshm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (memfds[i] < 0 || ftruncate(memfds[i], static_cast<off_t>(kRegions[i].bytes)) != 0) {
      SetupFailed(sock, 1);
    }
  }
  for (int i = 0; i < kRegionCount; i++) {
    int rc = MapRegion(i, memfds);
    if (rc != 0) {
      errno = -rc;
      SetupFailed(sock, 2);
    }
  }
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) SetupFailed(sock, 3);
  pid_t stranger = ForkLinked();
  if (stranger == 0) {
    close(sp[0]);
    StrangerMain(sp[1], sock, address);
  }
  close(sp[1]);
  PuppetReply(sock, 0, -1);  // ready
  for (;;) {
    PuppetMsg m;
    ssize_t n = recv(sock, &m, sizeof(m), 0);
    if (n <= 0) _exit(0);
    if (static_cast<size_t>(n) != sizeof(m)) continue;
    switch (m.cmd) {
      case Cmd::kConnect: {
        int fd = internal::ConnectSession(address);
        PuppetReply(sock, fd < 0 ? fd : 0, fd);
        if (fd >= 0) close(fd);
        break;
      }
      case Cmd::kStranger:
        if (stranger < 0 || send(sp[0], "c", 1, MSG_NOSIGNAL) != 1) PuppetReply(sock, -ESRCH, -1);
        break;
      case Cmd::kUffd: {
        int flags = O_CLOEXEC | ((m.arg & kBlocking) ? 0 : O_NONBLOCK) |
                    ((m.arg & kUserModeOnly) ? UFFD_USER_MODE_ONLY : 0);
        int fd = static_cast<int>(syscall(SYS_userfaultfd, flags));
        if (fd >= 0 && (m.arg & kApiDone)) {
          struct uffdio_api api = {};
          api.api = UFFD_API;
          ioctl(fd, UFFDIO_API, &api);
        }
        PuppetReply(sock, fd < 0 ? -errno : 0, fd);
        if (fd >= 0) close(fd);
        break;
      }
      case Cmd::kMemfd:
        PuppetReply(sock, 0, memfds[m.arg % 2]);
        break;
      case Cmd::kTouch: {
        auto* t = static_cast<Touch*>(malloc(sizeof(Touch)));
        *t = Touch{sock, m.addr, m.arg != 0};
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t th;
        int rc = pthread_create(&th, &attr, TouchThread, t);
        pthread_attr_destroy(&attr);
        if (rc != 0) free(t);
        PuppetReply(sock, -rc, -1);
        break;
      }
      case Cmd::kFork: {
        // With registered ranges on a uffd that has EVENT_FORK, fork() waits
        // until the engine reads the event (the fuzzer runs it meanwhile).
        pid_t child = ForkLinked();
        if (child == 0) {
          // A forked child rings the doorbell so the helper learns its pid.
          if (m.arg & kRingDoorbell) Access(kRegions[3].start, false);
          // Its own uffd, for a restricted child's hello (kHelloRestrictedChild).
          int own = static_cast<int>(
              syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
          if (own >= 0) {
            PuppetMsg u = {};
            u.cmd = Cmd::kChildUffd;
            SendWithFds(sock, &u, sizeof(u), &own, 1, 0);
            close(own);
          }
          int rc = (m.arg & kDropToNobody) ? DropToNobody() : 0;
          int fd = rc == 0 ? internal::ConnectSession(address) : rc;
          PuppetReply(sock, fd < 0 ? fd : 0, fd);
          for (;;) pause();
        }
        if (child < 0) PuppetReply(sock, -errno, -1);
        break;
      }
      case Cmd::kVm:
        PuppetReply(sock, DoVm(m, memfds), -1);
        break;
      case Cmd::kExit:
        _exit(0);
      default:
        PuppetReply(sock, -EINVAL, -1);
    }
  }
}

// The zygote: forked once at start-up, while the fuzzer is small, it forks a
// puppet per input and sends back its pid and control socket.
[[noreturn]] void ZygoteMain(int sock, const char* address) {
  // Orphans (a puppet's children) come here and are reaped at once.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal(SIGCHLD, SIG_IGN);
  for (;;) {
    char c;
    if (recv(sock, &c, 1, 0) <= 0) _exit(0);
    int sp[2];
    int32_t pid = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp) == 0) {
      pid = ForkLinked();
      if (pid < 0) pid = -errno;
      if (pid == 0) {
        close(sock);
        close(sp[0]);
        PuppetMain(sp[1], address);
      }
      close(sp[1]);
    } else {
      sp[0] = -1;
    }
    SendWithFds(sock, &pid, sizeof(pid), &sp[0], pid > 0 ? 1 : 0, 0);
    if (sp[0] >= 0) close(sp[0]);
  }
}

// ---------------------------------------------------------------------------
// The fuzzer side.

uint64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

[[noreturn]] void Fail(const char* what) {
  fprintf(stderr, "request_fuzzer: %s\n", what);
  abort();
}

struct World {
  Engine* engine = nullptr;
  bool trace = false;  // REQUEST_FUZZER_TRACE=1: what each step does, on stderr
  // REQUEST_FUZZER_SKIP_FINDINGS: the known findings to step around.
  bool skip_finding[4] = {};
  char address[64] = {};
  int zygote = -1;
  bool ever_connected = false;  // RunOnce says "session over" only after a first client
  // Until then a fork pin may hold regions (and the session) past the end of
  // the input that took it: the engine may not be empty between inputs.
  uint64_t pins_until_ms = 0;
};
World world;

// What the helper must do with a packet (besides closing the connection,
// which is always allowed).
enum class Expect {
  kAnything,  // a reply, whatever its status
  kClose,     // not a request (its size is wrong): no reply
  kError,     // a range that wraps around the address space: no success
};

struct Pending {
  Expect expect;
  Op op;
};

struct Slot {
  int fd = -1;
  // What each packet sent and not yet answered must get, in order (the
  // helper answers a connection's requests in order).
  std::deque<Pending> pending;
};

struct Session {
  int puppet = -1;  // control socket
  int pidfd = -1;
  Slot slots[kSlots];
  // A dup of the last memfd sent, to send again. (Never of a uffd: a copy
  // here would keep its registrations alive after the helper dropped the
  // client, and the puppet's next munmap or fork would wait for ever on an
  // event nobody reads.)
  int last_memfd = -1;
  // The forked child's own uffd (kForkChildUffd). Kept: the child does
  // nothing after it connects, so no event of it can wait on this copy.
  int child_uffd = -1;
  // Tokens of kForkPending replies, in order: a kHelloRestrictedChild whose
  // a is 1..8 names the a-th.
  std::vector<uint64_t> tokens;
  int touches = 0, touched = 0, forks = 0;
};

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  void Bytes(void* dst, size_t len) {
    size_t k = std::min(len, n_);
    memcpy(dst, p_, k);
    memset(static_cast<char*>(dst) + k, 0, len - k);
    p_ += k;
    n_ -= k;
  }
  uint8_t U8() {
    uint8_t v;
    Bytes(&v, 1);
    return v;
  }
  uint16_t U16() {
    uint8_t b[2];
    Bytes(b, 2);
    return static_cast<uint16_t>(b[0] | b[1] << 8);
  }
  uint64_t U64() {
    uint8_t b[8];
    Bytes(b, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
  }

 private:
  const uint8_t* p_;
  size_t n_;
};

// The watchdog: one loop turn never takes seconds, whatever a client sent.
// If it does, the helper is blocked (in production it would stay blocked;
// here libFuzzer's own SIGALRM may interrupt the call, so it would not be
// reported as a timeout): abort with the stack of where it blocked.
constexpr int kWatchdogSeconds = 5;
timer_t watchdog;

void OnWatchdog(int) {
  static const char kMessage[] =
      "request_fuzzer: Engine::RunOnce has not returned for 5 s: the helper is blocked "
      "(libFuzzer's report below has its stack)\n";
  if (write(2, kMessage, sizeof(kMessage) - 1) < 0) {
    // Nothing to do: aborting anyway.
  }
  abort();
}

void StartWatchdog() {
  struct sigaction sa = {};
  sa.sa_handler = OnWatchdog;
  sigaction(SIGRTMIN + 1, &sa, nullptr);
  struct sigevent ev = {};
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGRTMIN + 1;
  ev._sigev_un._tid = gettid();  // this thread: the one that runs the engine
  if (timer_create(CLOCK_MONOTONIC, &ev, &watchdog) != 0) Fail("timer_create");
}

// One loop turn. Returns RunOnce's 1 (go on) or 0 (no client left).
int Turn(int max_wait_ms) {
  struct itimerspec arm = {};
  arm.it_value.tv_sec = kWatchdogSeconds;
  timer_settime(watchdog, 0, &arm, nullptr);
  int rc = world.engine->RunOnce(max_wait_ms);
  struct itimerspec disarm = {};
  timer_settime(watchdog, 0, &disarm, nullptr);
  if (rc < 0) Fail("Engine::RunOnce failed");
  return rc;
}

void CloseSlot(Slot& s) {
  if (s.fd >= 0) close(s.fd);
  s.fd = -1;
  s.pending.clear();
}

// Reads every reply that is there; a closed connection resets its slot.
void DrainReplies(Session& s) {
  for (Slot& slot : s.slots) {
    while (slot.fd >= 0) {
      alignas(Reply) char buf[sizeof(Reply) + 64];
      int fd;
      long n = RecvWithFd(slot.fd, buf, sizeof(buf), &fd, MSG_DONTWAIT);
      if (fd >= 0) close(fd);  // kInodeFd's memfd, kUffdDevice's device: never used here
      if (n == -EAGAIN) break;
      if (n <= 0) {
        if (world.trace)
          fprintf(stderr, "  slot %d: closed by the helper\n", static_cast<int>(&slot - s.slots));
        CloseSlot(slot);
        break;
      }
      Reply r;
      memcpy(&r, buf, std::min(sizeof(r), static_cast<size_t>(n)));
      if (world.trace) {
        fprintf(stderr, "  slot %d: reply status %d a=%#llx%s\n", static_cast<int>(&slot - s.slots),
                r.status, static_cast<unsigned long long>(r.a), fd >= 0 ? " +fd" : "");
      }
      if (slot.pending.empty()) Fail("a reply to no request");
      Expect want = slot.pending.front().expect;
      Op op = slot.pending.front().op;
      slot.pending.pop_front();
      if (op == Op::kForkPending && r.status == 0) {
        // The helper holds the parent's regions for the child until it says
        // hello or 30 s pass, and the session with them (engine.h, ForkPin).
        s.tokens.push_back(r.a);
        world.pins_until_ms = NowMs() + 32000;
      }
      if (want == Expect::kClose && !world.skip_finding[2]) {
        Fail(
            "a packet whose size is not sizeof(Request) was answered as a request; it must close "
            "its connection (requests.cc, DESIGN.md invariant 9)");
      }
      if (want == Expect::kError && r.status == 0 && !world.skip_finding[3]) {
        Fail(
            "an msync or discard whose range wraps around the address space succeeded; it must "
            "fail (every length checked without overflow: DESIGN.md invariant 9)");
      }
    }
  }
}

// A few loop turns: enough for the engine to accept, read every queued
// request and answer it (all of which it does without waiting).
void Pump(Session& s) {
  for (int i = 0; i < 8; i++) {
    Turn(0);
    DrainReplies(s);
    bool waiting = false;
    for (const Slot& slot : s.slots) waiting |= slot.fd >= 0 && !slot.pending.empty();
    if (!waiting) return;
  }
  Fail("a request was neither answered nor its connection closed (protocol.h: one reply each)");
}

// Sends a command to the puppet and waits for its reply, running the engine
// meanwhile (the puppet may be blocked on it: a fork event, a fault).
int PuppetCall(Session& s, PuppetMsg m, int* fd_out) {
  if (fd_out != nullptr) *fd_out = -1;
  if (s.puppet < 0) return -EPIPE;
  if (SendWithFds(s.puppet, &m, sizeof(m), nullptr, 0, 0) != 0) return -EPIPE;
  uint64_t deadline = NowMs() + 5000;
  while (NowMs() < deadline) {
    struct pollfd p = {s.puppet, POLLIN, 0};
    if (poll(&p, 1, 1) <= 0) {
      Turn(0);
      DrainReplies(s);
      continue;
    }
    PuppetMsg r;
    int fd;
    long n = RecvWithFd(s.puppet, &r, sizeof(r), &fd, MSG_DONTWAIT);
    if (n == -EAGAIN) continue;
    if (n <= 0) {
      close(s.puppet);
      s.puppet = -1;
      return -EPIPE;
    }
    if (r.cmd == Cmd::kTouched) {
      s.touched++;
      continue;
    }
    if (r.cmd == Cmd::kChildUffd) {
      if (s.child_uffd >= 0) close(s.child_uffd);
      s.child_uffd = fd;
      continue;
    }
    if (fd_out != nullptr) {
      *fd_out = fd;
    } else if (fd >= 0) {
      close(fd);
    }
    return r.status;
  }
  // The puppet's commands block only on the helper: a fork or munmap waits
  // until it reads the uffd event, a doorbell ring until it serves the fault.
  Fail("the puppet is blocked: the helper never read an event or served a fault of a live client");
}

int Connect(Session& s, int i) {
  Slot& slot = s.slots[i];
  if (slot.fd >= 0) return slot.fd;
  PuppetMsg m = {};
  if (i == kStrangerSlot) {
    // Admitted by ancestry: its parent, the puppet, must be a live member
    // when the engine accepts it.
    bool member = false;
    for (int j = 0; j < kStrangerSlot; j++) member |= s.slots[j].fd >= 0;
    if (!member && Connect(s, 0) < 0) return -1;
    m.cmd = Cmd::kStranger;
  } else {
    m.cmd = Cmd::kConnect;
  }
  int fd;
  if (PuppetCall(s, m, &fd) != 0 || fd < 0) return -1;
  slot.fd = fd;
  world.ever_connected = true;
  Turn(0);  // accept it
  return fd;
}

int FreshMemfd(uint8_t variant, uint16_t kib) {
  int fd = memfd_create("libshm-fuzz", MFD_CLOEXEC | ((variant & 1) ? 0 : MFD_ALLOW_SEALING));
  if (fd < 0) return -1;
  if (ftruncate(fd, static_cast<off_t>(kib) * 1024) != 0) {
    close(fd);
    return -1;
  }
  if (variant & 2) fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL);
  if (variant & 4) fcntl(fd, F_ADD_SEALS, F_SEAL_GROW);
  if (variant & 8) fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE);
  return fd;
}

void Remember(int* keep, int fd) {
  if (fd < 0) return;
  if (*keep >= 0) close(*keep);
  *keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

int Other(Session& s, uint8_t which) {
  int fds[2];
  switch (which % 12) {
    case 8:  // a file of its own of the last memfd (the shim's "own" file)
    case 9:  // and a read-only one
      if (s.last_memfd < 0) return -1;
      {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", s.last_memfd);
        return open(path, (which % 12 == 8 ? O_RDWR : O_RDONLY) | O_CLOEXEC);
      }
    case 10: {  // a named file on a tmpfs (/dev/shm): never an object
      char path[64];
      snprintf(path, sizeof(path), "/dev/shm/libshm-fuzz-%d", static_cast<int>(getpid()));
      int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      return fd;
    }
    case 11: {  // a program's memfd (memfd_create without sealing), empty
      int fd = memfd_create("fuzz-program", MFD_CLOEXEC);
      Remember(&s.last_memfd, fd);
      return fd;
    }
    case 0:
      return open("/dev/null", O_RDWR | O_CLOEXEC);
    case 1:
      if (pipe2(fds, O_CLOEXEC) != 0) return -1;
      close(fds[1]);
      return fds[0];
    case 2:
      if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) return -1;
      close(fds[1]);
      return fds[0];
    case 3:
      return s.last_memfd >= 0 ? fcntl(s.last_memfd, F_DUPFD_CLOEXEC, 0) : -1;
    case 4: {  // a uffd already past UFFDIO_API (as if sent twice)
      PuppetMsg m = {};
      m.cmd = Cmd::kUffd;
      m.arg = kApiDone;
      int fd;
      PuppetCall(s, m, &fd);
      return fd;
    }
    case 5:
      return eventfd(0, EFD_CLOEXEC);
    case 6:
      return open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    default: {
      // A regular file that is not a memfd (tmpfs or not, by where /tmp is).
      int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
      if (fd >= 0 && ftruncate(fd, 1 << 20) != 0) {
        close(fd);
        return -1;
      }
      return fd;
    }
  }
}

// The fds a step attaches (0, 1 or 2 of them). Returns how many.
int MakeFds(Session& s, Input& in, int kind, int* fds) {
  int fd = -1;
  PuppetMsg m = {};
  switch (kind) {
    case 0:
      return 0;
    case 1:
    case 2:
      m.cmd = Cmd::kMemfd;
      m.arg = static_cast<uint32_t>(kind - 1);
      PuppetCall(s, m, &fd);
      Remember(&s.last_memfd, fd);
      break;
    case 3: {
      uint8_t variant = in.U8();
      fd = FreshMemfd(variant, in.U16());
      Remember(&s.last_memfd, fd);
      break;
    }
    case 4:
    case 5:
      m.cmd = Cmd::kUffd;
      m.arg = kind == 4 ? 0 : in.U8() & 15;
      if (world.skip_finding[1]) m.arg &= ~kBlocking;
      if (m.arg & kForkChildUffd) {
        fd = s.child_uffd >= 0 ? fcntl(s.child_uffd, F_DUPFD_CLOEXEC, 0) : -1;
        break;
      }
      PuppetCall(s, m, &fd);
      break;
    case 6:
      fd = Other(s, in.U8());
      break;
    default:
      // Two fds in one message: the helper keeps the first, closes the rest.
      m.cmd = Cmd::kMemfd;
      PuppetCall(s, m, &fd);
      if (fd < 0) return 0;
      fds[0] = fd;
      fds[1] = open("/dev/null", O_RDWR | O_CLOEXEC);
      return fds[1] >= 0 ? 2 : 1;
  }
  if (fd < 0) return 0;
  fds[0] = fd;
  return 1;
}

// The address field of a request, if its op has one.
uint64_t* AddressField(Request& r) {
  switch (r.op) {
    case Op::kHello:
    case Op::kMsync:
    case Op::kDiscard:
    case Op::kInodeFd:
    case Op::kExtend:
      return &r.a;
    case Op::kRegister:
      return &r.b;
    default:
      return nullptr;
  }
}

// The name of a kShmOpen or kShmUnlink: u8 n. Below 0x80 one of
// kShmNames names (the engine keeps names across inputs: EndSession removes
// them); else n % 64 bytes of the input, sent as they are (unterminated,
// slashes, "..": whatever they are), and 0xff a name of NAME_MAX + 1 bytes.
constexpr int kShmNames = 4;
void ShmName(Input& in, char* text2) {
  uint8_t n = in.U8();
  if (n < 0x80) {
    snprintf(text2, sizeof(Request::text2), "fuzz-%d", n % kShmNames);
  } else if (n == 0xff) {
    memset(text2, 'n', 256);  // the helper terminates it at its field's end
  } else {
    in.Bytes(text2, n % 64);
  }
}

Request CompactRequest(Input& in, bool fold) {
  Request r;
  r.op = static_cast<Op>(in.U8());
  r.flags = in.U8();
  r.a = in.U64();
  r.b = in.U64();
  r.c = in.U64();
  r.d = in.U64();
  if (r.op == Op::kCtl) {
    in.Bytes(r.text, in.U8() % sizeof(r.text));
    in.Bytes(r.text2, in.U8() % sizeof(r.text2));
  } else if (r.op == Op::kShmOpen || r.op == Op::kShmUnlink) {
    ShmName(in, r.text2);
  }
  if (fold) {
    uint64_t* f = AddressField(r);
    if (f != nullptr) *f = kWindow + *f % kWindowSize;
  }
  return r;
}

// A restricted child's hello names its parent's fork pin by a token the
// input cannot know: 1..8 stand for the tokens this input was given.
void NameToken(const Session& s, Request* r) {
  if (r->op == Op::kHelloRestrictedChild && r->a >= 1 && r->a <= 8 && r->a <= s.tokens.size()) {
    r->a = s.tokens[r->a - 1];
  }
}

// True if [addr, addr + len rounded up to pages) does not fit below 2^64.
bool Wraps(uint64_t addr, uint64_t len) {
  if (len == 0) return false;
  if (len > UINT64_MAX - (kPage - 1)) return true;
  return ((len + kPage - 1) & ~static_cast<uint64_t>(kPage - 1)) > UINT64_MAX - addr;
}

Pending ExpectFor(const void* buf, size_t len) {
  Request r;
  memcpy(&r, buf, std::min(len, sizeof(r)));
  if (len != sizeof(Request)) return {Expect::kClose, r.op};
  if ((r.op == Op::kMsync || r.op == Op::kDiscard) && Wraps(r.a, r.b)) {
    return {Expect::kError, r.op};
  }
  return {Expect::kAnything, r.op};
}

void Send(Session& s, int i, const void* buf, size_t len, const int* fds, int nfds) {
  Slot& slot = s.slots[i];
  for (int attempt = 0; attempt < 32 && slot.fd >= 0; attempt++) {
    int rc = SendWithFds(slot.fd, buf, len, fds, nfds, MSG_DONTWAIT);
    if (rc == 0) {
      slot.pending.push_back(ExpectFor(buf, len));
      return;
    }
    if (rc != -EAGAIN) {
      CloseSlot(slot);
      return;
    }
    // The helper's queue is full: let it read.
    Turn(0);
    DrainReplies(s);
  }
}

void WaitTouched(Session& s, int want) {
  uint64_t deadline = NowMs() + 50;
  while (s.touched < want && s.puppet >= 0 && NowMs() < deadline) {
    Turn(1);
    DrainReplies(s);
    PuppetMsg r;
    long n = RecvWithFd(s.puppet, &r, sizeof(r), nullptr, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && n != -EAGAIN)) {
      close(s.puppet);
      s.puppet = -1;
    } else if (n > 0 && r.cmd == Cmd::kTouched) {
      s.touched++;
    }
  }
}

void Action(Session& s, Input& in, int i) {
  PuppetMsg m = {};
  int sub = in.U8() % 8;
  if (world.trace) fprintf(stderr, "slot %d: action %d\n", i, sub);
  switch (sub) {
    case 0: {  // the puppet reads or writes a page of a region (a fault)
      const Region& r = kRegions[in.U8() % kRegionCount];
      uint16_t page = in.U16();
      bool write = (in.U8() & 1) != 0 && r.kind != kDoorbellRegion;
      if (s.touches >= kMaxTouches) return;
      m.cmd = Cmd::kTouch;
      m.addr = r.start + (page % (r.bytes / kPage)) * kPage;
      m.arg = write;
      if (PuppetCall(s, m, nullptr) != 0) return;
      s.touches++;
      WaitTouched(s, s.touches);
      if (world.trace) {
        fprintf(stderr, "  %s %#llx: %s\n", write ? "write" : "read",
                static_cast<unsigned long long>(m.addr),
                s.touched >= s.touches ? "done" : "still blocked");
      }
      return;
    }
    case 1:  // close a connection
      CloseSlot(s.slots[i]);
      Pump(s);
      return;
    case 3: {  // the puppet forks; the child's connection takes kForkSlot
      uint8_t flags = in.U8();
      if (s.forks >= kMaxForks) return;
      s.forks++;
      CloseSlot(s.slots[kForkSlot]);
      m.cmd = Cmd::kFork;
      m.arg = flags & 3;
      int fd;
      if (PuppetCall(s, m, &fd) == 0 && fd >= 0) s.slots[kForkSlot].fd = fd;
      Pump(s);
      return;
    }
    case 4: {  // the puppet changes its mappings (uffd events)
      m.cmd = Cmd::kVm;
      m.arg = in.U8() % kVmOps;
      const Region& r = kRegions[in.U8() % kRegionCount];
      uint64_t pages = r.bytes / kPage;
      uint64_t first = in.U16() % pages;
      uint64_t count = 1 + in.U16() % (pages - first);
      m.addr = r.start + first * kPage;
      m.len = count * kPage;
      m.addr2 = kMoveTarget + (in.U8() % 16) * kPage;
      if (m.arg == kRemapRegion) m.addr2 = static_cast<uint64_t>(&r - kRegions);
      if (m.arg == kGrow) {
        m.addr = r.start;
        m.len = r.bytes;
        m.addr2 = r.bytes + count * kPage;
      }
      PuppetCall(s, m, nullptr);
      Pump(s);
      return;
    }
    case 5: {  // the puppet exits while its connections are open
      m.cmd = Cmd::kExit;
      if (s.puppet >= 0) SendWithFds(s.puppet, &m, sizeof(m), nullptr, 0, 0);
      struct pollfd p = {s.pidfd, POLLIN, 0};
      poll(&p, 1, 100);
      Pump(s);
      return;
    }
    default: {  // more loop turns
      int n = 1 + in.U8() % 8;
      for (int k = 0; k < n; k++) {
        Turn(0);
        DrainReplies(s);
      }
      return;
    }
  }
}

void Step(Session& s, Input& in) {
  uint8_t ctl = in.U8();
  int i = ctl & 3;
  int fd_kind = (ctl >> 2) & 7;
  int kind = ctl >> 5;
  if (kind >= 6) {
    Action(s, in, i);
    return;
  }
  alignas(Request) char packet[kMaxPacket] = {};
  size_t len;
  if (kind == 5) {
    len = in.U16() % kMaxPacket;
    in.Bytes(packet, len);
  } else {
    Request req = CompactRequest(in, kind == 4);
    NameToken(s, &req);
    memcpy(packet, &req, sizeof(req));
    len = sizeof(req);
  }
  int fds[2];
  int nfds = MakeFds(s, in, fd_kind, fds);
  if (world.trace) {
    Request r;
    memcpy(&r, packet, sizeof(r));
    fprintf(stderr,
            "slot %d: %s op %u flags %#x a=%#llx b=%#llx c=%#llx d=%#llx, %zu bytes, fd kind %d "
            "(%d fds)\n",
            i,
            kind == 5   ? "raw"
            : kind == 3 ? "queued"
                        : "request",
            static_cast<unsigned>(r.op), r.flags, static_cast<unsigned long long>(r.a),
            static_cast<unsigned long long>(r.b), static_cast<unsigned long long>(r.c),
            static_cast<unsigned long long>(r.d), len, fd_kind, nfds);
  }
  if (Connect(s, i) >= 0) Send(s, i, packet, len, fds, nfds);
  for (int k = 0; k < nfds; k++) close(fds[k]);
  if (kind != 3) Pump(s);
}

// The first line of /proc/<pid>/<name> (or "?"), for diagnostics.
void ReadProc(pid_t pid, const char* name, char* buf, size_t len) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/%s", static_cast<int>(pid), name);
  snprintf(buf, len, "?");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, len - 1);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
}

// Starts the input's puppet; on failure says why and returns false.
bool StartPuppet(Session& s) {
  char why[320];
  int32_t pid = 0;
  int fd = -1;
  struct pollfd p = {world.zygote, POLLIN, 0};
  if (send(world.zygote, "p", 1, MSG_NOSIGNAL) != 1 || poll(&p, 1, 5000) != 1 ||
      RecvWithFd(world.zygote, &pid, sizeof(pid), &fd, 0) != sizeof(pid)) {
    snprintf(why, sizeof(why), "the zygote does not answer (%s)", strerror(errno));
  } else if (pid <= 0 || fd < 0) {
    snprintf(why, sizeof(why), "the zygote cannot fork a puppet (%s)", strerror(-pid));
  } else {
    s.puppet = fd;
    s.pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));  // ESRCH: it failed already
    PuppetMsg ready = {};
    struct pollfd q = {fd, POLLIN, 0};
    int polled = poll(&q, 1, 5000);
    if (polled != 1 || RecvWithFd(fd, &ready, sizeof(ready), nullptr, 0) <= 0) {
      char state[64], stack[96];
      ReadProc(pid, "stat", state, sizeof(state));
      ReadProc(pid, "stack", stack, sizeof(stack));
      const char* st = strrchr(state, ')');  // "pid (comm) S ..."
      snprintf(why, sizeof(why), "the puppet %s while setting up (pid %d, state %.2s, kernel %s)",
               polled == 1 ? "died" : "hangs", static_cast<int>(pid), st != nullptr ? st + 2 : "?",
               stack);
    } else if (ready.status != 0) {
      snprintf(why, sizeof(why), "the puppet failed at set-up step %u: %s", ready.arg,
               strerror(-ready.status));
    } else if (s.pidfd < 0) {
      snprintf(why, sizeof(why), "pidfd_open of the puppet: %s", strerror(errno));
    } else {
      return true;
    }
  }
  fprintf(stderr, "request_fuzzer: cannot start a puppet process: %s\n", why);
  if (s.pidfd >= 0) syscall(SYS_pidfd_send_signal, s.pidfd, SIGKILL, nullptr, 0);
  if (s.puppet >= 0) close(s.puppet);
  if (s.pidfd >= 0) close(s.pidfd);
  s = Session();
  return false;
}

// Names outlive their input (the engine keeps a named object until it is
// unlinked): each input starts without any. An observer connection of this
// process (the helper's own uid) removes the few names inputs can make.
void ForgetNames() {
  char path[64];
  snprintf(path, sizeof(path), "/dev/shm/libshm-fuzz-%d", static_cast<int>(getpid()));
  unlink(path);
  int sock = internal::ConnectSession(world.address);
  if (sock < 0) return;
  Turn(0);  // accept it
  int sent = 0;
  for (int i = -1; i < kShmNames; i++) {
    Request r;
    r.op = i < 0 ? Op::kHello : Op::kShmUnlink;
    r.flags = i < 0 ? internal::kHelloObserver : 0;
    if (i >= 0) snprintf(r.text2, sizeof(r.text2), "fuzz-%d", i);
    if (SendWithFds(sock, &r, sizeof(r), nullptr, 0, MSG_DONTWAIT) != 0) break;
    sent++;
  }
  for (int turns = 0; sent > 0 && turns < 200; turns++) {
    Turn(1);
    Reply reply;
    while (sent > 0 && RecvWithFd(sock, &reply, sizeof(reply), nullptr, MSG_DONTWAIT) > 0) sent--;
  }
  close(sock);
  Turn(0);
}

void EndSession(Session& s) {
  for (Slot& slot : s.slots) CloseSlot(slot);
  ForgetNames();
  for (int fd : {s.last_memfd, s.child_uffd, s.puppet}) {
    if (fd >= 0) close(fd);
  }
  // Its children (the stranger, forked children) die with it (PDEATHSIG).
  syscall(SYS_pidfd_send_signal, s.pidfd, SIGKILL, nullptr, 0);
  struct pollfd p = {s.pidfd, POLLIN, 0};
  poll(&p, 1, 5000);
  close(s.pidfd);
  // Every client of the input is gone now: pidfds fire, and a fork child
  // that never faulted is found by the once-a-second housekeeping.
  if (!world.ever_connected) return;
  if (NowMs() < world.pins_until_ms) {
    // A fork pin may keep the session (and its regions) for up to 30 s:
    // "no client left" cannot be told from here until then.
    for (int k = 0; k < 4; k++) Turn(1);
    return;
  }
  uint64_t deadline = NowMs() + 5000;
  for (int wait_ms = 0;; wait_ms = 1) {
    if (Turn(wait_ms) == 0) return;
    if (NowMs() > deadline)
      Fail("the engine kept a client after every process of the input exited");
  }
}

}  // namespace
}  // namespace libshm::fuzz

// Oracle: nothing in the fuzzer's process (the engine, and the harness)
// closes a descriptor it does not hold. A close that says EBADF is a double
// close: with any other thread (a program's, when the engine is a thread of
// it) the number may have been reused in between, and a file of someone
// else's closed. (Replaces libc's close for this executable; the sanitizer
// runtime's fd bookkeeping is not needed here.)
static pid_t fuzzer_pid = 0;
extern "C" int close(int fd) {
  long rc = syscall(SYS_close, fd);
  if (rc == 0) return 0;
  if (errno == EBADF && fd >= 0 && fuzzer_pid != 0 && getpid() == fuzzer_pid) {
    fprintf(stderr, "request_fuzzer: close(%d) of a descriptor not open (a double close)\n", fd);
    abort();
  }
  return -1;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace libshm::fuzz;
  signal(SIGPIPE, SIG_IGN);
  snprintf(world.address, sizeof(world.address), "@libshm-fuzz-%d", static_cast<int>(getpid()));
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) Fail("socketpair");
  pid_t zygote = ForkLinked();
  if (zygote < 0) Fail("fork");
  if (zygote == 0) {
    close(sp[0]);
    ZygoteMain(sp[1], world.address);
  }
  close(sp[1]);
  world.zygote = sp[0];

  // A small session: 1 MiB limit (the smallest), a swap file capped below
  // the largest memfd an input can make (reservations fail too), background
  // eviction down to the lowest watermark in small batches, and reference
  // sampling at its highest rate (it runs above the low watermark).
  const char* tmp = getenv("TMPDIR") != nullptr ? getenv("TMPDIR") : "/tmp";
  static char swap_dir[300];
  snprintf(swap_dir, sizeof(swap_dir), "LIBSHM_SWAP_DIR=%s", tmp);
  char limit[] = "LIBSHM_LIMIT=1M";
  char swap_max[] = "LIBSHM_SWAP_MAX=16M";
  char low_watermark[] = "LIBSHM_LOW_WATERMARK=10";
  char evict_batch[] = "LIBSHM_EVICT_BATCH=16";
  char sample_rate[] = "LIBSHM_SAMPLE_RATE=100000";
  char* env[] = {limit, swap_dir, swap_max, low_watermark, evict_batch, sample_rate, nullptr};
  Options opts;
  libshm::internal::ParseOptions(&opts, env, /*warn=*/true);
  // Quiet unless asked: inputs break the protocol on purpose.
  world.trace = getenv("REQUEST_FUZZER_TRACE") != nullptr;
  for (const char* p = getenv("REQUEST_FUZZER_SKIP_FINDINGS"); p != nullptr && *p != '\0'; p++) {
    if (*p >= '1' && *p <= '3') world.skip_finding[*p - '0'] = true;
  }
  const char* verbose = getenv("LIBSHM_VERBOSE");
  libshm::internal::SetLogVerbosity(verbose != nullptr ? atoi(verbose) : 0);
  int listen_fd = libshm::internal::ListenSession(world.address);
  if (listen_fd < 0) Fail("ListenSession");
  world.engine = new Engine(opts);
  fuzzer_pid = getpid();
  StartWatchdog();
  if (world.engine->Init(listen_fd) != 0) Fail("Engine::Init");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace libshm::fuzz;
  Session s;
  // A failure to start may be the machine's (out of processes, memory):
  // try again before calling it one of the harness.
  for (int attempt = 0; !StartPuppet(s); attempt++) {
    if (attempt == 3) Fail("cannot start a puppet process (see above)");
    usleep(100000);
  }
  Input in(data, size);
  for (int step = 0; step < kMaxSteps && !in.empty(); step++) Step(s, in);
  EndSession(s);
  return 0;
}
