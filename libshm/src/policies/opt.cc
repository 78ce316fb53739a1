// SPDX-License-Identifier: MIT
// Belady's OPT (MIN): evicts the resident page whose next reference is
// farthest in the future. It needs the future, which only a simulator has:
// the caller reports each page's next position through `next_use` right
// before the `miss` or `reference` for that page. live = 0.
//
// Resident pages sit in a binary max-heap keyed by next use, with each
// page's heap position kept in its node so a reference re-keys it in
// O(log n). Pages never used again (UINT64_MAX) tie; which of them goes
// first does not change the miss count.
#include <cstdint>
#include <vector>

#include "policies/builtin.h"
#include "policies/make_ops.h"
#include "policies/page_map.h"

namespace libshm::internal {
namespace {

struct Entry {
  uint64_t key;
  uint64_t next_use;
  uint32_t heap_pos;
};

class Opt {
 public:
  Opt(size_t capacity, uint64_t) : map_(capacity) {
    entries_.reserve(capacity);
    heap_.reserve(capacity);
  }

  void NextUse(uint64_t page, uint64_t position) {
    uint32_t e = map_.Find(page);
    if (e == kNoSlot) {
      pending_page_ = page;
      pending_next_use_ = position;
      has_pending_ = true;
      return;
    }
    uint64_t old = entries_[e].next_use;
    entries_[e].next_use = position;
    if (position > old) {
      SiftUp(entries_[e].heap_pos);
    } else {
      SiftDown(entries_[e].heap_pos);
    }
  }

  void Miss(uint64_t page, bool) {
    if (map_.Find(page) != kNoSlot) return;
    // Without a next_use report the page is treated as never used again.
    uint64_t next = (has_pending_ && pending_page_ == page) ? pending_next_use_ : UINT64_MAX;
    has_pending_ = false;
    uint32_t e;
    if (!free_.empty()) {
      e = free_.back();
      free_.pop_back();
    } else {
      e = static_cast<uint32_t>(entries_.size());
      entries_.push_back({});
    }
    entries_[e] = {page, next, static_cast<uint32_t>(heap_.size())};
    heap_.push_back(e);
    map_.Put(page, e);
    SiftUp(entries_[e].heap_pos);
  }

  size_t ChooseVictims(uint64_t* out, size_t max) {
    size_t count = 0;
    while (count < max && !heap_.empty()) {
      uint32_t e = heap_[0];
      out[count++] = entries_[e].key;
      Drop(e);
    }
    return count;
  }

  void Remove(uint64_t page) {
    uint32_t e = map_.Find(page);
    if (e != kNoSlot) Drop(e);
  }

 private:
  void Drop(uint32_t e) {
    uint32_t pos = entries_[e].heap_pos;
    uint32_t last = heap_.back();
    heap_.pop_back();
    if (last != e) {
      heap_[pos] = last;
      entries_[last].heap_pos = pos;
      SiftUp(pos);
      SiftDown(entries_[last].heap_pos);
    }
    map_.Erase(entries_[e].key);
    free_.push_back(e);
  }

  uint64_t Key(uint32_t pos) const { return entries_[heap_[pos]].next_use; }

  void Swap(uint32_t a, uint32_t b) {
    std::swap(heap_[a], heap_[b]);
    entries_[heap_[a]].heap_pos = a;
    entries_[heap_[b]].heap_pos = b;
  }

  void SiftUp(uint32_t pos) {
    while (pos > 0) {
      uint32_t parent = (pos - 1) / 2;
      if (Key(parent) >= Key(pos)) break;
      Swap(parent, pos);
      pos = parent;
    }
  }

  void SiftDown(uint32_t pos) {
    for (;;) {
      uint32_t largest = pos;
      uint32_t l = 2 * pos + 1;
      uint32_t r = l + 1;
      if (l < heap_.size() && Key(l) > Key(largest)) largest = l;
      if (r < heap_.size() && Key(r) > Key(largest)) largest = r;
      if (largest == pos) return;
      Swap(pos, largest);
      pos = largest;
    }
  }

  PageMap map_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> heap_;  // entry indices; heap_[0] has the farthest next use
  uint64_t pending_page_ = 0;
  uint64_t pending_next_use_ = 0;
  bool has_pending_ = false;
};

}  // namespace

extern constinit const libshm_policy_ops kPolicyOpt = MakePolicyOps<Opt>(
    "opt", "Belady's MIN: evicts the page used farthest in the future (simulation only)",
    LIBSHM_ACCESS_MISSES | LIBSHM_ACCESS_EVERY_HIT | LIBSHM_ACCESS_FUTURE, /*live=*/false);

}  // namespace libshm::internal
