// SPDX-License-Identifier: MIT
// Exact LRU: evicts the page whose last reference is oldest. In the
// simulator it sees every reference and is the textbook algorithm (its miss
// counts equal a stack-distance computation). Live it sees only misses,
// write faults on clean pages and sampled references, so it degrades to
// "least recently faulted or reported": with no sampling, FIFO with a
// refresh on the first write after each write-back.
#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/node_list.h"

namespace libshm::internal {
namespace {

struct Node {
  Links link;
  uint64_t key = 0;
};

class Lru {
 public:
  Lru(size_t capacity, uint64_t) : map_(capacity), pool_(capacity) {}

  void Miss(uint64_t page, bool) {
    if (map_.Find(page) != kNoSlot) return;
    uint32_t n = pool_.Alloc();
    pool_[n].key = page;
    list_.PushBack(pool_, n);
    map_.Put(page, n);
  }

  void Reference(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot) list_.MoveToBack(pool_, n);
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && !list_.empty()) {
      uint32_t n = list_.Front();
      out[count++] = pool_[n].key;
      Drop(n);
    }
    return count;
  }

  void Remove(uint64_t page) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot) Drop(n);
  }

 private:
  void Drop(uint32_t n) {
    map_.Erase(pool_[n].key);
    list_.Unlink(pool_, n);
    pool_.Free(n);
  }

  PageMap map_;
  NodePool<Node> pool_;
  NodeList<Node> list_;  // front = least recently used
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyLru = MakePolicyOps<Lru>(
    "lru", "exact least recently used; live it orders by last fault or reported reference",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED |
        LIBSHM_ACCESS_EVERY_HIT,
    /*live=*/true);

}  // namespace libshm::internal
