// SPDX-License-Identifier: MIT
// Engine: the loop, client lifecycle and requests. See engine.h.
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "clock.h"
#include "log.h"
#include "probe.h"
#include "sys/syscalls.h"
#include "test_hooks.h"
#include "uffd.h"

namespace libshm::internal {
namespace {

constexpr uint64_t kSourceShift = 56;

uint64_t Tag(uint8_t src, uint64_t id) { return (static_cast<uint64_t>(src) << kSourceShift) | id; }

// Connections at once: far above real trees (PostgreSQL with max_connections
// 10,000), low enough that one member cannot exhaust the helper's fds.
constexpr size_t kMaxClients = 65536;
// Connections of one process of another uid at once.
constexpr size_t kMaxConnectionsPerMember = 8;
// A connection must say hello within this time or is closed.
constexpr uint64_t kHelloTimeoutNs = 10ull * 1000000000ull;

// The hello timeout, shortened by a test (LIBSHM_TEST_HELLO_TIMEOUT_US,
// test_hooks.h) so that a test of it takes a second, not ten.
uint64_t HelloTimeoutNs() {
  static const uint64_t test_us = TestPauseUs("LIBSHM_TEST_HELLO_TIMEOUT_US");
  return test_us != 0 ? test_us * 1000 : kHelloTimeoutNs;
}

}  // namespace

Engine::Engine(const Options& opts) : opts_(opts) {}

Engine::~Engine() {
  for (auto& [id, c] : clients_) {
    if (c->uffd >= 0) close(c->uffd);
    if (c->sock >= 0) close(c->sock);
    if (c->pidfd >= 0) close(c->pidfd);
  }
  for (int fd : reserve_fds_) close(fd);
  if (epfd_ >= 0) close(epfd_);
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wakeup_fd_ >= 0) close(wakeup_fd_);
  if (starter_pidfd_ >= 0) close(starter_pidfd_);
  for (auto& [ns, held] : ipc_namespaces_) close(held.fd);
  free(zero_page_);
}

int Engine::Init(int listen_fd) {
  listen_fd_ = listen_fd;
  // Accept() drains the backlog until EAGAIN.
  fcntl(listen_fd_, F_SETFL, fcntl(listen_fd_, F_GETFL) | O_NONBLOCK);
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakeup_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epfd_ < 0 || wakeup_fd_ < 0) {
    int e = errno;
    LIBSHM_LOG_ERROR("cannot start: epoll or eventfd: %s", strerror(e));
    return -e;
  }
  size_t zeros = opts_.cluster * kPageSize;
  if (posix_memalign(reinterpret_cast<void**>(&zero_page_), kPageSize, zeros) != 0) {
    LIBSHM_LOG_ERROR("cannot start: out of memory");
    return -ENOMEM;
  }
  memset(zero_page_, 0, zeros);
  io_buffer_.resize((std::max<uint64_t>({opts_.evict_batch, opts_.cluster, 256}) + 1) * kPageSize);

  bool dir_was_set = strcmp(opts_.swap_dir, "/var/tmp") != 0;
  int rc = swap_.Open(opts_.swap_dir, opts_.swap_max, dir_was_set);
  if (rc != 0) {
    LIBSHM_LOG_ERROR(
        "cannot create the swap file in %s (%s): set LIBSHM_SWAP_DIR (shmrun --swap-dir) to a "
        "writable directory on a disk; shared memory stays native",
        opts_.swap_dir, strerror(-rc));
    return rc;
  }
  RestoreReserveFd();
  if (FILE* f = fopen("/proc/sys/vm/max_map_count", "re")) {
    unsigned long n = 0;
    if (fscanf(f, "%lu", &n) == 1 && n > 0) max_vmas_ = n;
    fclose(f);
  }
  limit_pages_ = opts_.limit / kPageSize;
  low_pages_ = limit_pages_ * opts_.low_watermark / 100;
  high_pages_ = low_pages_ + (limit_pages_ - low_pages_) / 2;
  const libshm_policy_ops* ops = libshm_policy_find(opts_.policy);
  if (ops == nullptr || !ops->live) {
    // The client already said so (it validates LIBSHM_POLICY); this is the helper's copy.
    LIBSHM_LOG_DEBUG("LIBSHM_POLICY='%s' is not a live policy; using clock", opts_.policy);
    ops = libshm_policy_find("clock");
  }
  // The policy's capacity is what stays resident in steady state: background
  // eviction starts above the high watermark. Sized to the limit, a policy
  // that reserves most of its capacity for one list (LIRS, CLOCK-Pro) would
  // never fill it and degenerate (measured with shmlive on ps: LIRS = LRU).
  rc = policy_.Init(ops, std::max<uint64_t>(high_pages_, 1), 1);
  if (rc != 0) {
    LIBSHM_LOG_ERROR("cannot start policy %s: %s", ops->name, strerror(-rc));
    return rc;
  }
  if (opts_.trace[0] != '\0') {
    rc = trace_.Open(opts_.trace, limit_pages_, policy_.name());
    if (rc != 0) LIBSHM_LOG_ERROR("cannot write LIBSHM_TRACE=%s: %s", opts_.trace, strerror(-rc));
  }
  stats_.size = sizeof(stats_);
  stats_.version = 1;
  Watch(listen_fd_, Source::kListen, 0);
  Watch(wakeup_fd_, Source::kWakeup, 0);
  return 0;
}

