// SPDX-License-Identifier: MIT
// Requests of a connection (Engine methods; see engine.h and protocol.h).
//
// This file is the one layer that reads what a client sends. It keeps the
// rule of docs/security.md: a request acts only on what its connection
// holds. A connection's identity (pid, uid, trust) was fixed at accept from
// the kernel (peer.h); an inode is named only by a handle of this
// connection; an address only by the connection's own registered mappings;
// every length and offset is checked against its object without overflow.
// A request that breaks the protocol (size, magic, unknown op, hello twice
// or missing, an fd where none belongs) closes its connection and nothing
// else; a request that names something it does not hold gets an error.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "caller_creds.h"
#include "clock.h"
#include "engine.h"
#include "log.h"
#include "probe.h"
#include "proc_maps.h"
#include "sys/syscalls.h"
#include "uffd.h"

#ifndef F_SEAL_SHRINK
#define F_SEAL_SHRINK 0x0002
#endif

namespace libshm::internal {
namespace {

// Write-protecting a new registration meets EAGAIN while an event of the
// process is in flight; after this many reads of its events the helper
// answers -EAGAIN and the client asks again (RegisterRange).
constexpr int kWriteProtectAttempts = 8;

// Ops that carry an fd; any other op with an fd attached is malformed.
bool TakesFd(Op op) {
  return op == Op::kHello || op == Op::kHelloRestrictedChild || op == Op::kCreate ||
         op == Op::kShmOpen || op == Op::kAdoptFd || op == Op::kResize;
}

// A connection's first request introduces it, once.
bool IsHello(Op op) {
  return op == Op::kHello || op == Op::kHelloChild || op == Op::kHelloRestrictedChild;
}

// In order: what a connection may send before and after its hello (a
// process without userfaultfd privilege borrows the device before it can
// make the uffd its hello carries).
bool AllowedNow(Op op, bool greeted) {
  return greeted ? !IsHello(op) : IsHello(op) || op == Op::kUffdDevice;
}

bool MakeNonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && ((fl & O_NONBLOCK) != 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
}

// Features asked for when this kernel has them: POISON turns data that
// cannot be served (a failed swap read) into SIGBUS.
uint64_t OptionalFeatures() { return ProbeKernel().features & UFFD_FEATURE_POISON; }

}  // namespace

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
      DropHandles(c);
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
    if (static_cast<size_t>(n) != sizeof(req) || req.magic != kProtocolMagic || req.reserved != 0 ||
        (fd != -1 && !TakesFd(req.op)) || !AllowedNow(req.op, c.greeted)) {
      if (fd >= 0) close(fd);
      LIBSHM_LOG_WARN("pid %d broke the protocol (op %u): connection closed",
                      static_cast<int>(c.pid), static_cast<unsigned>(req.op));
      MarkDead(c, "protocol error");
      return;
    }
    // Strings end inside their fields, whatever was sent.
    req.text[sizeof(req.text) - 1] = '\0';
    req.text2[sizeof(req.text2) - 1] = '\0';
    HandleRequest(c, req, fd);
    if (c.dead || c.sock < 0) return;
  }
}

