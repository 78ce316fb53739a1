// SPDX-License-Identifier: MIT
// Fork: four processes writing disjoint and shared pages while eviction runs;
// the creator exiting right after fork (daemon pattern); forks from two
// threads at once; fork then exec; grandchildren.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <random>
#include <thread>
#include <vector>

#include "test_util.h"

namespace libshm::test {
namespace {

constexpr size_t kLimit = 4 << 20;

class Fork : public ::testing::Test {
 protected:
  void SetUp() override { setenv("LIBSHM_LIMIT", "4M", 1); }
};

// Page p is owned by worker p % 5 for p % 5 < 4; pages with p % 5 == 4 are
// shared: worker k writes the 64-byte slot k of them.
struct Slot {
  uint64_t worker, round, page, check;
  char pad[32];
};

TEST_F(Fork, FourWritersDisjointAndSharedPagesNoWriteLost) {
  const size_t size = 8 * kLimit, pages = size / kPage;
  constexpr int kWorkers = 4, kRounds = 3;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  SharedBarrier* barrier = SharedBarrier::Create(kWorkers);
  std::vector<pid_t> kids;
  for (int k = 0; k < kWorkers; k++) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int r = 1; r <= kRounds; r++) {
        for (size_t p = k; p < pages; p += 5) FillPage(base + p * kPage, p, r * 10 + k);
        for (size_t p = 4; p < pages; p += 5) {
          auto* s = reinterpret_cast<Slot*>(base + p * kPage) + k;
          *s = Slot{static_cast<uint64_t>(k), static_cast<uint64_t>(r), p, k ^ r ^ p, {}};
        }
        barrier->Wait();
        // Check our own pages after everyone wrote (and evicted) a round.
        for (size_t p = k; p < pages; p += 5) {
          if (!CheckPage(base + p * kPage, p, r * 10 + k)) _exit(10 + r);
        }
      }
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "worker killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << "worker lost its own pages in round " << WEXITSTATUS(status) - 10;
  }
  // The parent verifies everything after the workers are gone.
  for (size_t p = 0; p < pages; p++) {
    if (p % 5 < 4) {
      ASSERT_TRUE(CheckPage(base + p * kPage, p, kRounds * 10 + p % 5)) << "page " << p;
    } else {
      for (int k = 0; k < kWorkers; k++) {
        auto* s = reinterpret_cast<Slot*>(base + p * kPage) + k;
        ASSERT_EQ(s->round, static_cast<uint64_t>(kRounds)) << "page " << p << " slot " << k;
        ASSERT_EQ(s->check, static_cast<uint64_t>(k ^ kRounds ^ p));
      }
    }
  }
  EXPECT_GT(Stat("swap_outs"), pages / 2);
  EXPECT_GE(Stat("forks"), static_cast<uint64_t>(kWorkers));
}

// Two processes fault on the same missing page while the helper is stopped:
// both faults wait in their uffds. The helper fills the page for the first;
// for the second, UFFDIO_COPY finds the page there (EEXIST) and must wake
// that process's thread, or it sleeps in the fault for ever.
TEST_F(Fork, LoserOfAFillRaceIsWoken) {
  constexpr size_t kPages = 4;
  setenv("LIBSHM_CLUSTER", "1", 1);  // page 3 is filled by its own fault only
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  uint64_t helper = 0;
  size_t len = sizeof(helper);
  ASSERT_EQ(libshm_ctl("session.helper_pid", &helper, &len, nullptr, 0), 0);
  ASSERT_GT(helper, 0u);
  uint64_t eexist = Stat("eexist");
  int ready[2], go[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    kids[k] = fork();
    ASSERT_GE(kids[k], 0);
    if (kids[k] == 0) {
      // A fault of its own first: the helper serves this child's uffd.
      base[(1 + k) * kPage] = 1;
      char byte = 'r';
      if (write(ready[1], &byte, 1) != 1 || read(go[0], &byte, 1) != 1) _exit(2);
      _exit(base[3 * kPage] == 0 ? 0 : 3);  // page 3: never touched, read by both
    }
  }
  char byte;
  for (int k = 0; k < 2; k++) ASSERT_EQ(read(ready[0], &byte, 1), 1);
  ASSERT_EQ(SignalProcess(static_cast<pid_t>(helper), SIGSTOP), 0);
  ASSERT_EQ(write(go[1], "gg", 2), 2);
  // Both children now fault on page 3: wait until the kernel shows both
  // waiting in userfaultfd (at most 3 s; then go on, and the eexist check
  // below says whether they raced).
  auto in_fault = [](pid_t pid) {
    char path[64], wchan[64] = "";
    snprintf(path, sizeof(path), "/proc/%d/wchan", static_cast<int>(pid));
    FILE* f = fopen(path, "r");
    if (f == nullptr) return false;
    bool got = fgets(wchan, sizeof(wchan), f) != nullptr;
    fclose(f);
    return got && strcmp(wchan, "handle_userfault") == 0;
  };
  for (int i = 0; i < 300 && !(in_fault(kids[0]) && in_fault(kids[1])); i++) usleep(10 * 1000);
  ASSERT_EQ(SignalProcess(static_cast<pid_t>(helper), SIGCONT), 0);
  for (int k = 0; k < 2; k++) {
    int status = WaitWithDeadline(kids[k], 5000);
    EXPECT_EQ(DescribeChild(status, {{2, "pipe"}, {3, "read data in a page never written"}}), "ok")
        << "child " << k << " (a thread whose page another process filled first, EEXIST, "
        << "was never woken)";
  }
  EXPECT_GT(Stat("eexist"), eexist) << "the two faults did not race: the test proved nothing";
}

