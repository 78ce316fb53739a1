// SPDX-License-Identifier: MIT
// Program objects (Engine methods; see engine.h): POSIX shm objects
// (shm_open, shm_unlink) and memfds the program made (memfd_create), managed
// like anonymous regions: the same inode, extent, dirty bit, msync and
// eviction (docs/named.md). What differs is that the program holds them by
// fd and name, and may resize them:
//
// - A name is looked up and checked against the caller's *current* ids at
//   every shm_open, as the kernel checks a path; an fd is the capability
//   once given (a new open file description with the access mode granted).
// - Size follows ftruncate (kResize): the helper truncates through the
//   caller's own descriptor, so the kernel judges access mode and seals.
//   Growth reserves a new contiguous extent first and copies the slots that
//   hold data (an inode's swap stays one run: fill-ahead and clustered
//   writeback need no chains); a shrink forgets the pages past the end.
// - An object nothing holds that the helper can see (no name, no mapping, no
//   handle) may still be held by the program (an unlinked object's fd, a
//   memfd passed on): it is handed back to the kernel whole, swapped pages
//   written into the memfd first (CollectInodes), never dropped.
// - A mapper libshm cannot register (MAP_PRIVATE, an O_RDONLY descriptor:
//   KERNEL_FACTS, named_kernel_facts.md facts 2 and 14) would read evicted
//   pages as zeros: the object is pinned, every page brought back and kept.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>

#include "caller_creds.h"
#include "engine.h"
#include "log.h"
#include "peer.h"
#include "sys/syscalls.h"
#include "uffd.h"