void Engine::HandleRequest(Client& c, const Request& req, int fd) {
  Reply reply;
  int reply_fd = -1;
  bool close_reply_fd = false;  // reply_fd is ours to close after sending
  int sock = c.sock;
  int rc;
  if (fd == kFdLost) {
    // The helper is out of descriptors: the fd the client sent is gone.
    LIBSHM_LOG_ERROR("out of file descriptors: a request from pid %d failed",
                     static_cast<int>(c.pid));
    reply.status = -EMFILE;
    if (SendPacket(sock, &reply, sizeof(reply), -1) != 0) MarkDead(c, "cannot reply");
    return;
  }
  switch (req.op) {
    case Op::kHello:
      rc = HandleHello(c, req, fd, &reply);
      fd = -1;
      break;
    case Op::kHelloChild:
      rc = HandleHelloChild(c, &reply, &reply_fd);
      break;
    case Op::kHelloRestrictedChild:
      rc = HandleHelloRestrictedChild(c, req.a, fd);
      fd = -1;
      break;
    case Op::kCreate:
      rc = HandleCreate(c, req, fd, &reply);
      fd = -1;
      break;
    case Op::kRegister:
      rc = HandleRegister(c, req);
      break;
    case Op::kRelease:
      rc = HandleRelease(c, req);
      CollectInodes();  // now, so the client's next request sees it gone
      break;
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
      rc = Ctl(c, req, &reply);
      break;
    case Op::kUffdDevice:
      rc = HandleUffdDevice(c, &reply_fd);
      close_reply_fd = true;
      break;
    case Op::kRegionInfo:
      rc = c.trusted ? HandleRegionInfo(req, &reply) : -EACCES;
      break;
    case Op::kInodeFd:
      rc = HandleInodeFd(c, req, &reply, &reply_fd, &close_reply_fd);
      break;
    case Op::kExtend:
      rc = HandleExtend(c, req, &reply);
      break;
    case Op::kForkPending:
      rc = HandleForkPending(c, &reply);
      break;
    case Op::kShmOpen:
      rc = HandleShmOpen(c, req, fd, &reply, &reply_fd);
      fd = -1;
      close_reply_fd = true;
      break;
    case Op::kShmUnlink:
      rc = HandleShmUnlink(c, req);
      break;
    case Op::kAdoptFd:
      rc = HandleAdoptFd(c, req, fd, &reply);
      fd = -1;  // closed there: a second close could close a number reused since
      break;
    case Op::kResize:
      rc = HandleResize(c, req, fd);
      fd = -1;
      break;
    case Op::kShmGet:
      rc = HandleShmGet(c, req, &reply);
      break;
    case Op::kShmAt:
      rc = HandleShmAt(c, req, &reply, &reply_fd);
      close_reply_fd = true;
      break;
    case Op::kShmCtl:
      rc = HandleShmCtl(c, req, &reply);
      CollectInodes();  // a segment IPC_RMID destroyed: gone for the next request
      break;
    case Op::kNative:
      if (req.a >= LIBSHM_NATIVE_REASONS) {
        LIBSHM_LOG_WARN("pid %d sent an unknown native reason: connection closed",
                        static_cast<int>(c.pid));
        MarkDead(c, "protocol error");
        return;
      }
      rc = HandleNative(req);
      break;
    default:
      LIBSHM_LOG_WARN("pid %d sent unknown op %u: connection closed", static_cast<int>(c.pid),
                      static_cast<unsigned>(req.op));
      if (fd >= 0) close(fd);
      MarkDead(c, "protocol error");
      return;
  }
  if (fd >= 0) close(fd);
  if (rc == 0 && !c.observer &&
      (req.op == Op::kHello || req.op == Op::kHelloChild || req.op == Op::kHelloRestrictedChild)) {
    had_member_ = true;  // the session has begun: it ends with its last member
  }
  reply.status = rc;
  int src = SendPacket(sock, &reply, sizeof(reply), reply_fd);
  if (close_reply_fd && reply_fd >= 0) close(reply_fd);
  if (src != 0 && !c.dead) MarkDead(c, "cannot reply");
}

