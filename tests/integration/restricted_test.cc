// SPDX-License-Identifier: MIT
// Restricted mode: run as an unprivileged user (CTest starts this binary under
// `setpriv --reuid=65534`), so only UFFD_USER_MODE_ONLY exists and there is no
// EVENT_FORK. libshm must still be correct, and its documented cost must be
// exactly what happens.
#include <gtest/gtest.h>
#include <sys/uio.h>

#include <string>

#include "test_util.h"

namespace libshm::test {
namespace {

class Restricted : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() == 0) GTEST_SKIP() << "run as an unprivileged user (CTest does that)";
    setenv("LIBSHM_LIMIT", "2M", 1);
  }
};

TEST_F(Restricted, ReportsRestrictedMode) {
  void* p;
  ASSERT_EQ(libshm_map(nullptr, 1 << 20, PROT_READ | PROT_WRITE, 0, &p), 0);
  char mode[32];
  size_t len = sizeof(mode);
  ASSERT_EQ(libshm_ctl("kernel.mode", mode, &len, nullptr, 0), 0);
  EXPECT_STREQ(mode, "restricted");
}

TEST_F(Restricted, ForkedChildrenReRegisterAndKeepData) {
  const size_t size = 16 << 20, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  for (size_t p = 0; p < pages; p++) FillPage(base + p * kPage, p, 1);
  int status = ForkAndWait([&] {
    for (size_t p = 0; p < pages; p++) {
      if (!CheckPage(base + p * kPage, p, 1)) return 60;
    }
    for (size_t p = 0; p < pages; p += 2) FillPage(base + p * kPage, p, 2);
    int inner = ForkAndWait([&] {  // a grandchild, too
      for (size_t p = 1; p < pages; p += 2) FillPage(base + p * kPage, p, 3);
      return 0;
    });
    return WIFEXITED(inner) && WEXITSTATUS(inner) == 0 ? 0 : 61;
  });
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EvictAll();
  for (size_t p = 0; p < pages; p++) {
    ASSERT_TRUE(CheckPage(base + p * kPage, p, p % 2 == 0 ? 2 : 3)) << p;
  }
  EXPECT_GT(Stat("swap_outs"), 0u);
}

// Issue 9 item 10: the creator exits right after fork, before its child has
// introduced itself (restricted mode has no fork event, so the helper does
// not know of the child yet). The region must not be freed under the child:
// it read 1,600 of 2,048 pages as zeros in 3 of 6 runs. Several rounds, each
// with every page swapped out before the fork.
TEST_F(Restricted, CreatorExitsRightAfterForkChildKeepsData) {
  const size_t size = 8 << 20, pages = size / kPage;
  for (int round = 0; round < 6; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    volatile uint64_t* result = SharedWord();
    pid_t creator = fork();
    ASSERT_GE(creator, 0);
    if (creator == 0) {
      void* mem;
      if (libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem) != 0) _exit(2);
      char* base = static_cast<char*>(mem);
      for (size_t p = 0; p < pages; p++) FillPage(base + p * kPage, p, 1);
      if (ChildEvictAll(3) != 0) _exit(3);
      pid_t me = getpid();
      if (fork() == 0) {
        while (getppid() == me) usleep(1000);  // the creator is gone
        uint64_t bad = 0;
        int rc = ChildCheckPages(base, 0, pages, 1, 20, &bad);
        result[1] = bad;
        result[0] = rc == 0 ? 1 : 2;
        _exit(0);
      }
      _exit(0);  // the creator leaves at once
    }
    int status;
    ASSERT_EQ(waitpid(creator, &status, 0), creator);
    ASSERT_EQ(DescribeChild(status, {{2, "map"}, {3, "evict"}}), "ok");
    for (int ms = 0; ms < 30000 && result[0] == 0; ms += 5) usleep(5000);
    ASSERT_NE(result[0], 0u) << "the child never finished";
    ASSERT_EQ(result[0], 1u) << "the child read page " << result[1] << " wrong";
  }
}

TEST_F(Restricted, KernelAccessToAnEvictedPageFailsWithEfault) {
  // The cost restricted mode states: the kernel cannot wait for a user-mode-
  // only uffd, so read(2) into an evicted page fails instead of faulting it in.
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, 1 << 20, PROT_READ | PROT_WRITE, 0, &mem), 0);
  memset(mem, 5, 1 << 20);
  EvictAll();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "abcd", 4), 4);
  errno = 0;
  EXPECT_EQ(read(fds[0], mem, 4), -1);
  EXPECT_EQ(errno, EFAULT);
  // After a user-mode touch the page is resident and the kernel may use it.
  EXPECT_EQ(static_cast<char*>(mem)[0], 5);
  static_cast<char*>(mem)[0] = 6;  // make it writable (dirty) for the kernel
  EXPECT_EQ(read(fds[0], mem, 4), 4);
  EXPECT_EQ(memcmp(mem, "abcd", 4), 0);
}

}  // namespace
}  // namespace libshm::test
