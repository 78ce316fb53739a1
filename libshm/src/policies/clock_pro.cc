// SPDX-License-Identifier: MIT
// CLOCK-Pro (Jiang, Chen & Zhang, USENIX ATC 2005): LIRS's reuse-distance
// idea on a single clock. Every page - hot, resident cold, and non-resident
// cold still in its test period - sits on one circular list in clock order;
// new and promoted pages go to the list head, just behind HAND_hot. Three
// hands:
//   HAND_cold evicts unreferenced resident cold pages; a referenced cold
//     page in its test period turns hot, one out of it starts a new test
//     period; both move to the head.
//   HAND_hot demotes the first unreferenced hot page (clearing bits on the
//     way) and ends the test period of cold pages it passes, dropping the
//     non-resident ones.
//   HAND_test ends test periods to bound the non-resident pages.
// The resident-cold target m_c adapts: +1 when a cold page is re-accessed
// during its test period (hit found by HAND_cold, or a fault on a
// non-resident page), -1 when a test period ends unused. It starts at 1% of
// memory, as LIRS's HIR share, and stays in [1, m - 1]; while memory has room
// beyond m_c (warm-up) new pages start hot, as LIRS's first pages start LIR.
//
// Speed: with m_c small, most of the clock is hot, and a cold or test hand
// walking the one list would step over ~m/m_c hot pages per eviction (1.7 M
// references/s on a loop trace). So HAND_cold and HAND_test walk rings of
// their own - resident cold pages, and pages in their test period - kept in
// the main clock's order: a page joins a ring at the head (just behind
// HAND_hot), found through each ring's first member at or after HAND_hot.
// HAND_hot still walks the main list; it moves only to demote.
//
// Live: as CLOCK, a hit only sets a bit, so sampled bits and write faults
// fit; faults on non-resident pages - the reuse signal - are seen exactly.
#include <algorithm>

#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/node_list.h"

namespace libshm::internal {
namespace {

struct Node {
  Links link;  // main clock
  Links cold;  // ring of resident cold pages
  Links test;  // ring of pages in their test period
  uint64_t key = 0;
  bool hot = false;
  bool resident = true;
  bool referenced = false;
  bool in_test = false;
};

// A circular sub-ring of the main clock over the `L` links, with its own hand.
template <Links Node::*L>
class SubRing {
 public:
  bool empty() const { return size_ == 0; }
  uint32_t hand() const { return hand_; }

  // Adds n at the clock head: just before the first member at or after
  // HAND_hot, so it is the member the ring's hand reaches last.
  void AddAtHead(NodePool<Node>& pool, uint32_t n) {
    Links& l = pool[n].*L;
    if (size_++ == 0) {
      l.prev = l.next = n;
      hand_ = after_hot_ = n;
      return;
    }
    Links& a = pool[after_hot_].*L;
    l.prev = a.prev;
    l.next = after_hot_;
    (pool[a.prev].*L).next = n;
    a.prev = n;
  }

  // pre: n is a member. The hand, if on n, moves to n's successor.
  void Remove(NodePool<Node>& pool, uint32_t n) {
    Links& l = pool[n].*L;
    if (--size_ == 0) {
      hand_ = after_hot_ = kNoSlot;
      return;
    }
    if (hand_ == n) hand_ = l.next;
    if (after_hot_ == n) after_hot_ = l.next;
    (pool[l.prev].*L).next = l.next;
    (pool[l.next].*L).prev = l.prev;
  }

  // HAND_hot moved past member n, which stays a member.
  void HotHandPassed(NodePool<Node>& pool, uint32_t n) {
    if (after_hot_ == n) after_hot_ = (pool[n].*L).next;
  }

 private:
  uint32_t hand_ = kNoSlot;
  uint32_t after_hot_ = kNoSlot;
  size_t size_ = 0;
};

class ClockPro {
 public:
  ClockPro(size_t capacity, uint64_t)
      : m_(capacity),
        max_cold_(capacity > 1 ? capacity - 1 : 1),
        cold_target_(std::clamp<size_t>(capacity / 100, 1, max_cold_)),
        map_(2 * capacity),
        pool_(2 * capacity + 1) {}

  void Miss(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot && pool_[n].resident) return;
    if (n != kNoSlot) {
      // A fault inside the test period: the reuse distance is short.
      GrowColdTarget();
      test_.Remove(pool_, n);
      Unlink(n);
      nonresident_count_--;
      pool_[n] = Node{{}, {}, {}, page, /*hot=*/true, /*resident=*/true, false, false};
      InsertAtHead(n);
      hot_count_++;
      BalanceHot();
      return;
    }
    n = pool_.Alloc();
    map_.Put(page, n);
    if (hot_count_ + cold_count_ < m_ - cold_target_) {
      pool_[n] = Node{{}, {}, {}, page, /*hot=*/true, /*resident=*/true, false, false};
      InsertAtHead(n);
      hot_count_++;
      return;
    }
    pool_[n] = Node{{}, {}, {}, page, /*hot=*/false, /*resident=*/true, false, /*in_test=*/true};
    InsertAtHead(n);
    cold_.AddAtHead(pool_, n);
    test_.AddAtHead(pool_, n);
    cold_count_++;
    while (cold_count_ + nonresident_count_ > cold_target_ + m_ && nonresident_count_ > 0) {
      RunHandTest();
    }
  }