TEST_F(Fork, CreatorExitsRightAfterForkChildKeepsData) {
  // We become the subreaper so the orphaned child is ours to wait for.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  const size_t size = 8 * kLimit, pages = size / kPage;
  pid_t creator = fork();
  ASSERT_GE(creator, 0);
  if (creator == 0) {
    void* mem;
    if (libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem) != 0) _exit(2);
    char* base = static_cast<char*>(mem);
    for (size_t p = 0; p < pages; p++) FillPage(base + p * kPage, p, 1);
    pid_t me = getpid();
    pid_t daemon = fork();
    if (daemon < 0) _exit(3);
    if (daemon == 0) {
      // Wait until the creator is gone, then keep working on its region.
      while (getppid() == me || kill(me, 0) == 0) usleep(1000);
      for (size_t p = 0; p < pages; p++) {
        if (!CheckPage(base + p * kPage, p, 1)) _exit(20);
      }
      for (size_t p = 0; p < pages; p += 2) FillPage(base + p * kPage, p, 2);
      EvictAll();
      for (size_t p = 0; p < pages; p++) {
        if (!CheckPage(base + p * kPage, p, p % 2 == 0 ? 2 : 1)) _exit(21);
      }
      _exit(0);
    }
    if (write(pipefd[1], &daemon, sizeof(daemon)) != sizeof(daemon)) _exit(4);
    _exit(0);  // the creator leaves first
  }
  close(pipefd[1]);
  pid_t daemon = 0;
  ASSERT_EQ(read(pipefd[0], &daemon, sizeof(daemon)), static_cast<ssize_t>(sizeof(daemon)));
  int status;
  ASSERT_EQ(waitpid(creator, &status, 0), creator);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(waitpid(daemon, &status, 0), daemon);
  ASSERT_TRUE(WIFEXITED(status)) << "daemon killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "20: creator's data lost, 21: daemon's writes lost";
}

TEST_F(Fork, ForksFromTwoThreadsAtOnce) {
#if defined(__SANITIZE_THREAD__)
  // TSan cannot follow a thread started in a child forked from a non-main
  // thread ("dup thread with used id"); the children's watchdog is one.
  GTEST_SKIP() << "ThreadSanitizer does not support threads after a multi-threaded fork";
#endif
  const size_t size = 4 * kLimit, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  for (size_t p = 0; p < pages; p++) FillPage(base + p * kPage, p, 7);
  std::atomic<int> bad{0};
  auto forker = [&](int id) {
    for (int i = 0; i < 10; i++) {
      int status = ForkAndWait([&] {
        size_t p = (i * 131 + id * 17) % pages;
        if (!CheckPage(base + p * kPage, p, 7)) return 30;
        return 0;
      });
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) bad++;
    }
  };
  std::thread a(forker, 0), b(forker, 1);
  a.join();
  b.join();
  EXPECT_EQ(bad.load(), 0);
  for (size_t p = 0; p < pages; p++) ASSERT_TRUE(CheckPage(base + p * kPage, p, 7)) << p;
}

TEST_F(Fork, ChildExecsAndHelperForgetsIt) {
  const size_t size = 2 * kLimit;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  memset(mem, 1, size);
  int status = ForkAndWait([] {
    execl("/bin/true", "true", static_cast<char*>(nullptr));
    return 99;
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The exec'd child is reaped by the helper; only we remain.
  for (int i = 0; i < 200 && Stat("clients") != 1; i++) usleep(10000);
  EXPECT_EQ(Stat("clients"), 1u);
  EXPECT_EQ(static_cast<char*>(mem)[size - 1], 1);
}

TEST_F(Fork, GrandchildWritesAreSeenByAll) {
  const size_t size = 8 * kLimit, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  int status = ForkAndWait([&] {
    int inner = ForkAndWait([&] {
      for (size_t p = 0; p < pages; p++) FillPage(base + p * kPage, p, 5);
      return 0;
    });
    if (!WIFEXITED(inner) || WEXITSTATUS(inner) != 0) return 40;
    for (size_t p = 0; p < pages; p++) {
      if (!CheckPage(base + p * kPage, p, 5)) return 41;
    }
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  for (size_t p = 0; p < pages; p++) ASSERT_TRUE(CheckPage(base + p * kPage, p, 5)) << p;
}

}  // namespace
}  // namespace libshm::test
