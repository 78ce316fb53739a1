// SPDX-License-Identifier: MIT
// Eviction, writeback and msync (Engine methods; see engine.h).
//
// Safe eviction (DESIGN.md invariant 2), for a run of pages of one inode:
//   1. write-protect the run in every mapper (only needed if a page is dirty:
//      clean and zero pages are protected everywhere already);
//   2. pread the dirty pages from the memfd and write them to their slots;
//   3. punch the run out of the memfd;
//   4. wake every mapper: a writer that blocked on the protection re-faults
//      as MISSING and is served from swap.
// Nothing else runs on the engine thread in between, so no fill can race.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "clock.h"
#include "engine.h"
#include "log.h"
#include "proc_maps.h"
#include "test_hooks.h"
#include "uffd.h"

namespace libshm::internal {
namespace {

// Calls f(addr, len) for the part of [p0, p1) (inode pages) that `v` maps.
template <typename F>
void ForOverlap(const Vma& v, const Inode& inode, uint64_t p0, uint64_t p1, F f) {
  if (v.inode != &inode) return;
  uint64_t vp0 = v.pgoff, vp1 = v.pgoff + (v.end - v.start) / kPageSize;
  uint64_t a = std::max(p0, vp0), b = std::min(p1, vp1);
  if (a >= b) return;
  f(v.start + (a - vp0) * kPageSize, (b - a) * kPageSize);
}

// Test hook (test_hooks.h): LIBSHM_TEST_PAUSE_BEFORE_PUNCH_US=N makes every eviction sleep N
// microseconds (at most 10 s) between writeback and punch, so that a test can land a write in that
// window every time.
void TestPauseBeforePunch() {
  static const uint64_t us = TestPauseUs("LIBSHM_TEST_PAUSE_BEFORE_PUNCH_US");
  SleepUs(us);
}

// The end of [addr, addr + len) rounded up to a page, or false if that wraps
// around the address space (len is the client's: any value).
bool PageRangeEnd(uintptr_t addr, uint64_t len, uintptr_t* end) {
  if (len > UINTPTR_MAX - (kPageSize - 1)) return false;
  uint64_t rounded = (len + kPageSize - 1) & ~(kPageSize - 1);
  if (rounded > UINTPTR_MAX - addr) return false;
  *end = addr + rounded;
  return true;
}

}  // namespace

bool Engine::BackgroundEvictionDue() {
  // After swapoff there is nothing to evict to: never due (the loop would
  // otherwise wait 0 ms and spin a CPU while resident memory is above the
  // high watermark).
  if (EvictionSuspended()) {
    background_reclaim_ = false;
    return false;
  }
  // Hysteresis: start above the high watermark, go on down to the low one,
  // then wait for the high one again.
  if (resident_pages_ > high_pages_) background_reclaim_ = true;
  if (resident_pages_ <= low_pages_) background_reclaim_ = false;
  if (background_reclaim_ && reclaim_idle_until_ns_ != 0) {
    if (MonotonicNs() < reclaim_idle_until_ns_) return false;
    reclaim_idle_until_ns_ = 0;
  }
  return background_reclaim_;
}

void Engine::MakeRoom(uint64_t pages) {
  // After swapoff nothing can be evicted: the fault is served above the
  // limit rather than wait for room that cannot come.
  if (EvictionSuspended()) return;
  while (resident_pages_ + pages > limit_pages_) {
    if (EvictBatch(opts_.evict_batch) == 0) {
      LIBSHM_LOG_DEBUG("could not make room for %llu pages (%llu resident)",
                       static_cast<unsigned long long>(pages),
                       static_cast<unsigned long long>(resident_pages_));
      return;
    }
  }
}

size_t Engine::EvictBatch(size_t max) {
  if (EvictionSuspended()) return 0;
  // A batch whose every victim was passed by (stale, or of a kept inode: the
  // policy forgot them) evicted nothing although other pages may be
  // evictable: MakeRoom took that for "nothing left" and served a fault
  // above the limit. Name more, a bounded number of times (a page that
  // could not be evicted goes back to the policy and may be named again).
  const uint64_t rounds = resident_pages_ / std::max<size_t>(max, 1) + 2;
  for (uint64_t round = 0; round < rounds; round++) {
    size_t named = 0, passed_by = 0;
    size_t evicted = EvictOneBatch(max, &named, &passed_by);
    // Only a batch of nothing but pages passed by goes on: a page that
    // could not be evicted (its run failed) is no reason to try again now.
    if (evicted > 0 || named == 0 || passed_by < named) return evicted;
  }
  return 0;
}

size_t Engine::EvictOneBatch(size_t max, size_t* named, size_t* passed_by) {
  std::vector<libshm_page_key_t> victims(max);
  size_t n = policy_.ChooseVictims(victims.data(), max);
  *named = n;
  std::map<Inode*, std::vector<uint64_t>> by_inode;
  size_t evicted = 0;
  for (size_t i = 0; i < n; i++) {
    auto it = inodes_.find(static_cast<uint32_t>(victims[i] >> kPageBits));
    uint64_t page = victims[i] & ((1ull << kPageBits) - 1);
    if (it == inodes_.end() || page >= it->second->pages() || !IsHeld(it->second->state(page))) {
      ++*passed_by;
      continue;  // stale: the page left without the policy hearing of it
    }
    // A pinned object's or locked segment's pages stay (its choice forgot
    // them in the policy).
    if (it->second->Unevictable()) {
      ++*passed_by;
      continue;
    }
    if (it->second->state(page) == PageState::kSampled) {
      EvictSample(*it->second, page);  // already out of the page cache
      evicted++;
      continue;
    }
    by_inode[it->second.get()].push_back(page);
  }
  for (auto& [inode, pages] : by_inode) {
    std::sort(pages.begin(), pages.end());
    evicted += EvictPages(*inode, pages);
  }
  LIBSHM_LOG_DEBUG("evict batch: %zu named, %zu evicted, %llu resident", n, evicted,
                   static_cast<unsigned long long>(resident_pages_));
  return evicted;
}

size_t Engine::EvictPages(Inode& inode, std::vector<uint64_t>& pages) {
  size_t evicted = 0;
  for (size_t i = 0; i < pages.size();) {
    size_t j = i + 1;
    while (j < pages.size() && pages[j] == pages[j - 1] + 1) j++;
    uint64_t p0 = pages[i], p1 = pages[j - 1] + 1;
    AdoptRegrownTails(inode, p0, p1);  // may mark pages dirty
    uint64_t dirty = 0;
    std::vector<bool> was_dirty(p1 - p0);
    for (uint64_t p = p0; p < p1; p++) {
      was_dirty[p - p0] = inode.state(p) == PageState::kDirty;
      dirty += was_dirty[p - p0];
    }
    int rc = 0;
    if (dirty != 0) {
      rc = ProtectEverywhere(inode, p0, p1);
      if (rc == 0) rc = WriteBack(inode, p0, p1);
    }
    if (rc != 0) {
      LIBSHM_LOG_DEBUG("run %llu-%llu of inode %llu stays resident: %s",
                       static_cast<unsigned long long>(p0), static_cast<unsigned long long>(p1),
                       static_cast<unsigned long long>(inode.seq()), strerror(-rc));
      // Could not make the run safe to drop now; it stays resident.
      for (uint64_t p = p0; p < p1; p++) {
        policy_.Miss(Key(inode, p), inode.state(p) == PageState::kDirty);
      }
      i = j;
      continue;
    }
    TestPauseBeforePunch();
    rc = inode.Punch(p0, p1 - p0);
    if (rc != 0) {
      LIBSHM_LOG_ERROR(
          "punching inode %llu pages %llu-%llu: %s", static_cast<unsigned long long>(inode.seq()),
          static_cast<unsigned long long>(p0), static_cast<unsigned long long>(p1), strerror(-rc));
      for (uint64_t p = p0; p < p1; p++) policy_.Miss(Key(inode, p), false);
      i = j;
      continue;
    }
    WakeEverywhere(inode, p0, p1);
    uint64_t written = 0;
    for (uint64_t p = p0; p < p1; p++) {
      PageState s = inode.state(p);
      // WriteBack left every page of the run zero or clean; a dirty page that
      // is clean now was written, one that is zero was not.
      LIBSHM_ASSERT(s == PageState::kZero || s == PageState::kClean);
      bool wrote = was_dirty[p - p0] && s == PageState::kClean;
      written += wrote;
      inode.set_state(p, s == PageState::kZero ? PageState::kEmpty : PageState::kSwapped);
      trace_.Record('E', Region(inode), p, wrote ? 'd' : 'c');
    }
    stats_.evictions += p1 - p0;
    stats_.clean_evictions += p1 - p0 - written;
    resident_pages_ -= p1 - p0;
    evicted += p1 - p0;
    i = j;
  }
  return evicted;
}

int Engine::ProtectEverywhere(Inode& inode, uint64_t p0, uint64_t p1) {
  // EAGAIN lasts from the moment a process starts a fork, munmap, mremap or
  // madvise until its thread runs again after we read the event; give it the
  // CPU (this machine has two) rather than failing the eviction. Bounded:
  // about 10 ms in all.
  for (int attempt = 0; attempt < 200; attempt++) {
    Client* pending = nullptr;
    Client* vanished = nullptr;  // ENOENT: no registered mapping there any more
    uintptr_t vanished_at = 0;
    size_t vanished_len = 0;
    int err = 0;
    for (auto& [id, cp] : clients_) {
      Client& c = *cp;
      if (c.dead || c.uffd < 0) continue;
      for (const Vma& v : c.vmas) {
        ForOverlap(v, inode, p0, p1, [&](uintptr_t addr, size_t len) {
          if (pending != nullptr || vanished != nullptr || err != 0) return;
          int rc = UffdWriteProtect(c.uffd, addr, len, true);
          if (rc == -EAGAIN) {
            pending = &c;
          } else if (rc == -ESRCH) {
            MarkDead(c, "gone (protect)");
          } else if (rc == -ENOENT) {
            vanished = &c;
            vanished_at = addr;
            vanished_len = len;
          } else if (rc != 0) {
            err = rc;
          }
        });
        if (pending != nullptr || vanished != nullptr || err != 0 || c.dead) break;
      }
      if (pending != nullptr || vanished != nullptr || err != 0) break;
    }
    if (vanished != nullptr) {
      // The mapping went away without an UNMAP event. If the process does not
      // map the inode there any more, forget that piece and go on; if it does
      // (mapped again, unregistered), the page cannot be protected there, so
      // it must not be evicted.
      MapsEntry e;
      if (FindMapsEntry(vanished->pid, vanished_at, &e) && inode.IsMappedBy(e.dev, e.ino)) {
        LIBSHM_LOG_WARN("pid %d maps region %llu at %lx unregistered: its pages stay resident",
                        static_cast<int>(vanished->pid),
                        static_cast<unsigned long long>(inode.seq()),
                        static_cast<unsigned long>(vanished_at));
        return -ENOENT;
      }
      OnUnmap(*vanished, vanished_at, vanished_at + vanished_len);
      continue;
    }
    if (err != 0) {
      LIBSHM_LOG_ERROR("write-protect for eviction: %s", strerror(-err));
      return err;
    }
    if (pending == nullptr) return 0;
    // An event (fork, unmap, remap) is queued on that uffd: read it, which may
    // add a mapper (a fork child), then protect everywhere again.
    uint64_t before = events_handled_;
    DrainEvents(*pending);
    if (events_handled_ == before) usleep(attempt < 20 ? 0 : 50);
  }
  return -EAGAIN;
}

void Engine::WakeEverywhere(Inode& inode, uint64_t p0, uint64_t p1) {
  for (auto& [id, cp] : clients_) {
    Client& c = *cp;
    if (c.dead || c.uffd < 0) continue;
    for (const Vma& v : c.vmas) {
      ForOverlap(v, inode, p0, p1,
                 [&](uintptr_t addr, size_t len) { UffdWake(c.uffd, addr, len); });
    }
  }
}

int Engine::WriteBack(Inode& inode, uint64_t p0, uint64_t p1) {
  // A page past the inode's extent has no slot (a program object that grew
  // when no swap could be reserved: FollowSize pins it). Writing it would
  // land in another inode's slots.
  if (p1 > inode.extent().pages) return -ENOSPC;
  const uint64_t chunk = io_buffer_.size() / kPageSize;
  for (uint64_t a = p0; a < p1;) {
    if (inode.state(a) != PageState::kDirty) {
      a++;
      continue;
    }
    uint64_t b = a + 1;
    while (b < p1 && b - a < chunk && inode.state(b) == PageState::kDirty) b++;
    int rc = inode.ReadPages(a, b - a, io_buffer_.data());
    // A page that holds only zeros needs no slot: it becomes a zero page
    // (clean, no I/O). This also drops the pages a write scan's fill-ahead
    // made writable but the program never wrote.
    for (uint64_t s = a; rc == 0 && s < b;) {
      const char* page = io_buffer_.data() + (s - a) * kPageSize;
      if (memcmp(page, zero_page_, kPageSize) == 0) {
        inode.set_state(s, PageState::kZero);
        policy_.SetDirty(Key(inode, s), false);
        s++;
        continue;
      }
      uint64_t e = s + 1;
      while (e < b && memcmp(io_buffer_.data() + (e - a) * kPageSize, zero_page_, kPageSize) != 0) {
        e++;
      }
      ssize_t w = swap_.WritePages(inode.slot(s), page, e - s);
      if (w != static_cast<ssize_t>((e - s) * kPageSize)) rc = w < 0 ? static_cast<int>(w) : -EIO;
      for (uint64_t p = s; rc == 0 && p < e; p++) {
        inode.set_state(p, PageState::kClean);
        policy_.SetDirty(Key(inode, p), false);
      }
      if (rc == 0) {
        stats_.swap_outs += e - s;
        inode.swap_outs += e - s;
        stats_.writeback_bytes += (e - s) * kPageSize;
      }
      s = e;
    }
    if (rc != 0) {
      LIBSHM_LOG_ERROR("writeback of inode %llu pages %llu-%llu: %s",
                       static_cast<unsigned long long>(inode.seq()),
                       static_cast<unsigned long long>(a), static_cast<unsigned long long>(b),
                       strerror(-rc));
      return rc;
    }
    a = b;
  }
  return 0;
}

int Engine::Msync(Client& c, uintptr_t addr, size_t len, int flags) {
  if ((flags & ~(MS_ASYNC | MS_SYNC | MS_INVALIDATE)) != 0 ||
      ((flags & MS_ASYNC) && (flags & MS_SYNC)) || addr % kPageSize != 0) {
    return -EINVAL;
  }
  stats_.msyncs++;
  uintptr_t end;
  if (!PageRangeEnd(addr, len, &end)) return -ENOMEM;  // as msync(2) when it wraps
  // Like msync(2): ENOMEM if part of the range is not a managed mapping;
  // the managed parts are still written back (the shim then asks the kernel
  // about the rest, which may be a native mapping).
  uintptr_t covered = addr;
  for (const Vma& v : c.vmas) {
    if (v.end <= covered || v.inode == nullptr) continue;
    if (v.start > covered) break;
    covered = v.end;
    if (covered >= end) break;
  }
  int partial = covered < end ? -ENOMEM : 0;
  // Collect (inode, pages) first: protecting may drain events and change vmas.
  struct Segment {
    Inode* inode;
    uint64_t p0, p1;
  };
  // After swapoff there is nowhere to write to: as msync of tmpfs, nothing
  // to do (the pages stay dirty, and are written when swap is on again).
  if (EvictionSuspended()) return partial;
  std::vector<Segment> segments;
  for (const Vma& v : c.vmas) {
    if (v.inode == nullptr || v.end <= addr || v.start >= end) continue;
    uintptr_t s = std::max(v.start, addr), e = std::min(v.end, end);
    // A program object's mapping may reach past its end (fact 12).
    uint64_t p0 = v.pgoff + (s - v.start) / kPageSize;
    uint64_t p1 = std::min(v.pgoff + (e - v.start) / kPageSize, v.inode->pages());
    if (p0 < p1) segments.push_back({v.inode, p0, p1});
  }
  const unsigned sampled = Inode::Mask(PageState::kSampled), dirty = Inode::Mask(PageState::kDirty);
  for (const Segment& seg : segments) {
    for (uint64_t p = seg.inode->NextIn(seg.p0, seg.p1, sampled); p < seg.p1;
         p = seg.inode->NextIn(p + 1, seg.p1, sampled)) {
      if (WriteBackSample(*seg.inode, p) != 0) return -EIO;
    }
    for (uint64_t a = seg.inode->NextIn(seg.p0, seg.p1, dirty); a < seg.p1;
         a = seg.inode->NextIn(a, seg.p1, dirty)) {
      uint64_t b = a + 1;
      while (b < seg.p1 && seg.inode->state(b) == PageState::kDirty) b++;
      int rc = ProtectEverywhere(*seg.inode, a, b);
      if (rc == 0) rc = WriteBack(*seg.inode, a, b);
      if (rc != 0) return rc == -EAGAIN ? -EBUSY : -EIO;
      a = b;
    }
  }
  if ((flags & MS_SYNC) && !segments.empty()) {
    int rc = swap_.Sync();
    if (rc != 0) return -EIO;
  }
  return partial;
}

int Engine::Discard(Client& c, uintptr_t addr, size_t len) {
  uintptr_t end;
  if (addr % kPageSize != 0 || !PageRangeEnd(addr, len, &end)) return -EINVAL;
  for (const Vma& v : c.vmas) {
    if (v.inode == nullptr || v.end <= addr || v.start >= end) continue;
    uintptr_t s = std::max(v.start, addr), e = std::min(v.end, end);
    uint64_t p0 = v.pgoff + (s - v.start) / kPageSize, p1 = v.pgoff + (e - v.start) / kPageSize;
    int rc = v.inode->Punch(p0, p1 - p0);
    if (rc != 0) return rc;
    // A program object's mapping may reach past its end (fact 12): its page
    // states end there (a walk past them asserted, or read out of bounds).
    p1 = std::min(p1, v.inode->pages());
    // Pages of untouched chunks are empty already (and setting them would
    // allocate every chunk of a huge range).
    for (uint64_t p = v.inode->NextIn(p0, p1, Inode::kNotEmptyMask); p < p1;
         p = v.inode->NextIn(p + 1, p1, Inode::kNotEmptyMask)) {
      ForgetPage(*v.inode, p);
      v.inode->set_state(p, PageState::kEmpty);
    }
  }
  return 0;
}

void Engine::ForgetPage(Inode& inode, uint64_t page) {
  if (!IsHeld(inode.state(page))) return;
  if (inode.state(page) == PageState::kSampled) DropSample(inode, page);
  policy_.Remove(Key(inode, page));
  trace_.Record('D', Region(inode), page, '-');
  resident_pages_--;
}

}  // namespace libshm::internal