namespace libshm::internal {
namespace {

constexpr long kTmpfsMagic = 0x01021994;

// glibc's shm_open has removed the leading slashes and refused the rest
// (fact 9); a client may have sent anything.
bool ValidShmName(const char* name) {
  size_t n = strnlen(name, NAME_MAX + 1);
  return n >= 1 && n <= NAME_MAX && strchr(name, '/') == nullptr && strcmp(name, ".") != 0 &&
         strcmp(name, "..") != 0;
}

// The device of memfds (the kernel's internal tmpfs mount), learned from a
// memfd of our own; 0 if none could be made (then no fd is taken).
dev_t MemfdDevice() {
  static const dev_t dev = [] {
    int fd = memfd_create("libshm-dev", MFD_CLOEXEC);
    struct stat st;
    dev_t d = fd >= 0 && fstat(fd, &st) == 0 ? st.st_dev : 0;
    if (fd >= 0) close(fd);
    return d;
  }();
  return dev;
}

// Only a memfd, open for reading and writing, may become a program object: a
// file with a name (in /dev/shm, /run, any tmpfs) is someone else's to
// manage, and a read-only fd gives no right to write what the helper then
// writes (evictions, restores) or hands out (kInodeFd reopens read-write,
// as root in a root session).
bool WritableMemfd(int fd, const struct stat& st) {
  int fl = fcntl(fd, F_GETFL);
  return S_ISREG(st.st_mode) && MemfdDevice() != 0 && st.st_dev == MemfdDevice() &&
         st.st_nlink == 0 && fl >= 0 && (fl & O_ACCMODE) == O_RDWR;
}

uint64_t PagesFor(uint64_t bytes) { return bytes / kPageSize + (bytes % kPageSize != 0); }

// pwrite of n pages at `page`, cut at the file's end: a write past it would
// grow the object.
int PwriteUpTo(int fd, const char* buf, uint64_t page, uint64_t n, uint64_t size) {
  uint64_t off = page * kPageSize;
  if (off >= size) return 0;
  uint64_t len = std::min(n * kPageSize, size - off);
  while (len > 0) {
    ssize_t w = sys::Pwrite(fd, buf, len, static_cast<off_t>(off));
    if (w < 0) return static_cast<int>(w);
    if (w == 0) return -EIO;
    buf += w;
    off += static_cast<uint64_t>(w);
    len -= static_cast<uint64_t>(w);
  }
  return 0;
}

// The ids of the process a connection belongs to, now. /proc/<pid> names
// whatever process has that pid when it is read: the connection's own
// process may have exited and its pid been taken (by a set-uid program, say)
// while a request it left, or one sent by a process that inherited the
// connection, waits. They are its own only if its pidfd says it still lives
// after the read.
}  // namespace

int ReadCallerCredsOf(const Client& c, CallerCreds* who) {
  int rc = ReadCallerCreds(c.pid, who);
  if (rc == 0 && (c.pidfd < 0 || PidfdExited(c.pidfd))) rc = -ESRCH;
  return rc;
}

int OpenWithoutWaiting(const char* path, int acc) {
  // A lease another process holds on the file (the owner of an object may
  // take one) makes a conflicting open wait until it is let go or
  // lease-break-time passes (45 s): the engine thread, and every fault of
  // the session, waited with it. O_NONBLOCK answers EWOULDBLOCK instead.
  int fd = open(path, acc | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return -errno;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {  // the file is the caller's
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

uint64_t Engine::OrphanGraceNs() {
  static const uint64_t ns = [] {
    const char* v = secure_getenv("LIBSHM_TEST_ORPHAN_GRACE_US");
    return v == nullptr ? 10'000'000'000ull : strtoull(v, nullptr, 10) * 1000;
  }();
  return ns;
}

Engine::Hold Engine::ProgramHold(Inode& inode) {
  // The kernel keeps an object while any file of it is open (an fd, a
  // mapping, an fd in flight in a socket). Every file of a program object
  // that the program can reach was opened through /proc/self/fd (the shim
  // reopens the memfd it made), and such files are counted in the inode's
  // write and read counts; the helper's own memfd, from memfd_create, is
  // not. A write lease is granted only when the file asking for it is the
  // only counted one: so a lease on a file of our own says whether anyone
  // else holds the object (measured: docs/named.md "Who holds an object").
  // The lease is let go at once; SIGIO, which a lease break would send, is
  // ignored by shmd. Test hook: LIBSHM_TEST_NO_HOLD_PROBE=1 answers kUnknown.
  static const bool no_probe = secure_getenv("LIBSHM_TEST_NO_HOLD_PROBE") != nullptr;
  if (no_probe) return Hold::kUnknown;
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", inode.memfd());
  // Never a blocking open: a lease on the object (its owner may take one)
  // would hold the engine thread until lease-break-time (45 s). A lease is
  // on an open file: the object is held.
  int f = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (f < 0) return errno == EWOULDBLOCK ? Hold::kHeld : Hold::kUnknown;
  Hold hold = Hold::kUnknown;
  if (fcntl(f, F_SETLEASE, F_WRLCK) == 0) {
    fcntl(f, F_SETLEASE, F_UNLCK);
    hold = Hold::kFree;
  } else if (errno == EAGAIN) {
    hold = Hold::kHeld;
  }
  close(f);
  return hold;
}

Inode* Engine::FindProgramInode(int fd, struct stat* st) {
  if (fd < 0 || fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) return nullptr;
  auto it = inode_by_ino_.find(static_cast<uint64_t>(st->st_ino));
  if (it == inode_by_ino_.end() || !it->second->program ||
      !it->second->IsMappedBy(st->st_dev, st->st_ino)) {
    return nullptr;
  }
  return it->second;
}

int Engine::NewProgramInode(int fd, const struct stat& st, Inode** out) {
  struct statfs sfs;
  uint64_t pages = PagesFor(static_cast<uint64_t>(st.st_size));
  if (!WritableMemfd(fd, st) || fstatfs(fd, &sfs) != 0 || sfs.f_type != kTmpfsMagic ||
      pages >= Inode::kMaxPages) {
    close(fd);
    return -EINVAL;
  }
  if (inode_by_ino_.count(static_cast<uint64_t>(st.st_ino)) != 0) {
    close(fd);
    return -EEXIST;
  }
  // Bounded: a member made objects of files the kernel counts (a reopened
  // memfd), which the hold probe finds held for as long as the helper holds
  // them, until the helper's fd table was full and every new region of the
  // session was refused.
  struct rlimit nofile;
  size_t most = kMaxProgramObjects;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    most = std::min<size_t>(most, nofile.rlim_cur / 4);
  }
  if (program_objects_ >= most) {
    close(fd);
    return -ENFILE;
  }
  if (!RestoreReserveFd()) {
    close(fd);
    LIBSHM_LOG_ERROR("out of file descriptors: a shared memory object refused");
    return -EMFILE;
  }
  Inode* raw = nullptr;
  int rc = InstallInode(fd, st, pages, false, &raw);
  if (rc != 0) return rc;
  raw->program = true;
  stats_.objects_made++;
  *out = raw;
  return 0;
}

int Engine::InstallInode(int fd, const struct stat& st, uint64_t pages, bool sparse, Inode** out) {
  uint32_t seq = AllocateSeq();
  if (seq == 0) {
    close(fd);
    return -ENOMEM;
  }
  Extent extent;
  // After swapoff an inode gets no extent (nothing is evicted); swap.dir
  // reserves one for every inode when it turns swap on again. A program
  // object of size 0 has none until it grows.
  int rc = pages == 0 || EvictionSuspended() ? 0 : swap_.Reserve(pages, &extent, !sparse);
  if (rc != 0) {
    free_seqs_.push_back(seq);
    close(fd);
    return rc;
  }
  std::unique_ptr<Inode> inode;
  if (virtual_pages_ + pages <= kMaxSessionPages) {
    try {
      inode = std::make_unique<Inode>(seq, static_cast<uint64_t>(st.st_ino), fd, pages, extent);
    } catch (const std::bad_alloc&) {
      inode.reset();
    }
  }
  if (inode == nullptr) {
    // Too big for this session's page tables (or for the helper's memory):
    // as the kernel answers a mapping it cannot account for.
    swap_.Release(extent);
    free_seqs_.push_back(seq);
    close(fd);
    return -ENOMEM;
  }
  virtual_pages_ += pages;
  program_objects_++;
  Inode* raw = inode.get();
  raw->set_dev(st.st_dev);
  raw->sparse_extent = sparse;
  inodes_[seq] = std::move(inode);
  inode_by_ino_[raw->ino()] = raw;
  *out = raw;
  return 0;
}

int Engine::HandleShmOpen(Client& c, const Request& req, int fd, Reply* reply, int* reply_fd) {
  const char* name = req.text2;
  const uint64_t flags = req.a;
  const uint64_t known = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC;
  const int acc = static_cast<int>(flags & O_ACCMODE);
  if (!ValidShmName(name) || (flags & ~known) != 0 || acc == O_ACCMODE || req.b > 07777 ||
      (fd >= 0) != ((flags & O_CREAT) != 0)) {
    if (fd >= 0) close(fd);
    return -EINVAL;
  }
  CallerCreds who;
  int rc = ReadCallerCredsOf(c, &who);
  if (rc != 0) {
    if (fd >= 0) close(fd);
    return rc;
  }
  auto it = shm_names_.find(name);
  if (it == shm_names_.end()) {
    if ((flags & O_CREAT) == 0) return -ENOENT;
    if (shm_names_.size() >= kMaxShmNames) {
      close(fd);
      return -ENFILE;
    }
    // The caller's new memfd becomes the object: its owner is the caller's
    // (the kernel set it), its mode the one asked for. The helper changes
    // the mode with its own rights (root's, in a root session): only of a
    // file the caller owns, as chmod(2) allows, or a member could make
    // another user's file anyone's.
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size != 0 || !WritableMemfd(fd, st) || st.st_uid != who.euid ||
        fchmod(fd, static_cast<mode_t>(req.b)) != 0) {
      close(fd);
      return -EINVAL;
    }
    Inode* inode = nullptr;
    rc = NewProgramInode(fd, st, &inode);
    if (rc != 0) return rc;
    try {
      shm_names_.emplace(name, inode);
    } catch (const std::bad_alloc&) {
      collect_due_ = true;  // the caller's memfd holds it until closed
      return -ENOMEM;
    }
    inode->named = true;
    inode->posix = true;
    reply->a = 1;
    return 0;
  }
  if (fd >= 0) close(fd);  // the name exists: the caller's memfd is not needed
  if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) return -EEXIST;
  Inode& inode = *it->second;
  struct stat st;
  if (fstat(inode.memfd(), &st) != 0) return -EIO;
  int want = acc == O_RDONLY ? kMayRead : acc == O_WRONLY ? kMayWrite : kMayRead | kMayWrite;
  if ((flags & O_TRUNC) != 0) want |= kMayWrite;
  if (!MayAccess(who, st, want)) return -EACCES;
  // A new open file description with the access mode granted: the kernel
  // then refuses by itself what that mode forbids (a writable mapping of a
  // read-only descriptor, ftruncate, write).
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", inode.memfd());
  int reopened = OpenWithoutWaiting(path, acc);
  if (reopened < 0) return reopened;
  // O_TRUNC empties the object whatever the access mode (the kernel's
  // open does, once write permission is checked, as it was above): through
  // the helper's own file, not the caller's new one, which may be
  // read-only; and whatever size the helper has seen (a raw ftruncate is
  // followed only at the next fault).
  if ((flags & O_TRUNC) != 0 && (st.st_size != 0 || inode.pages() != 0)) {
    if (ftruncate(inode.memfd(), 0) != 0) {
      rc = -errno;
      close(reopened);
      return rc;
    }
    ApplySize(inode, 0, inode.extent());
  }
  *reply_fd = reopened;
  reply->a = 0;
  return 0;
}

int Engine::HandleShmUnlink(Client& c, const Request& req) {
  if (!ValidShmName(req.text2)) return -ENOENT;  // as glibc answers a bad name
  auto it = shm_names_.find(req.text2);
  if (it == shm_names_.end()) return -ENOENT;
  CallerCreds who;
  int rc = ReadCallerCredsOf(c, &who);
  if (rc != 0) return rc;
  struct stat st;
  if (fstat(it->second->memfd(), &st) != 0) return -EIO;
  // /dev/shm is sticky: only the owner (or root, or CAP_FOWNER) removes a
  // name. glibc turns the kernel's EPERM into EACCES.
  if (!MayUnlinkSticky(who, st)) return -EACCES;
  it->second->named = false;
  shm_names_.erase(it);
  collect_due_ = true;
  return 0;
}

int Engine::HandleAdoptFd(Client& c, const Request& req, int fd, Reply* reply) {
  struct stat st;
  Inode* inode = FindProgramInode(fd, &st);
  // A handle lets its connection register mappings of the object, and
  // kInodeFd answers such a mapping with a read-write file: only for an fd
  // open for writing (a shared mapping libshm registers needs one; the
  // shim pins for the others). A read-only fd gave a member that may only
  // read an object a writable file of it.
  const int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
  if (fd >= 0) close(fd);
  if ((req.flags & ~kAdoptPin) != 0) return -EINVAL;
  if (inode == nullptr) return -ENOENT;
  if ((req.flags & kAdoptPin) == 0 && (fl < 0 || (fl & O_ACCMODE) != O_RDWR)) return -EACCES;
  FollowSize(*inode);
  reply->b = static_cast<uint64_t>(st.st_size);
  if ((req.flags & kAdoptPin) != 0) return Pin(*inode);
  if (c.handles.size() >= kMaxHandles) return -EMFILE;
  reply->a = AddHandle(c, inode);
  return 0;
}

int Engine::HandleResize(Client& c, const Request& req, int fd) {
  (void)c;
  struct stat st;
  Inode* found = FindProgramInode(fd, &st);
  if (found == nullptr) {
    if (fd >= 0) close(fd);
    return -ENOENT;
  }
  Inode& inode = *found;
  if (req.flags == kResizePunch) {
    // fallocate(PUNCH_HOLE | KEEP_SIZE), a: offset, b: length. The kernel
    // alone would leave the slots of swapped pages to be read back.
    const uint64_t off = req.a, len = req.b, end = off + len;
    int rc = len == 0 || off > static_cast<uint64_t>(INT64_MAX) ||
                     len > static_cast<uint64_t>(INT64_MAX) - off
                 ? -EINVAL
                 : 0;
    FollowSize(inode);
    // A page punched in part keeps the rest of its data: if swapped out, it
    // comes back into the memfd first, where the kernel zeroes the range.
    const bool head = off % kPageSize != 0, tail = end % kPageSize != 0;
    if (rc == 0 && head) rc = RestorePages(inode, off / kPageSize, off / kPageSize + 1);
    if (rc == 0 && tail) rc = RestorePages(inode, end / kPageSize, end / kPageSize + 1);
    if (rc == 0 && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             static_cast<off_t>(off), static_cast<off_t>(len)) != 0) {
      rc = -errno;
    }
    close(fd);
    if (rc != 0) return rc;
    // Those pages changed without a write fault: dirty, so that a clean
    // one's old swap copy is never taken back.
    for (uint64_t p : {head ? off / kPageSize : UINT64_MAX, tail ? end / kPageSize : UINT64_MAX}) {
      if (p < inode.pages() &&
          (inode.state(p) == PageState::kClean || inode.state(p) == PageState::kZero)) {
        inode.set_state(p, PageState::kDirty);
        policy_.SetDirty(Key(inode, p), true);
      }
    }
    // The whole pages are holes now, as Discard (MADV_REMOVE) leaves them:
    // slots and samples forgotten, they read zeros.
    const uint64_t p0 = PagesFor(off), p1 = std::min(end / kPageSize, inode.pages());
    for (uint64_t p = p0 < p1 ? inode.NextIn(p0, p1, Inode::kNotEmptyMask) : p1; p < p1;
         p = inode.NextIn(p + 1, p1, Inode::kNotEmptyMask)) {
      ForgetPage(inode, p);
      inode.set_state(p, PageState::kEmpty);
    }
    return 0;
  }
  if ((req.flags & ~kResizeGrowOnly) != 0) {
    close(fd);
    return -EINVAL;
  }
  const uint64_t bytes =
      (req.flags & kResizeGrowOnly) != 0 && static_cast<uint64_t>(st.st_size) > req.a
          ? static_cast<uint64_t>(st.st_size)
          : req.a;
  const uint64_t pages = PagesFor(bytes);
  int rc = 0;
  if (bytes > static_cast<uint64_t>(INT64_MAX) || pages >= Inode::kMaxPages) {
    rc = bytes > static_cast<uint64_t>(INT64_MAX) ? -EINVAL : -EFBIG;
  }
  // What the kernel's ftruncate will refuse, refused before any work: a
  // growth copies every swapped page of the object to its new extent, and a
  // member that may only read an object made the engine do that per request
  // (then ftruncate said EINVAL).
  const int fl = fcntl(fd, F_GETFL);
  const int seals = fcntl(fd, F_GET_SEALS);
  if (rc == 0 && (fl < 0 || (fl & O_PATH) != 0)) rc = -EBADF;
  if (rc == 0 && (fl & O_ACCMODE) == O_RDONLY) rc = -EINVAL;
  if (rc == 0 && seals > 0 && bytes != static_cast<uint64_t>(st.st_size) &&
      (seals & (bytes > static_cast<uint64_t>(st.st_size) ? F_SEAL_GROW : F_SEAL_SHRINK)) != 0) {
    rc = -EPERM;
  }
  FollowSize(inode);
  // A partial last page keeps its data only up to the new end, and the
  // kernel zeroes the rest of it only if the page is in the memfd.
  if (rc == 0 && bytes % kPageSize != 0 && pages <= inode.pages()) {
    rc = RestorePages(inode, pages - 1, pages);
  }
  Extent grown = inode.extent();
  if (rc == 0) rc = ReserveGrowth(inode, pages, &grown);
  const bool moved = grown.base != inode.extent().base || grown.pages != inode.extent().pages;
  if (rc == 0 && ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    rc = -errno;
    if (moved) swap_.Release(grown);
  }
  close(fd);
  if (rc != 0) return rc;
  ApplySize(inode, pages, grown);
  return 0;
}

