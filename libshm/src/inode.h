// SPDX-License-Identifier: MIT
// Inode: one managed region's memfd, its page-state table and its swap
// extent. The registry is keyed by inode (the memfd's st_ino), not by
// mapping: several processes and several mappings share one inode
// (DESIGN.md invariant 6).
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
  Inode(uint64_t id, int memfd, uint64_t pages, Extent extent)
      : id_(id), memfd_(memfd), extent_(extent), states_(pages, PageState::kEmpty) {}
  ~Inode();
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  uint64_t id() const { return id_; }
  int memfd() const { return memfd_; }
  uint64_t pages() const { return states_.size(); }
  const Extent& extent() const { return extent_; }
  uint64_t slot(uint64_t page) const { return extent_.base + page; }

  PageState state(uint64_t page) const { return states_[page]; }
  // Changes a page's state, checking the transition in debug builds.
  void set_state(uint64_t page, PageState to) {
    LIBSHM_ASSERT(IsLegalTransition(states_[page], to));
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

  // Count of pages per state (for stats and checks).
  uint64_t CountState(PageState s) const;

  // How many VMAs in all clients map this inode; the inode dies at 0 unless pinned.
  int mappings = 0;
  // Set between creation and the creator's first registration (or its death).
  bool pinned = true;
  uint64_t creator = 0;  // client id that created it
  // Per-region counters (shmstat).
  uint64_t faults = 0, swap_ins = 0, swap_outs = 0;

 private:
  uint64_t id_;
  int memfd_;
  Extent extent_;
  std::vector<PageState> states_;
  std::vector<uint8_t> zero_fills_;  // per cluster, for FillCluster
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_INODE_H_
