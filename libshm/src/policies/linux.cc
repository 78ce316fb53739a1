// SPDX-License-Identifier: MIT
// Linux-style two-list reclaim with refault distance, after mm/vmscan.c and
// mm/workingset.c (before MGLRU). Resident pages are on an inactive or an
// active list. A fault maps a page young onto the inactive list. Reclaim
// scans the oldest inactive page as page_check_references() does for
// mapped pages: young and already PG_referenced -> activate; young only ->
// mark PG_referenced and rotate (every mapped page starts young from its
// fault, so it takes a second access to be activated); not young -> evict.
// The inactive list is kept at least as long as the active one
// (inactive_ratio 1, memory below 1 GiB) by deactivating the oldest active
// pages, clearing their young bit; referenced or not, as for non-executable
// pages.
//
// Refault distance: every eviction and activation advances a counter;
// an evicted page leaves a shadow entry with the counter's value. When it
// faults again, the counter's advance since is how much more memory it
// would have needed to stay; if that is at most the active list, it goes
// straight to the active list. Shadows are kept for the last `capacity`
// evictions: an older one has a distance beyond any active list.
//
// Live: refault distance uses faults only and works exactly; young bits
// need references, so without sampling a page is young only from its fault
// and the inactive list degrades to FIFO with one rotation.
#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/node_list.h"

namespace libshm::internal {
namespace {

enum class Where : uint8_t { kInactive, kActive, kShadow };

struct Node {
  Links link;
  uint64_t key = 0;
  uint64_t eviction = 0;  // counter value at eviction (shadows)
  Where where = Where::kInactive;
  bool young = false;          // accessed bit of the page table entry
  bool pg_referenced = false;  // PG_referenced
};

class Linux {
 public:
  Linux(size_t capacity, uint64_t)
      : shadow_limit_(capacity), map_(2 * capacity), pool_(2 * capacity + 1) {}

  void Miss(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    bool activate = false;
    if (n != kNoSlot) {
      if (pool_[n].where != Where::kShadow) return;
      activate = age_ - pool_[n].eviction <= active_.size();
      shadows_.Unlink(pool_, n);
    } else {
      n = pool_.Alloc();
      pool_[n].key = page;
      map_.Put(page, n);
    }
    pool_[n].young = true;
    pool_[n].pg_referenced = false;
    if (activate) {
      pool_[n].where = Where::kActive;
      active_.PushBack(pool_, n);
      age_++;
    } else {
      pool_[n].where = Where::kInactive;
      inactive_.PushBack(pool_, n);
    }
  }

  void Reference(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot && pool_[n].where != Where::kShadow) pool_[n].young = true;
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && !(inactive_.empty() && active_.empty())) {
      if (!active_.empty() && inactive_.size() < active_.size()) {
        uint32_t a = active_.Front();
        active_.Unlink(pool_, a);
        pool_[a].young = false;
        pool_[a].where = Where::kInactive;
        inactive_.PushBack(pool_, a);
        continue;
      }
      uint32_t t = inactive_.Front();
      Node& node = pool_[t];
      bool was_referenced = node.pg_referenced;
      if (node.young) {
        node.young = false;
        node.pg_referenced = true;
        inactive_.Unlink(pool_, t);
        if (was_referenced) {
          node.where = Where::kActive;
          active_.PushBack(pool_, t);
          age_++;
        } else {
          inactive_.PushBack(pool_, t);
        }
        continue;
      }
      out[count++] = node.key;
      inactive_.Unlink(pool_, t);
      node.where = Where::kShadow;
      node.pg_referenced = false;
      node.eviction = age_++;
      shadows_.PushBack(pool_, t);
      if (shadows_.size() > shadow_limit_) Drop(shadows_.Front());
    }
    return count;
  }

  void Remove(uint64_t page) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot) Drop(n);
  }

 private:
  NodeList<Node>& ListOf(Where w) {
    return w == Where::kInactive ? inactive_ : w == Where::kActive ? active_ : shadows_;
  }

  void Drop(uint32_t n) {
    ListOf(pool_[n].where).Unlink(pool_, n);
    map_.Erase(pool_[n].key);
    pool_.Free(n);
  }

  const size_t shadow_limit_;
  uint64_t age_ = 0;  // nonresident_age: evictions + activations
  PageMap map_;
  NodePool<Node> pool_;
  NodeList<Node> inactive_, active_;  // front = oldest
  NodeList<Node> shadows_;            // front = oldest eviction
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyLinux = MakePolicyOps<Linux>(
    "linux", "Linux active/inactive lists with young bits and refault-distance activation",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED |
        LIBSHM_ACCESS_EVERY_HIT,
    /*live=*/true);

}  // namespace libshm::internal