void Engine::SetStarter(pid_t pid, int pidfd) {
  starter_pid_ = pid;
  starter_pidfd_ = pidfd;
  if (pidfd < 0) {
    StarterDone("was gone before the helper served");
  } else {
    Watch(pidfd, Source::kStarter, 0);
  }
}

void Engine::StarterDone(const char* why) {
  if (starter_done_) return;
  LIBSHM_LOG_DEBUG("starter pid %d %s", static_cast<int>(starter_pid_), why);
  starter_done_ = true;
  if (starter_pidfd_ >= 0) {
    Unwatch(starter_pidfd_);  // readable from now on: level-triggered epoll would spin
    close(starter_pidfd_);
    starter_pidfd_ = -1;
  }
}

void Engine::Watch(int fd, Source src, uint64_t client_id) {
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = Tag(static_cast<uint8_t>(src), client_id);
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST) {
    epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
  }
}

void Engine::Unwatch(int fd) {
  if (fd >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
}

void Engine::Stop() {
  uint64_t one = 1;
  if (write(wakeup_fd_, &one, sizeof(one)) < 0) {
    // The eventfd cannot overflow with one writer; nothing to do.
  }
}

int Engine::Run() {
  int rc;
  while ((rc = RunOnce(-1)) > 0) {
  }
  // The session is over: probe every object nothing else holds now, whatever
  // its backoff, so the session-end stats say what was freed.
  for (auto& [seq, inode] : inodes_) inode->next_probe_ns = 0;
  collect_due_ = true;
  CollectInodes();
  trace_.Close();  // complete before the session-end stats appear
  return rc;
}

int Engine::RunOnce(int max_wait_ms) {
  if (stopping_) return 0;
  struct epoll_event events[64];
  {
    bool deferred = false;
    for (auto& [id, c] : clients_) deferred |= !c->deferred_faults.empty();
    bool reclaim = BackgroundEvictionDue();
    // A fault put back because its process is mid-event waits for that
    // process's thread to run: give it the CPU (1 ms, or less if anything
    // arrives) rather than spin against it.
    int wait_ms = reclaim || (deferred && !fault_requeued_) ? 0
                  : deferred                                ? 1
                                                            : (SamplingEnabled() ? 100 : 1000);
    fault_requeued_ = false;
    if (max_wait_ms >= 0) wait_ms = std::min(wait_ms, max_wait_ms);
    int n = epoll_wait(epfd_, events, 64, wait_ms);
    if (n < 0 && errno != EINTR) {
      LIBSHM_LOG_ERROR("epoll_wait: %s", strerror(errno));
      return -errno;
    }
    for (int i = 0; i < n; i++) {
      auto src = static_cast<Source>(events[i].data.u64 >> kSourceShift);
      uint64_t id = events[i].data.u64 & ((1ull << kSourceShift) - 1);
      if (src == Source::kListen) {
        Accept();
        continue;
      }
      if (src == Source::kWakeup) {
        stopping_ = true;
        continue;
      }
      if (src == Source::kStarter) {
        StarterDone("exited");
        continue;
      }
      Client* c = FindClient(id);
      if (c == nullptr || c->dead) continue;
      switch (src) {
        case Source::kSocket:
          OnSocket(*c);
          break;
        case Source::kUffd:
          OnUffdReadable(*c);
          break;
        case Source::kPidfd:
          MarkDead(*c, "exited");
          break;
        default:
          break;
      }
    }
    for (auto& [id, c] : clients_) {
      if (!c->dead) ProcessDeferred(*c);
    }
    if (BackgroundEvictionDue() && EvictBatch(opts_.evict_batch) == 0) {
      reclaim_idle_until_ns_ = MonotonicNs() + kReclaimIdleNs;
    }
    SampleTick();
    Housekeeping();
    ReapDeadClients();
    CollectInodes();
    if (SessionOver()) {
      // A connection already queued (shmrun's keeper, a fork child whose
      // parent just left) joins before the helper decides.
      Accept();
      if (SessionOver()) return 0;
    }
  }
  return stopping_ ? 0 : 1;
}

bool Engine::SessionOver() const {
  if (KeepsSessionAlive()) return false;
  // A helper with a starter waits for it while it lives and no member has
  // come: the starter may be slow to connect (a loaded machine), and
  // observers or idle connections of others that come and go meanwhile do
  // not end a session that has not begun. Once the starter is gone, or its
  // connection ended without joining, nobody is coming (docs/design.md,
  // "Before the first member").
  if (starter_pid_ > 0) return had_member_ || starter_done_;
  return ever_connected_;
}

bool Engine::KeepsSessionAlive() const {
  // Observers keep nothing. A member's connection that has not said hello
  // yet counts (a process starting up), for at most kHelloTimeoutNs; so does
  // a fork in restricted mode whose child has not said hello yet.
  if (!fork_pins_.empty()) return true;
  for (const auto& [id, c] : clients_) {
    if (!c->dead && !c->observer) return true;
  }
  return false;
}

size_t Engine::ConnectionsOf(pid_t pid) const {
  size_t n = 0;
  for (const auto& [id, c] : clients_) n += !c->dead && c->sock >= 0 && c->pid == pid;
  return n;
}

bool Engine::IsLiveMemberPid(pid_t pid) {
  for (const auto& [id, c] : clients_) {
    if (!c->dead && c->pid == pid && c->pidfd >= 0 && !PidfdExited(c->pidfd)) return true;
  }
  return false;
}

bool Engine::Admits(const Peer& peer, bool* trusted) {
  uid_t me = geteuid();
  *trusted = peer.uid == me;
  if (*trusted) return true;
  // Another uid: only a root helper serves it, and only for a process of the
  // session's tree (a member that dropped privilege, or its descendant),
  // which the kernel's parent links prove; nothing it could send would. A
  // helper of another uid serves nobody else: it could write into their
  // memory (root's included) through their uffds.
  if (me != 0) return false;
  return DescendsFromMember(peer.pid, [this](pid_t p) { return IsLiveMemberPid(p); });
}

bool Engine::ReleaseReserveFd() {
  if (reserve_fds_.empty()) return false;
  close(reserve_fds_.back());
  reserve_fds_.pop_back();
  return true;
}

bool Engine::RestoreReserveFd() {
  while (reserve_fds_.size() < kReserveFds) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    reserve_fds_.push_back(fd);
  }
  return true;
}

