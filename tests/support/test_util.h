// SPDX-License-Identifier: MIT
// Helpers for multi-process tests: fork-and-wait with distinct exit codes,
// page patterns with checksums, stats and ctl shortcuts, smaps readers, and
// child-side checks that report through the exit status.
#ifndef LIBSHM_TESTS_SUPPORT_TEST_UTIL_H_
#define LIBSHM_TESTS_SUPPORT_TEST_UTIL_H_

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "libshm/libshm.h"

namespace libshm::test {

constexpr size_t kPage = 4096;

// Fills one page with a pattern derived from (page, version); the last 8
// bytes hold a checksum of the rest, so a torn or zeroed page is caught.
inline void FillPage(void* p, uint64_t page, uint64_t version) {
  auto* w = static_cast<uint64_t*>(p);
  uint64_t x = page * 0x9e3779b97f4a7c15ull + version * 0xbf58476d1ce4e5b9ull + 1;
  uint64_t sum = 0;
  for (size_t i = 0; i + 1 < kPage / 8; i++) {
    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 29;
    w[i] = x;
    sum += x * (i + 1);
  }
  w[kPage / 8 - 1] = sum;
}

// True if the page holds exactly FillPage(page, version).
inline bool CheckPage(const void* p, uint64_t page, uint64_t version) {
  alignas(8) static thread_local unsigned char expect[kPage];
  FillPage(expect, page, version);
  return memcmp(p, expect, kPage) == 0;
}

// Runs fn in a child; returns its wait status. The child exits with fn()'s value.
inline int ForkAndWait(const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

inline uint64_t Stat(const char* name) {
  uint64_t v = 0;
  size_t len = sizeof(v);
  std::string full = std::string("stats.") + name;
  EXPECT_EQ(libshm_ctl(full.c_str(), &v, &len, nullptr, 0), 0) << full;
  return v;
}

// Evicts every resident page of the session (0 = everything).
inline void EvictAll() {
  uint64_t zero = 0;
  ASSERT_EQ(libshm_ctl("evict.run", nullptr, nullptr, &zero, sizeof(zero)), 0);
}

// Rss of the mapping that starts at `addr` in /proc/<pid>/smaps, in bytes; -1 if absent.
inline long SmapsRss(pid_t pid, const void* addr) {
  char path[64], line[512];
  snprintf(path, sizeof(path), "/proc/%d/smaps", static_cast<int>(pid));
  FILE* f = fopen(path, "r");
  if (f == nullptr) return -1;
  bool in = false;
  long rss = -1;
  while (fgets(line, sizeof(line), f) != nullptr) {
    unsigned long start, end;
    if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
      in = start == reinterpret_cast<uintptr_t>(addr);
      continue;
    }
    long kb;
    if (in && sscanf(line, "Rss: %ld kB", &kb) == 1) {
      rss = kb * 1024;
      in = false;
    }
  }
  fclose(f);
  return rss;
}

// A process-shared barrier in MAP_SHARED memory (not managed).
struct SharedBarrier {
  pthread_barrier_t barrier;
  static SharedBarrier* Create(unsigned count) {
    void* p = mmap(nullptr, sizeof(SharedBarrier), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    auto* b = static_cast<SharedBarrier*>(p);
    pthread_barrierattr_t attr;
    pthread_barrierattr_init(&attr);
    pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&b->barrier, &attr, count);
    return b;
  }
  void Wait() { pthread_barrier_wait(&barrier); }
};

// ---------------------------------------------------------------------------
// Forked children. A gtest assertion that fails in a forked child never
// reaches the parent: ASSERT_* only returns from the child's lambda and the
// child's test result dies with it. A child checks with the helpers below,
// which return 0 or the exit code the caller chose for that step, and exits
// with it; the parent names the step with DescribeChild.

// 0 if pages [first, first + n) of `base` hold FillPage(page, version),
// else `code`; *bad (if given) is set to the first page that does not.
inline int ChildCheckPages(const void* base, uint64_t first, uint64_t n, uint64_t version, int code,
                           uint64_t* bad = nullptr) {
  for (uint64_t p = first; p < first + n; p++) {
    if (!CheckPage(static_cast<const char*>(base) + p * kPage, p, version)) {
      if (bad != nullptr) *bad = p;
      return code;
    }
  }
  return 0;
}

// Evicts everything (evict.run 0): 0, or `code` if the helper refused.
inline int ChildEvictAll(int code) {
  uint64_t zero = 0;
  return libshm_ctl("evict.run", nullptr, nullptr, &zero, sizeof(zero)) == 0 ? 0 : code;
}

// stats.<name> into *out: 0, or `code` if the helper refused.
inline int ChildStat(const char* name, uint64_t* out, int code) {
  size_t len = sizeof(*out);
  std::string full = std::string("stats.") + name;
  return libshm_ctl(full.c_str(), out, &len, nullptr, 0) == 0 ? 0 : code;
}

// The lowest fd of a userfaultfd this process holds, or -1.
inline int HeldUffd() {
  for (int fd = 0; fd < 1024; fd++) {
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (strcmp(target, "anon_inode:[userfaultfd]") == 0) return fd;
  }
  return -1;
}

// kill(2) for one process only. A pid that is not positive would signal a
// process group (0, -pgid) or, as root, every process on the machine (-1):
// a test whose helper or child pid was never set (`pid_t helper = -1`, a
// failed ctl) must fail, not take the machine down. Returns -1 (EINVAL) for
// such a pid.
inline int SignalProcess(pid_t pid, int sig) {
  if (pid <= 0) {
    errno = EINVAL;
    return -1;
  }
  return kill(pid, sig);
}

// Not wait statuses: WaitWithDeadline killed the child; no child (fork or
// waitpid failed).
constexpr int kChildTimedOut = -1;
constexpr int kNoChild = -2;

// Waits for child `pid` at most `timeout_ms`. Returns its wait status, or
// kChildTimedOut after killing it (SIGKILL) if it was still running then: a
// child blocked in a fault nobody serves reports a timeout instead of
// hanging the test.
inline int WaitWithDeadline(pid_t pid, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return kNoChild;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  SignalProcess(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return kChildTimedOut;
}

// Runs fn in a child and waits at most `timeout_ms` (see WaitWithDeadline).
inline int ForkAndWaitWithDeadline(const std::function<int()>& fn, int timeout_ms) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  if (pid < 0) return kNoChild;
  return WaitWithDeadline(pid, timeout_ms);
}

// Names what a child's wait status (from ForkAndWait, WaitWithDeadline...)
// says: "ok", "timed out", "killed by signal N", or the step that `steps`
// maps its exit code to.
inline std::string DescribeChild(int status, const std::map<int, std::string>& steps = {}) {
  if (status == kChildTimedOut) return "timed out (killed)";
  if (status == kNoChild) return "not found (fork or waitpid failed)";
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (!WIFEXITED(status)) return "stopped?";
  int code = WEXITSTATUS(status);
  if (code == 0) return "ok";
  auto it = steps.find(code);
  std::string what = it != steps.end() ? it->second : "an unnamed step";
  return "failed at " + what + " (exit " + std::to_string(code) + ")";
}

// One word of native (unmanaged) MAP_SHARED memory, zeroed: how a child
// tells its parent how far it got.
inline volatile uint64_t* SharedWord() {
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<volatile uint64_t*>(p);
}

// CPU time (user + system) of process `pid`, in clock ticks.
inline long CpuTicks(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* p = strrchr(buf, ')');
  long utime = 0, stime = 0;
  // Fields after ')': state(3) ppid ... utime(14) stime(15).
  if (p == nullptr ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime) != 2) {
    return -1;
  }
  return utime + stime;
}

}  // namespace libshm::test

#endif  // LIBSHM_TESTS_SUPPORT_TEST_UTIL_H_