  void Reference(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot && pool_[n].resident) pool_[n].referenced = true;
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && hot_count_ + cold_count_ > 0) out[count++] = RunHandCold();
    return count;
  }

  void Remove(uint64_t page) {
    uint32_t n = map_.Find(page);
    if (n == kNoSlot) return;
    Node& node = pool_[n];
    if (!node.resident) {
      nonresident_count_--;
    } else if (node.hot) {
      hot_count_--;
    } else {
      cold_count_--;
      cold_.Remove(pool_, n);
    }
    if (node.in_test) test_.Remove(pool_, n);
    Unlink(n);
    Purge(n);
  }

 private:
  void GrowColdTarget() { cold_target_ = std::min(cold_target_ + 1, max_cold_); }
  void ShrinkColdTarget() { cold_target_ = std::max<size_t>(cold_target_ - 1, 1); }

  uint32_t Next(uint32_t n) const { return pool_[n].link.next; }

  // The head is the position HAND_hot reaches last.
  void InsertAtHead(uint32_t n) {
    Links& l = pool_[n].link;
    if (hand_hot_ == kNoSlot) {
      l.prev = l.next = n;
      hand_hot_ = n;
      return;
    }
    uint32_t after = pool_[hand_hot_].link.prev;
    l.prev = after;
    l.next = hand_hot_;
    pool_[after].link.next = n;
    pool_[hand_hot_].link.prev = n;
  }

  // Takes n off the main clock (callers take it off the sub-rings); HAND_hot,
  // if on n, moves on to its successor.
  void Unlink(uint32_t n) {
    Links& l = pool_[n].link;
    if (l.next == n) {
      hand_hot_ = kNoSlot;
      return;
    }
    if (hand_hot_ == n) hand_hot_ = l.next;
    pool_[l.prev].link.next = l.next;
    pool_[l.next].link.prev = l.prev;
  }

  void Purge(uint32_t n) {
    map_.Erase(pool_[n].key);
    pool_.Free(n);
  }

  void BalanceHot() {
    while (hot_count_ > 0 && hot_count_ > m_ - cold_target_) RunHandHot();
  }

  // Evicts one resident cold page and returns its key.
  // pre: at least one page is resident.
  uint64_t RunHandCold() {
    for (;;) {
      // Possible only below capacity (after removals): make a cold page.
      if (cold_count_ == 0) RunHandHot();
      uint32_t n = cold_.hand();
      Node& node = pool_[n];
      cold_.Remove(pool_, n);
      if (node.referenced) {
        node.referenced = false;
        if (node.in_test) {
          GrowColdTarget();
          test_.Remove(pool_, n);
          node.hot = true;
          node.in_test = false;
          cold_count_--;
          hot_count_++;
          Unlink(n);
          InsertAtHead(n);
          BalanceHot();
        } else {
          node.in_test = true;
          Unlink(n);
          InsertAtHead(n);
          cold_.AddAtHead(pool_, n);
          test_.AddAtHead(pool_, n);
        }
        continue;
      }
      uint64_t key = node.key;
      cold_count_--;
      if (node.in_test) {
        node.resident = false;
        nonresident_count_++;
        while (nonresident_count_ > m_) RunHandTest();
      } else {
        Unlink(n);
        Purge(n);
      }
      return key;
    }
  }

  // Demotes one hot page to cold. pre: hot_count_ > 0.
  void RunHandHot() {
    for (;;) {
      uint32_t n = hand_hot_;
      Node& node = pool_[n];
      if (node.hot) {
        hand_hot_ = Next(n);
        if (node.referenced) {
          node.referenced = false;
          continue;
        }
        node.hot = false;
        hot_count_--;
        cold_count_++;
        cold_.AddAtHead(pool_, n);  // now just behind HAND_hot
        return;
      }
      if (node.in_test) {
        node.in_test = false;
        test_.Remove(pool_, n);
        ShrinkColdTarget();
        if (!node.resident) {
          nonresident_count_--;
          Unlink(n);
          Purge(n);
          continue;
        }
      }
      cold_.HotHandPassed(pool_, n);
      hand_hot_ = Next(n);
    }
  }

  // Ends test periods until one non-resident page is dropped.
  // pre: nonresident_count_ > 0 (every non-resident page is in its test).
  void RunHandTest() {
    for (;;) {
      uint32_t n = test_.hand();
      Node& node = pool_[n];
      test_.Remove(pool_, n);
      node.in_test = false;
      ShrinkColdTarget();
      if (!node.resident) {
        nonresident_count_--;
        Unlink(n);
        Purge(n);
        return;
      }
    }
  }

  const size_t m_;
  const size_t max_cold_;
  size_t cold_target_;
  size_t hot_count_ = 0;
  size_t cold_count_ = 0;  // resident cold pages
  size_t nonresident_count_ = 0;
  uint32_t hand_hot_ = kNoSlot;
  PageMap map_;
  NodePool<Node> pool_;
  SubRing<&Node::cold> cold_;
  SubRing<&Node::test> test_;
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyClockPro = MakePolicyOps<ClockPro>(
    "clock-pro", "CLOCK-Pro: LIRS's reuse distance on one clock with hot, cold and test hands",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED |
        LIBSHM_ACCESS_EVERY_HIT,
    /*live=*/true);

}  // namespace libshm::internal
