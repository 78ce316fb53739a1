// SPDX-License-Identifier: MIT
// Issue 15: pages filled without a fault of their own (a zero cluster, a
// sequential fill-ahead) stay inside the mapping that faulted. Region B is
// mapped right at the end of region A; B's page 0 is written and evicted (a
// hole in B's memfd). A fill that ran one page past A's end would land in
// B's page 0 and replace its data with zeros.
//
// Two layouts: A's mapping covers all of region A, or only its head (A's
// tail was unmapped, its pages left empty or swapped out: a fill that looks
// one page too far finds one more page in the state it fills).
#include <gtest/gtest.h>

#include "test_util.h"

namespace libshm::test {
namespace {

// A's mapping ends inside a 64-page cluster (3 x 64 + 58): a cluster bound
// one page too long is only wrong where the mapping's end is not also the
// cluster's end.
constexpr uint64_t kPagesA = 250;
static_assert(kPagesA % 64 != 0);
constexpr uint64_t kPagesB = 64;

class FillBounds : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    setenv("LIBSHM_LIMIT", "64M", 1);
    setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  }

  // Maps A and B. `tail_swapped`: A's unmapped tail (head-only layout) was
  // written before it was unmapped, so its pages are swapped out, not empty.
  void MakeLayout(bool tail_swapped) {
    bool head_only = GetParam();
    uint64_t region_a = head_only ? kPagesA + 64 : kPagesA;
    // Reserve the address range, then put A and B in it back to back.
    void* range =
        mmap(nullptr, (region_a + kPagesB) * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(range, MAP_FAILED);
    void* p;
    ASSERT_EQ(libshm_map(range, region_a * kPage, PROT_READ | PROT_WRITE, MAP_FIXED, &p), 0);
    a_ = static_cast<char*>(p);
    if (head_only && tail_swapped) {
      for (uint64_t q = kPagesA; q < region_a; q++) FillPage(a_ + q * kPage, q, 9);
    }
    if (head_only) {
      ASSERT_EQ(libshm_unmap(a_ + kPagesA * kPage, (region_a - kPagesA) * kPage), 0);
    }
    ASSERT_EQ(
        libshm_map(a_ + kPagesA * kPage, kPagesB * kPage, PROT_READ | PROT_WRITE, MAP_FIXED, &p),
        0);
    b_ = static_cast<char*>(p);
    ASSERT_EQ(b_, a_ + kPagesA * kPage) << "B must start where A's mapping ends";
    FillPage(b_, 0, 7);
    FillPage(b_ + kPage, 1, 7);
    EvictAll();
    ASSERT_EQ(Stat("resident_bytes"), 0u) << "B's pages 0 and 1 must be holes now";
  }

  void ExpectBIntact(const char* what) {
    EXPECT_TRUE(CheckPage(b_, 0, 7))
        << "B page 0 lost its data ("
        << (b_[0] == 0 && b_[100] == 0  ? "zeros"
            : CheckPage(b_, kPagesA, 9) ? "A's page " + std::to_string(kPagesA)
                                        : std::string("other data"))
        << ") after " << what << ": the fill went past A's end into B";
    EXPECT_TRUE(CheckPage(b_ + kPage, 1, 7)) << "B page 1 after " << what;
  }

  char* a_ = nullptr;
  char* b_ = nullptr;
};

// A second zero fill in A's last cluster fills the rest of that cluster,
// which A's mapping cuts short: A's last page is already filled, so a
// cluster one page too long would fill exactly B's page 0.
TEST_P(FillBounds, ClusterFillStopsAtTheMappingsEnd) {
  ASSERT_NO_FATAL_FAILURE(MakeLayout(false));
  a_[(kPagesA - 1) * kPage] = 1;  // a lone zero fill: A's last page
  a_[(kPagesA - 3) * kPage] = 2;  // a second one, same cluster, not in sequence
  EXPECT_GT(Stat("zero_fills"), 2u) << "the second fill should have filled its cluster";
  for (uint64_t p = kPagesA / 64 * 64; p < kPagesA; p++) {
    char want = p == kPagesA - 1 ? 1 : p == kPagesA - 3 ? 2 : 0;
    ASSERT_EQ(a_[p * kPage], want) << "A page " << p;
  }
  ExpectBIntact("a cluster fill in A's last cluster");
}

// A sequential write scan over A: fill-ahead fills the pages in front of
// it, up to A's last page and not one further.
TEST_P(FillBounds, FillAheadStopsAtTheMappingsEnd) {
  ASSERT_NO_FATAL_FAILURE(MakeLayout(false));
  for (uint64_t p = 0; p < kPagesA; p++) FillPage(a_ + p * kPage, p, 1);
  EXPECT_LT(Stat("faults"), kPagesA / 4) << "the scan should have been filled ahead";
  for (uint64_t p = 0; p < kPagesA; p++) ASSERT_TRUE(CheckPage(a_ + p * kPage, p, 1)) << p;
  ExpectBIntact("a sequential write scan of A");
}

// A read scan of A after A was written and evicted: swap readahead reads
// along A's extent up to A's last page; one further would bring A's page
// kPagesA (head-only layout) into B's page 0.
TEST_P(FillBounds, SwapReadaheadStopsAtTheMappingsEnd) {
  ASSERT_NO_FATAL_FAILURE(MakeLayout(true));
  for (uint64_t p = 0; p < kPagesA; p++) FillPage(a_ + p * kPage, p, 1);
  EvictAll();
  for (uint64_t p = 0; p < kPagesA; p++) ASSERT_TRUE(CheckPage(a_ + p * kPage, p, 1)) << p;
  ExpectBIntact("a sequential read of A from swap");
}

INSTANTIATE_TEST_SUITE_P(Layouts, FillBounds, ::testing::Values(false, true), [](const auto& info) {
  return info.param ? "MappingIsTheHeadOfA" : "MappingIsAllOfA";
});

}  // namespace
}  // namespace libshm::test
