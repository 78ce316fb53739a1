// SPDX-License-Identifier: MIT
// Helpers for the kernel-semantics suites (tests/kernel/): run a step in a
// child (optionally as another uid) and report how it ended, read
// /proc/self/maps lines, and make names unique per test process. These tests
// link nothing of libshm: they record what the kernel (and glibc) do, so the
// side-by-side tests of issue 11 can hold libshm to the same answers.
#ifndef LIBSHM_TESTS_KERNEL_KERNEL_PROBE_H_
#define LIBSHM_TESTS_KERNEL_KERNEL_PROBE_H_

#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <string>

namespace libshm::test {

constexpr size_t kPage = 4096;
constexpr uid_t kNobody = 65534;

// Runs fn in a forked child and returns its raw wait status.
inline int RunChild(const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// The child's exit code, or 1000 + signal if it was killed.
inline int ChildResult(const std::function<int()>& fn) {
  int st = RunChild(fn);
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 1000 + WTERMSIG(st);
  return -1;
}

// Runs fn as uid/gid 65534 with no supplementary groups; fn's result is its
// errno-style answer (0 = success), 200 if the uid could not be changed.
inline int AsNobody(const std::function<int()>& fn) {
  return ChildResult([&] {
    if (setgroups(0, nullptr) != 0 || setresgid(kNobody, kNobody, kNobody) != 0 ||
        setresuid(kNobody, kNobody, kNobody) != 0)
      return 200;
    return fn();
  });
}

// errno of a call that returned -1, 0 if it succeeded.
inline int Err(long rc) { return rc == -1 ? errno : 0; }

// The /proc/self/maps line of the mapping that starts at addr ("" if none).
inline std::string MapsLine(const void* addr) {
  std::ifstream in("/proc/self/maps");
  std::string line;
  char want[32];
  snprintf(want, sizeof(want), "%lx-", reinterpret_cast<unsigned long>(addr));
  while (std::getline(in, line))
    if (line.rfind(want, 0) == 0) return line;
  return "";
}

// The path field of a maps line (everything after the inode number).
inline std::string MapsPath(const std::string& line) {
  // start-end perms offset dev inode path
  size_t pos = 0;
  for (int field = 0; field < 5 && pos != std::string::npos; field++) {
    pos = line.find(' ', pos);
    if (pos != std::string::npos) pos = line.find_first_not_of(' ', pos);
  }
  return pos == std::string::npos ? "" : line.substr(pos);
}

// The "dev inode" fields of a maps line.
inline std::string MapsDevIno(const std::string& line) {
  char dev[32] = {0};
  unsigned long ino = 0;
  if (sscanf(line.c_str(), "%*s %*s %*s %31s %lu", dev, &ino) != 2) return "";
  return std::string(dev) + " " + std::to_string(ino);
}

inline bool IsRoot() { return geteuid() == 0; }

// True when this test runs under shmrun (its side-by-side run: the same
// facts held against libshm's managed objects, tests/kernel/CMakeLists.txt).
// The few facts that are about /dev/shm itself (a path, its device, a raw
// unlink of the path, userfaultfd on the file) are libshm's documented
// differences (docs/named.md "Differences from the kernel") and are checked
// only against the kernel.
inline bool UnderLibshm() { return getenv("LIBSHM_SESSION") != nullptr; }

}  // namespace libshm::test

#endif  // LIBSHM_TESTS_KERNEL_KERNEL_PROBE_H_
