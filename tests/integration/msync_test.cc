// SPDX-License-Identifier: MIT
// msync: after MS_SYNC the range is clean (written once to the swap file) and
// evicting it writes nothing; the first write after it is tracked again.
#include <gtest/gtest.h>

#include "test_util.h"

namespace libshm::test {
namespace {

constexpr size_t kPages = 256;

class Msync : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("LIBSHM_LIMIT", "16M", 1);
    // These tests count write-protect faults exactly; a sampled page would
    // come back through a sampling fault instead.
    setenv("LIBSHM_SAMPLE_RATE", "0", 1);
    ASSERT_EQ(libshm_map(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, 0, &mem_), 0);
    base_ = static_cast<char*>(mem_);
    for (size_t p = 0; p < kPages; p++) FillPage(base_ + p * kPage, p, 1);
  }
  void* mem_ = nullptr;
  char* base_ = nullptr;
};

TEST_F(Msync, SyncedRangeIsCleanAndEvictingItWritesNothing) {
  EXPECT_EQ(Stat("dirty_bytes"), kPages * kPage);
  uint64_t outs = Stat("swap_outs");
  ASSERT_EQ(libshm_msync(mem_, kPages * kPage, MS_SYNC), 0);
  EXPECT_EQ(Stat("dirty_bytes"), 0u);
  EXPECT_EQ(Stat("swap_outs"), outs + kPages);
  uint64_t clean = Stat("clean_evictions");
  EvictAll();
  EXPECT_EQ(Stat("swap_outs"), outs + kPages) << "evicting a clean range wrote pages";
  EXPECT_EQ(Stat("clean_evictions"), clean + kPages);
  EXPECT_EQ(Stat("resident_bytes"), 0u);
  for (size_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(base_ + p * kPage, p, 1)) << p;
  EXPECT_EQ(Stat("swap_ins"), kPages);
}

TEST_F(Msync, FirstWriteAfterSyncIsTracked) {
  ASSERT_EQ(libshm_msync(mem_, kPages * kPage, MS_SYNC), 0);
  uint64_t wp = Stat("wp_faults");
  FillPage(base_ + 10 * kPage, 10, 2);
  EXPECT_EQ(Stat("wp_faults"), wp + 1);
  EXPECT_EQ(Stat("dirty_bytes"), kPage);
  uint64_t outs = Stat("swap_outs");
  EvictAll();
  EXPECT_EQ(Stat("swap_outs"), outs + 1);
  for (size_t p = 0; p < kPages; p++) {
    ASSERT_TRUE(CheckPage(base_ + p * kPage, p, p == 10 ? 2 : 1)) << p;
  }
}

TEST_F(Msync, SubRangeOnlySyncsThatRange) {
  ASSERT_EQ(libshm_msync(base_ + 16 * kPage, 16 * kPage, MS_SYNC), 0);
  EXPECT_EQ(Stat("dirty_bytes"), (kPages - 16) * kPage);
}

TEST_F(Msync, AsyncAlsoCleans) {
  ASSERT_EQ(libshm_msync(mem_, kPages * kPage, MS_ASYNC), 0);
  EXPECT_EQ(Stat("dirty_bytes"), 0u);
  ASSERT_EQ(libshm_msync(mem_, kPages * kPage, MS_INVALIDATE), 0);
}

// MS_SYNC makes what it wrote durable: one fdatasync of the swap file
// (swap_syncs counts the ones that succeeded); MS_ASYNC writes back and waits
// for no disk. Without the flush an msync'd range is lost in a crash although
// it returned 0, and nothing else in the suite can see that.
TEST_F(Msync, SyncFlushesTheSwapFileAndAsyncDoesNot) {
  uint64_t syncs = Stat("swap_syncs");
  ASSERT_EQ(libshm_msync(mem_, kPages * kPage, MS_ASYNC), 0);
  EXPECT_EQ(Stat("dirty_bytes"), 0u);
  EXPECT_EQ(Stat("swap_syncs"), syncs) << "MS_ASYNC flushed the swap file";
  for (size_t p = 0; p < kPages; p++) FillPage(base_ + p * kPage, p, 2);
  ASSERT_EQ(libshm_msync(mem_, kPages * kPage, MS_SYNC), 0);
  EXPECT_EQ(Stat("dirty_bytes"), 0u);
  EXPECT_EQ(Stat("swap_syncs"), syncs + 1)
      << "MS_SYNC returned 0 without an fdatasync of the swap file: the pages it wrote are not "
         "durable";
}

TEST_F(Msync, BadArgumentsFailLikeMsync) {
  EXPECT_EQ(libshm_msync(mem_, kPage, MS_SYNC | MS_ASYNC), -EINVAL);
  EXPECT_EQ(libshm_msync(base_ + 1, kPage, MS_SYNC), -EINVAL);
  EXPECT_EQ(libshm_msync(mem_, kPage, 0x100), -EINVAL);
  EXPECT_EQ(libshm_msync(base_, UINT64_MAX - kPage, MS_SYNC), -ENOMEM);  // wraps
  EXPECT_EQ(Stat("dirty_bytes"), kPages * kPage) << "a refused msync must not write back";
  static char not_managed[2 * kPage];
  void* unaligned_ok = reinterpret_cast<void*>(
      (reinterpret_cast<uintptr_t>(not_managed) + kPage - 1) & ~(kPage - 1));
  EXPECT_EQ(libshm_msync(unaligned_ok, kPage, MS_SYNC), -ENOMEM);
  // A range that is not all managed memory: ENOMEM, and (as msync(2) does
  // for the mapped parts of a range with a hole) the managed part is
  // written back.
  EXPECT_EQ(libshm_msync(base_, (kPages + 4) * kPage, MS_SYNC), -ENOMEM);
  EXPECT_EQ(Stat("dirty_bytes"), 0u) << "the managed part of the range was not written back";
}

}  // namespace
}  // namespace libshm::test
