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
#include <unistd.h>

#include <algorithm>

#include "log.h"
#include "probe.h"
#include "sys/syscalls.h"
#include "uffd.h"

namespace libshm::internal {
namespace {

constexpr uint64_t kSourceShift = 56;

uint64_t Tag(uint8_t src, uint64_t id) { return (static_cast<uint64_t>(src) << kSourceShift) | id; }

}  // namespace

Engine::Engine(const Options& opts) : opts_(opts) {}

Engine::~Engine() {
  for (auto& [id, c] : clients_) {
    if (c->uffd >= 0) close(c->uffd);
    if (c->sock >= 0) close(c->sock);
    if (c->pidfd >= 0) close(c->pidfd);
  }
  if (epfd_ >= 0) close(epfd_);
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wakeup_fd_ >= 0) close(wakeup_fd_);
  free(zero_page_);
}

int Engine::Init(int listen_fd) {
  listen_fd_ = listen_fd;
  // Accept() drains the backlog until EAGAIN.
  fcntl(listen_fd_, F_SETFL, fcntl(listen_fd_, F_GETFL) | O_NONBLOCK);
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakeup_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epfd_ < 0 || wakeup_fd_ < 0) return -errno;
  size_t zeros = opts_.cluster * kPageSize;
  if (posix_memalign(reinterpret_cast<void**>(&zero_page_), kPageSize, zeros) != 0) {
    return -ENOMEM;
  }
  memset(zero_page_, 0, zeros);
  io_buffer_.resize((std::max<uint64_t>({opts_.evict_batch, opts_.cluster, 256}) + 1) * kPageSize);

  bool dir_was_set = strcmp(opts_.swap_dir, "/var/tmp") != 0;
  int rc = swap_.Open(opts_.swap_dir, opts_.swap_max, dir_was_set);
  if (rc != 0) {
    LIBSHM_LOG_ERROR("cannot create the swap file in %s: %s", opts_.swap_dir, strerror(-rc));
    return rc;
  }
  // shmrun's sessions carry a key ("@address#key"): members that run as
  // another user (postgres, nginx workers) prove membership with it.
  const char* hash = strchr(opts_.session, '#');
  if (hash != nullptr) snprintf(session_key_, sizeof(session_key_), "%s", hash + 1);
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
  if (rc != 0) return rc;
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
  struct epoll_event events[64];
  while (!stopping_) {
    bool deferred = false;
    for (auto& [id, c] : clients_) deferred |= !c->deferred_faults.empty();
    bool reclaim = BackgroundEvictionDue();
    int idle_ms = SamplingEnabled() ? 100 : 1000;
    int n = epoll_wait(epfd_, events, 64, deferred || reclaim ? 0 : idle_ms);
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
    if (BackgroundEvictionDue()) EvictBatch(opts_.evict_batch);
    SampleTick();
    ReapDeadClients();
    CollectInodes();
    if (ever_connected_ && !KeepsSessionAlive()) break;
  }
  trace_.Close();  // complete before the session-end stats appear
  return 0;
}

bool Engine::KeepsSessionAlive() const {
  for (const auto& [id, c] : clients_) {
    if (!c->observer && !c->dead) return true;
  }
  return false;
}

void Engine::Accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    struct ucred cred = {};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      close(fd);
      continue;
    }
    bool same_user = cred.uid == geteuid() || cred.uid == 0;
    if (!same_user && session_key_[0] == '\0') {
      LIBSHM_LOG_WARN("refused a connection from uid %d (session of uid %d)",
                      static_cast<int>(cred.uid), static_cast<int>(geteuid()));
      close(fd);
      continue;
    }
    auto c = std::make_unique<Client>();
    c->authenticated = same_user;
    c->id = next_client_id_++;
    c->sock = fd;
    c->pid = cred.pid;
    Watch(fd, Source::kSocket, c->id);
    ever_connected_ = true;
    clients_.emplace(c->id, std::move(c));
  }
}