int Engine::HandleHello(Client& c, const Request& req, int fd, Reply* reply) {
  c.greeted = true;
  reply->a = static_cast<uint64_t>(getpid());
  snprintf(reply->text, sizeof(reply->text), "%s", RunModeName(ProbeKernel().mode));
  if (fd < 0) {
    c.observer = (req.flags & kHelloObserver) != 0;
    c.owner = !c.observer;
    return 0;
  }
  c.restricted = (req.flags & kHelloRestricted) != 0;
  // The engine reads every uffd from its one thread: a blocking one would
  // stop it for everyone (the client may have made it without O_NONBLOCK).
  if (!MakeNonblocking(fd)) {
    close(fd);
    return -EINVAL;
  }
  uint64_t got = 0;
  int rc =
      UffdApi(fd, (c.restricted ? kRestrictedFeatures : kFullFeatures) | OptionalFeatures(), &got);
  if (rc != 0) {
    close(fd);
    if (rc == -EPERM && !c.restricted) {
      // No CAP_SYS_PTRACE for fork events: the client may say hello again,
      // restricted. Nothing of this one was kept.
      c.greeted = false;
      LIBSHM_LOG_DEBUG("pid %d: no full mode without CAP_SYS_PTRACE", static_cast<int>(c.pid));
    } else {
      LIBSHM_LOG_WARN("UFFDIO_API for pid %d failed: %s", static_cast<int>(c.pid), strerror(-rc));
    }
    return rc;
  }
  c.uffd = fd;
  reply->b = got;
  Watch(fd, Source::kUffd, c.id);
  if (!c.restricted && req.a != 0) {
    if (req.a % kPageSize != 0) return -EINVAL;
    rc = UffdRegister(fd, req.a, kPageSize, UFFDIO_REGISTER_MODE_MISSING, nullptr);
    if (rc != 0) return rc;
    AddVma(c, Vma{req.a, req.a + kPageSize, nullptr, 0});
  }
  return 0;
}

int Engine::HandleHelloChild(Client& c, Reply* reply, int* reply_fd) {
  c.greeted = true;
  // The fork record whose first fault came from this connection's own pid
  // (both pids from the kernel: the fault's thread id and SO_PEERCRED), and
  // which is still that process (its pidfd).
  for (auto& [id, x] : clients_) {
    if (x.get() == &c || x->dead || x->sock >= 0 || x->pid != c.pid || x->uffd < 0) continue;
    if (x->pidfd < 0 || PidfdExited(x->pidfd)) continue;
    // The child's uffd arrived with the fork event; its socket arrives now.
    x->sock = c.sock;
    x->uid = c.uid;
    x->trusted = c.trusted;
    x->greeted = true;
    c.sock = -1;
    Unwatch(x->sock);
    Watch(x->sock, Source::kSocket, x->id);
    MarkDead(c, "merged into its fork record");
    *reply_fd = x->uffd;
    reply->a = static_cast<uint64_t>(getpid());
    return 0;
  }
  return -ESRCH;
}

int Engine::HandleHelloRestrictedChild(Client& c, uint64_t token, int fd) {
  if (fd < 0) return -EINVAL;
  if (c.uffd >= 0) {
    close(fd);
    return -EEXIST;
  }
  c.restricted = true;
  c.greeted = true;
  if (!MakeNonblocking(fd)) {
    close(fd);
    return -EINVAL;
  }
  int rc = UffdApi(fd, kRestrictedFeatures | OptionalFeatures(), nullptr);
  if (rc != 0) {
    close(fd);
    return rc;
  }
  c.uffd = fd;
  Watch(fd, Source::kUffd, c.id);
  // The child's mappings are exactly its memfd VMAs: read them from its maps
  // (the pid is the connection's own, from the kernel), each matched to an
  // inode of the session by device and inode number.
  std::vector<Inode*> registered;
  bool read = ForEachMapsEntry(c.pid, [&](const MapsEntry& e) {
    auto it = inode_by_ino_.find(e.ino);
    if (it == inode_by_ino_.end() || !it->second->IsMappedBy(e.dev, e.ino)) return true;
    rc = RegisterRange(c, it->second, e.start, e.end - e.start, e.offset / kPageSize);
    if (rc == 0) registered.push_back(it->second);
    return rc == 0;
  });
  if (!read) return -ESRCH;
  // The child holds its regions now: its parent's hold on them can go, for
  // the inodes it registered (its mappings hold those now). The pin is named
  // by its token, which only the parent and the children it forked after
  // taking the pin have (their private memory): a sibling of another uid
  // cannot release a child's pin.
  for (size_t i = 0; token != 0 && i < fork_pins_.size(); i++) {
    if (fork_pins_[i].token != token) continue;
    ReleaseForkPin(i, registered);
    break;
  }
  return rc;
}

