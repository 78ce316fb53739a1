// SPDX-License-Identifier: MIT
// Reference sampling by soft eviction (Engine methods; see engine.h).
//
// A userspace pager sees faults, not accesses. To learn whether a resident
// page is still in use, the helper "soft-evicts" a random resident page: it
// write-protects it everywhere if dirty, reads it into helper memory, punches
// it and wakes the mappers, exactly like an eviction but keeping the data.
// The next access anywhere faults; that fault is the reference the policy
// hears about (`reference`), and the data goes back with one UFFDIO_COPY.
// The page stays counted resident the whole time, so sampling never changes
// what the limit means. Cost: at most LIBSHM_SAMPLE_RATE extra faults a
// second (each ~10-15 us here), and a bounded number of pages held aside.
//
// Chosen over MINOR-fault sampling because it needs no agent thread in the
// clients (the helper cannot zap a client's PTEs: process_madvise refuses
// MADV_DONTNEED) and no extra registration mode.
#include <errno.h>
#include <string.h>

#include <algorithm>
#include <new>

#include "clock.h"
#include "engine.h"
#include "log.h"
#include "uffd.h"

namespace libshm::internal {

bool Engine::SamplingEnabled() const {
  // After swapoff nothing is evicted: references would inform no choice.
  return opts_.sample_rate > 0 && (policy_.ops()->access_info & LIBSHM_ACCESS_SAMPLED) != 0 &&
         !EvictionSuspended();
}

void Engine::SampleTick() {
  if (!SamplingEnabled() || inodes_.empty()) return;
  uint64_t now = MonotonicNs();
  if (resident_pages_ < low_pages_) {
    // Nothing will be evicted soon: references would inform no choice, and
    // each sample costs the program a fault (measured under pgbench with
    // shared_buffers inside the limit: ~9,000 needless faults per 35 s).
    sample_budget_ns_ = now;
    return;
  }
  if (sample_budget_ns_ != 0) {
    sample_credit_ += static_cast<double>(now - sample_budget_ns_) * 1e-9 *
                      static_cast<double>(opts_.sample_rate);
  }
  sample_budget_ns_ = now;
  // Never hold aside more than 1/64 of the limit (and at least a few pages).
  const size_t max_outstanding = std::max<size_t>(16, limit_pages_ / 64);
  sample_credit_ = std::min(sample_credit_, static_cast<double>(max_outstanding));
  for (int tries = 0; sample_credit_ >= 1 && samples_.size() < max_outstanding && tries < 256;
       tries++) {
    sample_rng_ ^= sample_rng_ << 13;
    sample_rng_ ^= sample_rng_ >> 7;
    sample_rng_ ^= sample_rng_ << 17;
    // A random region number, then the first live region from there:
    // O(log regions). (Walking the map to the n-th region was O(regions) a
    // try, 256 tries a turn: a member holding tens of thousands of regions
    // stalled every fault of the session.)
    auto it = inodes_.lower_bound(static_cast<uint32_t>(sample_rng_ % next_inode_seq_));
    if (it == inodes_.end()) it = inodes_.begin();
    Inode& inode = *it->second;
    if (inode.pages() == 0) continue;  // a program object not sized yet
    uint64_t page = (sample_rng_ >> 20) % inode.pages();
    if (!IsResident(inode.state(page)) || inode.mappings == 0 || inode.Unevictable()) continue;
    if (SamplePage(inode, page)) sample_credit_ -= 1;
  }
}

bool Engine::SamplePage(Inode& inode, uint64_t page) {
  AdoptRegrownTails(inode, page, page + 1);  // may mark it dirty
  PageState before = inode.state(page);
  if (before == PageState::kDirty && ProtectEverywhere(inode, page, page + 1) != 0) return false;
  Sample s;
  s.before = before;
  if (before != PageState::kZero) {
    s.data.reset(new (std::nothrow) char[kPageSize]);
    if (s.data == nullptr || inode.ReadPages(page, 1, s.data.get()) != 0) return false;
    // All zeros (e.g. filled ahead, never written): keep no copy, and never
    // write it to a slot, as the evictor would not.
    if (memcmp(s.data.get(), zero_page_, kPageSize) == 0) {
      s.data.reset();
      s.before = PageState::kZero;
    }
  }
  if (inode.Punch(page, 1) != 0) return false;
  WakeEverywhere(inode, page, page + 1);
  inode.set_state(page, PageState::kSampled);
  samples_[Key(inode, page)] = std::move(s);
  stats_.samples++;
  return true;
}

int Engine::RestoreSample(Client& c, Inode& inode, uintptr_t addr, uint64_t page, bool write) {
  auto it = samples_.find(Key(inode, page));
  LIBSHM_ASSERT(it != samples_.end());
  Sample& s = it->second;
  const void* src = s.data != nullptr ? s.data.get() : zero_page_;
  // A clean page read back comes protected, as any clean restore; a page
  // that was dirty comes back writable (protecting it would only cost its
  // next write a fault that changes nothing).
  bool protect = !write && s.before != PageState::kDirty;
  int rc = UffdCopy(c.uffd, addr, src, kPageSize, protect, nullptr);
  if (rc == -EAGAIN) return rc;
  if (rc == -ESRCH) MarkDead(c, "gone (sample)");
  if (rc != 0 && rc != -EEXIST) return 0;
  if (rc == -EEXIST) UffdWake(c.uffd, addr, kPageSize);
  PageState after = write ? PageState::kDirty : s.before;
  inode.set_state(page, after);
  samples_.erase(it);
  stats_.sample_hits++;
  policy_.Reference(Key(inode, page), write);
  if (write) policy_.SetDirty(Key(inode, page), true);
  trace_.Record('R', Region(inode), page, write ? 'w' : 'r');
  return 0;
}

int Engine::WriteBackSample(Inode& inode, uint64_t page) {
  auto it = samples_.find(Key(inode, page));
  if (it == samples_.end() || it->second.before != PageState::kDirty) return 0;
  if (swap_.WritePages(inode.slot(page), it->second.data.get(), 1) !=
      static_cast<ssize_t>(kPageSize)) {
    return -EIO;
  }
  it->second.before = PageState::kClean;
  stats_.swap_outs++;
  stats_.writeback_bytes += kPageSize;
  inode.swap_outs++;
  return 0;
}

void Engine::EvictSample(Inode& inode, uint64_t page) {
  auto it = samples_.find(Key(inode, page));
  LIBSHM_ASSERT(it != samples_.end());
  bool dirty = it->second.before == PageState::kDirty;
  if (WriteBackSample(inode, page) != 0) {
    policy_.Miss(Key(inode, page), dirty);  // cannot write it now: keep holding it
    return;
  }
  PageState before = it->second.before;
  inode.set_state(page, before == PageState::kZero ? PageState::kEmpty : PageState::kSwapped);
  samples_.erase(it);
  stats_.evictions++;
  stats_.clean_evictions += !dirty;
  resident_pages_--;
  trace_.Record('E', Region(inode), page, dirty ? 'd' : 'c');
}

void Engine::DropSample(Inode& inode, uint64_t page) { samples_.erase(Key(inode, page)); }

}  // namespace libshm::internal
