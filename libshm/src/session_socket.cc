// SPDX-License-Identifier: MIT
#include "session_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

namespace libshm::internal {

socklen_t SessionAddress(const char* address, struct sockaddr_un* sa) {
  memset(sa, 0, sizeof(*sa));
  sa->sun_family = AF_UNIX;
  const char* hash = strchr(address, '#');
  size_t n = hash != nullptr ? static_cast<size_t>(hash - address) : strlen(address);
  if (n == 0 || n >= sizeof(sa->sun_path)) return 0;
  memcpy(sa->sun_path, address, n);
  if (address[0] == '@') sa->sun_path[0] = '\0';  // abstract namespace
  return static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + n);
}

int ListenSession(const char* address) {
  struct sockaddr_un sa;
  socklen_t len = SessionAddress(address, &sa);
  if (len == 0) return -EINVAL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sa), len) != 0 || listen(fd, 128) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int ConnectSession(const char* address, bool nonblocking) {
  struct sockaddr_un sa;
  socklen_t len = SessionAddress(address, &sa);
  if (len == 0) return -EINVAL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -errno;
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&sa), len) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int CallHelper(int sock, const Request& req, Reply* reply, int send_fd, int* recv_fd) {
  if (recv_fd != nullptr) *recv_fd = -1;
  if (sock < 0) return -ENOTCONN;
  int rc = SendPacket(sock, &req, sizeof(req), send_fd);
  if (rc != 0) return rc;
  int fd = -1;
  long n = RecvPacket(sock, reply, sizeof(*reply), &fd);
  if (n != static_cast<long>(sizeof(*reply))) {
    if (fd >= 0) close(fd);
    return n < 0 ? static_cast<int>(n) : -ECONNRESET;
  }
  if (fd == kFdLost) {
    // The helper sent an fd we had no room for.
    return reply->status == 0 ? -EMFILE : reply->status;
  }
  if (recv_fd != nullptr) {
    *recv_fd = fd;
  } else if (fd >= 0) {
    close(fd);
  }
  return reply->status;
}

int SpawnHelper(const char* path, int listen_fd, char* const* envp) {
  // fd 4 of the helper: a pipe it writes one byte to once it serves, or
  // closes (by exiting) after saying why it cannot.
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return -errno;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, listen_fd, 3);
  posix_spawn_file_actions_adddup2(&actions, ready[1], 4);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own session: terminal signals go to the program, not to its helper.
  // And none of the program's signal state (a mask or SIG_IGN set by the
  // thread that happened to map first): the helper sets its own.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char arg0[] = "shmd", arg1[] = "--listen-fd=3", arg2[] = "--detach", arg3[] = "--ready-fd=4";
  // Who the helper waits for until a client joins: we may be killed before
  // it runs, and then its parent is no longer us (shmd_main.cc).
  char arg4[32];
  snprintf(arg4, sizeof(arg4), "--starter=%d", static_cast<int>(getpid()));
  char* argv[] = {arg0, arg1, arg2, arg3, arg4, nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, path, &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(ready[1]);
  if (rc != 0) {
    close(ready[0]);
    return -rc;
  }
  // The first shmd forks the real helper and exits at once (--detach).
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  char byte = 0;
  ssize_t n;
  do {
    n = read(ready[0], &byte, 1);
  } while (n < 0 && errno == EINTR);
  close(ready[0]);
  if (n != 1) return kHelperSilent;
  return byte == 'E' ? kHelperSaidWhy : 0;
}

const char* HelperStartError(int rc) {
  if (rc == kHelperSilent) return "it exited without serving: is it shmd?";
  return strerror(-rc);
}

}  // namespace libshm::internal
