// SPDX-License-Identifier: MIT
// System V segments (Engine methods; see engine.h, docs/named.md): shmget,
// shmat's permission check and shmctl of segments the helper manages as
// program objects (a memfd each, with extent, dirty bits and eviction).
//
// - A segment is named by (IPC namespace, key) and (IPC namespace, id), as
//   the kernel names it: the namespace is the caller's own, read from
//   /proc/<peer pid>/ns/ipc, never a field of the request. The helper holds
//   an fd of each namespace that has segments, so its inode number cannot
//   name a new namespace while they are here.
// - The id is the id of a one-byte kernel placeholder segment the shim made
//   with the same key in that namespace: a managed id is never a live native
//   id. The shim keeps the placeholder attached wherever the segment is
//   attached, so after IPC_RMID its id stays taken until the last detach.
//   An id that was managed and is gone answers EINVAL (a tombstone), never
//   reaches the placeholder.
// - shm_perm lives here, not in the memfd: the IPC_SET rules are not the
//   file rules. Every check is the kernel's ipcperms/ipcctl_obtain_check
//   against the caller's *current* ids (caller_creds.h), in the kernel's
//   order (named_kernel_facts.md, System V table).
// - shm_nattch counts registered pieces in live processes (fact 5: the
//   kernel counts VMAs). It is counted when asked, after the events of the
//   segment's mappers are read and the gone ones counted out (a readable
//   pidfd; a uffd that answers ESRCH once its mm is gone: exec, fact 13).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <exception>
#include <thread>

#include "caller_creds.h"
#include "engine.h"
#include "log.h"
#include "peer.h"
#include "sys/syscalls.h"
#include "uffd.h"

namespace libshm::internal {
namespace {

constexpr int kCapIpcLock = 14;
constexpr int kCapIpcOwner = 15;
constexpr int kCapSysAdmin = 21;
constexpr size_t kMaxTombstones = 65536;

int64_t Now() { return static_cast<int64_t>(time(nullptr)); }

// The kernel's ipcperms(): the access bits of `flag` (any of the three
// triplets) against the owner, group or other bits; CAP_IPC_OWNER passes.
bool IpcPerms(const CallerCreds& who, const Segment& s, int flag) {
  int requested = ((flag >> 6) | (flag >> 3) | flag) & 7;
  int granted = static_cast<int>(s.mode);
  if (who.euid == s.cuid || who.euid == s.uid) {
    granted >>= 6;
  } else if (who.InGroup(s.cgid) || who.InGroup(s.gid)) {
    granted >>= 3;
  }
  return (requested & ~granted & 7) == 0 || who.HasCap(kCapIpcOwner);
}

// ipcctl_obtain_check: IPC_SET and IPC_RMID.
bool MayChange(const CallerCreds& who, const Segment& s) {
  return who.euid == s.uid || who.euid == s.cuid || who.HasCap(kCapSysAdmin);
}

// IPC_STAT of segment `id` in the namespace of `nsfd` (`ns`), from the
// kernel: here if it is the helper's own namespace, else from a thread that
// enters it (setns needs CAP_SYS_ADMIN there: a root helper). A raw syscall:
// an engine on a thread of a program may have the shim's shmctl in front.
// What the kernel of IPC namespace `ns` says: segment `id` (IPC_STAT), and
// for shmall the pages of every segment there (SHM_INFO's shm_tot) and
// kernel.shmall, which /proc/sys shows for the reader's own namespace.
struct KernelView {
  struct shmid_ds ds;
  uint64_t shm_tot = 0;
  uint64_t shmall = 0;
};

bool LookHere(int id, KernelView* out) {
  struct shm_info info;
  if (syscall(SYS_shmctl, id, IPC_STAT, &out->ds) != 0 ||
      syscall(SYS_shmctl, 0, SHM_INFO, reinterpret_cast<struct shmid_ds*>(&info)) < 0) {
    return false;
  }
  out->shm_tot = info.shm_tot;
  FILE* f = fopen("/proc/sys/kernel/shmall", "re");
  if (f == nullptr) return false;
  unsigned long long all = 0;
  bool ok = fscanf(f, "%llu", &all) == 1;
  fclose(f);
  out->shmall = all;
  return ok;
}

// In the helper's own namespace directly, else from a thread that joins `ns`
// (setns changes only the calling thread's namespace).
bool KernelLook(int nsfd, uint64_t ns, int id, KernelView* out) {
  struct stat own;
  if (stat("/proc/self/ns/ipc", &own) == 0 && static_cast<uint64_t>(own.st_ino) == ns) {
    return LookHere(id, out);
  }
  bool ok = false;
  try {
    std::thread t([&] { ok = setns(nsfd, CLONE_NEWIPC) == 0 && LookHere(id, out); });
    t.join();
  } catch (const std::exception&) {
    return false;
  }
  return ok;
}

int CallerIpcNs(pid_t pid, uint64_t* ns) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/ipc", static_cast<int>(pid));
  struct stat st;
  if (pid <= 0 || stat(path, &st) != 0) return -ESRCH;
  *ns = static_cast<uint64_t>(st.st_ino);
  return 0;
}

}  // namespace

