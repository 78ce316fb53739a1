// SPDX-License-Identifier: MIT
// The managed-range table of a process (issue 10): no fixed cap on managed
// ranges, and a partial unmap splits a range without forgetting any other.
// With one memfd per region in the helper, 50,000 regions also need the
// helper to raise its own RLIMIT_NOFILE.
#include <gtest/gtest.h>
#include <sys/resource.h>

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

// 50,000 one-page regions, as many as the hard RLIMIT_NOFILE lets the helper
// hold (it keeps one memfd per region and cannot go past the hard limit
// without CAP_SYS_RESOURCE). This process sets the common default soft
// limit of 1024, which the helper inherits: the helper must raise its own,
// and the client must not keep an fd per region.
TEST(Ranges, TensOfThousandsOfOnePageRegionsAreAllManaged) {
  constexpr size_t kWanted = 50000, kMinimum = 10000;
  constexpr rlim_t kHelperSpare = 1024;  // swap file, epoll, sockets, uffds
  if (!MappingsFit(kWanted)) GTEST_SKIP() << "vm.max_map_count is too low";
  struct rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < kWanted + kHelperSpare) {
    struct rlimit raised = {rl.rlim_cur, kWanted + kHelperSpare};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;  // CAP_SYS_RESOURCE
  }
  size_t regions = kWanted;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < kWanted + kHelperSpare) {
    regions = rl.rlim_max > kHelperSpare ? rl.rlim_max - kHelperSpare : 0;
  }
  if (regions < kMinimum) GTEST_SKIP() << "the hard RLIMIT_NOFILE is " << rl.rlim_max;
  if (regions < kWanted) {
    printf("the hard RLIMIT_NOFILE (%llu) allows %zu regions, not %zu\n",
           static_cast<unsigned long long>(rl.rlim_max), regions, kWanted);
  }
  rl.rlim_cur = 1024;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
  setenv("LIBSHM_LIMIT", "1G", 1);  // nothing evicted, as above

  std::vector<char*> mem(regions);
  for (size_t i = 0; i < regions; i++) {
    void* p = nullptr;
    ASSERT_EQ(libshm_map(nullptr, kPage, PROT_READ | PROT_WRITE, 0, &p), 0) << "region " << i;
    mem[i] = static_cast<char*>(p);
    FillPage(p, i, 1);
  }
  EXPECT_EQ(Stat("regions"), regions);
  for (size_t i = 0; i < regions; i++) {
    ASSERT_EQ(libshm_is_managed(mem[i]), 1) << "region " << i;
    ASSERT_TRUE(CheckPage(mem[i], i, 1)) << "region " << i;
  }
  for (size_t i = 0; i < regions; i++) {
    ASSERT_EQ(libshm_unmap(mem[i], kPage), 0) << "region " << i;
    ASSERT_EQ(libshm_is_managed(mem[i]), 0) << "region " << i;
  }
  uint64_t left = Stat("regions");
  for (int i = 0; i < 500 && left != 0; i++) {
    usleep(10000);
    left = Stat("regions");
  }
  EXPECT_EQ(left, 0u);
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
