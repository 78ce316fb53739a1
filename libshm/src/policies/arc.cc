// SPDX-License-Identifier: MIT
// ARC (Megiddo & Modha, FAST 2003): two LRU lists of resident pages, T1
// (seen once recently) and T2 (seen at least twice), each with a ghost list
// of recently evicted keys, B1 and B2. A fault on a B1 ghost grows the
// target size p of T1, a fault on a B2 ghost shrinks it; eviction takes the
// LRU page of T1 while |T1| > p, else of T2.
//
// Pager-shaped: a pager picks victims before it knows which page faults next
// (it may evict in the background), so REPLACE runs without the incoming
// page. Two consequences against the paper, where REPLACE(x) follows the
// adaptation for x: p adapts one eviction later, and the paper's tie rule
// "evict from T1 when x is in B2 and |T1| = p" is not applied. The ghost
// bookkeeping of case IV gives the same lists in either order.
//
// Live: ghost hits are faults and drive p exactly; promotion T1 -> T2 and
// LRU order need references, so without hits T2 holds pages that re-faulted
// from a ghost or were reported referenced.
#include <algorithm>

#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/node_list.h"

namespace libshm::internal {
namespace {

enum class Where : uint8_t { kT1, kT2, kB1, kB2 };

struct Node {
  Links link;
  uint64_t key = 0;
  Where where = Where::kT1;
};

class Arc {
 public:
  Arc(size_t capacity, uint64_t) : c_(capacity), map_(2 * capacity), pool_(2 * capacity + 1) {}

  void Miss(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot && (pool_[n].where == Where::kT1 || pool_[n].where == Where::kT2)) return;
    if (n != kNoSlot) {
      if (pool_[n].where == Where::kB1) {
        p_ = std::min(c_, p_ + std::max<size_t>(1, b2_.size() / b1_.size()));
      } else {
        p_ -= std::min(p_, std::max<size_t>(1, b1_.size() / b2_.size()));
      }
      Move(n, Where::kT2);
      return;
    }
    // Case IV of the paper: keep |T1|+|B1| <= c and the directory <= 2c.
    if (t1_.size() + b1_.size() >= c_ && !b1_.empty()) {
      Drop(b1_.Front());
    } else if (t1_.size() + t2_.size() + b1_.size() + b2_.size() >= 2 * c_ && !b2_.empty()) {
      Drop(b2_.Front());
    }
    n = pool_.Alloc();
    pool_[n].key = page;
    pool_[n].where = Where::kT1;
    t1_.PushBack(pool_, n);
    map_.Put(page, n);
  }

  void Reference(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot && (pool_[n].where == Where::kT1 || pool_[n].where == Where::kT2)) {
      Move(n, Where::kT2);
    }
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && !(t1_.empty() && t2_.empty())) {
      bool from_t1 = !t1_.empty() && (t1_.size() > p_ || t2_.empty());
      uint32_t n = from_t1 ? t1_.Front() : t2_.Front();
      out[count++] = pool_[n].key;
      Move(n, from_t1 ? Where::kB1 : Where::kB2);
    }
    return count;
  }

  void Remove(uint64_t page) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot) Drop(n);
  }

 private:
  NodeList<Node>& ListOf(Where w) {
    switch (w) {
      case Where::kT1:
        return t1_;
      case Where::kT2:
        return t2_;
      case Where::kB1:
        return b1_;
      case Where::kB2:
        break;
    }
    return b2_;
  }

  // Moves n to the MRU end of list `to`.
  void Move(uint32_t n, Where to) {
    ListOf(pool_[n].where).Unlink(pool_, n);
    pool_[n].where = to;
    ListOf(to).PushBack(pool_, n);
  }

  void Drop(uint32_t n) {
    ListOf(pool_[n].where).Unlink(pool_, n);
    map_.Erase(pool_[n].key);
    pool_.Free(n);
  }

  const size_t c_;
  size_t p_ = 0;  // target size of T1
  PageMap map_;
  NodePool<Node> pool_;
  NodeList<Node> t1_, t2_, b1_, b2_;  // front = LRU
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyArc = MakePolicyOps<Arc>(
    "arc", "adaptive replacement cache: recency vs frequency, tuned by ghost faults",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED |
        LIBSHM_ACCESS_EVERY_HIT,
    /*live=*/true);

}  // namespace libshm::internal
