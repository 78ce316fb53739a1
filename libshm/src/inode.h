// SPDX-License-Identifier: MIT
// Inode: one managed region's memfd, its page-state table and its swap
// extent. The registry is keyed by inode, not by mapping: several processes
// and several mappings share one inode (DESIGN.md invariant 6). An inode is
// named inside the helper by its session number `seq` (also the region part
// of its policy keys) and on the wire only by per-connection handles.
//
// The helper never maps the memfd: it reads pages with pread, which returns
// zeros for holes without filling them (invariant 1).
//
// Not thread-safe: owned by the engine thread.
#ifndef LIBSHM_SRC_INODE_H_
#define LIBSHM_SRC_INODE_H_

#include <stdint.h>

#include <vector>

#include "log.h"
#include "page_state.h"
#include "swap_file.h"

namespace libshm::internal {

class Inode {
 public:
  // Pages of one inode and live inodes of a session are bounded so that a
  // policy key (region << kPageBits | page) is unique.
  static constexpr uint64_t kMaxPages = 1ull << kPageBits;

  Inode(uint32_t seq, uint64_t ino, int memfd, uint64_t pages, Extent extent)
      : seq_(seq), ino_(ino), memfd_(memfd), extent_(extent), states_(pages, PageState::kEmpty) {
    counts_[static_cast<int>(PageState::kEmpty)] = pages;
  }
  ~Inode();
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  uint32_t seq() const { return seq_; }
  uint64_t ino() const { return ino_; }  // the memfd's st_ino (as in /proc/PID/maps)
  int memfd() const { return memfd_; }
  uint64_t pages() const { return states_.size(); }
  const Extent& extent() const { return extent_; }
  uint64_t slot(uint64_t page) const { return extent_.base + page; }

  PageState state(uint64_t page) const { return states_[page]; }
  // Changes a page's state, checking the transition in debug builds.
  void set_state(uint64_t page, PageState to) {
    LIBSHM_ASSERT(IsLegalTransition(states_[page], to));
    counts_[static_cast<int>(states_[page])]--;
    counts_[static_cast<int>(to)]++;
    states_[page] = to;
  }

  // Punches [page, page+n) out of the memfd (eviction or discard).
  int Punch(uint64_t page, uint64_t n) const;
  // Reads [page, page+n) from the memfd into buf (zeros for holes).
  int ReadPages(uint64_t page, uint64_t n, void* buf) const;

  // Counts a zero fill in `page`'s aligned cluster of `cluster` pages and
  // returns how many that cluster has had (saturating at 255).
  int CountZeroFill(uint64_t page, uint64_t cluster) {
    uint64_t i = page / cluster;
    if (zero_fills_.size() <= i) zero_fills_.resize(pages() / cluster + 1, 0);
    if (zero_fills_[i] < 255) zero_fills_[i]++;
    return zero_fills_[i];
  }

  // Count of pages per state (for stats and checks), kept as states change.
  uint64_t CountState(PageState s) const { return counts_[static_cast<int>(s)]; }

  // How many VMAs in all clients map this inode, and how many connection
  // handles name it; the inode dies when both are 0.
  int mappings = 0;
  int holders = 0;
  // Per-region counters (shmstat).
  uint64_t faults = 0, swap_ins = 0, swap_outs = 0;

 private:
  uint32_t seq_;
  uint64_t ino_;
  int memfd_;
  Extent extent_;
  std::vector<PageState> states_;
  std::vector<uint8_t> zero_fills_;  // per cluster, for FillCluster
  uint64_t counts_[kPageStates] = {};
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_INODE_H_
