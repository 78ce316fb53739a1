// SPDX-License-Identifier: MIT
#include "page_state.h"

#include <gtest/gtest.h>

namespace libshm::internal {
namespace {

using S = PageState;

TEST(PageState, ResidentStates) {
  EXPECT_FALSE(IsResident(S::kEmpty));
  EXPECT_TRUE(IsResident(S::kZero));
  EXPECT_TRUE(IsResident(S::kClean));
  EXPECT_TRUE(IsResident(S::kDirty));
  EXPECT_FALSE(IsResident(S::kSwapped));
}

TEST(PageState, TheDesignTransitionsAreLegal) {
  EXPECT_TRUE(IsLegalTransition(S::kEmpty, S::kZero));     // read fault
  EXPECT_TRUE(IsLegalTransition(S::kEmpty, S::kDirty));    // write fault
  EXPECT_TRUE(IsLegalTransition(S::kZero, S::kDirty));     // WP fault
  EXPECT_TRUE(IsLegalTransition(S::kZero, S::kEmpty));     // evict, no I/O
  EXPECT_TRUE(IsLegalTransition(S::kDirty, S::kClean));    // writeback
  EXPECT_TRUE(IsLegalTransition(S::kClean, S::kSwapped));  // evict, no I/O
  EXPECT_TRUE(IsLegalTransition(S::kSwapped, S::kClean));  // read swap-in
  EXPECT_TRUE(IsLegalTransition(S::kSwapped, S::kDirty));  // write swap-in
}

TEST(PageState, ImpossibleTransitionsAreIllegal) {
  // Data appears only from a slot: empty and zero pages never become clean
  // or swapped without passing through dirty (a write) first.
  EXPECT_FALSE(IsLegalTransition(S::kEmpty, S::kClean));
  EXPECT_FALSE(IsLegalTransition(S::kEmpty, S::kSwapped));
  EXPECT_FALSE(IsLegalTransition(S::kZero, S::kSwapped));
  EXPECT_FALSE(IsLegalTransition(S::kZero, S::kClean));
  EXPECT_FALSE(IsLegalTransition(S::kSwapped, S::kZero));
}

}  // namespace
}  // namespace libshm::internal
