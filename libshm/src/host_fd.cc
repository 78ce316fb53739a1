// SPDX-License-Identifier: MIT
#include "host_fd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace libshm::internal {
namespace {

// Whether /proc/self/fd says `fd` is an anonymous inode of `kind`.
bool IsAnonKind(int fd, const char* kind) {
  char path[40], target[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof(target) - 1);
  if (n <= 0) return false;
  target[n] = '\0';
  return strcmp(target, kind) == 0;
}

// The pid a pidfd names (its fdinfo "Pid:" line: -1 once that process is
// gone), or 0 if it cannot be read.
long PidfdPid(int fd) {
  char path[40], info[512];
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
  FILE* f = fopen(path, "re");
  if (f == nullptr) return 0;
  size_t n = fread(info, 1, sizeof(info) - 1, f);
  fclose(f);
  info[n] = '\0';
  const char* line = strstr(info, "\nPid:");
  return line == nullptr ? 0 : strtol(line + 5, nullptr, 10);
}

}  // namespace

bool StillOurUffd(const HostFd& h) {
  return h.StillOurs() && IsAnonKind(h.fd, "anon_inode:[userfaultfd]");
}

bool IsOurPidfdOfExited(const HostFd& h, pid_t pid) {
  if (!h.StillOurs() || !IsAnonKind(h.fd, "anon_inode:[pidfd]")) return false;
  long named = PidfdPid(h.fd);
  if (named == pid) return true;  // ours: the process exited (it may be a zombie still)
  // -1: its process is gone, whichever it was. Before Linux 6.9 every pidfd
  // is one anonymous inode, so it may be a pidfd the program opened on our
  // number: the helper is gone only if its pid is.
  return named == -1 && kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace libshm::internal