void Engine::OnSocket(Client& c) {
  for (;;) {
    Request req;
    int fd = -1;
    long n = RecvPacket(c.sock, &req, sizeof(req), &fd);
    if (n == -EAGAIN) return;
    if (n <= 0) {
      // EOF: exit, exec (the socket is CLOEXEC) or the program closed it.
      // Only a connection without a uffd is certainly over; a mapper is
      // reaped when its pidfd fires or its uffd answers ESRCH.
      Unwatch(c.sock);
      close(c.sock);
      c.sock = -1;
      if (c.uffd < 0) {
        MarkDead(c, "disconnected");
      } else if (!c.vmas.empty()) {
        const Vma& v = c.vmas.front();
        if (UffdWriteProtect(c.uffd, v.start, kPageSize, v.inode != nullptr) == -ESRCH) {
          MarkDead(c, "exec'd");
        }
      }
      if (fd >= 0) close(fd);
      return;
    }
    if (static_cast<size_t>(n) != sizeof(req) || req.magic != kProtocolMagic) {
      if (fd >= 0) close(fd);
      LIBSHM_LOG_WARN("client %d sent a malformed request", static_cast<int>(c.pid));
      MarkDead(c, "protocol error");
      return;
    }
    HandleRequest(c, req, fd);
    if (c.dead || c.sock < 0) return;
  }
}

void Engine::HandleRequest(Client& c, const Request& req, int fd) {
  Reply reply;
  int reply_fd = -1;
  int sock = c.sock;
  int rc;
  if (!c.authenticated) {
    // Another user's process: only a hello with the session key gets in.
    bool hello = req.op == Op::kHello || req.op == Op::kHelloChild ||
                 req.op == Op::kHelloRestrictedChild || req.op == Op::kUffdDevice;
    if (hello && strncmp(req.text2, session_key_, sizeof(session_key_)) == 0) {
      c.authenticated = true;
    } else {
      if (fd >= 0) close(fd);
      reply.status = -EACCES;
      SendPacket(sock, &reply, sizeof(reply), -1);
      MarkDead(c, "not a member of this session");
      return;
    }
  }
  switch (req.op) {
    case Op::kHello:
      rc = HandleHello(c, req, fd, &reply);
      fd = -1;
      break;
    case Op::kHelloChild:
      rc = HandleHelloChild(c, req, &reply, &reply_fd);
      break;
    case Op::kHelloRestrictedChild:
      rc = HandleHelloRestrictedChild(c, req, fd);
      fd = -1;
      break;
    case Op::kCreate:
      rc = HandleCreate(c, req, fd, &reply);
      fd = -1;
      break;
    case Op::kRegister:
      rc = HandleRegister(c, req);
      break;
    case Op::kDropInode: {
      Inode* inode = FindInode(req.a);
      if (inode != nullptr) inode->pinned = false;
      rc = inode != nullptr ? 0 : -ENOENT;
      CollectInodes();  // now, so the client's next request sees it gone
      break;
    }
    case Op::kMsync:
      rc = Msync(c, req.a, req.b, static_cast<int>(req.c));
      break;
    case Op::kDiscard:
      rc = Discard(c, req.a, req.b);
      break;
    case Op::kStats:
      reply.stats = Snapshot();
      rc = 0;
      break;
    case Op::kCtl:
      rc = Ctl(req, &reply);
      break;
    case Op::kUffdDevice:
      // Root can lend what the member lacks: a uffd that handles kernel-mode
      // faults and EVENT_FORK (KERNEL_FACTS "Privilege separation").
      reply_fd = geteuid() == 0 ? open("/dev/userfaultfd", O_RDWR | O_CLOEXEC) : -1;
      rc = reply_fd >= 0 ? 0 : (geteuid() == 0 ? -errno : -EPERM);
      break;
    case Op::kRegionInfo:
      rc = HandleRegionInfo(req, &reply);
      break;
    case Op::kInodeFd: {
      // Only for a process that maps that inode already.
      Vma* v = FindVma(c, req.a);
      rc = v != nullptr && v->inode != nullptr ? 0 : -EINVAL;
      if (rc == 0) {
        reply_fd = v->inode->memfd();
        reply.a = v->inode->id();
        reply.b = v->inode->pages();
      }
      break;
    }
    default:
      rc = -EINVAL;
      break;
  }
  if (fd >= 0) close(fd);
  reply.status = rc;
  int src = SendPacket(sock, &reply, sizeof(reply), reply_fd);
  if (req.op == Op::kUffdDevice && reply_fd >= 0) close(reply_fd);
  if (src != 0 && !c.dead) MarkDead(c, "cannot reply");
}

