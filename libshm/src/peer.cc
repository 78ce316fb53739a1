// SPDX-License-Identifier: MIT
#include "peer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "sys/syscalls.h"
#include "test_hooks.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // Linux 6.5
#endif

namespace libshm::internal {

int ReadPeer(int sock, Peer* out) {
  struct ucred cred = {};
  socklen_t len = sizeof(cred);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -errno;
  out->pid = cred.pid;
  out->uid = cred.uid;
  int pidfd = -1;
  len = sizeof(pidfd);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) {
    // Older kernel: a pidfd opened now. The pid was the peer's at connect
    // time; it is alive while the connection is (or reused, which the
    // caller's ancestry check then fails).
    pidfd = sys::PidfdOpen(cred.pid);
  }
  out->pidfd = pidfd >= 0 ? pidfd : -1;
  if (out->pidfd >= 0) fcntl(out->pidfd, F_SETFD, FD_CLOEXEC);
  return 0;
}

pid_t ParentOf(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // parse after the last ')'.
  const char* close_paren = strrchr(buf, ')');
  int ppid;
  char state;
  if (close_paren == nullptr || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2) return -1;
  return ppid;
}

bool PidfdExited(int pidfd) {
  if (pidfd < 0) return true;
  struct pollfd p = {pidfd, POLLIN, 0};
  return poll(&p, 1, 0) != 0;  // readable (exited) or error
}

namespace {

// Test hook (test_hooks.h): LIBSHM_TEST_PAUSE_IN_ANCESTRY_CHECK_US=N makes every ancestry check
// that found a member sleep N microseconds (at most 10 s) between its two reads of the parent
// chain, so that a test can change the chain (a process of it exits) in that window every time.
void TestPauseInAncestryCheck() {
  static const uint64_t us = TestPauseUs("LIBSHM_TEST_PAUSE_IN_ANCESTRY_CHECK_US");
  SleepUs(us);
}

}  // namespace

bool DescendsFromMember(pid_t pid, const std::function<bool(pid_t)>& is_member) {
  constexpr int kMaxDepth = 64;
  pid_t chain[kMaxDepth + 1];
  chain[0] = pid;
  int n = 0;
  bool found = false;
  while (n < kMaxDepth) {
    pid_t parent = ParentOf(chain[n]);
    if (parent <= 0) return false;
    chain[++n] = parent;
    if (is_member(parent)) {
      found = true;
      break;
    }
    if (parent == 1) return false;
  }
  if (!found) return false;
  TestPauseInAncestryCheck();
  // Read every link again: if a process of the chain died and its pid was
  // reused in between, its child was reparented and the links differ.
  for (int i = 0; i < n; i++) {
    if (ParentOf(chain[i]) != chain[i + 1]) return false;
  }
  return is_member(chain[n]);
}

}  // namespace libshm::internal
