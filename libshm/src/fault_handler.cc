// SPDX-License-Identifier: MIT
// Page faults and non-cooperative uffd events (Engine methods; see engine.h).
//
// Rules this file keeps (DESIGN.md invariants 1-3):
// - A read fault restores with UFFDIO_COPY_MODE_WP (the page is clean in this
//   mapper); a write fault restores without WP and marks the page dirty.
// - EEXIST from COPY: someone already put the page in the shared page cache;
//   wake the faulter or it sleeps forever.
// - EAGAIN: a non-cooperative event is pending on that uffd; read it, then
//   retry from the top (the event may have moved or removed the mapping).
// - A Vma* is valid only until the next DrainEvents; an Inode* for the whole
//   loop iteration (inodes are freed only in CollectInodes).
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "clock.h"
#include "engine.h"
#include "log.h"
#include "proc_maps.h"
#include "test_hooks.h"
#include "uffd.h"

namespace libshm::internal {
namespace {

constexpr size_t kMessagesPerRead = 64;
// Full reads of one uffd per call. A non-cooperative event blocks its thread
// only until it is read, so a client with more threads than a read takes
// can raise events as fast as the helper reads them (MADV_DONTNEED in a
// loop): reading until a short read kept the engine thread on that uffd for
// ever. Level-triggered epoll brings the loop back to what is left.
constexpr int kReadsPerCall = 4;

// Tries of one fault per turn of the loop while UFFDIO_COPY or
// UFFDIO_WRITEPROTECT says EAGAIN (mmap_changing: a fork, mremap, munmap or
// madvise of the faulting process is in flight). The event can finish only
// when the thread that raised it runs again: a fault that gave up after a
// fixed number of tries in a row was dropped, and its thread never woke
// (PyTorch's DataLoader workers, one run in three on a loaded machine).
// Now it waits for a later turn instead (Engine::ProcessDeferred).
constexpr int kFaultAttempts = 64;

}  // namespace

bool Engine::OverlapsVma(const Client& c, uintptr_t start, size_t len) const {
  auto next = std::lower_bound(c.vmas.begin(), c.vmas.end(), start,
                               [](const Vma& a, uintptr_t s) { return a.start < s; });
  return (next != c.vmas.end() && next->start < start + len) ||
         (next != c.vmas.begin() && std::prev(next)->end > start);
}

Vma* Engine::FindVma(Client& c, uintptr_t addr) {
  auto it = std::upper_bound(c.vmas.begin(), c.vmas.end(), addr,
                             [](uintptr_t a, const Vma& v) { return a < v.start; });
  if (it == c.vmas.begin()) return nullptr;
  --it;
  return addr < it->end ? &*it : nullptr;
}

ssize_t Engine::ReadUffd(Client& c, uffd_msg* msgs, size_t count) {
  ssize_t n = read(c.uffd, msgs, count * sizeof(uffd_msg));
  if (n < 0 && (errno == EMFILE || errno == ENFILE)) {
    // A fork event installs the child's uffd in our fd table; with the table
    // full the read fails and the event stays queued (the fork waits). Give
    // it the reserve fd; the parent is alive and must never be marked dead.
    ReleaseReserveFd();
    n = read(c.uffd, msgs, count * sizeof(uffd_msg));
    int e = errno;
    RestoreReserveFd();
    errno = e;
    if (n < 0 && (errno == EMFILE || errno == ENFILE)) {
      // Still no room: wait (without spinning) until Housekeeping finds some.
      LIBSHM_LOG_ERROR("out of file descriptors: pid %d's fork waits", static_cast<int>(c.pid));
      PauseWatch(c.uffd);
      errno = EAGAIN;
    }
  }
  return n;
}

void Engine::OnUffdReadable(Client& c) {
  uffd_msg msgs[kMessagesPerRead];
  for (int reads = 0; !c.dead && reads < kReadsPerCall; reads++) {
    ssize_t n = ReadUffd(c, msgs, kMessagesPerRead);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) MarkDead(c, "uffd read failed");
      break;
    }
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(uffd_msg) && !c.dead; i++) {
      if (msgs[i].event == UFFD_EVENT_PAGEFAULT) {
        HandleFault(c, msgs[i]);
      } else {
        HandleEvent(c, msgs[i]);
      }
    }
    if (static_cast<size_t>(n) < sizeof(msgs)) break;
  }
  ProcessDeferred(c);
}