int Engine::HandleHello(Client& c, const Request& req, int fd, Reply* reply) {
  reply->a = static_cast<uint64_t>(getpid());
  snprintf(reply->text, sizeof(reply->text), "%s", RunModeName(ProbeKernel().mode));
  if (fd < 0) {
    c.observer = (req.flags & kHelloObserver) != 0;
    c.owner = !c.observer;
    return 0;
  }
  c.restricted = (req.flags & kHelloRestricted) != 0;
  uint64_t got = 0;
  int rc = UffdApi(fd, c.restricted ? kRestrictedFeatures : kFullFeatures, &got);
  if (rc != 0) {
    close(fd);
    LIBSHM_LOG_WARN("UFFDIO_API for pid %d failed: %s", static_cast<int>(c.pid), strerror(-rc));
    return rc;
  }
  c.uffd = fd;
  reply->b = got;
  Watch(fd, Source::kUffd, c.id);
  c.pidfd = sys::PidfdOpen(c.pid);
  if (c.pidfd >= 0) Watch(c.pidfd, Source::kPidfd, c.id);
  if (!c.restricted && req.a != 0) {
    rc = UffdRegister(fd, req.a, kPageSize, UFFDIO_REGISTER_MODE_MISSING, nullptr);
    if (rc != 0) return rc;
    AddVma(c, Vma{req.a, req.a + kPageSize, nullptr, 0});
  }
  return 0;
}

int Engine::HandleHelloChild(Client& c, const Request& req, Reply* reply, int* reply_fd) {
  for (auto& [id, x] : clients_) {
    if (x.get() == &c || x->dead || x->sock >= 0 || x->pid != req.pid || x->uffd < 0) continue;
    // The child's uffd arrived with the fork event; its socket arrives now.
    x->sock = c.sock;
    c.sock = -1;
    Watch(x->sock, Source::kSocket, x->id);
    MarkDead(c, "merged into its fork record");
    *reply_fd = x->uffd;
    reply->a = static_cast<uint64_t>(getpid());
    return 0;
  }
  return -ESRCH;
}

int Engine::HandleHelloRestrictedChild(Client& c, const Request& req, int fd) {
  if (fd < 0) return -EINVAL;
  c.restricted = true;
  int rc = UffdApi(fd, kRestrictedFeatures, nullptr);
  if (rc != 0) {
    close(fd);
    return rc;
  }
  c.uffd = fd;
  c.pid = req.pid;
  Watch(fd, Source::kUffd, c.id);
  c.pidfd = sys::PidfdOpen(c.pid);
  if (c.pidfd >= 0) Watch(c.pidfd, Source::kPidfd, c.id);
  // The child's mappings are exactly its memfd VMAs: read them from its maps.
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/maps", static_cast<int>(c.pid));
  FILE* f = fopen(path, "re");
  if (f == nullptr) return -errno;
  char line[512];
  while (fgets(line, sizeof(line), f) != nullptr) {
    unsigned long start, end, offset, ino;
    char perms[8];
    int name_at = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %*x:%*x %lu %n", &start, &end, perms, &offset, &ino,
               &name_at) < 5) {
      continue;
    }
    if (strncmp(line + name_at, "/memfd:libshm", 13) != 0) continue;
    Inode* inode = FindInode(ino);
    if (inode == nullptr) continue;
    rc = RegisterRange(c, inode, start, end - start, offset / kPageSize);
    if (rc != 0) break;
  }
  fclose(f);
  return rc;
}

int Engine::HandleCreate(Client& c, const Request& req, int fd, Reply* reply) {
  if (fd < 0) return -EINVAL;
  struct stat st;
  uint64_t pages = (req.a + kPageSize - 1) / kPageSize;
  if (fstat(fd, &st) != 0 || pages == 0 || static_cast<uint64_t>(st.st_size) < pages * kPageSize) {
    close(fd);
    return -EINVAL;
  }
  Extent extent;
  int rc = swap_.Reserve(pages, &extent);
  if (rc != 0) {
    close(fd);
    return rc;
  }
  uint64_t id = static_cast<uint64_t>(st.st_ino);
  auto inode = std::make_unique<Inode>(id, fd, pages, extent);
  uint32_t seq = next_inode_seq_++;
  inode_seq_[id] = seq;
  inode_by_seq_[seq] = inode.get();
  inodes_[id] = std::move(inode);
  inodes_[id]->creator = c.id;
  reply->a = id;
  return 0;
}

