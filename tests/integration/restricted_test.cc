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
