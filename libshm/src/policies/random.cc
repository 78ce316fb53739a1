// SPDX-License-Identifier: MIT
// Random: evicts a uniformly chosen resident page. The baseline every other
// policy must beat; uses misses only, so it runs live exactly as it
// simulates. Deterministic for a given seed.
#include <vector>

#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/page_map.h"
#include "policies/rng.h"

namespace libshm::internal {
namespace {

class Random {
 public:
  Random(size_t capacity, uint64_t seed) : map_(capacity), rng_(seed) { pages_.reserve(capacity); }

  void Miss(uint64_t page, bool) {
    if (map_.Find(page) != kNoSlot) return;
    map_.Put(page, static_cast<uint32_t>(pages_.size()));
    pages_.push_back(page);
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && !pages_.empty()) {
      uint64_t page = pages_[rng_.Below(pages_.size())];
      out[count++] = page;
      Remove(page);
    }
    return count;
  }

  // Swap-with-last keeps `pages_` dense so a victim is one random index.
  void Remove(uint64_t page) {
    uint32_t i = map_.Find(page);
    if (i == kNoSlot) return;
    uint64_t last = pages_.back();
    pages_[i] = last;
    map_.Put(last, i);
    pages_.pop_back();
    map_.Erase(page);
  }

 private:
  PageMap map_;
  std::vector<uint64_t> pages_;
  Rng rng_;
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyRandom =
    MakePolicyOps<Random>("random", "evicts a uniformly random resident page (seeded)",
                          LIBSHM_ACCESS_MISSES, /*live=*/true);

}  // namespace libshm::internal
