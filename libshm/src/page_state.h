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
//
// Invariant: a page that is not kDirty is write-protected in every process
// that maps it, so its first write is seen (a WP fault) before it lands.
#ifndef LIBSHM_SRC_PAGE_STATE_H_
#define LIBSHM_SRC_PAGE_STATE_H_

#include <stdint.h>

namespace libshm::internal {

enum class PageState : uint8_t { kEmpty, kZero, kClean, kDirty, kSwapped };

inline bool IsResident(PageState s) {
  return s == PageState::kZero || s == PageState::kClean || s == PageState::kDirty;
}

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
  }
  return "?";
}

// Legal transitions. Discard (MADV_REMOVE) may send any state to kEmpty; a
// page found punched behind our back (a raw MADV_REMOVE) goes from any
// resident state to kZero or kDirty.
constexpr bool kLegal[5][5] = {
    //            to: empty  zero   clean  dirty  swapped
    /* empty   */ {true, true, false, true, false},
    /* zero    */ {true, true, false, true, false},
    /* clean   */ {true, true, true, true, true},
    /* dirty   */ {true, true, true, true, true},
    /* swapped */ {true, false, true, true, true},
};

inline bool IsLegalTransition(PageState from, PageState to) {
  return kLegal[static_cast<int>(from)][static_cast<int>(to)];
}

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_PAGE_STATE_H_
