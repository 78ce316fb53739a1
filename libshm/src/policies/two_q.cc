// SPDX-License-Identifier: MIT
// 2Q (Johnson & Shasha, VLDB 1994, the "full" version): a first fault puts
// a page on A1in, a FIFO of at most Kin = 25% of memory; pages pushed out of
// A1in are remembered (keys only) on the ghost FIFO A1out, Kout = 50% of
// memory. A page that faults again while on A1out has shown reuse at a
// distance longer than A1in and goes to Am, an LRU list. Eviction takes the
// oldest of A1in while A1in is over Kin, else the LRU page of Am.
//
// Live: the promotion A1out -> Am is driven by faults alone, which a pager
// sees exactly; only the LRU order inside Am needs hits, so without them Am
// is ordered by promotion and reported references.
#include <algorithm>

#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/node_list.h"

namespace libshm::internal {
namespace {

enum class Where : uint8_t { kA1in, kAm, kA1out };

struct Node {
  Links link;
  uint64_t key = 0;
  Where where = Where::kA1in;
};

class TwoQ {
 public:
  TwoQ(size_t capacity, uint64_t)
      : kin_(std::max<size_t>(1, capacity / 4)),
        kout_(std::max<size_t>(1, capacity / 2)),
        map_(capacity + kout_),
        pool_(capacity + kout_ + 1) {}

  void Miss(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot) {
      if (pool_[n].where != Where::kA1out) return;
      a1out_.Unlink(pool_, n);
      pool_[n].where = Where::kAm;
      am_.PushBack(pool_, n);
      return;
    }
    n = pool_.Alloc();
    pool_[n].key = page;
    pool_[n].where = Where::kA1in;
    a1in_.PushBack(pool_, n);
    map_.Put(page, n);
  }

  void Reference(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot && pool_[n].where == Where::kAm) am_.MoveToBack(pool_, n);
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && !(a1in_.empty() && am_.empty())) {
      if (a1in_.size() > kin_ || am_.empty()) {
        uint32_t n = a1in_.Front();
        out[count++] = pool_[n].key;
        a1in_.Unlink(pool_, n);
        pool_[n].where = Where::kA1out;
        a1out_.PushBack(pool_, n);
        if (a1out_.size() > kout_) Drop(a1out_.Front());
      } else {
        uint32_t n = am_.Front();
        out[count++] = pool_[n].key;
        Drop(n);
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
    return w == Where::kA1in ? a1in_ : w == Where::kAm ? am_ : a1out_;
  }

  void Drop(uint32_t n) {
    ListOf(pool_[n].where).Unlink(pool_, n);
    map_.Erase(pool_[n].key);
    pool_.Free(n);
  }

  const size_t kin_;
  const size_t kout_;
  PageMap map_;
  NodePool<Node> pool_;
  NodeList<Node> a1in_;   // resident, FIFO
  NodeList<Node> am_;     // resident, LRU (front = least recent)
  NodeList<Node> a1out_;  // ghosts, FIFO
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyTwoQ = MakePolicyOps<TwoQ>(
    "2q", "2Q: FIFO probation, ghost FIFO, LRU main; promotion needs only faults",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED |
        LIBSHM_ACCESS_EVERY_HIT,
    /*live=*/true);

}  // namespace libshm::internal