int Engine::ReserveGrowth(Inode& inode, uint64_t pages, Extent* out) {
  *out = inode.extent();
  if (pages <= inode.pages()) return 0;
  if (pages >= Inode::kMaxPages) return -EFBIG;
  if (virtual_pages_ - inode.pages() + pages > kMaxSessionPages) return -ENOSPC;
  // After swapoff nothing has an extent (swap.dir reserves them again).
  if (EvictionSuspended() || pages <= inode.extent().pages) return 0;
  // Half again as much as asked, when it fits: each move copies every
  // slot that holds data, and an object grown a page at a time was copied
  // whole per page (quadratic in its size, on the engine thread).
  Extent next;
  const uint64_t roomy =
      std::min(Inode::kMaxPages - 1, std::max(pages, inode.pages() + inode.pages() / 2));
  int rc = roomy > pages ? swap_.Reserve(roomy, &next, !inode.sparse_extent) : -ENOMEM;
  if (rc != 0) rc = swap_.Reserve(pages, &next, !inode.sparse_extent);
  if (rc != 0) return rc == -ENOMEM ? -ENOSPC : rc;
  // The slots that hold data move along (a growth with nothing swapped,
  // the usual ftruncate after shm_open, copies nothing).
  const unsigned mask = Inode::Mask(PageState::kSwapped) | Inode::Mask(PageState::kClean) |
                        Inode::Mask(PageState::kSampled);
  const uint64_t chunk = io_buffer_.size() / kPageSize;
  for (uint64_t a = inode.NextIn(0, inode.pages(), mask); a < inode.pages();
       a = inode.NextIn(a, inode.pages(), mask)) {
    uint64_t b = a + 1;
    while (b < inode.pages() && b - a < chunk && (mask & Inode::Mask(inode.state(b))) != 0) b++;
    ssize_t want = static_cast<ssize_t>((b - a) * kPageSize);
    if (swap_.ReadPages(inode.slot(a), io_buffer_.data(), b - a) != want ||
        swap_.WritePages(next.base + a, io_buffer_.data(), b - a) != want) {
      swap_.Release(next);
      return -EIO;
    }
    a = b;
  }
  *out = next;
  return 0;
}

