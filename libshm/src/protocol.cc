// SPDX-License-Identifier: MIT
#include "protocol.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace libshm::internal {

int SendPacket(int sock, const void* buf, size_t len, int fd, int flags) {
  struct iovec iov = {const_cast<void*>(buf), len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
    if (n >= 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

long RecvPacket(int sock, void* buf, size_t len, int* fd) {
  struct iovec iov = {buf, len};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  *fd = -1;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  bool truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
  // A packet larger than the buffer is cut to fit and would pass for one of
  // the right size: say it was larger.
  if ((msg.msg_flags & MSG_TRUNC) != 0) n = static_cast<ssize_t>(len) + 1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (*fd < 0) {
        *fd = got;
      } else {
        close(got);  // more than we asked for: never leak
      }
    }
  }
  // The kernel drops passed fds it cannot install (the receiver's fd table
  // is full) and says so only with MSG_CTRUNC.
  if (truncated && *fd < 0) *fd = kFdLost;
  return n;
}

}  // namespace libshm::internal
