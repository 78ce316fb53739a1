// SPDX-License-Identifier: MIT
// Threads that libshm starts in a host process (the helper watchdog; the
// engine thread with LIBSHM_HELPER_MODE=thread) block every signal, so a
// process-directed signal always goes to one of the host's own threads
// (issue 9: an nginx master hung in sigsuspend after SIGQUIT because the
// watchdog thread took the SIGCHLD it waited for).
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#include <atomic>
#include <vector>

#include "test_util.h"

namespace libshm::test {
namespace {

std::atomic<pid_t> handled_by{0};

void RecordHandlerThread(int) { handled_by.store(static_cast<pid_t>(syscall(SYS_gettid))); }

// The threads of this process other than the main thread.
std::vector<pid_t> OtherThreads() {
  std::vector<pid_t> tids;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return tids;
  while (dirent* e = readdir(d)) {
    pid_t tid = static_cast<pid_t>(atoi(e->d_name));
    if (tid > 0 && tid != getpid()) tids.push_back(tid);
  }
  closedir(d);
  return tids;
}

// SigBlk of thread `tid` (bit n-1 is signal n) once it sleeps, or 0 if
// unreadable. glibc creates a thread with every signal blocked and sets the
// creator's mask on it when it starts to run, so a thread that has not run
// yet would look right whatever mask it is about to get: wait until it
// sleeps (libshm's threads sleep in poll or epoll_wait).
uint64_t BlockedMask(pid_t tid) {
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/self/task/%d/status", static_cast<int>(tid));
  for (int attempt = 0; attempt < 2000; attempt++) {
    FILE* f = fopen(path, "r");
    if (f == nullptr) return 0;
    unsigned long long mask = 0;
    char state = '?';
    while (fgets(line, sizeof(line), f) != nullptr) {
      sscanf(line, "State: %c", &state);
      sscanf(line, "SigBlk: %llx", &mask);
    }
    fclose(f);
    if (state == 'S') return mask;
    usleep(1000);
  }
  return 0;
}

// The first signal that `mask` leaves deliverable, or 0 if it blocks all.
// SIGKILL and SIGSTOP cannot be blocked; glibc keeps its two internal
// signals (32, 33: below SIGRTMIN) unblockable by pthread_sigmask.
int FirstUnblocked(uint64_t mask) {
  for (int sig = 1; sig <= SIGRTMAX; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP || (sig > 31 && sig < SIGRTMIN)) continue;
    if ((mask & (1ull << (sig - 1))) == 0) return sig;
  }
  return 0;
}

// Maps and touches one managed page, so that the session and libshm's
// threads exist.
void MapOnePage() {
  void* p = nullptr;
  ASSERT_EQ(libshm_map(nullptr, kPage, PROT_READ | PROT_WRITE, 0, &p), 0);
  FillPage(p, 0, 1);
  ASSERT_TRUE(CheckPage(p, 0, 1));
}

// Parameter: true runs the engine as a thread of this process.
class HostSignals : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) setenv("LIBSHM_HELPER_MODE", "thread", 1);
  }
};

TEST_P(HostSignals, EveryLibshmThreadBlocksAllSignals) {
  MapOnePage();
  std::vector<pid_t> threads = OtherThreads();
  ASSERT_FALSE(threads.empty()) << "no libshm thread to check";
  for (pid_t tid : threads) {
    EXPECT_EQ(FirstUnblocked(BlockedMask(tid)), 0)
        << "thread " << tid << " can take a process-directed signal";
  }
}

TEST_P(HostSignals, ProcessSignalBlockedByTheHostStaysPendingForIt) {
  MapOnePage();
  for (pid_t tid : OtherThreads()) BlockedMask(tid);  // wait until each has its mask
  struct sigaction sa = {};
  sa.sa_handler = RecordHandlerThread;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  // If a libshm thread left SIGUSR1 open, the kernel delivers it there (and
  // runs the handler on that thread): then nothing is pending for us. Give
  // that thread time to run before taking the signal ourselves.
  for (int i = 0; i < 500 && handled_by.load() == 0; i++) usleep(1000);
  struct timespec timeout = {2, 0};
  int got = sigtimedwait(&usr1, nullptr, &timeout);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_EQ(got, SIGUSR1) << "handled by thread " << handled_by.load() << " instead";
  EXPECT_EQ(handled_by.load(), 0);
}

// A forked child starts its own watchdog (helper process mode).
TEST(HostSignalsFork, ChildWatchdogBlocksAllSignals) {
  MapOnePage();
  int status = ForkAndWait([] {
    std::vector<pid_t> threads = OtherThreads();
    if (threads.empty()) return 1;
    for (pid_t tid : threads) {
      if (FirstUnblocked(BlockedMask(tid)) != 0) return 2;
    }
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no watchdog in the child; 2: it can take signals";
}

INSTANTIATE_TEST_SUITE_P(Modes, HostSignals, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "EngineThread" : "HelperProcess";
                         });

}  // namespace
}  // namespace libshm::test
