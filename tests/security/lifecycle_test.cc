// SPDX-License-Identifier: MIT
// Issue 9, items 10-14: the call sequences and resource limits that lost
// writes, hung a thread or kept a helper alive. Each runs in a child with
// its own session and a deadline, so a hang is a failure with a name.
#include <dirent.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
        // Its fork record (the helper never learnt its pid) is found gone
        // (ESRCH) and dropped: only this process is left a client.
        for (int i = 0; i < 800 && Stat("clients") != 1; i++) usleep(10 * 1000);
        if (Stat("clients") != 1) return 4;
        return ChildEvictAll(2) ?: ChildCheckPages(p, 0, kPages, 1, 3);
      },
      &status);
  std::string what = DescribeChild(status, {{1, "map"},
                                            {2, "evict"},
                                            {3, "check"},
                                            {4, "the exited child's fork record stayed a client"}});
  // A helper left behind holds ctest's output pipe: end it, or the failure
  // shows only as ctest's timeout.
  if (what != "ok") SignalProcess(helper, SIGKILL);
  ASSERT_EQ(what, "ok");
  ASSERT_GT(helper, 0);
  bool gone = GoneWithin(helper, 10000);
  if (!gone) SignalProcess(helper, SIGKILL);
  EXPECT_TRUE(gone) << "the helper outlived its session";
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

// A fault whose fill meets EAGAIN many times in a row (an event of the
// process in flight, which ends only when that process's thread runs: made
// here by a test hook, 2000 times) is served on a later turn. It was dropped
// after 1000 tries, and its thread never woke (PyTorch DataLoader workers).
TEST_F(Lifecycle, AFaultThatMeetsEagainLongIsServedNotDropped) {
  int status;
  RunSession(
      [](volatile uint64_t*) {
        setenv("LIBSHM_TEST_COPY_EAGAIN", "2000", 1);  // the helper starts with it
        void* p = nullptr;
        if (libshm_map(nullptr, kPage, PROT_READ | PROT_WRITE, 0, &p) != 0) return 1;
        int st = ForkAndWaitWithDeadline(
            [&] {
              FillPage(p, 0, 3);
              return CheckPage(p, 0, 3) ? 0 : 1;
            },
            5000);  // served within ~40 ms: 64 tries a turn, 1 ms apart
        if (st == kChildTimedOut) return 2;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 3;
        return 0;
      },
      &status);
  ASSERT_EQ(DescribeChild(status, {{1, "map"}, {2, "the writer hung"}, {3, "the writer failed"}}),
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

// What the helper's fd table holds: its fd numbers, and how many are
// /dev/null (its reserve fds, and what it was started with) and memfds.
struct HelperFds {
  std::vector<int> fds;
  int dev_null = 0;
  int memfds = 0;
};

HelperFds ReadHelperFds(pid_t helper) {
  HelperFds out;
  std::string dir = "/proc/" + std::to_string(helper) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[256];
    ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof(target) - 1);
    if (n < 0) continue;
    target[n] = '\0';
    out.fds.push_back(atoi(e->d_name));
    out.dev_null += strcmp(target, "/dev/null") == 0;
    out.memfds += strncmp(target, "/memfd:", 7) == 0;
  }
  closedir(d);
  std::sort(out.fds.begin(), out.fds.end());
  return out;
}

// The n-th (0-based) fd number the table does not hold.
int FreeFd(const std::vector<int>& fds, int n) {
  for (int fd = 0;; fd++) {
    if (!std::binary_search(fds.begin(), fds.end(), fd) && n-- == 0) return fd;
  }
}

