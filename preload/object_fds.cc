// SPDX-License-Identifier: MIT
// Which descriptors name managed objects (client.h IsObjectFd), kept true as
// descriptors are copied, received and inherited, so that file I/O on every
// one of them goes through a mapping (object_io.cc): read of a swapped page
// through an unmarked copy returned zeros, and a write into one hid the
// page's swapped data.
//
// - dup, dup2, dup3 (and fcntl F_DUPFD: seals.cc) copy the bit.
// - recvmsg marks every memfd an SCM_RIGHTS message brings.
// - At start, in a session, every memfd the process inherited (fork and
//   exec keep descriptors) is marked.
// A mark is a hint: the first I/O asks the helper, and a memfd that is not
// a managed object is cleared and left to the kernel from then on.
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "client.h"
#include "libshm/libshm.h"
#include "sys/syscalls.h"

namespace sys = libshm::internal::sys;

namespace {

// `to` names what `from` names now (or nothing, if `from` is no object's).
void CopyMark(int from, int to) {
  if (libshm::internal::IsObjectFd(from)) {
    libshm::internal::MarkObjectFd(to);
  } else {
    libshm::internal::ClearObjectFd(to);
  }
}

int Result(long rc) {
  if (rc < 0) {
    errno = static_cast<int>(-rc);
    return -1;
  }
  return static_cast<int>(rc);
}

// Marks each memfd among the SCM_RIGHTS descriptors `msg` carries.
void MarkReceived(const struct msghdr* msg) {
  if (msg == nullptr || msg->msg_control == nullptr || msg->msg_controllen < sizeof(cmsghdr)) {
    return;
  }
  for (const cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(msg)); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(msg), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, data + i * sizeof(int), sizeof(int));
      if (libshm::internal::IsMemfdFile(fd)) libshm::internal::MarkObjectFd(fd);
    }
  }
}

using RecvmsgFn = ssize_t (*)(int, struct msghdr*, int);
RecvmsgFn glibc_recvmsg = nullptr;  // looked up at load (see object_io.cc)

__attribute__((constructor)) void FindRecvmsgAndMarkInherited() {
  glibc_recvmsg = reinterpret_cast<RecvmsgFn>(dlsym(RTLD_NEXT, "recvmsg"));
  // Only in a session: outside one nothing is managed.
  if (getenv("LIBSHM_SESSION") == nullptr) return;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  const int own = dirfd(dir);
  while (struct dirent* e = readdir(dir)) {
    char* end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end != '\0' || fd < 0 || fd == own) continue;
    if (libshm::internal::IsMemfdFile(static_cast<int>(fd))) {
      libshm::internal::MarkObjectFd(static_cast<int>(fd));
    }
  }
  closedir(dir);
}

}  // namespace

extern "C" {

LIBSHM_EXPORT int dup(int fd) {
  int rc = Result(sys::Syscall(SYS_dup, fd));
  if (rc >= 0) CopyMark(fd, rc);
  return rc;
}

LIBSHM_EXPORT int dup2(int from, int to) {
  int rc = Result(sys::Syscall(SYS_dup2, from, to));
  if (rc >= 0) CopyMark(from, rc);
  return rc;
}

LIBSHM_EXPORT int __dup2(int from, int to) { return dup2(from, to); }

LIBSHM_EXPORT int dup3(int from, int to, int flags) {
  int rc = Result(sys::Syscall(SYS_dup3, from, to, flags));
  if (rc >= 0) CopyMark(from, rc);
  return rc;
}

LIBSHM_EXPORT ssize_t recvmsg(int sock, struct msghdr* msg, int flags) {
  ssize_t rc = glibc_recvmsg != nullptr
                   ? glibc_recvmsg(sock, msg, flags)
                   : static_cast<ssize_t>(Result(
                         sys::Syscall(SYS_recvmsg, sock, reinterpret_cast<long>(msg), flags)));
  if (rc >= 0) MarkReceived(msg);
  return rc;
}

}  // extern "C"