int Engine::HandleShmGet(Client& c, const Request& req, Reply* reply) {
  const uint64_t size = req.b;
  const int flg = static_cast<int>(req.c);
  // Key 0 is IPC_PRIVATE: always a new segment (only with its placeholder),
  // never found by key.
  if (req.a > UINT32_MAX || req.c > INT32_MAX || (req.flags & ~kShmGetCreate) != 0 ||
      req.d > INT32_MAX || (req.a == IPC_PRIVATE && (req.flags & kShmGetCreate) == 0)) {
    return -EINVAL;
  }
  const int key = static_cast<int>(static_cast<uint32_t>(req.a));
  uint64_t ns = 0;
  int rc = CallerIpcNs(c.pid, &ns);
  if (rc != 0) return rc;
  CallerCreds who;
  rc = ReadCallerCredsOf(c, &who);
  if (rc != 0) return rc;
  auto it = key == IPC_PRIVATE ? segment_keys_.end() : segment_keys_.find({ns, key});
  if (it != segment_keys_.end()) {
    // ipcget_public's order: EEXIST, then the size, then the access bits
    // asked for (none with a flag of 0: fact 7).
    reply->b = 1;
    const Segment& s = *it->second;
    if ((flg & IPC_CREAT) != 0 && (flg & IPC_EXCL) != 0) return -EEXIST;
    if (size > s.segsz) return -EINVAL;
    if (!IpcPerms(who, s, flg)) return -EACCES;
    reply->a = static_cast<uint64_t>(s.id);
    return 0;
  }
  if ((req.flags & kShmGetCreate) == 0) return -ENOENT;  // the kernel's key, or none
  const int id = static_cast<int>(req.d);
  // The shim checked shmmax in the caller's namespace; the page table's own
  // bound is checked by NewProgramInode.
  if (size == 0 || segments_.count({ns, id}) != 0) return -EINVAL;
  if (segments_.size() >= kMaxSegments) return -ENOSPC;
  const uint64_t pages = size / kPageSize + (size % kPageSize != 0);
  if (pages >= Inode::kMaxPages) return -EINVAL;
  auto nsit = ipc_namespaces_.find(ns);
  if (nsit == ipc_namespaces_.end()) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/ipc", static_cast<int>(c.pid));
    int nsfd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (nsfd < 0 || fstat(nsfd, &st) != 0 || static_cast<uint64_t>(st.st_ino) != ns) {
      if (nsfd >= 0) close(nsfd);
      return -ESRCH;
    }
    try {
      nsit = ipc_namespaces_.emplace(ns, IpcNamespace()).first;
      nsit->second.fd = nsfd;
    } catch (const std::bad_alloc&) {
      close(nsfd);
      return -ENOMEM;
    }
  }
  // The id must be the placeholder the caller has just made for this key
  // (not "attached nowhere": another member's shim may be reading its mark):
  // a member may name only a segment of its own, never shadow another's
  // native id for the rest of the session. A placeholder that cannot be
  // checked (a helper without privilege over the caller's namespace) leaves
  // the key to the kernel (-ENOENT: the shim makes the segment natively).
  KernelView kernel;
  const struct shmid_ds& ph = kernel.ds;
  if (!KernelLook(nsit->second.fd, ns, id, &kernel) || ph.shm_perm.__key != key ||
      ph.shm_segsz != 1 || ph.shm_cpid != c.pid || ph.shm_perm.cuid != who.euid ||
      (ph.shm_perm.mode & SHM_DEST) != 0) {
    if (nsit->second.segments == 0) {
      close(nsit->second.fd);
      ipc_namespaces_.erase(nsit);
    }
    return -ENOENT;
  }
  // shmall, as newseg checks it: every segment of the namespace, in pages.
  // The kernel's count has a one-page placeholder for each managed segment
  // (the new one's too) in place of its pages.
  uint64_t managed = 0, placeholders = 1;
  for (auto s = segments_.lower_bound({ns, INT_MIN}); s != segments_.end() && s->first.first == ns;
       ++s) {
    if (s->second == nullptr) continue;
    managed += s->second->inode->pages();
    placeholders++;
  }
  const uint64_t native = kernel.shm_tot > placeholders ? kernel.shm_tot - placeholders : 0;
  if (native + managed > kernel.shmall || pages > kernel.shmall - native - managed) {
    if (nsit->second.segments == 0) {
      close(nsit->second.fd);
      ipc_namespaces_.erase(nsit);
    }
    return -ENOSPC;
  }
  // The memfd's label carries key and id: the shim's shmdt finds the pieces
  // of an attachment in /proc/self/maps by it (/memfd:SYSVkkkkkkkk.id).
  char label[40];
  snprintf(label, sizeof(label), "SYSV%08x.%d", static_cast<unsigned>(key), id);
  int fd = sys::MemfdCreate(label, MFD_CLOEXEC);
  struct stat st;
  if (fd >= 0 &&
      (ftruncate(fd, static_cast<off_t>(pages * kPageSize)) != 0 || fstat(fd, &st) != 0)) {
    close(fd);
    fd = -ENOMEM;
  }
  Inode* inode = nullptr;
  std::unique_ptr<Segment> seg;
  if (fd >= 0) {
    rc = NewProgramInode(fd, st, &inode);
  } else {
    rc = fd == -EMFILE || fd == -ENFILE ? -ENFILE : -ENOMEM;
  }
  if (rc == 0) {
    try {
      seg = std::make_unique<Segment>();
      segments_.emplace(std::make_pair(ns, id), nullptr);
      if (key != IPC_PRIVATE) segment_keys_.emplace(std::make_pair(ns, key), seg.get());
    } catch (const std::bad_alloc&) {
      segments_.erase({ns, id});
      seg.reset();
      rc = -ENOMEM;
    }
    if (rc != 0) collect_due_ = true;  // nothing holds the new inode: collected
  }
  if (rc != 0) {
    if (nsit->second.segments == 0) {
      close(nsit->second.fd);
      ipc_namespaces_.erase(nsit);
    }
    return rc;
  }
  seg->ns = ns;
  seg->key = key;
  seg->id = id;
  seg->inode = inode;
  seg->uid = seg->cuid = who.euid;
  seg->gid = seg->cgid = who.egid;
  seg->mode = static_cast<uint32_t>(flg) & 0777;  // no umask (named_kernel_facts.md)
  seg->segsz = size;
  seg->ctime = Now();
  seg->cpid = c.pid;
  inode->segment = seg.get();
  nsit->second.segments++;
  nsit->second.tombstones.erase(id);
  segments_[{ns, id}] = std::move(seg);
  reply->a = static_cast<uint64_t>(id);
  reply->b = 0;
  return 0;
}