// Item 11, the reserve: a fork with the table full spends one of the
// helper's reserve fds (its event installs the child's uffd), and none comes
// back while the table stays full. A new region then is refused (EMFILE),
// even when its memfd did arrive: the reserve is for forks and connections.
// The table is left exactly one descriptor of room (the memfd's), so that
// only the reserve check can refuse it; nothing of it is kept.
TEST_F(Lifecycle, FullDescriptorTableRefusesARegionWhileTheReservesAreMissing) {
  if (geteuid() != 0) GTEST_SKIP() << "prlimit of the helper needs root";
  volatile uint64_t* seen = SharedWord();  // [0] reserves before [1] after the fork
  int status;
  RunSession(
      [&](volatile uint64_t*) {
        char* p = MapFilled(kPages, 1);
        if (p == nullptr) return 1;
        pid_t h = HelperPid();
        if (h <= 0) return 1;
        HelperFds start = ReadHelperFds(h);
        int other_dev_null = start.dev_null - 8;  // kReserveFds open at start
        // The hard limit stays: raising it again would need CAP_SYS_RESOURCE.
        struct rlimit small;
        if (prlimit(h, RLIMIT_NOFILE, nullptr, &small) != 0) return 2;
        small.rlim_cur = 64;
        if (prlimit(h, RLIMIT_NOFILE, &small, nullptr) != 0) return 2;
        int rc = 0;
        std::vector<void*> regions;
        for (int i = 0; i < 200 && rc == 0; i++) {
          void* q = nullptr;
          rc = libshm_map(nullptr, kPage, PROT_READ | PROT_WRITE, 0, &q);
          if (rc == 0) regions.push_back(q);
        }
        if (rc != -EMFILE) return 3;
        seen[0] = static_cast<uint64_t>(ReadHelperFds(h).dev_null - other_dev_null);
        int st =
            ForkAndWaitWithDeadline([&] { return ChildCheckPages(p, 0, kPages, 1, 4); }, 20000);
        std::string child = DescribeChild(st);
        if (child != "ok" && child != "failed at an unnamed step (exit 127)") return 4;
        HelperFds full = ReadHelperFds(h);
        seen[1] = static_cast<uint64_t>(full.dev_null - other_dev_null);
        if (full.dev_null - other_dev_null >= 8) return 5;
        // Room for one descriptor: the memfd of the next region.
        rlimit one = small;
        one.rlim_cur = static_cast<rlim_t>(FreeFd(full.fds, 1));
        if (prlimit(h, RLIMIT_NOFILE, &one, nullptr) != 0) return 2;
        void* q = nullptr;
        rc = libshm_map(nullptr, kPage, PROT_READ | PROT_WRITE, 0, &q);
        if (rc == 0) return 6;
        if (rc != -EMFILE) return 7;
        if (ReadHelperFds(h).memfds > full.memfds) return 8;
        if (ChildCheckPages(p, 0, kPages, 1, 9) != 0) return 9;
        for (void* r : regions) libshm_unmap(r, kPage);
        return 0;
      },
      &status, 30000);
  ASSERT_EQ(DescribeChild(status, {{1, "map"},
                                   {2, "prlimit"},
                                   {3, "a full table did not fail mappings with EMFILE"},
                                   {4, "the fork child while full (hung or wrong data)"},
                                   {5, "the fork while full spent no reserve fd"},
                                   {6,
                                    "a new region was accepted while the helper's reserve "
                                    "fds were missing"},
                                   {7, "a new region failed, but not with EMFILE"},
                                   {8, "the refused region's memfd stayed in the helper"},
                                   {9, "the parent's data after the refused region"}}),
            "ok")
      << "reserve fds at full: " << seen[0] << ", after the fork: " << seen[1];
}

// The helper's start, as a program that starts its own does it (client.cc
// StartHelperLocked: a listening socket, SpawnHelper, which detaches the
// helper and returns once it said it serves). Its swap file goes in a fresh
// directory, so that what it leaves there can be seen.
class Starter : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("LIBSHM_LIMIT", "4M", 1);
    unsetenv("LIBSHM_SESSION");
    char dir[] = "/var/tmp/libshm-starter-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    swap_dir_ = dir;
    setenv("LIBSHM_SWAP_DIR", dir, 1);
    address_ = "@libshm-starter-" + std::to_string(getpid()) + "-" + std::to_string(random());
    word_ = SharedWord();
    ASSERT_NE(word_, nullptr);
  }
  void TearDown() override {
    if (helper_pidfd_ >= 0) {
      // A helper that is still there failed its test: it is ours to end.
      syscall(SYS_pidfd_send_signal, helper_pidfd_, SIGKILL, nullptr, 0);
      close(helper_pidfd_);
    }
    unsetenv("LIBSHM_SWAP_DIR");
    rmdir(swap_dir_.c_str());
  }

  // In the starter (a child of the test): starts the helper on address_ and
  // publishes its pid in word_[0]. Returns 0 or the failing step.
  int StartHelperHere() {
    int lfd = ListenSession(address_.c_str());
    if (lfd < 0) return 90;
    if (internal::SpawnHelper(LIBSHM_SHMD_PATH, lfd, environ) != 0) return 91;
    pid_t helper = ProcessServing(lfd);
    close(lfd);
    if (helper <= 0) return 92;
    word_[0] = static_cast<uint64_t>(helper);
    return 0;
  }

  // The helper is detached, nobody's child: the process other than this one
  // whose fd 3 (where SpawnHelper puts it) is the listening socket `lfd`.
  static pid_t ProcessServing(int lfd) {
    struct stat want;
    if (fstat(lfd, &want) != 0) return -1;
    DIR* proc = opendir("/proc");
    if (proc == nullptr) return -1;
    pid_t found = -1;
    while (struct dirent* e = readdir(proc)) {
      pid_t pid = static_cast<pid_t>(atoi(e->d_name));
      if (pid <= 0 || pid == getpid()) continue;
      std::string fd3 = std::string("/proc/") + e->d_name + "/fd/3";
      struct stat st;
      if (stat(fd3.c_str(), &st) == 0 && st.st_ino == want.st_ino && st.st_dev == want.st_dev) {
        found = pid;
        break;
      }
    }
    closedir(proc);
    return found;
  }

  // Waits (at most `ms`) for the starter to publish the helper's pid, and
  // takes a pidfd of it. False if it did not.
  bool TakeHelper(int ms) {
    for (int t = 0; t < ms && word_[0] == 0; t += 2) usleep(2000);
    pid_t helper = static_cast<pid_t>(word_[0]);
    if (helper <= 0) return false;
    helper_pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, helper, 0));
    return helper_pidfd_ >= 0;
  }

  // True if the helper exits within `ms`.
  bool HelperExitsWithin(int ms) {
    struct pollfd p = {helper_pidfd_, POLLIN, 0};
    if (poll(&p, 1, ms) != 1) return false;
    close(helper_pidfd_);
    helper_pidfd_ = -1;
    return true;
  }

  // Files left in the swap directory.
  int SwapDirEntries() {
    DIR* d = opendir(swap_dir_.c_str());
    if (d == nullptr) return -1;
    int n = 0;
    while (struct dirent* e = readdir(d))
      n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
  }

  std::string swap_dir_;
  std::string address_;
  volatile uint64_t* word_ = nullptr;  // [0] the helper's pid [1] the starter's step
  int helper_pidfd_ = -1;
};

