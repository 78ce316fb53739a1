// SPDX-License-Identifier: MIT
// Failure paths: kill -9 of one client during eviction; the helper killed
// (clients never read zeros where data was); swap that cannot be reserved.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace libshm::test {
namespace {

constexpr size_t kLimit = 4 << 20;

TEST(Failure, KillNineOfOneClientDuringEvictionLeavesOthersIntact) {
  setenv("LIBSHM_LIMIT", "4M", 1);
  const size_t size = 8 * kLimit, pages = size / kPage;
  constexpr int kWorkers = 3;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  std::vector<pid_t> kids;
  for (int k = 0; k < kWorkers; k++) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (uint64_t v = 1; v <= 3; v++) {
        for (size_t p = k; p < pages; p += kWorkers) FillPage(base + p * kPage, p, v);
        for (size_t p = k; p < pages; p += kWorkers) {
          if (!CheckPage(base + p * kPage, p, v)) _exit(50 + static_cast<int>(v));
        }
      }
      if (k == 0) pause();  // the victim keeps its mappings until killed
      _exit(0);
    }
    kids.push_back(pid);
  }
  usleep(200 * 1000);  // let eviction get going
  SignalProcess(kids[0], SIGKILL);
  int status;
  ASSERT_EQ(waitpid(kids[0], &status, 0), kids[0]);
  ASSERT_TRUE(WIFSIGNALED(status));
  for (int k = 1; k < kWorkers; k++) {
    ASSERT_EQ(waitpid(kids[k], &status, 0), kids[k]);
    ASSERT_TRUE(WIFEXITED(status)) << "worker " << k << " killed by " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0) << "worker " << k;
  }
  EvictAll();
  for (size_t p = 0; p < pages; p++) {
    if (p % kWorkers == 0) continue;  // the victim's pages may hold any of its versions
    ASSERT_TRUE(CheckPage(base + p * kPage, p, 3)) << p;
  }
  for (int i = 0; i < 200 && Stat("clients") != 1; i++) usleep(10000);
  EXPECT_EQ(Stat("clients"), 1u) << "the killed client was not reaped";
}

TEST(Failure, HelperKilledClientNeverReadsZeros) {
  setenv("LIBSHM_LIMIT", "4M", 1);
  int to_parent[2], to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  const size_t size = 4 * kLimit, pages = size / kPage;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    void* mem;
    if (libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem) != 0) _exit(2);
    char* base = static_cast<char*>(mem);
    for (size_t p = 0; p < pages; p++) FillPage(base + p * kPage, p, 9);
    uint64_t zero = 0, helper = 0;
    size_t len = sizeof(helper);
    if (libshm_ctl("evict.run", nullptr, nullptr, &zero, sizeof(zero)) != 0) _exit(3);
    if (libshm_ctl("session.helper_pid", &helper, &len, nullptr, 0) != 0) _exit(4);
    pid_t h = static_cast<pid_t>(helper);
    if (write(to_parent[1], &h, sizeof(h)) != sizeof(h)) _exit(5);
    char go;
    if (read(to_child[0], &go, 1) != 1) _exit(6);
    // The helper is dead: every evicted page must block or kill us, never
    // come back as zeros.
    for (size_t p = 0; p < pages; p++) {
      if (base[p * kPage] == 0 && base[p * kPage + 1] == 0 && !CheckPage(base + p * kPage, p, 9)) {
        _exit(7);  // read zeros where data was
      }
    }
    _exit(8);  // read everything back without a helper: impossible
  }
  pid_t helper = 0;
  ASSERT_EQ(read(to_parent[0], &helper, sizeof(helper)), static_cast<ssize_t>(sizeof(helper)));
  ASSERT_GT(helper, 0);
  ASSERT_EQ(SignalProcess(helper, SIGKILL), 0);
  usleep(100 * 1000);
  ASSERT_EQ(write(to_child[1], "g", 1), 1);
  int status = 0;
  pid_t r = 0;
  for (int i = 0; i < 100 && r == 0; i++) {
    r = waitpid(child, &status, WNOHANG);
    if (r == 0) usleep(50 * 1000);
  }
  if (r == 0) {
    // Blocked in a fault: acceptable (no zeros), but do not leave it behind.
    SignalProcess(child, SIGKILL);
    ASSERT_EQ(waitpid(child, &status, 0), child);
    SUCCEED() << "client blocked";
    return;
  }
  ASSERT_FALSE(WIFEXITED(status)) << "client exited with " << WEXITSTATUS(status)
                                  << " (7: read zeros, 8: read evicted data without helper)";
  EXPECT_EQ(WTERMSIG(status), SIGKILL) << "expected the watchdog's loud SIGKILL";
}

TEST(Failure, SwapThatCannotBeReservedFailsAtMapTimeWithEnomem) {
  setenv("LIBSHM_LIMIT", "4M", 1);
  setenv("LIBSHM_SWAP_MAX", "8M", 1);
  void* a = nullptr;
  void* b = nullptr;
  EXPECT_EQ(libshm_map(nullptr, 16 << 20, PROT_READ | PROT_WRITE, 0, &a), -ENOMEM);
  ASSERT_EQ(libshm_map(nullptr, 6 << 20, PROT_READ | PROT_WRITE, 0, &a), 0);
  EXPECT_EQ(libshm_map(nullptr, 4 << 20, PROT_READ | PROT_WRITE, 0, &b), -ENOMEM);
  EXPECT_EQ(Stat("regions"), 1u) << "a failed map left an inode behind";
  // Unmapping gives the extent back.
  ASSERT_EQ(libshm_unmap(a, 6 << 20), 0);
  for (int i = 0; i < 100 && Stat("regions") != 0; i++) usleep(10000);
  EXPECT_EQ(libshm_map(nullptr, 8 << 20, PROT_READ | PROT_WRITE, 0, &b), 0);
}

TEST(Failure, FullSwapFileSystemFailsAtMapTimeWithEnomem) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small file system";
  char dir[] = "/tmp/libshm-small-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  if (mount("libshm-test", dir, "tmpfs", 0, "size=2m") != 0) {
    rmdir(dir);
    GTEST_SKIP() << "cannot mount tmpfs: " << strerror(errno);
  }
  setenv("LIBSHM_SWAP_DIR", dir, 1);
  setenv("LIBSHM_LIMIT", "4M", 1);
  void* a = nullptr;
  int rc = libshm_map(nullptr, 8 << 20, PROT_READ | PROT_WRITE, 0, &a);
  int rc_small = libshm_map(nullptr, 1 << 20, PROT_READ | PROT_WRITE, 0, &a);
  umount2(dir, MNT_DETACH);
  rmdir(dir);
  EXPECT_EQ(rc, -ENOMEM);
  EXPECT_EQ(rc_small, 0);
}

}  // namespace
}  // namespace libshm::test