void Engine::ApplySize(Inode& inode, uint64_t pages, const Extent& grown) {
  const uint64_t old = inode.pages();
  if (grown.base != inode.extent().base || grown.pages != inode.extent().pages) {
    swap_.Release(inode.extent());
    inode.set_extent(grown);
  }
  if (pages < old) {
    // The kernel freed the pages past the end; so do we, and their slots.
    for (uint64_t p = inode.NextIn(pages, old, Inode::kNotEmptyMask); p < old;
         p = inode.NextIn(p + 1, old, Inode::kNotEmptyMask)) {
      ForgetPage(inode, p);
      inode.set_state(p, PageState::kEmpty);
    }
    const Extent& e = inode.extent();
    if (e.pages > pages) {
      swap_.Release(Extent{e.base + pages, e.pages - pages});
      inode.set_extent(pages == 0 ? Extent{} : Extent{e.base, pages});
    }
  }
  virtual_pages_ = virtual_pages_ - old + pages;
  try {
    inode.Resize(pages);
  } catch (const std::bad_alloc&) {
    AssertFail(__FILE__, __LINE__, "out of memory for a page table");
  }
}

bool Engine::FollowSize(Inode& inode) {
  struct stat st;
  if (fstat(inode.memfd(), &st) != 0) return false;
  uint64_t pages = PagesFor(static_cast<uint64_t>(st.st_size));
  if (pages <= inode.pages()) return false;  // a raw shrink is not followed (named.md, q. 3)
  Extent grown;
  if (ReserveGrowth(inode, pages, &grown) != 0) {
    // No slot for the new pages: they must never be evicted.
    LIBSHM_LOG_WARN("region %u grew without swap for it: kept resident", inode.seq());
    grown = inode.extent();
    ApplySize(inode, pages, grown);
    Pin(inode);
    inode.pinned = true;  // even if not every page could come back: no slot
    return true;
  }
  ApplySize(inode, pages, grown);
  return true;
}