bool Engine::DrainEvents(Client& c) {
  uffd_msg msgs[kMessagesPerRead];
  // Bounded (see kReadsPerCall): a caller that meets EAGAIN again retries a
  // bounded number of times.
  for (int reads = 0; reads < kReadsPerCall; reads++) {
    ssize_t n = ReadUffd(c, msgs, kMessagesPerRead);
    if (n < 0) {
      if (errno == EAGAIN) return true;
      if (errno == EINTR) continue;
      MarkDead(c, "uffd read failed");
      return false;
    }
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(uffd_msg); i++) {
      if (msgs[i].event == UFFD_EVENT_PAGEFAULT) {
        c.deferred_faults.push_back(msgs[i]);
      } else {
        HandleEvent(c, msgs[i]);
      }
    }
  }
  return true;
}

void Engine::ProcessDeferred(Client& c) {
  // Only those queued now: a fault that must wait again goes to the back,
  // for the next turn of the loop.
  for (size_t n = c.deferred_faults.size(); n > 0 && !c.deferred_faults.empty() && !c.dead; n--) {
    uffd_msg msg = c.deferred_faults.front();
    c.deferred_faults.pop_front();
    HandleFault(c, msg);
  }
}

void Engine::HandleEvent(Client& c, const uffd_msg& msg) {
  events_handled_++;
  switch (msg.event) {
    case UFFD_EVENT_FORK:
      OnFork(c, static_cast<int>(msg.arg.fork.ufd));
      break;
    case UFFD_EVENT_REMAP:
      OnRemap(c, msg.arg.remap.from, msg.arg.remap.to, msg.arg.remap.len);
      break;
    case UFFD_EVENT_REMOVE:
      // MADV_DONTNEED keeps the data in the page cache; MADV_REMOVE punches
      // it. Both send this event, before the operation runs, so nothing can
      // change yet: a resident page found punched later is detected in
      // FillMissing, and MADV_REMOVE of swapped pages goes through
      // libshm_madvise (kDiscard).
      LIBSHM_LOG_DEBUG("pid %d: REMOVE %llx-%llx", static_cast<int>(c.pid),
                       static_cast<unsigned long long>(msg.arg.remove.start),
                       static_cast<unsigned long long>(msg.arg.remove.end));
      break;
    case UFFD_EVENT_UNMAP:
      OnUnmap(c, msg.arg.remove.start, msg.arg.remove.end);
      break;
    default:
      LIBSHM_LOG_WARN("unknown uffd event %u", static_cast<unsigned>(msg.event));
  }
}