int Engine::HandleCreate(Client& c, const Request& req, int fd, Reply* reply) {
  if (fd < 0) return -EINVAL;
  struct stat st;
  struct statfs sfs;
  if ((req.flags & kCreateProgram) != 0) {
    // The program's own memfd (memfd_create), of whatever size it has now.
    if (req.flags != kCreateProgram) {
      close(fd);
      return -EINVAL;
    }
    if (fstat(fd, &st) != 0) {
      close(fd);
      return -EINVAL;
    }
    Inode* inode = nullptr;
    int rc = NewProgramInode(fd, st, &inode);
    if (rc != 0) return rc;
    // No handle: the program holds it by fd (ProgramHold), and a mapping
    // adopts it (kAdoptFd).
    return 0;
  }
  uint64_t pages = req.a / kPageSize + (req.a % kPageSize != 0);
  // Only a memfd (shmem) of at least that size, not yet known: a second
  // create of the same memfd would give one memfd two page tables.
  if (pages == 0 || pages >= Inode::kMaxPages || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      fstatfs(fd, &sfs) != 0 || sfs.f_type != 0x01021994 /* TMPFS_MAGIC */ ||
      static_cast<uint64_t>(st.st_size) < pages * kPageSize) {
    close(fd);
    return -EINVAL;
  }
  if (inode_by_ino_.count(st.st_ino) != 0) {
    close(fd);
    return -EEXIST;
  }
  // Keep room for forks and connections: regions are refused first.
  if (!RestoreReserveFd()) {
    close(fd);
    LIBSHM_LOG_ERROR("out of file descriptors: a new region of pid %d refused",
                     static_cast<int>(c.pid));
    return -EMFILE;
  }
  // The page table is sized now: a memfd that shrank under it would make
  // every later read short. The kernel keeps it from shrinking.
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) {
    close(fd);
    return -EINVAL;
  }
  if (c.handles.size() >= kMaxHandles || (req.flags & ~kCreateNoReserve) != 0) {
    close(fd);
    return c.handles.size() >= kMaxHandles ? -EMFILE : -EINVAL;
  }
  Inode* raw = nullptr;
  int rc = InstallInode(fd, st, pages, (req.flags & kCreateNoReserve) != 0, &raw);
  if (rc != 0) return rc;
  reply->a = AddHandle(c, raw);
  return 0;
}

uint64_t Engine::AddHandle(Client& c, Inode* inode) {
  uint64_t h = c.next_handle++;
  c.handles[h] = inode;
  inode->holders++;
  inode->orphan_since_ns = 0;
  inode->next_probe_ns = 0;  // held again: the next release probes at once
  inode->probe_backoff = 0;
  return h;
}

void Engine::DropHandles(Client& c) {
  for (auto& [h, inode] : c.handles) inode->holders--;
  collect_due_ = collect_due_ || !c.handles.empty();
  c.handles.clear();
}

int Engine::HandleRelease(Client& c, const Request& req) {
  auto it = c.handles.find(req.a);
  if (it == c.handles.end()) return -EBADF;
  it->second->holders--;
  c.handles.erase(it);
  collect_due_ = true;
  return 0;
}

int Engine::HandleRegister(Client& c, const Request& req) {
  auto it = c.handles.find(req.a);
  if (it == c.handles.end()) return -EBADF;
  if (c.uffd < 0) return -EINVAL;
  int rc = RegisterRange(c, it->second, req.b, req.c, req.d);
  if (rc == 0 && it->second->segment != nullptr) {
    // A segment is mapped only by shmat: the kernel's shm_open.
    it->second->segment->atime = static_cast<int64_t>(time(nullptr));
    it->second->segment->lpid = c.pid;
  }
  if (rc == 0) {
    // The mapping holds the inode now.
    it->second->holders--;
    c.handles.erase(it);
  }
  return rc;
}