int Engine::HandleRegister(Client& c, const Request& req) {
  Inode* inode = FindInode(req.a);
  if (inode == nullptr || c.uffd < 0) return -EINVAL;
  int rc = RegisterRange(c, inode, req.b, req.c, req.d);
  inode->pinned = false;
  return rc;
}

int Engine::RegisterRange(Client& c, Inode* inode, uintptr_t start, size_t len, uint64_t pgoff) {
  uint64_t pages = len / kPageSize;
  if (len == 0 || start % kPageSize != 0 || len % kPageSize != 0 ||
      pgoff + pages > inode->pages()) {
    return -EINVAL;
  }
  uint64_t ioctls = 0;
  int rc = UffdRegister(c.uffd, start, len, kRegisterModes, &ioctls);
  if (rc != 0) return rc;
  const uint64_t need =
      (1ull << _UFFDIO_COPY) | (1ull << _UFFDIO_WAKE) | (1ull << _UFFDIO_WRITEPROTECT);
  if ((ioctls & need) != need) {
    UffdUnregister(c.uffd, start, len);
    return -EOPNOTSUPP;
  }
  // Write-protect the whole range now: on shmem this leaves a marker even on
  // unpopulated PTEs, so every first write in this process is seen
  // (KERNEL_FACTS Q3) and non-dirty pages stay protected in every mapper.
  for (int attempt = 0;; attempt++) {
    rc = UffdWriteProtect(c.uffd, start, len, true);
    if (rc != -EAGAIN || attempt == 100) break;
    if (!DrainEvents(c)) return -ESRCH;
  }
  if (rc != 0) {
    UffdUnregister(c.uffd, start, len);
    return rc;
  }
  AddVma(c, Vma{start, start + len, inode, pgoff});
  return 0;
}

int Engine::HandleRegionInfo(const Request& req, Reply* reply) {
  reply->a = inodes_.size();
  if (req.a >= inodes_.size()) return -ENOENT;
  auto it = inodes_.begin();
  std::advance(it, static_cast<long>(req.a));
  const Inode& inode = *it->second;
  RegionInfo info = {};
  info.id = inode.id();
  info.bytes = inode.pages() * kPageSize;
  uint64_t resident = 0;
  for (uint64_t p = 0; p < inode.pages(); p++) resident += IsHeld(inode.state(p));
  info.resident_bytes = resident * kPageSize;
  info.dirty_bytes = inode.CountState(PageState::kDirty) * kPageSize;
  for (const auto& [key, sample] : samples_) {
    bool mine = static_cast<uint32_t>(key >> 36) == Region(inode);
    info.dirty_bytes += mine && sample.before == PageState::kDirty ? kPageSize : 0;
  }
  info.swapped_bytes = inode.CountState(PageState::kSwapped) * kPageSize;
  info.faults = inode.faults;
  info.swap_ins = inode.swap_ins;
  info.swap_outs = inode.swap_outs;
  info.mappings = static_cast<uint64_t>(inode.mappings);
  memcpy(reply->text, &info, sizeof(info));
  return 0;
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
}

void Engine::ReapDeadClients() {
  for (auto it = clients_.begin(); it != clients_.end();) {
    Client& c = *it->second;
    if (!c.dead) {
      ++it;
      continue;
    }
    for (int fd : {c.uffd, c.sock, c.pidfd}) {
      if (fd < 0) continue;
      Unwatch(fd);
      close(fd);
    }
    for (const Vma& v : c.vmas) {
      if (v.inode != nullptr) v.inode->mappings--;
    }
    it = clients_.erase(it);
  }
}

void Engine::CollectInodes() {
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    Inode& inode = *it->second;
    if (inode.pinned && FindClient(inode.creator) == nullptr) inode.pinned = false;
    if (inode.mappings > 0 || inode.pinned) {
      ++it;
      continue;
    }
    for (uint64_t p = 0; p < inode.pages(); p++) ForgetPage(inode, p);
    swap_.Release(inode.extent());
    inode_by_seq_.erase(inode_seq_[inode.id()]);
    inode_seq_.erase(inode.id());
    it = inodes_.erase(it);
  }
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

Inode* Engine::FindInode(uint64_t id) {
  auto it = inodes_.find(id);
  return it == inodes_.end() ? nullptr : it->second.get();
}

}  // namespace libshm::internal
