// SPDX-License-Identifier: MIT
// S3-FIFO (Yang et al., SOSP 2023): three FIFO queues. New pages enter the
// small queue S (10% of memory); pages faulting again while remembered in
// the ghost queue G go straight to the main queue M. Each page has a 2-bit
// hit counter. Evicting from S moves a page that was hit at least
// `threshold` times while in S to M (counter cleared) and evicts the others
// into G (default threshold 1: one hit; libCacheSim's default
// move-to-main-threshold is 2); evicting from M reinserts
// a page with a non-zero counter (decrementing it) and evicts the first with
// zero. S is the victim source while it holds at least its 10% share. G
// remembers as many keys as M may hold (90% of memory).
//
// Pager-shaped: one call evicts exactly the pages asked for; the paper's
// "if M is full, evictM() while moving from S" becomes the next loop
// iteration picking M once S shrank below its share.
//
// Live: the counters need hits; live they count write faults and sampled
// references, and with no sampling S3-FIFO degrades towards FIFO with a
// ghost-driven second queue (faults alone still route re-faulting pages to M).
#include <algorithm>

#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/node_list.h"

namespace libshm::internal {
namespace {

enum class Where : uint8_t { kSmall, kMain, kGhost };

struct Node {
  Links link;
  uint64_t key = 0;
  Where where = Where::kSmall;
  uint8_t freq = 0;
};

class S3Fifo {
 public:
  static constexpr PolicyParam kParams[] = {
      {"threshold", 1, 1, 3,
       "hits in the small queue that move a page to main when it leaves (counter saturates at 3)"},
  };

  S3Fifo(size_t capacity, uint64_t, const int64_t* params)
      : threshold_(static_cast<uint8_t>(params[0])),
        small_target_(std::max<size_t>(1, capacity / 10)),
        ghost_limit_(std::max<size_t>(1, capacity - capacity / 10)),
        map_(capacity + ghost_limit_),
        pool_(capacity + ghost_limit_ + 1) {}

  void Miss(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot) {
      if (pool_[n].where != Where::kGhost) return;
      ghost_.Unlink(pool_, n);
      pool_[n].where = Where::kMain;
      pool_[n].freq = 0;
      main_.PushBack(pool_, n);
      return;
    }
    n = pool_.Alloc();
    pool_[n].key = page;
    pool_[n].where = Where::kSmall;
    small_.PushBack(pool_, n);
    map_.Put(page, n);
  }

  void Reference(uint64_t page, bool) {
    uint32_t n = map_.Find(page);
    if (n != kNoSlot && pool_[n].where != Where::kGhost && pool_[n].freq < 3) pool_[n].freq++;
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && !(small_.empty() && main_.empty())) {
      if (!small_.empty() && (small_.size() >= small_target_ || main_.empty())) {
        uint32_t n = small_.Front();
        small_.Unlink(pool_, n);
        if (pool_[n].freq >= threshold_) {
          pool_[n].where = Where::kMain;
          pool_[n].freq = 0;
          main_.PushBack(pool_, n);
          continue;
        }
        out[count++] = pool_[n].key;
        pool_[n].where = Where::kGhost;
        ghost_.PushBack(pool_, n);
        if (ghost_.size() > ghost_limit_) Drop(ghost_.Front());
      } else {
        uint32_t n = main_.Front();
        if (pool_[n].freq > 0) {
          pool_[n].freq--;
          main_.MoveToBack(pool_, n);
          continue;
        }
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
    return w == Where::kSmall ? small_ : w == Where::kMain ? main_ : ghost_;
  }

  void Drop(uint32_t n) {
    ListOf(pool_[n].where).Unlink(pool_, n);
    map_.Erase(pool_[n].key);
    pool_.Free(n);
  }

  const uint8_t threshold_;
  const size_t small_target_;
  const size_t ghost_limit_;
  PageMap map_;
  NodePool<Node> pool_;
  NodeList<Node> small_, main_, ghost_;  // front = oldest
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyS3Fifo = MakePolicyOps<S3Fifo>(
    "s3-fifo", "S3-FIFO: small probationary FIFO, main FIFO with 2-bit counters, ghost FIFO",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED |
        LIBSHM_ACCESS_EVERY_HIT,
    /*live=*/true);

extern constinit const PolicyParams kParamsS3Fifo = MakePolicyParams<S3Fifo>(&kPolicyS3Fifo);

}  // namespace libshm::internal
