// SPDX-License-Identifier: MIT
// LIRS (Jiang & Zhang, SIGMETRICS 2002): ranks pages by inter-reference
// recency (IRR) instead of recency. Pages with a small IRR are LIR and stay
// resident; the rest are HIR, and only Lhirs = 1% of memory holds resident
// HIR pages, in the FIFO queue Q from which victims come. The LRU stack S
// holds LIR pages, and HIR pages (resident or not) referenced more recently
// than the oldest LIR page; S's bottom is always LIR ("stack pruning"). A
// HIR page referenced while still in S has a smaller IRR than the bottom LIR
// page, so the two swap status.
//
// Non-resident HIR entries are bounded at `nonresident` x memory (parameter,
// default 3; oldest dropped first); the paper leaves S unbounded, which a
// pager cannot afford on an unbounded address space.
//
// Live: a fault on a non-resident HIR page still in S - the signal that
// turns HIR into LIR - is a fault and is seen exactly; hits on resident
// pages, which reorder S, are seen only through write faults and samples.
#include <algorithm>

#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/node_list.h"

namespace libshm::internal {
namespace {

enum class State : uint8_t { kLir, kHirResident, kHirNonResident };

struct Node {
  Links link;   // on Q (resident HIR) or on the non-resident list
  Links stack;  // on S when in_stack
  uint64_t key = 0;
  State state = State::kLir;
  bool in_stack = false;
};

class Lirs {
 public:
  static constexpr PolicyParam kParams[] = {
      {"nonresident", 3, 0, 100, "non-resident HIR entries kept in the stack, times memory"},
  };

  Lirs(size_t capacity, uint64_t, const int64_t* params)
      : hir_size_(std::max<size_t>(1, capacity / 100)),
        lir_size_(capacity - std::min(capacity, hir_size_)),
        nonresident_limit_(static_cast<size_t>(params[0]) * capacity),
        map_(capacity + nonresident_limit_),
        pool_(capacity + nonresident_limit_ + 1) {}

  void Miss(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot) {
      if (pool_[n].state != State::kHirNonResident) return;
      // Still in S: its IRR beats the bottom LIR page's recency.
      nonresident_.Unlink(pool_, n);
      MakeLir(n);
      return;
    }
    n = pool_.Alloc();
    pool_[n].key = page;
    map_.Put(page, n);
    PushStack(n);
    if (lir_count_ < lir_size_) {
      pool_[n].state = State::kLir;
      lir_count_++;
    } else {
      pool_[n].state = State::kHirResident;
      q_.PushBack(pool_, n);
    }
  }

  void Reference(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n == kNoSlot) return;
    Node& node = pool_[n];
    if (node.state == State::kLir) {
      bool was_bottom = s_.Front() == n;
      s_.MoveToBack(pool_, n);
      if (was_bottom) Prune();
    } else if (node.state == State::kHirResident) {
      if (node.in_stack) {
        q_.Unlink(pool_, n);
        MakeLir(n);
      } else {
        PushStack(n);
        q_.MoveToBack(pool_, n);
      }
    }
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && lir_count_ + q_.size() > 0) {
      // Only after removals or at tiny sizes can every resident page be LIR.
      if (q_.empty()) DemoteBottomLir();
      uint32_t v = q_.Front();
      out[count++] = pool_[v].key;
      q_.Unlink(pool_, v);
      if (!pool_[v].in_stack) {
        Purge(v);
        continue;
      }
      pool_[v].state = State::kHirNonResident;
      nonresident_.PushBack(pool_, v);
      if (nonresident_.size() > nonresident_limit_) {
        uint32_t oldest = nonresident_.Front();
        nonresident_.Unlink(pool_, oldest);
        s_.Unlink(pool_, oldest);
        Purge(oldest);
      }
    }
    return count;
  }

  void Remove(uint64_t page) {
    uint32_t n = map_.Find(page);
    if (n == kNoSlot) return;
    Node& node = pool_[n];
    if (node.state == State::kLir) {
      lir_count_--;
    } else if (node.state == State::kHirResident) {
      q_.Unlink(pool_, n);
    } else {
      nonresident_.Unlink(pool_, n);
    }
    if (node.in_stack) s_.Unlink(pool_, n);
    Purge(n);
    Prune();
  }

 private:
  void PushStack(uint32_t n) {
    pool_[n].in_stack = true;
    s_.PushBack(pool_, n);
  }

  // pre: n is in S and on neither Q nor the non-resident list.
  void MakeLir(uint32_t n) {
    pool_[n].state = State::kLir;
    s_.MoveToBack(pool_, n);
    lir_count_++;
    while (lir_count_ > lir_size_) DemoteBottomLir();
  }

  // The lowest LIR page in S leaves S as a resident HIR page.
  // pre: lir_count_ > 0.
  void DemoteBottomLir() {
    Prune();
    uint32_t b = s_.Front();
    s_.Unlink(pool_, b);
    pool_[b].in_stack = false;
    pool_[b].state = State::kHirResident;
    lir_count_--;
    q_.PushBack(pool_, b);
    Prune();
  }

  // Removes HIR entries from the bottom of S until a LIR page is there;
  // non-resident ones are forgotten entirely.
  void Prune() {
    while (!s_.empty() && pool_[s_.Front()].state != State::kLir) {
      uint32_t b = s_.Front();
      s_.Unlink(pool_, b);
      pool_[b].in_stack = false;
      if (pool_[b].state == State::kHirNonResident) {
        nonresident_.Unlink(pool_, b);
        Purge(b);
      }
    }
  }

  void Purge(uint32_t n) {
    map_.Erase(pool_[n].key);
    pool_.Free(n);
  }

  const size_t hir_size_;
  const size_t lir_size_;
  const size_t nonresident_limit_;
  size_t lir_count_ = 0;
  PageMap map_;
  NodePool<Node> pool_;
  NodeList<Node, &Node::stack> s_;  // front = bottom (oldest)
  NodeList<Node> q_;                // resident HIR, front = next victim
  NodeList<Node> nonresident_;      // non-resident HIR in S, front = oldest
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyLirs = MakePolicyOps<Lirs>(
    "lirs", "low inter-reference recency set: LIR pages stay, 1% of memory cycles HIR pages",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED |
        LIBSHM_ACCESS_EVERY_HIT,
    /*live=*/true);

extern constinit const PolicyParams kParamsLirs = MakePolicyParams<Lirs>(&kPolicyLirs);

}  // namespace libshm::internal
