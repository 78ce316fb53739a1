// SPDX-License-Identifier: MIT
// CLOCK (second chance): pages sit on a ring with a reference bit; the hand
// clears set bits and evicts the first page whose bit is clear. A new page
// takes the slot of the last victim, i.e. just behind the hand, with its bit
// set (the access that faulted it in is a reference). Parameter
// `insert_ref=0` inserts it with the bit clear instead, as libCacheSim's
// Clock does: a page then survives one pass of the hand only if it was
// referenced again after its fault.
//
// What CLOCK really gets live: the runtime sees faults, not hits. A page's
// bit is set when it faults in (miss) and again on every `reference` the
// runtime reports - today the first write to a clean page (a write-protect
// fault) and, when sampling is on, a sampled access. Reads of a resident
// page between those events are invisible, so live CLOCK is closer to
// "FIFO with second chance for recently written pages" than to textbook CLOCK;
// in the simulator it gets every hit and is textbook CLOCK.
#include <vector>

#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/page_map.h"

namespace libshm::internal {
namespace {

struct Slot {
  uint64_t page;
  bool used;
  bool referenced;
};

class Clock {
 public:
  static constexpr PolicyParam kParams[] = {
      {"insert_ref", 1, 0, 1,
       "reference bit of a page that faults in: 1 set (the fault is a reference), 0 clear"},
  };

  Clock(size_t capacity, uint64_t, const int64_t* params)
      : insert_ref_(params[0] != 0), map_(capacity) {
    ring_.reserve(capacity);
    free_.reserve(capacity);
  }

  void Miss(uint64_t page, bool) {
    if (map_.Find(page) != kNoSlot) return;
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<uint32_t>(ring_.size());
      ring_.push_back({});
    }
    ring_[slot] = {page, true, insert_ref_};
    map_.Put(page, slot);
  }

  void Reference(uint64_t page, bool) {
    uint32_t slot = map_.Find(page);
    if (slot != kNoSlot) ring_[slot].referenced = true;
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    // Two full sweeps clear every bit, so the loop ends with a victim if any
    // page is resident.
    size_t budget = 2 * ring_.size() + 1;
    while (count < max && map_.size() != 0 && budget-- > 0) {
      if (hand_ >= ring_.size()) hand_ = 0;
      Slot& s = ring_[hand_];
      if (s.used) {
        if (s.referenced) {
          s.referenced = false;
        } else {
          out[count++] = s.page;
          Forget(static_cast<uint32_t>(hand_));
          budget = 2 * ring_.size() + 1;
        }
      }
      hand_++;
    }
    return count;
  }

  void Remove(uint64_t page) {
    uint32_t slot = map_.Find(page);
    if (slot != kNoSlot) Forget(slot);
  }

 private:
  void Forget(uint32_t slot) {
    map_.Erase(ring_[slot].page);
    ring_[slot].used = false;
    free_.push_back(slot);
  }

  const bool insert_ref_;
  std::vector<Slot> ring_;
  std::vector<uint32_t> free_;
  PageMap map_;
  size_t hand_ = 0;
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyClock = MakePolicyOps<Clock>(
    "clock", "second chance on a ring; live it sees misses and write faults only",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED |
        LIBSHM_ACCESS_EVERY_HIT,
    /*live=*/true);

extern constinit const PolicyParams kParamsClock = MakePolicyParams<Clock>(&kPolicyClock);

}  // namespace libshm::internal
