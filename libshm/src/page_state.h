// SPDX-License-Identifier: MIT
// The states of one page of an inode and the legal transitions between them,
// written down once (DESIGN.md "Page states"). Debug builds check every
// transition.
//
//   kEmpty    never touched, or discarded: a hole, no swap copy (reads zeros)
//   kZero     resident, all zeros, no swap copy; write-protected in every mapper
//   kClean    resident, swap copy valid; write-protected in every mapper
//   kDirty    resident, written since its last writeback
//   kSwapped  a hole; the data is in its swap slot
//   kSampled  "soft-evicted" for reference sampling: a hole whose data the
//             helper keeps in memory (still counted resident); the next
//             access faults, which tells the policy the page is in use
//
// Invariant: a page that is not kDirty is write-protected in every process
// that maps it, so its first write is seen (a WP fault) before it lands.
#ifndef LIBSHM_SRC_PAGE_STATE_H_
#define LIBSHM_SRC_PAGE_STATE_H_

#include <stdint.h>

namespace libshm::internal {

enum class PageState : uint8_t { kEmpty, kZero, kClean, kDirty, kSwapped, kSampled };
constexpr int kPageStates = 6;

// A policy key is (region << kPageBits) | page: 36 bits of page, 28 of region.
constexpr int kPageBits = 36;
constexpr uint32_t kMaxRegions = (1u << (64 - kPageBits)) - 1;

// A set of states: a bit per state.
constexpr unsigned StateMask(PageState s) { return 1u << static_cast<int>(s); }

// In the page cache (mapped or mappable without a fault).
inline bool IsResident(PageState s) {
  return s == PageState::kZero || s == PageState::kClean || s == PageState::kDirty;
}

// Holding memory against the limit: resident, or sampled (data in the helper).
inline bool IsHeld(PageState s) { return IsResident(s) || s == PageState::kSampled; }

inline const char* PageStateName(PageState s) {
  switch (s) {
    case PageState::kEmpty:
      return "empty";
    case PageState::kZero:
      return "zero";
    case PageState::kClean:
      return "clean";
    case PageState::kDirty:
      return "dirty";
    case PageState::kSwapped:
      return "swapped";
    case PageState::kSampled:
      return "sampled";
  }
  return "?";
}

// Legal transitions. Discard (MADV_REMOVE) may send any state to kEmpty; a
// page found punched behind our back (a raw MADV_REMOVE) goes from any
// resident state to kZero or kDirty. Only resident pages are sampled; a
// sampled page comes back (its data from the helper) or is evicted.
constexpr bool kLegal[6][6] = {
    //            to: empty  zero   clean  dirty  swapped sampled
    /* empty   */ {true, true, false, true, false, false},
    /* zero    */ {true, true, false, true, false, true},
    /* clean   */ {true, true, true, true, true, true},
    /* dirty   */ {true, true, true, true, true, true},
    /* swapped */ {true, false, true, true, true, false},
    /* sampled */ {true, true, true, true, true, false},
};

inline bool IsLegalTransition(PageState from, PageState to) {
  return kLegal[static_cast<int>(from)][static_cast<int>(to)];
}

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_PAGE_STATE_H_
