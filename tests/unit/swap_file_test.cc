// SPDX-License-Identifier: MIT
#include "swap_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "uffd.h"

namespace libshm::internal {
namespace {

TEST(SwapFile, IsUnlinkedAndPrivate) {
  SwapFile f;
  ASSERT_EQ(f.Open("/var/tmp", 0, false), 0);
  struct stat st;
  ASSERT_EQ(fstat(f.fd(), &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);  // removed with the process, crash included
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(SwapFile, ReservesContiguousExtentsAndReusesReleasedOnes) {
  SwapFile f;
  ASSERT_EQ(f.Open("/var/tmp", 0, false), 0);
  Extent a, b, c;
  ASSERT_EQ(f.Reserve(10, &a), 0);
  ASSERT_EQ(f.Reserve(5, &b), 0);
  EXPECT_EQ(a.base, 0u);
  EXPECT_EQ(b.base, 10u);
  EXPECT_EQ(f.reserved_pages(), 15u);
  struct stat st;
  ASSERT_EQ(fstat(f.fd(), &st), 0);
  EXPECT_GE(st.st_blocks * 512, static_cast<long>(15 * kPageSize));  // blocks really reserved
  f.Release(a);
  EXPECT_EQ(f.reserved_pages(), 5u);
  ASSERT_EQ(f.Reserve(4, &c), 0);
  EXPECT_EQ(c.base, 0u);  // first fit in the released extent
}

TEST(SwapFile, CapMakesReservationFailWithEnomem) {
  SwapFile f;
  ASSERT_EQ(f.Open("/var/tmp", 16 * kPageSize, false), 0);
  Extent a, b;
  ASSERT_EQ(f.Reserve(12, &a), 0);
  EXPECT_EQ(f.Reserve(5, &b), -ENOMEM);
  EXPECT_EQ(f.Reserve(4, &b), 0);
  EXPECT_EQ(f.Reserve(0, &b), -EINVAL);
}

TEST(SwapFile, PagesRoundTrip) {
  SwapFile f;
  ASSERT_EQ(f.Open("/var/tmp", 0, false), 0);
  Extent e;
  ASSERT_EQ(f.Reserve(4, &e), 0);
  std::string out(2 * kPageSize, 'x'), in(2 * kPageSize, '\0');
  out[kPageSize] = 'y';
  ASSERT_EQ(f.WritePages(e.base + 1, out.data(), 2), static_cast<ssize_t>(2 * kPageSize));
  ASSERT_EQ(f.ReadPages(e.base + 1, in.data(), 2), static_cast<ssize_t>(2 * kPageSize));
  EXPECT_EQ(in, out);
  EXPECT_EQ(f.Sync(), 0);
}

TEST(SwapFile, RefusesTmpfsUnlessChosen) {
  if (access("/dev/shm", W_OK) != 0) GTEST_SKIP() << "no /dev/shm";
  SwapFile f;
  EXPECT_EQ(f.Open("/dev/shm", 0, /*dir_was_set=*/false), -EINVAL);
  SwapFile g;
  EXPECT_EQ(g.Open("/dev/shm", 0, /*dir_was_set=*/true), 0);
}

TEST(SwapFile, MissingDirectoryFails) {
  SwapFile f;
  EXPECT_EQ(f.Open("/nonexistent/libshm", 0, true), -ENOENT);
}

}  // namespace
}  // namespace libshm::internal