void Engine::Accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        // Out of descriptors: the listening socket stays readable and a
        // level-triggered loop would spin. Shed this connection with the
        // reserve fd (it learns with EOF) and go on serving the others; with
        // no reserve left, stop listening until Housekeeping finds room.
        bool had_reserve = ReleaseReserveFd();
        fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) close(fd);
        RestoreReserveFd();
        LIBSHM_LOG_ERROR("out of file descriptors: refused a connection");
        if (!had_reserve || fd < 0) {
          PauseWatch(listen_fd_);
          return;
        }
        continue;
      }
      return;  // EAGAIN, or an error of that one connection
    }
    Peer peer;
    bool trusted = false;
    if (ReadPeer(fd, &peer) != 0 || !Admits(peer, &trusted)) {
      LIBSHM_LOG_WARN("refused a connection from pid %d, uid %d: not a process of this session",
                      static_cast<int>(peer.pid), static_cast<int>(peer.uid));
      if (peer.pidfd >= 0) close(peer.pidfd);
      close(fd);
      continue;
    }
    if (!trusted && ConnectionsOf(peer.pid) >= kMaxConnectionsPerMember) {
      // A member needs one connection (a few while it forks or remaps): one
      // that opens many must not fill the helper's fd table for the others.
      LIBSHM_LOG_WARN("pid %d already has %zu connections: refused another",
                      static_cast<int>(peer.pid), kMaxConnectionsPerMember);
      if (peer.pidfd >= 0) close(peer.pidfd);
      close(fd);
      continue;
    }
    if (clients_.size() >= kMaxClients) {
      LIBSHM_LOG_ERROR("%zu connections: refused pid %d", clients_.size(),
                       static_cast<int>(peer.pid));
      if (peer.pidfd >= 0) close(peer.pidfd);
      close(fd);
      continue;
    }
    auto c = std::make_unique<Client>();
    c->trusted = trusted;
    c->id = next_client_id_++;
    c->sock = fd;
    c->pid = peer.pid;
    c->uid = peer.uid;
    c->pidfd = peer.pidfd;
    c->accepted_ns = MonotonicNs();
    Watch(fd, Source::kSocket, c->id);
    if (c->pidfd >= 0) Watch(c->pidfd, Source::kPidfd, c->id);
    ever_connected_ = true;
    clients_.emplace(c->id, std::move(c));
  }
}