int Engine::RestorePages(Inode& inode, uint64_t p0, uint64_t p1) {
  struct stat st;
  if (fstat(inode.memfd(), &st) != 0) return -errno;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  p1 = std::min(p1, inode.pages());
  const uint64_t chunk = io_buffer_.size() / kPageSize;
  const unsigned mask = Inode::Mask(PageState::kSwapped) | Inode::Mask(PageState::kSampled);
  for (uint64_t a = inode.NextIn(p0, p1, mask); a < p1; a = inode.NextIn(a, p1, mask)) {
    if (inode.state(a) == PageState::kSampled) {
      // Punched, its data kept here: back into the memfd (still resident).
      auto it = samples_.find(Key(inode, a));
      if (it != samples_.end() && it->second.data != nullptr) {
        int rc = PwriteUpTo(inode.memfd(), it->second.data.get(), a, 1, size);
        if (rc != 0) return rc;
      }
      DropSample(inode, a);
      inode.set_state(a, PageState::kDirty);
      policy_.SetDirty(Key(inode, a), true);
      WakeEverywhere(inode, a, a + 1);
      a++;
      continue;
    }
    uint64_t b = a + 1;
    while (b < p1 && b - a < chunk && inode.state(b) == PageState::kSwapped) b++;
    ssize_t want = static_cast<ssize_t>((b - a) * kPageSize);
    ssize_t r = ReadSwap(inode, a, b - a);
    if (r != want) return r < 0 ? static_cast<int>(r) : -EIO;
    int rc = PwriteUpTo(inode.memfd(), io_buffer_.data(), a, b - a, size);
    if (rc != 0) return rc;
    // No slot holds them now: dirty. Mappers keep their write-protect
    // markers (pwrite leaves them), so a write is still seen.
    for (uint64_t p = a; p < b; p++) {
      inode.set_state(p, PageState::kDirty);
      policy_.Miss(Key(inode, p), true);
      trace_.Record('P', Region(inode), p, 'w');  // resident without a fault
    }
    stats_.swap_ins += b - a;
    inode.swap_ins += b - a;
    resident_pages_ += b - a;
    WakeEverywhere(inode, a, b);
    a = b;
  }
  peak_resident_pages_ = std::max(peak_resident_pages_, resident_pages_);
  return 0;
}

void Engine::ObjectName(const Inode& inode, char* out, size_t len) const {
  out[0] = '\0';
  if (inode.named) {
    // O(names): only shmstat asks, one object per request.
    for (const auto& [name, held] : shm_names_) {
      if (held == &inode) {
        snprintf(out, len, "/%s", name.c_str());
        return;
      }
    }
  }
  char path[64], link[256];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", inode.memfd());
  ssize_t n = readlink(path, link, sizeof(link) - 1);
  if (n <= 0) return;
  link[n] = '\0';
  // "/memfd:LABEL (deleted)"
  char* end = strstr(link, " (deleted)");
  if (end != nullptr) *end = '\0';
  snprintf(out, len, "%s", link[0] == '/' ? link + 1 : link);
}

}  // namespace libshm::internal