void Engine::HandleFault(Client& c, const uffd_msg& msg) {
  uint64_t t0 = MonotonicNs();
  uintptr_t addr = msg.arg.pagefault.address & ~static_cast<uintptr_t>(kPageSize - 1);
  uint64_t flags = msg.arg.pagefault.flags;
  if (c.pid == 0) LearnPid(c, static_cast<pid_t>(msg.arg.pagefault.feat.ptid));
  fault_tid_ = static_cast<pid_t>(msg.arg.pagefault.feat.ptid);
  bool done = (flags & UFFD_PAGEFAULT_FLAG_WP)
                  ? ResolveWriteProtect(c, addr)
                  : FillMissing(c, addr, (flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0);
  if (!done) {
    c.deferred_faults.push_back(msg);
    fault_requeued_ = true;
  }
  fault_latency_.Record(MonotonicNs() - t0);
}

bool Engine::FillMissing(Client& c, uintptr_t addr, bool write) {
  for (int attempt = 0; attempt < kFaultAttempts && !c.dead; attempt++) {
    Vma* v = FindVma(c, addr);
    if (v == nullptr && attempt == 0 && AdoptMapping(c, addr)) continue;
    if (v == nullptr) {
      // Unmapped since the fault was queued: wake it to take its SIGSEGV.
      // Still mapped and registered, but not ours to serve (not a region of
      // this session): SIGBUS, never a fault loop or a zero page.
      if (MappedAt(c.pid, addr) && UffdPoison(c.uffd, addr, kPageSize) == 0) {
        LIBSHM_LOG_ERROR("pid %d faulted at %lx, a registered range libshm does not know: SIGBUS",
                         static_cast<int>(c.pid), static_cast<unsigned long>(addr));
        return true;
      }
      UffdWake(c.uffd, addr, kPageSize);
      return true;
    }
    if (v->inode == nullptr) {
      // The doorbell: a forked child introduces itself (its pid came with
      // the fault's thread id). Map the zero page and let it go on.
      int rc = UffdZeropage(c.uffd, addr, kPageSize);
      if (rc == -EAGAIN) {
        if (!DrainEvents(c)) return true;
        continue;
      }
      if (rc == -EEXIST) UffdWake(c.uffd, addr, kPageSize);
      return true;
    }
    Inode& inode = *v->inode;
    uint64_t page = v->pgoff + (addr - v->start) / kPageSize;
    if (page >= inode.pages() && inode.program && FollowSize(inode) && page < inode.pages()) {
      continue;  // the object grew without telling us (no kResize): again
    }
    if (page >= inode.pages()) {
      UffdWake(c.uffd, addr, kPageSize);
      return true;
    }
    PageState state = inode.state(page);
    const void* src = zero_page_;
    if (state == PageState::kSampled) {
      if (RestoreSample(c, inode, addr, page, write) == -EAGAIN) {
        if (!DrainEvents(c)) return true;
        continue;
      }
      return true;
    }
    if (IsResident(state)) {
      // We hold it resident but this mapper saw a hole: either another
      // process filled it after this fault was raised (COPY says EEXIST),
      // or a raw MADV_REMOVE punched it (COPY succeeds: it now reads zeros).
      int rc = UffdCopy(c.uffd, addr, zero_page_, kPageSize, !write, nullptr);
      if (rc == -EAGAIN) {
        if (!DrainEvents(c)) return true;
        continue;
      }
      if (rc == -EEXIST) {
        stats_.eexist++;
        UffdWake(c.uffd, addr, kPageSize);
      } else if (rc == 0) {
        inode.set_state(page, write ? PageState::kDirty : PageState::kZero);
        stats_.zero_fills++;
      } else if (rc == -ESRCH) {
        MarkDead(c, "gone (copy)");
      }
      return true;
    }
    MakeRoom(1);
    if (c.dead) return true;
    if (state == PageState::kSwapped) {
      ssize_t r = ReadSwap(inode, page, 1);
      if (r != static_cast<ssize_t>(kPageSize)) {
        // Never serve zeros for data we cannot read. As the kernel does on a
        // swap-in I/O error, the faulting thread gets SIGBUS (it is blocked
        // in this fault, so its id is its own); the page stays swapped for a
        // later try. (UFFDIO_POISON cannot: the write-protect marker left
        // by eviction makes it answer EEXIST.)
        LIBSHM_LOG_ERROR("swap read of region %u page %llu failed (%s): SIGBUS to pid %d",
                         inode.seq(), static_cast<unsigned long long>(page),
                         r < 0 ? strerror(static_cast<int>(-r)) : "short read",
                         static_cast<int>(c.pid));
        if (c.pid > 0 && fault_tid_ > 0) {
          syscall(SYS_tgkill, c.pid, fault_tid_, SIGBUS);
        }
        return true;
      }
      src = io_buffer_.data();
    }
    // MakeRoom may have drained events: the mapping must be looked up again.
    Vma* again = FindVma(c, addr);
    if (again == nullptr || again->inode != &inode ||
        again->pgoff + (addr - again->start) / kPageSize != page) {
      continue;
    }
    static uint64_t fake_eagain = TestCount("LIBSHM_TEST_COPY_EAGAIN");
    int rc = fake_eagain > 0 ? (fake_eagain--, -EAGAIN)
                             : UffdCopy(c.uffd, addr, src, kPageSize, !write, nullptr);
    if (rc == -EAGAIN) {
      if (!DrainEvents(c)) return true;
      continue;
    }
    if (rc == -ESRCH) {
      MarkDead(c, "gone (copy)");
      return true;
    }
    if (rc == -ENOENT) return true;
    if (rc == -EEXIST) {
      // The page cache holds a page we never filled: keep it, and count it
      // dirty so that whatever it holds is written before any eviction.
      LIBSHM_LOG_WARN("inode %llu page %llu present but not filled by libshm",
                      static_cast<unsigned long long>(inode.seq()),
                      static_cast<unsigned long long>(page));
      stats_.eexist++;
      UffdWake(c.uffd, addr, kPageSize);
      write = true;
    } else if (rc != 0) {
      LIBSHM_LOG_ERROR("UFFDIO_COPY at %lx: %s", static_cast<unsigned long>(addr), strerror(-rc));
      return true;
    }
    stats_.faults++;
    inode.faults++;
    if (state == PageState::kSwapped) {
      stats_.swap_ins++;
      inode.swap_ins++;
      inode.set_state(page, write ? PageState::kDirty : PageState::kClean);
    } else {
      stats_.zero_fills++;
      inode.set_state(page, write ? PageState::kDirty : PageState::kZero);
    }
    resident_pages_++;
    peak_resident_pages_ = std::max(peak_resident_pages_, resident_pages_);
    policy_.Miss(Key(inode, page), write);
    trace_.Record('F', Region(inode), page, write ? 'w' : 'r');
    FillAhead(c, inode, addr, page, state, write);
    return true;
  }
  // Still EAGAIN (an event of another thread is in flight): the fault
  // stays pending in the kernel and is tried again on a later turn.
  return c.dead;
}

void Engine::AdoptRegrownTails(Inode& inode, uint64_t p0, uint64_t p1) {
  for (auto& [id, cp] : clients_) {
    Client& c = *cp;
    for (size_t i = 0; i < c.cut_tails.size();) {
      const CutTail& t = c.cut_tails[i];
      if (c.dead || t.seq != inode.seq() || t.ino != inode.ino() || t.p1 <= p0 || t.p0 >= p1) {
        i++;
        continue;
      }
      MapsEntry e;
      bool regrown = FindMapsEntry(c.pid, t.addr, &e) && inode.IsMappedBy(e.dev, e.ino) &&
                     e.offset + (t.addr - e.start) == t.p0 * kPageSize;
      if (!regrown) {
        i++;  // still cut: it may grow back later
        continue;
      }
      if (FindVma(c, t.addr) == nullptr) AdoptMapping(c, t.addr);
      c.cut_tails.erase(c.cut_tails.begin() + static_cast<long>(i));
    }
  }
}

ssize_t Engine::ReadSwap(Inode& inode, uint64_t page, uint64_t n) {
  // Test hook, not an option: LIBSHM_TEST_FAIL_SWAP_READ=1 fails every swap
  // read with EIO (a disk error cannot be made on demand otherwise).
  static const bool fail = secure_getenv("LIBSHM_TEST_FAIL_SWAP_READ") != nullptr;
  if (fail) return -EIO;
  return swap_.ReadPages(inode.slot(page), io_buffer_.data(), n);
}

bool Engine::AdoptMapping(Client& c, uintptr_t addr) {
  // A mapping of one of our memfds that the kernel registered on this uffd
  // without telling us: an mremap that grew a region in place (no event).
  // The kernel's own maps say which inode and offset; register the part
  // around `addr` that no known mapping covers (write-protected, like any).
  MapsEntry e;
  if (c.pid == 0 || !FindMapsEntry(c.pid, addr, &e)) return false;
  auto it = inode_by_ino_.find(e.ino);
  if (it == inode_by_ino_.end() || !it->second->IsMappedBy(e.dev, e.ino)) return false;
  uintptr_t start = e.start, end = e.end;
  for (const Vma& v : c.vmas) {
    if (v.end <= addr && v.end > start) start = v.end;
    if (v.start > addr && v.start < end) end = v.start;
  }
  uint64_t pgoff = (e.offset + (start - e.start)) / kPageSize;
  LIBSHM_LOG_DEBUG("pid %d: adopting %lx-%lx of region %u (grown without an event)",
                   static_cast<int>(c.pid), static_cast<unsigned long>(start),
                   static_cast<unsigned long>(end), it->second->seq());
  Inode& inode = *it->second;
  if (RegisterRange(c, &inode, start, end - start, pgoff) != 0) return false;
  // Until now this process could write its resident pages there unseen:
  // count them dirty, so nothing it wrote is dropped as clean.
  // (Only the pages in those states are visited: the range can be huge.)
  const unsigned mask = Inode::Mask(PageState::kZero) | Inode::Mask(PageState::kClean);
  // (Not past the object's end: a program object's mapping may reach past
  // it, fact 12, and a state past it asserted.)
  const uint64_t last = std::min(pgoff + (end - start) / kPageSize, inode.pages());
  for (uint64_t p = inode.NextIn(pgoff, last, mask); p < last;
       p = inode.NextIn(p + 1, last, mask)) {
    inode.set_state(p, PageState::kDirty);
    policy_.SetDirty(Key(inode, p), true);
  }
  return true;
}

void Engine::FillAhead(Client& c, Inode& inode, uintptr_t addr, uint64_t page, PageState state,
                       bool write) {
  bool sequential = c.seq_inode == inode.seq() && c.seq_next == page;
  c.seq_window = sequential ? std::min<uint64_t>(c.seq_window * 2, opts_.cluster) : 1;
  c.seq_inode = inode.seq();
  c.seq_next = page + 1;
  if (c.seq_window <= 1) {
    // Not a scan. A second zero fill in the same aligned cluster says the
    // program is filling the area in some other order: fill the rest of the
    // cluster now (one fault per cluster instead of one per page; measured in
    // bench/fast: random first touch 0.25x -> 1.1x of the kernel).
    if (state == PageState::kEmpty && opts_.cluster > 1 &&
        inode.CountZeroFill(page, opts_.cluster) == 2) {
      FillCluster(c, inode, addr, page, write);
    }
    return;
  }
  // Only pages in the faulting page's former state, inside this mapping.
  auto count_ahead = [&]() -> uint64_t {
    Vma* v = FindVma(c, addr);
    if (v == nullptr || v->inode != &inode) return 0;
    uint64_t vma_end = std::min(v->pgoff + (v->end - v->start) / kPageSize, inode.pages());
    uint64_t n = 0;
    while (n + 1 < c.seq_window && page + 1 + n < vma_end && inode.state(page + 1 + n) == state) {
      n++;
    }
    return n;
  };
  uint64_t n = count_ahead();
  if (n == 0) return;
  MakeRoom(n);
  // Eviction may have drained events (mappings changed) or turned more pages
  // ahead into `state`; never fill more than the room just made.
  n = std::min(n, count_ahead());
  if (n == 0 || c.dead) return;
  const void* src = zero_page_;
  if (state == PageState::kSwapped) {
    ssize_t r = ReadSwap(inode, page + 1, n);
    if (r != static_cast<ssize_t>(n * kPageSize)) return;  // optional: the faults will come
    src = io_buffer_.data();
  }
  // A write scan gets writable (dirty) pages: it is about to write them, and
  // a write-protected page would cost it a fault each. A read scan gets
  // protected (clean) pages.
  int64_t copied = 0;
  int rc = UffdCopy(c.uffd, addr + kPageSize, src, n * kPageSize, !write, &copied);
  uint64_t done = copied > 0 ? static_cast<uint64_t>(copied) / kPageSize : 0;
  if (rc == -ESRCH) MarkDead(c, "gone (fill ahead)");
  AccountFilledAhead(inode, page + 1, done, state, write);
  c.seq_next = page + 1 + done;
}

void Engine::AccountFilledAhead(Inode& inode, uint64_t first, uint64_t n, PageState from,
                                bool write) {
  for (uint64_t p = first; p < first + n; p++) {
    if (from == PageState::kSwapped) {
      stats_.swap_ins++;
      inode.swap_ins++;
      inode.set_state(p, write ? PageState::kDirty : PageState::kClean);
    } else {
      stats_.zero_fills++;
      inode.set_state(p, write ? PageState::kDirty : PageState::kZero);
    }
    policy_.Miss(Key(inode, p), write);
    trace_.Record('P', Region(inode), p, write ? 'w' : 'r');
  }
  resident_pages_ += n;
  peak_resident_pages_ = std::max(peak_resident_pages_, resident_pages_);
}

void Engine::FillCluster(Client& c, Inode& inode, uintptr_t addr, uint64_t page, bool write) {
  Vma* v = FindVma(c, addr);
  if (v == nullptr || v->inode != &inode) return;
  // A program object's mapping may reach past its end (fact 12).
  uint64_t vma_first = v->pgoff,
           vma_end = std::min(v->pgoff + (v->end - v->start) / kPageSize, inode.pages());
  if (vma_first >= vma_end) return;
  uint64_t first = std::max(page / opts_.cluster * opts_.cluster, vma_first);
  uint64_t end = std::min(first + opts_.cluster, vma_end);
  uint64_t empty = 0;
  for (uint64_t p = first; p < end; p++) empty += inode.state(p) == PageState::kEmpty;
  if (empty == 0) return;
  MakeRoom(empty);
  v = FindVma(c, addr);  // eviction may have drained events
  if (v == nullptr || v->inode != &inode || c.dead) return;
  uintptr_t base = v->start + (first - v->pgoff) * kPageSize;
  uint64_t filled = 0;
  for (uint64_t a = first; a < end && filled < empty;) {
    if (inode.state(a) != PageState::kEmpty) {
      a++;
      continue;
    }
    uint64_t b = a + 1;
    while (b < end && inode.state(b) == PageState::kEmpty) b++;
    b = std::min(b, a + (empty - filled));
    int64_t copied = 0;
    int rc = UffdCopy(c.uffd, base + (a - first) * kPageSize, zero_page_, (b - a) * kPageSize,
                      !write, &copied);
    uint64_t done = copied > 0 ? static_cast<uint64_t>(copied) / kPageSize : 0;
    AccountFilledAhead(inode, a, done, PageState::kEmpty, write);
    filled += done;
    if (rc != 0) {
      if (rc == -ESRCH) MarkDead(c, "gone (cluster fill)");
      break;  // optional work: the faults will come if it stopped early
    }
    a = b;
  }
}

bool Engine::ResolveWriteProtect(Client& c, uintptr_t addr) {
  for (int attempt = 0; attempt < kFaultAttempts && !c.dead; attempt++) {
    Vma* v = FindVma(c, addr);
    if (v == nullptr || v->inode == nullptr) {
      UffdWake(c.uffd, addr, kPageSize);
      return true;
    }
    Inode& inode = *v->inode;
    uint64_t page = v->pgoff + (addr - v->start) / kPageSize;
    if (page >= inode.pages() && !(inode.program && FollowSize(inode) && page < inode.pages())) {
      UffdWake(c.uffd, addr, kPageSize);
      return true;
    }
    PageState state = inode.state(page);
    if (state == PageState::kEmpty && inode.program) {
      // A write-protect fault needs a page: this one came through file I/O
      // (write, pwrite of the program's fd), which the helper does not see.
      // It is resident now, and written (background eviction makes room).
      inode.set_state(page, PageState::kDirty);
      resident_pages_++;
      peak_resident_pages_ = std::max(peak_resident_pages_, resident_pages_);
      policy_.Miss(Key(inode, page), true);
      trace_.Record('P', Region(inode), page, 'w');
      state = PageState::kDirty;
    }
    if (!IsResident(state)) {
      // Evicted while the writer waited: it re-faults as MISSING and is
      // served from swap (KERNEL_FACTS Q3, safe-eviction sequence).
      UffdWake(c.uffd, addr, kPageSize);
      return true;
    }
    if (state != PageState::kDirty) {
      inode.set_state(page, PageState::kDirty);
      stats_.wp_faults++;
      policy_.Reference(Key(inode, page), true);
      trace_.Record('R', Region(inode), page, 'w');
      policy_.SetDirty(Key(inode, page), true);
    }
    int rc = UffdWriteProtect(c.uffd, addr, kPageSize, false);  // also wakes the writer
    if (rc == -EAGAIN) {
      if (!DrainEvents(c)) return true;
      continue;
    }
    if (rc == -ESRCH) MarkDead(c, "gone (unprotect)");
    return true;
  }
  // Still EAGAIN (an event of another thread is in flight): the fault
  // stays pending in the kernel and is tried again on a later turn.
  return c.dead;
}

void Engine::OnFork(Client& parent, int child_uffd) {
  auto child = std::make_unique<Client>();
  child->id = next_client_id_++;
  child->uffd = child_uffd;
  child->restricted = parent.restricted;
  for (const Vma& v : parent.vmas) {
    AddVma(*child, v);
    // The kernel opens the child's attachment in the parent's context:
    // shm_atime now, shm_lpid the parent's (named_kernel_facts.md).
    if (v.inode != nullptr && v.inode->segment != nullptr) {
      v.inode->segment->atime = static_cast<int64_t>(time(nullptr));
      v.inode->segment->lpid = parent.pid;
    }
  }
  Watch(child_uffd, Source::kUffd, child->id);
  stats_.forks++;
  clients_.emplace(child->id, std::move(child));
}

namespace {

// Splits the VMA that straddles `addr`, if any, so that `addr` is a boundary.
void SplitAt(std::vector<Vma>& vmas, uintptr_t addr) {
  for (size_t i = 0; i < vmas.size(); i++) {
    Vma& v = vmas[i];
    if (v.start < addr && addr < v.end) {
      Vma tail = v;
      tail.start = addr;
      tail.pgoff = v.pgoff + (addr - v.start) / kPageSize;
      v.end = addr;
      if (tail.inode != nullptr) tail.inode->mappings++;
      vmas.insert(vmas.begin() + static_cast<long>(i) + 1, tail);
      return;
    }
  }
}

}  // namespace

void Engine::OnUnmap(Client& c, uintptr_t start, uintptr_t end) {
  SplitAt(c.vmas, start);
  SplitAt(c.vmas, end);
  auto& v = c.vmas;
  for (auto it = v.begin(); it != v.end();) {
    if (it->start >= start && it->end <= end) {
      // The tail of a mapping (mremap shrink, munmap of the end): mremap can
      // grow it back in place with no event, its pages mapped without our
      // write-protection. Remember where, so eviction can look first.
      if (it->inode != nullptr && it != v.begin() && std::prev(it)->inode == it->inode &&
          std::prev(it)->end == it->start && c.cut_tails.size() < kMaxCutTails) {
        c.cut_tails.push_back(CutTail{it->start, it->inode->seq(), it->inode->ino(), it->pgoff,
                                      it->pgoff + (it->end - it->start) / kPageSize});
      }
      if (it->inode != nullptr) it->inode->mappings--;
      collect_due_ = true;
      Inode* gone = it->inode;
      it = v.erase(it);
      NoteDetach(gone, c.pid);
    } else {
      ++it;
    }
  }
}

void Engine::OnRemap(Client& c, uintptr_t from, uintptr_t to, uint64_t len) {
  SplitAt(c.vmas, from);
  SplitAt(c.vmas, from + len);
  std::vector<Vma> moved;
  auto& v = c.vmas;
  for (auto it = v.begin(); it != v.end();) {
    if (it->start >= from && it->end <= from + len) {
      moved.push_back(*it);
      it = v.erase(it);
    } else {
      ++it;
    }
  }
  // The destination was unmapped by the kernel first (an UNMAP event came
  // for anything that was there), so the moved pieces cannot overlap.
  for (Vma m : moved) {
    m.start = m.start - from + to;
    m.end = m.end - from + to;
    auto it = std::lower_bound(v.begin(), v.end(), m.start,
                               [](const Vma& a, uintptr_t s) { return a.start < s; });
    v.insert(it, m);
  }
}

}  // namespace libshm::internal
