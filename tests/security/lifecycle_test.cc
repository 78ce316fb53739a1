// SPDX-License-Identifier: MIT
// Issue 9, items 10-14: the call sequences and resource limits that lost
// writes, hung a thread or kept a helper alive. Each runs in a child with
// its own session and a deadline, so a hang is a failure with a name.
#include <sys/resource.h>
#include <sys/syscall.h>

#include <algorithm>

#include "security_util.h"

namespace libshm::test {
namespace {

constexpr size_t kPages = 256;

class Lifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("LIBSHM_LIMIT", "4M", 1);
    unsetenv("LIBSHM_SESSION");
  }
};

// The helper of the session `fn` (run in a child, its own session) starts:
// the child writes it to *helper before it returns.
pid_t RunSession(const std::function<int(volatile uint64_t*)>& fn, int* status,
                 int timeout_ms = 60000) {
  volatile uint64_t* helper = SharedWord();
  *status = ForkAndWaitWithDeadline([&] { return fn(helper); }, timeout_ms);
  return static_cast<pid_t>(*helper);
}

bool GoneWithin(pid_t pid, int ms) {
  for (int t = 0; t < ms; t += 10) {
    if (pid <= 0 || kill(pid, 0) != 0) return true;
    usleep(10 * 1000);
  }
  return false;
}

char* MapFilled(size_t pages, uint64_t version) {
  void* p = nullptr;
  if (libshm_map(nullptr, pages * kPage, PROT_READ | PROT_WRITE, 0, &p) != 0) return nullptr;
  for (size_t i = 0; i < pages; i++) FillPage(static_cast<char*>(p) + i * kPage, i, version);
  return static_cast<char*>(p);
}

// Item 12: a fork child (here made by a raw clone(), which runs no atfork
// handler) that exits before its first fault is reaped, and the session ends
// with its last process (6 of 6 runs left an orphan root shmd with the
// memfd and the swap file).
TEST_F(Lifecycle, ForkChildThatExitsBeforeItsFirstFaultEndsNothing) {
  int status;
  pid_t helper = RunSession(
      [](volatile uint64_t* helper) {
        char* p = MapFilled(kPages, 1);
        if (p == nullptr) return 1;
        *helper = static_cast<uint64_t>(HelperPid());
        long child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (child == 0) _exit(0);  // never touches managed memory
        int st;
        waitpid(static_cast<pid_t>(child), &st, 0);
        return ChildEvictAll(2) ?: ChildCheckPages(p, 0, kPages, 1, 3);
      },
      &status);
  ASSERT_EQ(DescribeChild(status, {{1, "map"}, {2, "evict"}, {3, "check"}}), "ok");
  ASSERT_GT(helper, 0);
  EXPECT_TRUE(GoneWithin(helper, 10000)) << "the helper outlived its session";
}

// Item 13: SIGTERM (a service stop sends it to the whole group or cgroup)
// does not end the helper while programs run their shutdown; it leaves with
// its last client.
TEST_F(Lifecycle, SigtermLetsTheProgramFinishAndTheHelperLeavesAfterIt) {
  int status;
  pid_t helper = RunSession(
      [](volatile uint64_t* helper) {
        char* p = MapFilled(kPages, 1);
        if (p == nullptr) return 1;
        pid_t h = HelperPid();
        *helper = static_cast<uint64_t>(h);
        if (SignalProcess(h, SIGTERM) != 0) return 2;
        usleep(100 * 1000);
        // Shutdown work: rewrite, evict, read back; fork a child that checks.
        for (size_t i = 0; i < kPages; i++) FillPage(p + i * kPage, i, 2);
        if (ChildEvictAll(3) != 0) return 3;
        int st = ForkAndWait([&] { return ChildCheckPages(p, 0, kPages, 2, 4); });
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 4;
        return ChildCheckPages(p, 0, kPages, 2, 5);
      },
      &status);
  ASSERT_EQ(DescribeChild(status, {{1, "map"},
                                   {2, "SIGTERM"},
                                   {3, "evict after SIGTERM"},
                                   {4, "fork child after SIGTERM"},
                                   {5, "check after SIGTERM"}}),
            "ok")
      << "a client died after the helper's SIGTERM";
  EXPECT_TRUE(GoneWithin(helper, 10000)) << "the helper did not leave with its last client";
}

// Item 14: the helper keeps none of its launcher's descriptors (a pipe the
// program holds open stayed open as long as the session).
TEST_F(Lifecycle, HelperHoldsNoneOfItsLaunchersDescriptors) {
  int status;
  RunSession(
      [](volatile uint64_t*) {
        int fds[2];
        if (pipe(fds) != 0) return 1;  // not CLOEXEC: inherited by posix_spawn
        struct stat pipe_st;
        fstat(fds[1], &pipe_st);
        if (MapFilled(4, 1) == nullptr) return 2;
        pid_t h = HelperPid();
        char dir[64];
        snprintf(dir, sizeof(dir), "/proc/%d/fd", static_cast<int>(h));
        for (int fd = 0; fd < 4096; fd++) {
          char path[96];
          snprintf(path, sizeof(path), "%s/%d", dir, fd);
          struct stat st;
          if (stat(path, &st) == 0 && st.st_ino == pipe_st.st_ino && st.st_dev == pipe_st.st_dev) {
            return 3;
          }
        }
        return 0;
      },
      &status);
  ASSERT_EQ(DescribeChild(status, {{1, "pipe"}, {2, "map"}, {3, "the helper holds the pipe"}}),
            "ok");
}

