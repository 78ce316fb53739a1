// SPDX-License-Identifier: MIT
// SIEVE (Zhang et al., NSDI 2024): one FIFO queue with a visited bit per
// page and a hand that walks from the oldest page towards the newest,
// clearing bits, and evicts the first unvisited page; the hand stays where
// it stopped, and new pages enter at the newest end. Unlike CLOCK, a
// surviving page is not moved, so old popular pages stay behind the hand
// and new pages are judged quickly.
//
// Live: as CLOCK, a hit only sets a bit, so write faults and sampled
// references fit; without sampling only written pages survive the hand.
#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/node_list.h"

namespace libshm::internal {
namespace {

struct Node {
  Links link;
  uint64_t key = 0;
  bool visited = false;
};

class Sieve {
 public:
  Sieve(size_t capacity, uint64_t) : map_(capacity), pool_(capacity) {}

  void Miss(uint64_t page, bool) {
    if (map_.Find(page) != kNoSlot) return;
    uint32_t n = pool_.Alloc();
    pool_[n].key = page;
    queue_.PushBack(pool_, n);
    map_.Put(page, n);
  }

  void Reference(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot) pool_[n].visited = true;
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && !queue_.empty()) {
      uint32_t n = hand_ != kNoSlot ? hand_ : queue_.Front();
      while (pool_[n].visited) {
        pool_[n].visited = false;
        n = NodeList<Node>::Next(pool_, n);
        if (n == kNoSlot) n = queue_.Front();
      }
      out[count++] = pool_[n].key;
      hand_ = n;
      Drop(n);
    }
    return count;
  }

  void Remove(uint64_t page) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot) Drop(n);
  }

 private:
  // The hand, if on n, moves to n's newer neighbour (or wraps to the oldest).
  void Drop(uint32_t n) {
    if (hand_ == n) hand_ = NodeList<Node>::Next(pool_, n);
    queue_.Unlink(pool_, n);
    map_.Erase(pool_[n].key);
    pool_.Free(n);
  }

  PageMap map_;
  NodePool<Node> pool_;
  NodeList<Node> queue_;  // front = oldest
  uint32_t hand_ = kNoSlot;
};

}  // namespace

extern constinit const libshm_policy_ops kPolicySieve = MakePolicyOps<Sieve>(
    "sieve", "SIEVE: FIFO with a visited bit and a hand that does not move survivors",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED |
        LIBSHM_ACCESS_EVERY_HIT,
    /*live=*/true);

}  // namespace libshm::internal