int Engine::FindSegment(Client& c, int id, Segment** out) {
  uint64_t ns = 0;
  int rc = CallerIpcNs(c.pid, &ns);
  if (rc != 0) return rc;
  auto it = segments_.find({ns, id});
  if (it == segments_.end()) {
    auto nsit = ipc_namespaces_.find(ns);
    bool gone = nsit != ipc_namespaces_.end() && nsit->second.tombstones.count(id) != 0;
    return gone ? -EINVAL : -ENOENT;
  }
  Segment* s = it->second.get();
  if ((s->mode & SHM_DEST) != 0 && Nattch(*s) == 0) {
    // Removed, and its last attachment went with a process the helper had
    // not reaped yet.
    DestroySegment(s);
    return -EINVAL;
  }
  *out = s;
  return 0;
}

int Engine::HandleShmAt(Client& c, const Request& req, Reply* reply, int* reply_fd) {
  if (req.a > INT32_MAX || req.c > INT32_MAX) return -EINVAL;
  Segment* s = nullptr;
  int rc = FindSegment(c, static_cast<int>(req.a), &s);
  if (rc != 0) return rc;
  CallerCreds who;
  rc = ReadCallerCredsOf(c, &who);
  if (rc != 0) return rc;
  const int flg = static_cast<int>(req.c);
  int acc = (flg & SHM_RDONLY) != 0 ? 0444 : 0666;
  if ((flg & SHM_EXEC) != 0) acc |= 0111;
  if (!IpcPerms(who, *s, acc)) return -EACCES;
  // A caller who may write gets a read-write description even for
  // SHM_RDONLY: only a mapping of one can be registered (fact 2); the shim
  // maps it PROT_READ. One who may not write never gets one.
  const bool may_write = IpcPerms(who, *s, 0222);
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", s->inode->memfd());
  int fd = OpenWithoutWaiting(path, may_write ? O_RDWR : O_RDONLY);
  if (fd < 0) return fd;
  *reply_fd = fd;
  reply->b = s->segsz;
  return 0;
}

