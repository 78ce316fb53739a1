// SPDX-License-Identifier: MIT
// Inode: which /proc/<pid>/maps entries are this inode's mappings, and where
// its pages live in the swap file.
#include "inode.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace libshm::internal {
namespace {

class InodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fd = memfd_create("libshm-inode-test", MFD_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(fstat(fd, &st_), 0);
    inode_ = std::make_unique<Inode>(1, static_cast<uint64_t>(st_.st_ino), fd, kPages,
                                     Extent{kBase, kPages});
    inode_->set_dev(st_.st_dev);
  }

  static constexpr uint64_t kPages = 100;
  static constexpr uint64_t kBase = 1000;
  struct stat st_ {};
  std::unique_ptr<Inode> inode_;
};

// Inode numbers are per file system: a file elsewhere (a tmpfs in /dev/shm,
// a library on disk) can carry the memfd's number. Only the device and the
// number together name the memfd; a maps entry with the number alone must
// not be taken for a mapping of it (the helper would register and serve
// this region's pages in someone else's mapping).
TEST_F(InodeTest, AMapsEntryIsItsMappingOnlyWithTheSameDeviceAndInode) {
  EXPECT_TRUE(inode_->IsMappedBy(st_.st_dev, st_.st_ino));
  struct stat other;
  ASSERT_EQ(stat("/proc/self/exe", &other), 0);
  ASSERT_NE(other.st_dev, st_.st_dev) << "the test needs a file on another file system";
  EXPECT_FALSE(inode_->IsMappedBy(other.st_dev, st_.st_ino))
      << "an entry from another device with the same inode number was taken for the memfd";
  EXPECT_FALSE(inode_->IsMappedBy(st_.st_dev, st_.st_ino + 1));
}

// Page p of the inode lives in slot base + p of its extent, one to one: the
// first page in the extent's first slot, the last in its last.
TEST_F(InodeTest, EachPageHasItsOwnSlotInTheExtent) {
  EXPECT_EQ(inode_->slot(0), kBase);
  EXPECT_EQ(inode_->slot(kPages - 1), kBase + kPages - 1);
  EXPECT_EQ(inode_->extent().base, kBase);
  EXPECT_EQ(inode_->extent().pages, kPages);
}

// A new inode's pages are all empty: nothing is resident or swapped.
TEST_F(InodeTest, ANewInodesPagesAreEmpty) {
  EXPECT_EQ(inode_->pages(), kPages);
  for (uint64_t p = 0; p < kPages; p++) ASSERT_EQ(inode_->state(p), PageState::kEmpty) << p;
}

// Resize (a program object's ftruncate) grows with empty pages and shrinks
// only over empty ones; the counts and chunks follow.
TEST(InodeChunks, ResizeGrowsWithEmptyPagesAndShrinksTheTable) {
  int fd = memfd_create("libshm-inode-test", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  const uint64_t c = Inode::kChunkPages;
  Inode inode(1, 1, fd, 0, Extent{});
  EXPECT_EQ(inode.pages(), 0u);
  EXPECT_EQ(inode.NextIn(0, 100, Inode::kNotEmptyMask), 0u) << "clamped to no pages";
  inode.Resize(2 * c + 3);
  EXPECT_EQ(inode.pages(), 2 * c + 3);
  EXPECT_EQ(inode.CountState(PageState::kEmpty), 2 * c + 3);
  inode.set_state(2 * c + 2, PageState::kDirty);
  EXPECT_EQ(inode.AllocatedChunks(), 1u);
  EXPECT_EQ(inode.NextIn(0, inode.pages(), Inode::kHeldMask), 2 * c + 2);
  inode.set_state(2 * c + 2, PageState::kEmpty);
  EXPECT_EQ(inode.AllocatedChunks(), 0u) << "an empty chunk is freed";
  inode.set_state(5, PageState::kZero);
  inode.Resize(6);
  EXPECT_EQ(inode.pages(), 6u);
  EXPECT_EQ(inode.CountState(PageState::kEmpty), 5u);
  EXPECT_EQ(inode.CountState(PageState::kZero), 1u);
  EXPECT_EQ(inode.state(5), PageState::kZero) << "a shrink keeps the pages before the end";
  inode.Resize(c + 1);
  EXPECT_EQ(inode.state(c), PageState::kEmpty) << "regrown pages are empty";
  EXPECT_EQ(inode.CountState(PageState::kEmpty), c);
}

// NextIn finds the next page in one of the given states, across chunks and
// across blocks of empty pages, and a chunk whose pages are all empty again
// is freed.
TEST(InodeChunks, NextInFindsPagesByStateAndEmptyChunksAreFreed) {
  int fd = memfd_create("libshm-inode-test", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  const uint64_t c = Inode::kChunkPages;
  const uint64_t pages = 4 * c + 10;
  const unsigned dirty = Inode::Mask(PageState::kDirty);
  Inode inode(1, 1, fd, pages, Extent{0, pages});
  EXPECT_EQ(inode.NextIn(0, pages, Inode::kHeldMask), pages);
  inode.set_state(c + 200, PageState::kDirty);
  inode.set_state(c + 300, PageState::kDirty);
  inode.set_state(c + 300, PageState::kClean);
  inode.set_state(c + 300, PageState::kSwapped);
  inode.set_state(3 * c + 63, PageState::kZero);
  inode.set_state(4 * c + 9, PageState::kDirty);
  EXPECT_EQ(inode.NextIn(0, pages, dirty), c + 200);
  EXPECT_EQ(inode.NextIn(c + 201, pages, dirty), 4 * c + 9) << "skips a chunk with none dirty";
  EXPECT_EQ(inode.NextIn(0, pages, Inode::kHeldMask), c + 200);
  EXPECT_EQ(inode.NextIn(c + 201, pages, Inode::kHeldMask), 3 * c + 63);
  EXPECT_EQ(inode.NextIn(c + 201, pages, Inode::kNotEmptyMask), c + 300);
  EXPECT_EQ(inode.NextIn(c + 201, c + 300, Inode::kNotEmptyMask), c + 300) << "the end given";
  EXPECT_EQ(inode.NextIn(3 * c, 3 * c + 64, Inode::kHeldMask), 3 * c + 63);
  EXPECT_EQ(inode.NextIn(3 * c + 64, pages, Inode::kHeldMask), 4 * c + 9);
  EXPECT_EQ(inode.NextIn(4 * c + 10, pages + 100, Inode::kHeldMask), pages) << "clamped";
  EXPECT_EQ(inode.AllocatedChunks(), 3u);
  inode.set_state(3 * c + 63, PageState::kEmpty);
  EXPECT_EQ(inode.AllocatedChunks(), 2u) << "an empty chunk was kept";
  inode.set_state(c + 200, PageState::kEmpty);
  EXPECT_EQ(inode.AllocatedChunks(), 2u) << "a chunk with a swapped page was freed";
  inode.set_state(c + 300, PageState::kEmpty);
  EXPECT_EQ(inode.AllocatedChunks(), 1u);
  EXPECT_EQ(inode.CountState(PageState::kDirty), 1u);
  EXPECT_EQ(inode.CountState(PageState::kEmpty), pages - 1);
}

}  // namespace
}  // namespace libshm::internal