// Item 14: a swap read that fails (an I/O error) gives the faulting thread
// SIGBUS, as the kernel does for its own swap; before, the thread blocked
// forever.
TEST_F(Lifecycle, FailedSwapReadIsSigbusNotAHang) {
  int status;
  RunSession(
      [](volatile uint64_t*) {
        setenv("LIBSHM_TEST_FAIL_SWAP_READ", "1", 1);  // the helper starts with it
        char* p = MapFilled(kPages, 1);
        if (p == nullptr) return 1;
        if (ChildEvictAll(2) != 0) return 2;
        int st = ForkAndWaitWithDeadline(
            [&] {
              signal(SIGBUS, SIG_DFL);
              return CheckPage(p, 0, 1) ? 0 : 1;
            },
            20000);
        if (st == kChildTimedOut) return 3;
        if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGBUS) return 4;
        return 0;
      },
      &status);
  ASSERT_EQ(
      DescribeChild(
          status,
          {{1, "map"}, {2, "evict"}, {3, "the reader hung"}, {4, "the reader did not get SIGBUS"}}),
      "ok");
}

// Item 14: a MAP_NORESERVE region takes no disk until its pages are written
// back (one sparse mapping filled /var/tmp at mmap time), and still works.
TEST_F(Lifecycle, NoReserveRegionTakesNoDiskUpFront) {
  int status;
  RunSession(
      [](volatile uint64_t*) {
        const size_t big = size_t{16} << 30;  // 16 GiB, never touched
        void* p = nullptr;
        if (libshm_map(nullptr, big, PROT_READ | PROT_WRITE, MAP_NORESERVE, &p) != 0) return 1;
        auto* c = static_cast<char*>(p);
        for (size_t i = 0; i < 64; i++) FillPage(c + i * 1021 * kPage, i, 1);
        if (ChildEvictAll(2) != 0) return 2;
        for (size_t i = 0; i < 64; i++) {
          if (!CheckPage(c + i * 1021 * kPage, i, 1)) return 3;
        }
        // The swap file's blocks: about the pages written, not 16 GiB.
        char dir[64];
        snprintf(dir, sizeof(dir), "/proc/%d/fd", static_cast<int>(HelperPid()));
        blkcnt_t blocks = -1;
        for (int fd = 0; fd < 256; fd++) {
          char path[96], target[512];
          snprintf(path, sizeof(path), "%s/%d", dir, fd);
          ssize_t n = readlink(path, target, sizeof(target) - 1);
          if (n <= 0) continue;
          target[n] = '\0';
          struct stat st;
          if (strstr(target, "(deleted)") != nullptr && stat(path, &st) == 0 &&
              S_ISREG(st.st_mode)) {
            blocks = std::max(blocks, st.st_blocks);
          }
        }
        if (blocks < 0) return 4;
        return blocks * 512 < (64 << 20) ? 0 : 5;
      },
      &status);
  ASSERT_EQ(DescribeChild(status, {{1, "map 16 GiB MAP_NORESERVE"},
                                   {2, "evict"},
                                   {3, "read back"},
                                   {4, "swap file not found"},
                                   {5, "the swap file holds more than 64 MiB"}}),
            "ok");
}

// Item 11: with the helper's fd table full, new regions fail with EMFILE
// (not a misleading EINVAL) and a fork (its event brings a new uffd into the
// helper) neither hangs nor gets its parent marked dead and its regions
// freed.
TEST_F(Lifecycle, FullDescriptorTableFailsMappingsAndNeverKillsAForkingClient) {
  if (geteuid() != 0) GTEST_SKIP() << "prlimit of the helper needs root";
  int status;
  RunSession(
      [](volatile uint64_t*) {
        char* p = MapFilled(kPages, 1);
        if (p == nullptr) return 1;
        pid_t h = HelperPid();
        struct rlimit small = {64, 64};
        if (prlimit(h, RLIMIT_NOFILE, &small, nullptr) != 0) return 2;
        int rc = 0;
        std::vector<void*> regions;
        for (int i = 0; i < 200 && rc == 0; i++) {
          void* q = nullptr;
          rc = libshm_map(nullptr, kPage, PROT_READ | PROT_WRITE, 0, &q);
          if (rc == 0) regions.push_back(q);
        }
        if (rc != -EMFILE) return 3;
        // A fork now: the helper needs a descriptor for the child's uffd.
        // The child may be refused (it exits 127, loudly) but nothing hangs
        // and the parent is never taken for dead.
        int st =
            ForkAndWaitWithDeadline([&] { return ChildCheckPages(p, 0, kPages, 1, 4); }, 20000);
        std::string child = DescribeChild(st);
        if (child != "ok" && child != "failed at an unnamed step (exit 127)") return 4;
        if (ChildEvictAll(5) != 0) return 5;
        if (ChildCheckPages(p, 0, kPages, 1, 6) != 0) return 6;
        // Room again: the regions' memfds go back, and forks join as usual.
        for (void* q : regions) libshm_unmap(q, kPage);
        usleep(1500 * 1000);  // the helper resumes what it paused once a second
        st = ForkAndWaitWithDeadline([&] { return ChildCheckPages(p, 0, kPages, 1, 7); }, 20000);
        if (DescribeChild(st) != "ok") return 7;
        return 0;
      },
      &status);
  ASSERT_EQ(DescribeChild(status, {{1, "map"},
                                   {2, "prlimit"},
                                   {3, "a full table did not fail mappings with EMFILE"},
                                   {4, "the fork child while full (hung or wrong data)"},
                                   {5, "evict after the fork"},
                                   {6, "the parent's data after the fork"},
                                   {7, "a fork child once there is room again"}}),
            "ok");
}

}  // namespace
}  // namespace libshm::test