int Engine::HandleShmCtl(Client& c, const Request& req, Reply* reply) {
  if (req.a > INT32_MAX) return -EINVAL;
  Segment* s = nullptr;
  int rc = FindSegment(c, static_cast<int>(req.a), &s);
  if (rc != 0) return rc;
  CallerCreds who;
  rc = ReadCallerCredsOf(c, &who);
  if (rc != 0) return rc;
  switch (req.b) {
    case IPC_STAT: {
      if (!IpcPerms(who, *s, 0444)) return -EACCES;
      struct shmid_ds ds;
      memset(&ds, 0, sizeof(ds));
      ds.shm_perm.__key = s->key;
      ds.shm_perm.uid = s->uid;
      ds.shm_perm.gid = s->gid;
      ds.shm_perm.cuid = s->cuid;
      ds.shm_perm.cgid = s->cgid;
      ds.shm_perm.mode = static_cast<unsigned short>(s->mode);
      ds.shm_segsz = s->segsz;
      ds.shm_atime = s->atime;
      ds.shm_dtime = s->dtime;
      ds.shm_ctime = s->ctime;
      ds.shm_cpid = s->cpid;
      ds.shm_lpid = s->lpid;
      ds.shm_nattch = Nattch(*s);
      static_assert(sizeof(ds) <= sizeof(reply->text), "shmid_ds must fit in Reply::text");
      memcpy(reply->text, &ds, sizeof(ds));
      return 0;
    }
    case IPC_SET:
      if (!MayChange(who, *s)) return -EPERM;
      // ipc_update_perm: an id that names nobody ((uid_t)-1) is EINVAL.
      if (static_cast<uint32_t>(req.c) == UINT32_MAX || (req.c >> 32) == UINT32_MAX) return -EINVAL;
      s->uid = static_cast<uint32_t>(req.c);
      s->gid = static_cast<uint32_t>(req.c >> 32);
      s->mode = (s->mode & ~0777u) | (static_cast<uint32_t>(req.d) & 0777);
      s->ctime = Now();
      return 0;
    case IPC_RMID:
      if (!MayChange(who, *s)) return -EPERM;
      // The key is free at once; the id lives until the last detach (fact 8).
      if (s->key != IPC_PRIVATE) {
        segment_keys_.erase({s->ns, s->key});
        s->key = IPC_PRIVATE;
      }
      s->mode |= SHM_DEST;
      s->ctime = Now();
      if (Nattch(*s) == 0) DestroySegment(s);
      return 0;
    case SHM_LOCK:
    case SHM_UNLOCK: {
      // shmctl_do_lock: CAP_IPC_LOCK, or the owner or creator, who needs a
      // nonzero RLIMIT_MEMLOCK to lock and the segment within it.
      const bool lock = req.b == SHM_LOCK;
      const uint64_t pages = s->inode->pages();
      if (!who.HasCap(kCapIpcLock)) {
        if (who.euid != s->uid && who.euid != s->cuid) return -EPERM;
        if (lock) {
          uint64_t memlock = 0;
          int rc = ReadCallerMemlock(c.pid, &memlock);
          if (rc == 0 && (c.pidfd < 0 || PidfdExited(c.pidfd))) rc = -ESRCH;
          if (rc != 0) return rc;
          if (memlock == 0) return -EPERM;
          if (memlock != UINT64_MAX && pages > memlock / kPageSize) return -ENOMEM;
        }
      }
      // Every page in memory and kept there, within the limit
      // (kept_pages.cc): ENOMEM when the segment cannot fit.
      if (lock) {
        int rc = LockPages(*s->inode);
        if (rc != 0) return rc;
        s->mode |= SHM_LOCKED;
      } else {
        UnlockPages(*s->inode);
        s->mode &= ~static_cast<uint32_t>(SHM_LOCKED);
      }
      return 0;
    }
    default:
      return -EINVAL;
  }
}