void Engine::PauseWatch(int fd) {
  Unwatch(fd);
  paused_fds_.push_back(fd);
}

void Engine::Housekeeping() {
  uint64_t now = MonotonicNs();
  if (now - last_housekeeping_ns_ < 1000000000ull) return;
  last_housekeeping_ns_ = now;
  if (orphans_waiting_) collect_due_ = true;  // their grace may be over
  // Watch again what a full fd table made us stop watching, once there is
  // room (the reserve fd opens again). Each source finds its owner by fd.
  for (size_t i = 0; i < fork_pins_.size();) {
    if (now - fork_pins_[i].created_ns > kForkPinTimeoutNs) {
      ReleaseForkPin(i);  // the fork failed, or its child never came
    } else {
      i++;
    }
  }
  if (RestoreReserveFd() && !paused_fds_.empty()) {
    for (int fd : paused_fds_) {
      if (fd == listen_fd_) {
        Watch(fd, Source::kListen, 0);
        continue;
      }
      for (auto& [id, c] : clients_) {
        if (!c->dead && c->uffd == fd) Watch(fd, Source::kUffd, c->id);
      }
    }
    paused_fds_.clear();
  }
  for (auto& [id, cp] : clients_) {
    Client& c = *cp;
    if (c.dead) continue;
    if (!c.greeted && c.uffd < 0 && now - c.accepted_ns > HelloTimeoutNs()) {
      MarkDead(c, "never said hello");
      continue;
    }
    // A fork child that exited (or exec'd) before its first fault: no
    // event, no pidfd. Its uffd answers ESRCH once its mm is gone.
    if (c.pid == 0 && c.uffd >= 0 && !c.vmas.empty()) {
      const Vma& v = c.vmas.front();
      if (UffdWriteProtect(c.uffd, v.start, kPageSize, v.inode != nullptr) == -ESRCH) {
        MarkDead(c, "gone before its first fault");
      }
    }
  }
}

void Engine::AddVma(Client& c, const Vma& v) {
  auto it = std::lower_bound(c.vmas.begin(), c.vmas.end(), v.start,
                             [](const Vma& a, uintptr_t s) { return a.start < s; });
  c.vmas.insert(it, v);
  if (v.inode != nullptr) v.inode->mappings++;
}

void Engine::MarkDead(Client& c, const char* why) {
  if (c.dead) return;
  LIBSHM_LOG_DEBUG("client pid %d %s", static_cast<int>(c.pid), why);
  c.dead = true;
  // Its segments' pieces are detached now, as the kernel's exit (or exec)
  // detached them: shm_dtime, and shm_lpid the process's own.
  for (const Vma& v : c.vmas) {
    if (v.inode == nullptr || v.inode->segment == nullptr) continue;
    v.inode->segment->dtime = static_cast<int64_t>(time(nullptr));
    if (c.pid != 0) v.inode->segment->lpid = c.pid;
  }
}

void Engine::ReapDeadClients() {
  for (auto it = clients_.begin(); it != clients_.end();) {
    Client& c = *it->second;
    if (!c.dead) {
      ++it;
      continue;
    }
    // The starter's connection ended: it joined (had_member_) or gave up. (A
    // connection with the starter's pid is the starter's: while it lives no
    // other process has its pid, and once it is gone StarterDone is due.)
    if (starter_pid_ > 0 && c.pid == starter_pid_) StarterDone("disconnected");
    DropHandles(c);
    for (int fd : {c.uffd, c.sock, c.pidfd}) {
      if (fd < 0) continue;
      Unwatch(fd);
      close(fd);
    }
    for (const Vma& v : c.vmas) {
      if (v.inode != nullptr) v.inode->mappings--;
      NoteDetach(v.inode, c.pid, false);  // stamped by MarkDead
      collect_due_ = true;
    }
    it = clients_.erase(it);
  }
}

