// SPDX-License-Identifier: MIT
// The managed-range table of a process (issue 10): no fixed cap on managed
// ranges, and a partial unmap splits a range without forgetting any other.
#include <gtest/gtest.h>

#include <vector>

#include "test_util.h"

namespace libshm::test {
namespace {

long ReadLong(const char* path) {
  FILE* f = fopen(path, "r");
  if (f == nullptr) return -1;
  long v = -1;
  if (fscanf(f, "%ld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

// Each managed mapping is one VMA of this process: true if `n` more fit.
bool MappingsFit(size_t n) {
  return ReadLong("/proc/sys/vm/max_map_count") >= static_cast<long>(n) + 2000;
}

// 50,000 ranges of one region: every other page of it unmapped.
TEST(Ranges, FiftyThousandRangesOfOneRegionAreAllManaged) {
  constexpr size_t kRanges = 50000, kPages = 2 * kRanges;
  if (!MappingsFit(kRanges)) GTEST_SKIP() << "vm.max_map_count is too low";
  // Nothing is evicted: this is about the range table, not eviction among
  // 50,000 VMAs (the helper walks every VMA of an inode to protect and wake).
  setenv("LIBSHM_LIMIT", "1G", 1);
  void* p = nullptr;
  ASSERT_EQ(libshm_map(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, 0, &p), 0);
  char* base = static_cast<char*>(p);
  for (size_t page = 0; page < kPages; page++) FillPage(base + page * kPage, page, 1);
  for (size_t i = 0; i < kRanges; i++) {
    ASSERT_EQ(libshm_unmap(base + (2 * i + 1) * kPage, kPage), 0) << "page " << 2 * i + 1;
  }
  EXPECT_EQ(Stat("regions"), 1u);
  for (size_t i = 0; i < kRanges; i++) {
    ASSERT_EQ(libshm_is_managed(base + 2 * i * kPage), 1) << "range " << i;
    ASSERT_EQ(libshm_is_managed(base + (2 * i + 1) * kPage), 0) << "hole " << i;
    ASSERT_TRUE(CheckPage(base + 2 * i * kPage, 2 * i, 1)) << "range " << i;
  }
  for (size_t i = 0; i < kRanges; i++) {
    ASSERT_EQ(libshm_unmap(base + 2 * i * kPage, kPage), 0) << "range " << i;
    ASSERT_EQ(libshm_is_managed(base + 2 * i * kPage), 0) << "range " << i;
  }
}

// As many ranges as the old fixed table held (4096), each of three pages; the
// middle page of every one is unmapped. Each split keeps its head and tail
// (with their data, through swap), and no other range is forgotten (the old
// table dropped the tail of a split when it was full).
TEST(Ranges, UnmapOfTheMiddleSplitsTheRangeAndForgetsNothingElse) {
  constexpr size_t kRanges = 4096, kPages = 3;
  setenv("LIBSHM_LIMIT", "4M", 1);
  std::vector<char*> ranges(kRanges);
  for (size_t i = 0; i < kRanges; i++) {
    void* p = nullptr;
    ASSERT_EQ(libshm_map(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, 0, &p), 0) << i;
    ranges[i] = static_cast<char*>(p);
    for (size_t page = 0; page < kPages; page++) FillPage(ranges[i] + page * kPage, page, i);
  }
  for (size_t i = 0; i < kRanges; i++) {
    ASSERT_EQ(libshm_unmap(ranges[i] + kPage, kPage), 0) << i;
  }
  EvictAll();
  for (size_t i = 0; i < kRanges; i++) {
    ASSERT_EQ(libshm_is_managed(ranges[i]), 1) << "head of " << i;
    ASSERT_EQ(libshm_is_managed(ranges[i] + kPage), 0) << "hole of " << i;
    ASSERT_EQ(libshm_is_managed(ranges[i] + 2 * kPage), 1) << "tail of " << i;
    ASSERT_TRUE(CheckPage(ranges[i], 0, i)) << "head of " << i;
    ASSERT_TRUE(CheckPage(ranges[i] + 2 * kPage, 2, i)) << "tail of " << i;
  }
  // Unmapping a piece forgets that piece only.
  for (size_t i = 0; i < kRanges; i += 2) ASSERT_EQ(libshm_unmap(ranges[i], kPage), 0) << i;
  for (size_t i = 0; i < kRanges; i++) {
    ASSERT_EQ(libshm_is_managed(ranges[i]), i % 2 == 0 ? 0 : 1) << "head of " << i;
    ASSERT_EQ(libshm_is_managed(ranges[i] + 2 * kPage), 1) << "tail of " << i;
  }
}

}  // namespace
}  // namespace libshm::test
