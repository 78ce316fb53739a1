// SPDX-License-Identifier: MIT
// HostFd: a descriptor libshm opened inside a host program, and whether it
// is still libshm's. Programs close descriptors they did not open (a forked
// child's closefrom before exec, Python's subprocess, daemons) and the kernel
// hands the numbers out again, to the program's own files and sockets.
// libshm reads, writes, polls or closes one of its descriptors only while
// fstat still names the file it opened: sockets, pipes and pidfds each have
// an inode of their own, so (st_dev, st_ino) tells them from anything the
// program opened since. A userfaultfd (and a pidfd before Linux 6.9) is an
// anonymous inode, shared with every eventfd, epoll and timerfd: its kind is
// checked as well.
//
// fstat is async-signal-safe: NoteNative may run in a signal handler.
#ifndef LIBSHM_SRC_HOST_FD_H_
#define LIBSHM_SRC_HOST_FD_H_

#include <sys/stat.h>
#include <sys/types.h>

namespace libshm::internal {

struct HostFd {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;

  // Remembers what `fd` names now (-1, or an fd fstat refuses: none).
  static HostFd Remember(int fd) {
    HostFd h;
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
      h.fd = fd;
      h.dev = st.st_dev;
      h.ino = st.st_ino;
    }
    return h;
  }

  // True while the number is open and names the file remembered.
  bool StillOurs() const {
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
  }
};

// True if `h` is still a userfaultfd with the inode remembered
// (/proc/self/fd says its kind; without /proc, false: a descriptor of unknown
// kind is left open, never closed as if it were ours).
bool StillOurUffd(const HostFd& h);

// After an event on `h`, a pidfd of `pid` (the helper): true if it is still
// that pidfd and `pid` has exited; false if the number is no longer ours (a
// pidfd is an anonymous inode before Linux 6.9, so its kind and the pid it
// names are checked too). Not async-signal-safe (reads /proc).
bool IsOurPidfdOfExited(const HostFd& h, pid_t pid);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_HOST_FD_H_