void Engine::CollectInodes() {
  // Only after something let go of an inode: a scan of every inode on every
  // turn of the loop cost O(regions) per fault.
  if (!collect_due_) return;
  collect_due_ = false;
  orphans_waiting_ = false;
  const uint64_t now = MonotonicNs();
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    Inode& inode = *it->second;
    if (inode.mappings > 0 || inode.holders > 0 || inode.named || inode.kept ||
        inode.segment != nullptr) {
      ++it;
      continue;
    }
    if (inode.program) {
      // Nothing the helper sees holds it: a mapping, a name, a handle. The
      // program may still hold it by fd (an unlinked object, a memfd, one
      // in flight in a socket: PyTorch's DataLoader). The kernel keeps it
      // while any file of it is open; so does the helper (ProgramHold).
      if (inode.next_probe_ns > now) {
        orphans_waiting_ = true;  // held when last probed: not yet again
        ++it;
        continue;
      }
      Hold hold = ProgramHold(inode);
      if (hold == Hold::kUnknown && inode.orphan_since_ns == 0) inode.orphan_since_ns = now;
      if (hold == Hold::kHeld) {
        // Probed again later and later (each probe is an open and a lease):
        // a member holding thousands of objects made every second's
        // collection probe them all.
        inode.next_probe_ns = now + (1'000'000'000ull << inode.probe_backoff);
        inode.probe_backoff = std::min<uint32_t>(inode.probe_backoff + 1, 4);
      }
      if (hold == Hold::kHeld ||
          (hold == Hold::kUnknown && now - inode.orphan_since_ns < OrphanGraceNs())) {
        orphans_waiting_ = true;  // Housekeeping looks again
        ++it;
        continue;
      }
      if (hold == Hold::kUnknown) {
        // Perhaps still held, and the helper cannot tell: hand it back to
        // the kernel whole. Its swapped pages go into the memfd; a later
        // mapping of that fd stays the kernel's (docs/named.md).
        int rc = RestorePages(inode, 0, inode.pages());
        if (rc != 0) {
          LIBSHM_LOG_ERROR("region %u cannot be handed back (%s): kept", inode.seq(),
                           strerror(-rc));
          inode.kept = true;  // for the session: its data is only in swap
          ++it;
          continue;
        }
        stats_.handed_back++;
      } else {
        stats_.objects_freed++;  // nobody can see its data again
      }
    }
    for (uint64_t p = inode.NextIn(0, inode.pages(), Inode::kHeldMask); p < inode.pages();
         p = inode.NextIn(p + 1, inode.pages(), Inode::kHeldMask)) {
      ForgetPage(inode, p);
    }
    swap_.Release(inode.extent());
    virtual_pages_ -= inode.pages();
    if (inode.program) program_objects_--;
    inode_by_ino_.erase(inode.ino());
    free_seqs_.push_back(inode.seq());
    it = inodes_.erase(it);
  }
}

uint32_t Engine::AllocateSeq() {
  // Every policy entry of a region is removed when it is collected, so its
  // number can name the next one; numbers stay below 2^28.
  if (!free_seqs_.empty()) {
    uint32_t seq = free_seqs_.back();
    free_seqs_.pop_back();
    return seq;
  }
  return next_inode_seq_ <= kMaxRegions ? next_inode_seq_++ : 0;
}

void Engine::LearnPid(Client& c, pid_t tid) {
  char path[64], line[128];
  snprintf(path, sizeof(path), "/proc/%d/status", static_cast<int>(tid));
  FILE* f = fopen(path, "re");
  if (f == nullptr) return;
  while (fgets(line, sizeof(line), f) != nullptr) {
    int pid;
    if (sscanf(line, "Tgid: %d", &pid) == 1) {
      c.pid = pid;
      break;
    }
  }
  fclose(f);
  if (c.pid != 0 && c.pidfd < 0) {
    c.pidfd = sys::PidfdOpen(c.pid);
    if (c.pidfd >= 0) Watch(c.pidfd, Source::kPidfd, c.id);
  }
}

Client* Engine::FindClient(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

}  // namespace libshm::internal
