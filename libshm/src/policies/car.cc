// SPDX-License-Identifier: MIT
// CAR, Clock with Adaptive Replacement (Bansal & Modha, FAST 2004): ARC's
// structure with its two LRU lists replaced by clocks, so a hit only sets a
// reference bit. T1 and T2 are clocks of resident pages (front = hand,
// back = just behind it), B1 and B2 LRU ghost lists, p the adaptive target
// size of T1. Follows the paper's pseudocode; its replace() does not depend
// on the incoming page, so picking victims before the fault loses nothing.
//
// Live: a hit sets a bit, which is exactly what sampled reference bits and
// write faults provide; ghost faults drive p as in simulation. With no
// sampling the bits come from faults and write faults only.
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
  bool referenced = false;
};

class Car {
 public:
  Car(size_t capacity, uint64_t) : c_(capacity), map_(2 * capacity), pool_(2 * capacity + 1) {}

  void Miss(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot && (pool_[n].where == Where::kT1 || pool_[n].where == Where::kT2)) return;
    if (n == kNoSlot) {
      // Directory replacement (lines 7-10): only pages not in B1 u B2 grow it.
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
      return;
    }
    if (pool_[n].where == Where::kB1) {
      p_ = std::min(c_, p_ + std::max<size_t>(1, b2_.size() / b1_.size()));
    } else {
      p_ -= std::min(p_, std::max<size_t>(1, b1_.size() / b2_.size()));
    }
    Move(n, Where::kT2);
    pool_[n].referenced = false;
  }

  void Reference(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot && (pool_[n].where == Where::kT1 || pool_[n].where == Where::kT2)) {
      pool_[n].referenced = true;
    }
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && !(t1_.empty() && t2_.empty())) {
      // Every pass clears a bit or evicts, so this ends within 2(|T1|+|T2|)
      // steps.
      for (;;) {
        if (!t1_.empty() && (t1_.size() >= std::max<size_t>(1, p_) || t2_.empty())) {
          uint32_t h = t1_.Front();
          if (!pool_[h].referenced) {
            out[count++] = pool_[h].key;
            Move(h, Where::kB1);
            break;
          }
          pool_[h].referenced = false;
          Move(h, Where::kT2);
        } else {
          uint32_t h = t2_.Front();
          if (!pool_[h].referenced) {
            out[count++] = pool_[h].key;
            Move(h, Where::kB2);
            break;
          }
          pool_[h].referenced = false;
          t2_.MoveToBack(pool_, h);
        }
      }
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
  NodeList<Node> t1_, t2_;  // clocks: front = hand
  NodeList<Node> b1_, b2_;  // ghosts: front = LRU
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyCar = MakePolicyOps<Car>(
    "car", "clock with adaptive replacement: ARC with clocks, a hit only sets a bit",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED |
        LIBSHM_ACCESS_EVERY_HIT,
    /*live=*/true);

}  // namespace libshm::internal
