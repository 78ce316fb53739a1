// SPDX-License-Identifier: MIT
// PageMap: page key -> 32-bit slot index, the lookup every policy does on
// every reference. Open addressing with linear probing and backward-shift
// deletion (no tombstones), so lookups stay one or two cache lines even after
// millions of insert/erase pairs; std::unordered_map allocates a node per
// entry and was the bottleneck of the first FIFO and CLOCK. The table grows
// (doubling) when it is half full; a policy sizes it at create time so that
// growth happens only if a caller exceeds the capacity it promised.
// Not thread-safe; policies are called from one thread at a time.
#ifndef LIBSHM_SRC_POLICIES_PAGE_MAP_H_
#define LIBSHM_SRC_POLICIES_PAGE_MAP_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace libshm::internal {

inline constexpr uint32_t kNoSlot = UINT32_MAX;

class PageMap {
 public:
  explicit PageMap(size_t expected_entries) { Rehash(TableSizeFor(expected_entries)); }

  // Returns the slot stored for `key`, or kNoSlot.
  uint32_t Find(uint64_t key) const {
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      const Entry& e = table_[i];
      if (e.value == kNoSlot) return kNoSlot;
      if (e.key == key) return e.value;
    }
  }

  // Stores `value` (!= kNoSlot) for `key`, replacing any previous value.
  void Put(uint64_t key, uint32_t value) {
    if (2 * (size_ + 1) > table_.size()) Rehash(2 * table_.size());
    for (size_t i = Home(key);; i = (i + 1) & mask_) {
      Entry& e = table_[i];
      if (e.value == kNoSlot) {
        e = {key, value};
        size_++;
        return;
      }
      if (e.key == key) {
        e.value = value;
        return;
      }
    }
  }

  // Removes `key` if present. Backward shift: later entries of the probe run
  // move into the hole unless they already sit at or after their home slot.
  void Erase(uint64_t key) {
    size_t i = Home(key);
    for (;; i = (i + 1) & mask_) {
      if (table_[i].value == kNoSlot) return;
      if (table_[i].key == key) break;
    }
    for (size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      if (table_[j].value == kNoSlot) break;
      size_t home = Home(table_[j].key);
      // Entry j may fill hole i only if its home is not in (i, j].
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        table_[i] = table_[j];
        i = j;
      }
    }
    table_[i].value = kNoSlot;
    size_--;
  }

  size_t size() const { return size_; }

 private:
  struct Entry {
    uint64_t key;
    uint32_t value;
  };

  static size_t TableSizeFor(size_t entries) { return std::bit_ceil(2 * entries + 16); }

  // Fibonacci hashing: the top bits of key * 2^64/phi spread dense and
  // strided keys alike.
  size_t Home(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  void Rehash(size_t table_size) {
    std::vector<Entry> old;
    old.swap(table_);
    table_.assign(table_size, Entry{0, kNoSlot});
    mask_ = table_size - 1;
    shift_ = 64 - std::countr_zero(table_size);
    size_ = 0;
    for (const Entry& e : old) {
      if (e.value != kNoSlot) Put(e.key, e.value);
    }
  }

  std::vector<Entry> table_;
  size_t mask_ = 0;
  int shift_ = 0;
  size_t size_ = 0;
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_POLICIES_PAGE_MAP_H_
