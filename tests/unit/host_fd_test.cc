// SPDX-License-Identifier: MIT
// HostFd: a descriptor libshm opened in a host program is its own only while
// the number still names the file it opened; the program may close it and
// get the number back for a file of its own.
#include "host_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace libshm::internal {
namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

TEST(HostFd, ANumberReusedForAnotherFileIsNotOurs) {
  int ours[2], theirs[2];
  ASSERT_EQ(pipe(ours), 0);
  ASSERT_EQ(pipe(theirs), 0);
  HostFd h = HostFd::Remember(ours[0]);
  EXPECT_TRUE(h.StillOurs());
  ASSERT_EQ(dup2(theirs[0], ours[0]), ours[0]);  // the program reuses the number
  EXPECT_FALSE(h.StillOurs()) << "another pipe on our number was taken for ours";
  close(ours[0]);
  EXPECT_FALSE(h.StillOurs()) << "a closed number was taken for ours";
  EXPECT_FALSE(HostFd::Remember(-1).StillOurs());
  for (int fd : {ours[1], theirs[0], theirs[1]}) close(fd);
}

// A userfaultfd is an anonymous inode, like every eventfd: fstat alone
// cannot tell them apart, its kind can.
TEST(HostFd, AnEventfdOnAUffdsNumberIsNotOurUffd) {
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
  if (uffd < 0) GTEST_SKIP() << "no userfaultfd here";
  HostFd h = HostFd::Remember(uffd);
  EXPECT_TRUE(StillOurUffd(h));
  int ev = eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(ev, 0);
  ASSERT_EQ(dup2(ev, uffd), uffd);
  EXPECT_FALSE(StillOurUffd(h)) << "an eventfd on the uffd's number was taken for the uffd";
  close(ev);
  close(uffd);
}

TEST(HostFd, APidfdOfAnExitedProcessIsSeenAsSuchWhetherReapedOrNot) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int pidfd = PidfdOpen(child);
  ASSERT_GE(pidfd, 0);
  HostFd h = HostFd::Remember(pidfd);
  siginfo_t info;
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  EXPECT_TRUE(IsOurPidfdOfExited(h, child)) << "a zombie";
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(IsOurPidfdOfExited(h, child)) << "reaped";
  // The number reused by a pidfd of another (live) process: not ours.
  int other = PidfdOpen(getpid());
  ASSERT_GE(other, 0);
  ASSERT_EQ(dup2(other, pidfd), pidfd);
  EXPECT_FALSE(IsOurPidfdOfExited(h, child));
  // Or by a pipe.
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(dup2(p[0], pidfd), pidfd);
  EXPECT_FALSE(IsOurPidfdOfExited(h, child));
  for (int fd : {other, pidfd, p[0], p[1]}) close(fd);
}

}  // namespace
}  // namespace libshm::internal