// Regression (reported 2026-12-07): a process that starts the helper and is
// killed before it connects left the helper running for ever, with its swap
// file: nobody had connected, and nothing timed out.
TEST_F(Starter, StarterKilledBeforeConnectingLeavesNoHelper) {
  pid_t starter = fork();
  if (starter == 0) {
    int rc = StartHelperHere();
    if (rc != 0) _exit(rc);
    for (;;) pause();  // never connects; killed below
  }
  ASSERT_GT(starter, 0);
  bool took = TakeHelper(30000);
  SignalProcess(starter, SIGKILL);
  int status;
  waitpid(starter, &status, 0);
  ASSERT_TRUE(took) << DescribeChild(status, {{90, "listen"}, {91, "spawn"}, {92, "find"}});
  EXPECT_TRUE(HelperExitsWithin(10000)) << "the helper outlived its starter, which never came";
  EXPECT_EQ(SwapDirEntries(), 0);
}

// A starter that connects, only observes (an observer hello and a native
// report) and is killed: no member ever came, and the helper leaves.
TEST_F(Starter, StarterThatOnlyObservedLeavesNoHelper) {
  pid_t starter = fork();
  if (starter == 0) {
    int rc = StartHelperHere();
    if (rc != 0) _exit(rc);
    Raw r(address_);
    Request hello;
    hello.op = Op::kHello;
    hello.flags = internal::kHelloObserver;
    if (r.Call(hello) != 0) _exit(1);
    if (r.Call(Op::kNative, LIBSHM_NATIVE_FLAGS, kPage, 1) != 0) _exit(2);
    word_[1] = 1;
    for (;;) pause();  // killed below, its connection open
  }
  ASSERT_GT(starter, 0);
  bool took = TakeHelper(30000);
  int status = 0;
  bool exited = false;
  for (int t = 0; t < 30000 && took && word_[1] == 0 && !exited; t += 2) {
    exited = waitpid(starter, &status, WNOHANG) == starter;
    usleep(2000);
  }
  if (!exited) {
    SignalProcess(starter, SIGKILL);
    waitpid(starter, &status, 0);
  }
  ASSERT_TRUE(took && word_[1] == 1) << DescribeChild(
      status, {{90, "listen"}, {91, "spawn"}, {92, "find"}, {1, "hello"}, {2, "native"}});
  EXPECT_TRUE(HelperExitsWithin(10000)) << "the helper outlived an observing starter";
  EXPECT_EQ(SwapDirEntries(), 0);
}

// The other side: a starter slow to connect (2 s after the helper said it
// serves, as under heavy load) is still served, even when another process
// came and went meanwhile (an observer, such as shmstat): the session had
// no member yet, and its starter lives. Then the helper leaves after it.
TEST_F(Starter, SlowStarterIsServedAfterAnObserverCameAndWent) {
  pid_t starter = fork();
  if (starter == 0) {
    int rc = StartHelperHere();
    if (rc != 0) _exit(rc);
    while (word_[1] == 0) usleep(1000);  // the observer came and went
    usleep(2000 * 1000);
    Raw r(address_);
    if (r.Call(Op::kHello) != 0) _exit(1);
    Request stats;
    stats.op = Op::kStats;
    if (r.Call(stats) != 0) _exit(2);
    _exit(0);
  }
  ASSERT_GT(starter, 0);
  bool took = TakeHelper(30000);
  if (took) {
    Raw observer(address_);
    Request hello;
    hello.op = Op::kHello;
    hello.flags = internal::kHelloObserver;
    EXPECT_EQ(observer.Call(hello), 0);
  }
  word_[1] = 1;
  int status = WaitWithDeadline(starter, 30000);
  ASSERT_TRUE(took) << DescribeChild(status, {{90, "listen"}, {91, "spawn"}, {92, "find"}});
  EXPECT_EQ(DescribeChild(status, {{1, "hello (the helper was gone)"}, {2, "stats"}}), "ok");
  EXPECT_TRUE(HelperExitsWithin(10000)) << "the helper outlived its only member";
  EXPECT_EQ(SwapDirEntries(), 0);
}

}  // namespace
}  // namespace libshm::test