int Engine::RegisterRange(Client& c, Inode* inode, uintptr_t start, size_t len, uint64_t pgoff) {
  // Overflow-safe: every sum below is checked before it is formed.
  uint64_t pages = len / kPageSize;
  // A program object's mapping may reach past its end, as the kernel's may:
  // the kernel answers SIGBUS there before userfaultfd sees a fault, and
  // after the object grows the registration already covers it (fact 12).
  uint64_t bound = inode->program ? Inode::kMaxPages : inode->pages();
  if (len == 0 || start % kPageSize != 0 || len % kPageSize != 0 || start > UINTPTR_MAX - len ||
      pgoff > bound || pages > bound - pgoff) {
    return -EINVAL;
  }
  // As mmap(2) past vm.max_map_count (see max_vmas_), once the unmaps not
  // read yet are counted out (see below).
  if (c.vmas.size() >= max_vmas_) {
    if (!DrainEvents(c)) return -ESRCH;
    if (c.vmas.size() >= max_vmas_) return -ENOMEM;
  }
  // One page table entry per address: a range already registered here
  // (possibly for another inode) is refused. But the kernel has just let the
  // caller map this range, so a registration the helper still holds there
  // may only be one whose unmap event is not queued yet: another thread's
  // munmap is under way, and until its thread runs again after the event is
  // read, the process's mmap_changing stays raised. Then the caller asks
  // again (-EAGAIN; ClientRuntime::CallRegisteringLocked), never -EEXIST.
  if (OverlapsVma(c, start, len)) {
    if (!DrainEvents(c)) return -ESRCH;
    if (OverlapsVma(c, start, len)) return MmChanging(c.uffd, start, len) ? -EAGAIN : -EEXIST;
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
  // EAGAIN: an event is pending (mmap_changing). Read it and try again, a
  // few times; past that, the thread that raised it has not run again yet
  // and the caller asks again later, while the helper serves others.
  for (int attempt = 0;; attempt++) {
    rc = UffdWriteProtect(c.uffd, start, len, true);
    if (rc != -EAGAIN || attempt == kWriteProtectAttempts) break;
    if (!DrainEvents(c)) return -ESRCH;
  }
  if (rc != 0) {
    UffdUnregister(c.uffd, start, len);
    return rc;
  }
  AddVma(c, Vma{start, start + len, inode, pgoff});
  inode->orphan_since_ns = 0;
  inode->next_probe_ns = 0;
  inode->probe_backoff = 0;
  return 0;
}

int Engine::HandleInodeFd(Client& c, const Request& req, Reply* reply, int* reply_fd,
                          bool* close_reply_fd) {
  // Only an inode this connection maps already, found by its own address.
  Vma* v = FindVma(c, req.a);
  if (v == nullptr || v->inode == nullptr) return -EINVAL;
  if (c.handles.size() >= kMaxHandles) return -EMFILE;
  *reply_fd = v->inode->memfd();
  if (v->inode->program) {
    // A file of its own, which the hold probe counts (ProgramHold): the
    // helper's memfd is not counted, and a process holding only it would
    // not keep the object.
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", v->inode->memfd());
    *reply_fd = OpenWithoutWaiting(path, O_RDWR);
    if (*reply_fd < 0) return *reply_fd;
    *close_reply_fd = true;
  }
  reply->b = v->inode->pages();
  reply->a = AddHandle(c, v->inode);
  return 0;
}

int Engine::HandleExtend(Client& c, const Request& req, Reply* reply) {
  // mremap grew the caller's mapping at `a` in place to `b` bytes. The
  // kernel registered the grown part on the caller's uffd with no event and
  // no write-protect markers: a first write there would go unseen. Register
  // (protect) the part the inode backs; beyond it the kernel gives SIGBUS.
  uintptr_t start = req.a;
  Vma* v = FindVma(c, start);
  if (v == nullptr || v->inode == nullptr || v->start != start) return -EINVAL;
  uint64_t want = req.b / kPageSize + (req.b % kPageSize != 0);
  // The VMA may be split in pieces here; find the end of the contiguous
  // mapping of this inode that starts at `start`.
  Inode* inode = v->inode;
  uintptr_t end = v->end;
  uint64_t end_page = v->pgoff + (v->end - v->start) / kPageSize;
  for (Vma* w = FindVma(c, end); w != nullptr && w->inode == inode && w->pgoff == end_page;
       w = FindVma(c, end)) {
    end = w->end;
    end_page = w->pgoff + (w->end - w->start) / kPageSize;
  }
  uint64_t have = (end - start) / kPageSize;
  uint64_t pgoff = v->pgoff;
  // (A program object's mapping may reach past its end: RegisterRange.)
  uint64_t bound = inode->program ? Inode::kMaxPages : inode->pages();
  uint64_t limit = bound > pgoff ? bound - pgoff : 0;
  want = std::min(want, limit);
  if (want > have) {
    int rc = RegisterRange(c, inode, end, (want - have) * kPageSize, end_page);
    if (rc != 0) return rc;
    have = want;
  }
  reply->a = have * kPageSize;
  return 0;
}

int Engine::HandleForkPending(Client& c, Reply* reply) {
  if (!c.restricted || c.uffd < 0) return -EINVAL;  // full mode has fork events
  if (fork_pins_.size() >= kMaxForkPins) return -EAGAIN;
  // Every pin holds a pointer per region of its parent: bounded in all, or a
  // member with many regions asking in a loop pinned gigabytes.
  size_t distinct_max = std::min(c.vmas.size(), inodes_.size());
  if (pinned_inodes_ + distinct_max > kMaxPinnedInodes) return -EAGAIN;
  ForkPin pin;
  pin.parent = c.pid;
  if (getrandom(&pin.token, sizeof(pin.token), 0) != sizeof(pin.token) || pin.token == 0) {
    return -EAGAIN;
  }
  reply->a = pin.token;
  pin.created_ns = MonotonicNs();
  // Distinct regions by sorting, not a search per mapping: that was
  // O(mappings * regions) on the engine thread for each request.
  for (const Vma& v : c.vmas) {
    if (v.inode != nullptr) pin.inodes.push_back(v.inode);
  }
  std::sort(pin.inodes.begin(), pin.inodes.end());
  pin.inodes.erase(std::unique(pin.inodes.begin(), pin.inodes.end()), pin.inodes.end());
  pin.inodes.shrink_to_fit();
  for (Inode* inode : pin.inodes) inode->holders++;
  pinned_inodes_ += pin.inodes.size();
  fork_pins_.push_back(std::move(pin));
  return 0;
}

void Engine::ReleaseForkPin(size_t i, const std::vector<Inode*>& only) {
  // One pass (held is sorted; `only` sorted here): a search and an erase per
  // region was O(regions^2).
  auto& held = fork_pins_[i].inodes;
  std::vector<Inode*> release(only);
  std::sort(release.begin(), release.end());
  size_t before = held.size();
  held.erase(std::remove_if(held.begin(), held.end(),
                            [&](Inode* inode) {
                              if (!only.empty() &&
                                  !std::binary_search(release.begin(), release.end(), inode)) {
                                return false;
                              }
                              inode->holders--;
                              return true;
                            }),
             held.end());
  pinned_inodes_ -= before - held.size();
  collect_due_ = true;
  if (held.empty()) fork_pins_.erase(fork_pins_.begin() + static_cast<long>(i));
}

int Engine::HandleNative(const Request& req) {
  // Figures a client makes up: only what could be true is added (each
  // mapping whole pages, at least one, no larger than an address space),
  // and sums stop at UINT64_MAX instead of wrapping.
  uint64_t bytes = req.b, mappings = req.c;
  if (req.flags != 0 || req.d != 0 || mappings == 0 || mappings > kMaxNativeMappings ||
      bytes % kPageSize != 0 || bytes / kPageSize < mappings ||
      bytes / mappings > kMaxNativeMappingBytes) {
    return -EINVAL;
  }
  auto add = [](uint64_t* sum, uint64_t v) {
    *sum = *sum > UINT64_MAX - v ? UINT64_MAX : *sum + v;
  };
  add(&stats_.native_bytes[req.a], bytes);
  add(&stats_.native_mappings[req.a], mappings);
  return 0;
}

int Engine::HandleUffdDevice(Client& c, int* reply_fd) {
  // Root can lend what a member lacks: a uffd that handles kernel-mode
  // faults and EVENT_FORK (KERNEL_FACTS "Privilege separation"). Only to a
  // connection admitted as a process of the session's tree (Accept).
  if (geteuid() != 0) return -EPERM;
  *reply_fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (*reply_fd < 0) return -errno;
  LIBSHM_LOG_DEBUG("lent /dev/userfaultfd to pid %d (uid %d)", static_cast<int>(c.pid),
                   static_cast<int>(c.uid));
  return 0;
}

int Engine::HandleRegionInfo(const Request& req, Reply* reply) {
  // A cursor, not an index: the region numbered `a` or the next one, found
  // in O(log n) (an index walked the map: O(n^2) for a full listing).
  reply->a = inodes_.size();
  auto it = req.a > kMaxRegions ? inodes_.end() : inodes_.lower_bound(static_cast<uint32_t>(req.a));
  if (it == inodes_.end()) return -ENOENT;
  reply->b = static_cast<uint64_t>(it->first) + 1;  // the next cursor
  const Inode& inode = *it->second;
  RegionInfo info = {};
  info.id = inode.seq();
  info.bytes = inode.pages() * kPageSize;
  uint64_t resident = inode.CountState(PageState::kZero) + inode.CountState(PageState::kClean) +
                      inode.CountState(PageState::kDirty) + inode.CountState(PageState::kSampled);
  info.resident_bytes = resident * kPageSize;
  info.dirty_bytes = inode.CountState(PageState::kDirty) * kPageSize;
  for (const auto& [key, sample] : samples_) {
    bool mine = static_cast<uint32_t>(key >> kPageBits) == Region(inode);
    info.dirty_bytes += mine && sample.before == PageState::kDirty ? kPageSize : 0;
  }
  info.swapped_bytes = inode.CountState(PageState::kSwapped) * kPageSize;
  info.faults = inode.faults;
  info.swap_ins = inode.swap_ins;
  info.swap_outs = inode.swap_outs;
  info.mappings = static_cast<uint64_t>(inode.mappings);
  if (inode.program) {
    info.flags = kRegionProgram | (inode.named ? kRegionNamed : 0) |
                 (inode.pinned ? kRegionPinned : 0) | (inode.posix ? kRegionPosix : 0);
    struct stat st;
    if (fstat(inode.memfd(), &st) == 0) {
      info.uid = st.st_uid;
      info.gid = st.st_gid;
      info.mode = st.st_mode & 07777;
    }
    ObjectName(inode, info.name, sizeof(info.name));
  }
  if (inode.segment != nullptr) {
    // As ipcs -m shows it: shm_perm, not the memfd's owner and mode (a
    // removed segment's key is IPC_PRIVATE: its memfd label keeps the old).
    const Segment& seg = *inode.segment;
    info.flags |= kRegionSysv;
    info.uid = seg.uid;
    info.gid = seg.gid;
    info.mode = seg.mode & 0777;
    unsigned key = 0;
    sscanf(info.name, "memfd:SYSV%8x", &key);
    snprintf(info.name, sizeof(info.name), "key 0x%08x id %d%s", key, seg.id,
             (seg.mode & SHM_DEST) != 0 ? " removed" : "");
  }
  memcpy(reply->text, &info, sizeof(info));
  return 0;
}

}  // namespace libshm::internal
