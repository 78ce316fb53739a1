// SPDX-License-Identifier: MIT
// Issue 15: page i of a region lives at slot base + i of its extent, and in
// no other slot (DESIGN.md invariant 4). A slot off by one still reads back
// what it wrote as long as nothing else touches the slot next door, so these
// tests make something touch it: a neighbouring extent released (punched and
// cut from the file), and a region that fills LIBSHM_SWAP_MAX to the last slot.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include "test_util.h"

namespace libshm::test {
namespace {

constexpr uint64_t kPagesA = 384, kPagesB = 320;

// Region A's extent is followed by region B's. B is unmapped (its extent is
// released and punched, and being the last one, cut from the file); every
// page of A must still read back. A swap read past the end of the file is
// never served (the faulting thread blocks rather than see zeros), so A is
// read in a child with a deadline.
TEST(SwapSlots, ReleasingTheNextExtentLeavesEveryPageOfTheFirstIntact) {
  setenv("LIBSHM_LIMIT", "1M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  char *a, *b;
  ASSERT_EQ(
      libshm_map(nullptr, kPagesA * kPage, PROT_READ | PROT_WRITE, 0, reinterpret_cast<void**>(&a)),
      0);
  ASSERT_EQ(
      libshm_map(nullptr, kPagesB * kPage, PROT_READ | PROT_WRITE, 0, reinterpret_cast<void**>(&b)),
      0);
  ASSERT_EQ(Stat("swap_reserved_bytes"), (kPagesA + kPagesB) * kPage)
      << "A and B should hold one extent each, back to back";
  for (uint64_t p = 0; p < kPagesA; p++) FillPage(a + p * kPage, p, 1);
  for (uint64_t p = 0; p < kPagesB; p++) FillPage(b + p * kPage, p, 2);
  EvictAll();
  ASSERT_EQ(Stat("resident_bytes"), 0u);
  ASSERT_EQ(Stat("swapped_bytes"), (kPagesA + kPagesB) * kPage)
      << "every page of A and B must be in its slot";
  ASSERT_GE(Stat("swap_outs"), kPagesA + kPagesB);
  ASSERT_EQ(libshm_unmap(b, kPagesB * kPage), 0);
  ASSERT_EQ(Stat("regions"), 1u) << "B's inode should be gone with its last mapping";
  ASSERT_EQ(Stat("swap_reserved_bytes"), kPagesA * kPage) << "B's extent should be released";

  volatile uint64_t* progress = SharedWord();
  ASSERT_NE(progress, nullptr);
  int status = ForkAndWaitWithDeadline(
      [&] {
        for (uint64_t p = 0; p < kPagesA; p++) {
          *progress = p;
          if (!CheckPage(a + p * kPage, p, 1)) return 1;
        }
        *progress = kPagesA;
        return 0;
      },
      5000);
  ASSERT_NE(status, kChildTimedOut)
      << "child timed out reading A page " << *progress << " (of " << kPagesA
      << "): its swap read found nothing (a slot past the end of the file?)";
  ASSERT_TRUE(WIFEXITED(status)) << DescribeChild(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "A page " << *progress << " holds the wrong data";
  // And the parent, after the child (A is resident again: nothing blocks).
  for (uint64_t p = 0; p < kPagesA; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << p;
}

// The same, with a new region C taking B's place in the file and being
// written and evicted in turn: A's pages must not see C's slots (or the
// zeros of a slot nobody wrote).
TEST(SwapSlots, AnExtentReusedNextDoorLeavesEveryPageOfTheFirstIntact) {
  setenv("LIBSHM_LIMIT", "1M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  char *a, *b, *c;
  ASSERT_EQ(
      libshm_map(nullptr, kPagesA * kPage, PROT_READ | PROT_WRITE, 0, reinterpret_cast<void**>(&a)),
      0);
  ASSERT_EQ(
      libshm_map(nullptr, kPagesB * kPage, PROT_READ | PROT_WRITE, 0, reinterpret_cast<void**>(&b)),
      0);
  for (uint64_t p = 0; p < kPagesA; p++) FillPage(a + p * kPage, p, 1);
  for (uint64_t p = 0; p < kPagesB; p++) FillPage(b + p * kPage, p, 2);
  EvictAll();
  ASSERT_EQ(libshm_unmap(b, kPagesB * kPage), 0);
  ASSERT_EQ(
      libshm_map(nullptr, kPagesB * kPage, PROT_READ | PROT_WRITE, 0, reinterpret_cast<void**>(&c)),
      0);
  ASSERT_EQ(Stat("swap_reserved_bytes"), (kPagesA + kPagesB) * kPage);
  for (uint64_t p = 0; p < kPagesB; p++) FillPage(c + p * kPage, p, 4);
  EvictAll();
  ASSERT_EQ(Stat("swapped_bytes"), (kPagesA + kPagesB) * kPage);
  for (uint64_t p = 0; p < kPagesA; p++) {
    ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << "A page " << p << " of " << kPagesA;
  }
  for (uint64_t p = 0; p < kPagesB; p++) {
    ASSERT_TRUE(CheckPage(c + p * kPage, p, 4)) << "C page " << p << " of " << kPagesB;
  }
}

// A region that takes the whole of LIBSHM_SWAP_MAX: every page goes out and
// comes back. The helper inherits RLIMIT_FSIZE = LIBSHM_SWAP_MAX (and
// SIGXFSZ ignored), so a write past the last slot fails as it would on a
// disk that holds exactly the cap.
TEST(SwapSlots, ARegionFillingSwapMaxUsesEverySlotOnce) {
  constexpr uint64_t kPages = 512;  // 2M
  setenv("LIBSHM_LIMIT", "1M", 1);
  setenv("LIBSHM_SWAP_MAX", "2M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit fsize = {kPages * kPage, kPages * kPage};
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &fsize), 0);
  char* r;
  ASSERT_EQ(
      libshm_map(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, 0, reinterpret_cast<void**>(&r)),
      0);
  ASSERT_EQ(Stat("swap_reserved_bytes"), kPages * kPage);
  void* more = nullptr;
  EXPECT_EQ(libshm_map(nullptr, kPage, PROT_READ | PROT_WRITE, 0, &more), -ENOMEM)
      << "the cap is reached: one more page cannot be backed";
  for (uint64_t p = 0; p < kPages; p++) FillPage(r + p * kPage, p, 3);
  EvictAll();
  EXPECT_EQ(Stat("resident_bytes"), 0u)
      << "pages still resident after evict.run: their writeback failed (a slot past "
         "LIBSHM_SWAP_MAX?)";
  EXPECT_EQ(Stat("swapped_bytes"), kPages * kPage) << "every page in its slot";
  EXPECT_GE(Stat("swap_outs"), kPages);
  for (uint64_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(r + p * kPage, p, 3)) << p;
  EXPECT_GE(Stat("swap_ins"), kPages);
}

}  // namespace
}  // namespace libshm::test