uint64_t Engine::LiveNattch(const Inode& inode) const {
  uint64_t n = 0;
  for (const auto& [id, cp] : clients_) {
    if (cp->dead) continue;
    for (const Vma& v : cp->vmas) n += v.inode == &inode;
  }
  return n;
}

uint64_t Engine::Nattch(Segment& seg) {
  Inode* inode = seg.inode;
  Segment* const was = counting_;
  counting_ = &seg;  // not destroyed under this walk: the caller decides (NoteDetach)
  for (auto& [id, cp] : clients_) {
    Client& x = *cp;
    if (x.dead || x.uffd < 0 || x.vmas.empty()) continue;
    bool maps = false;
    for (const Vma& v : x.vmas) maps = maps || v.inode == inode;
    if (!maps) continue;
    const Vma& probe = x.vmas.front();
    if ((x.pidfd >= 0 && PidfdExited(x.pidfd)) ||
        UffdWriteProtect(x.uffd, probe.start, kPageSize, probe.inode != nullptr) == -ESRCH) {
      // Exited (its parent may have reaped it already) or exec'd: the
      // kernel detached it before anyone could see it attached.
      MarkDead(x, "gone (shm_nattch)");
      continue;
    }
    DrainEvents(x);  // an unmap the process has made is counted
  }
  counting_ = was;
  return LiveNattch(*inode);
}

void Engine::NoteDetach(Inode* inode, pid_t pid, bool stamp) {
  if (inode == nullptr || inode->segment == nullptr) return;
  Segment* s = inode->segment;
  if (stamp) {
    s->dtime = Now();
    if (pid != 0) s->lpid = pid;
  }
  if ((s->mode & SHM_DEST) != 0 && s != counting_ && LiveNattch(*inode) == 0) DestroySegment(s);
}

void Engine::DestroySegment(Segment* seg) {
  const uint64_t ns = seg->ns;
  const int id = seg->id;
  if (seg->key != IPC_PRIVATE) segment_keys_.erase({ns, seg->key});
  seg->inode->segment = nullptr;
  collect_due_ = true;  // its inode goes when nothing maps it
  auto nsit = ipc_namespaces_.find(ns);
  if (nsit != ipc_namespaces_.end()) {
    IpcNamespace& held = nsit->second;
    try {
      if (held.tombstones.size() >= kMaxTombstones) held.tombstones.erase(held.tombstones.begin());
      held.tombstones.insert(id);
    } catch (const std::bad_alloc&) {
    }
    if (--held.segments == 0) {
      // Released: once the fd is closed the namespace may die and its
      // inode number name another, where these ids mean nothing.
      close(held.fd);
      ipc_namespaces_.erase(nsit);
    }
  }
  segments_.erase({ns, id});
}

}  // namespace libshm::internal
