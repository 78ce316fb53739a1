// SPDX-License-Identifier: MIT
// FIFO: evicts pages in the order they became resident. Uses no access
// information beyond misses, so it runs live exactly as it simulates.
#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/node_list.h"

namespace libshm::internal {
namespace {

struct Node {
  Links link;
  uint64_t key = 0;
};

class Fifo {
 public:
  Fifo(size_t capacity, uint64_t) : map_(capacity), pool_(capacity) {}

  void Miss(uint64_t page, bool) {
    if (map_.Find(page) != kNoSlot) return;
    uint32_t n = pool_.Alloc();
    pool_[n].key = page;
    queue_.PushBack(pool_, n);
    map_.Put(page, n);
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && !queue_.empty()) {
      uint32_t n = queue_.Front();
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
    queue_.Unlink(pool_, n);
    pool_.Free(n);
  }

  PageMap map_;
  NodePool<Node> pool_;
  NodeList<Node> queue_;  // front = oldest
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyFifo =
    MakePolicyOps<Fifo>("fifo", "first in, first out: evicts in fault order", LIBSHM_ACCESS_MISSES,
                        /*live=*/true);

}  // namespace libshm::internal
