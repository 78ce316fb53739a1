// SPDX-License-Identifier: MIT
// Tools for the hostile-client suite: a helper at a known address, raw
// protocol connections that can send anything, and children that run as
// another uid, inside the session's tree or outside it.
#ifndef LIBSHM_TESTS_SECURITY_SECURITY_UTIL_H_
#define LIBSHM_TESTS_SECURITY_SECURITY_UTIL_H_

#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <string>

#include "protocol.h"
#include "session_socket.h"
#include "test_util.h"

namespace libshm::test {

using internal::CallHelper;
using internal::ConnectSession;
using internal::ListenSession;
using internal::Op;
using internal::Reply;
using internal::Request;

constexpr uid_t kNobody = 65534;

// Starts shmd serving a new abstract address (as `uid`, with this process's
// environment), bound before the fork so nobody can race it. The helper is
// this process's child; *pid gets it. Returns the address.
inline std::string StartHelper(uid_t uid, pid_t* pid) {
  static int n = 0;
  std::string address = "@libshm-sec-" + std::to_string(getpid()) + "-" + std::to_string(n++) +
                        "-" + std::to_string(random());
  int lfd = ListenSession(address.c_str());
  if (lfd < 0) return "";
  *pid = fork();
  if (*pid == 0) {
    if (uid != 0 && (setgid(uid) != 0 || setuid(uid) != 0)) _exit(126);
    if (lfd != 3) dup2(lfd, 3);
    fcntl(3, F_SETFD, 0);  // dup2 onto itself would keep CLOEXEC
    execl(LIBSHM_SHMD_PATH, "shmd", "--listen-fd=3", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(lfd);
  return address;
}

// True if process `pid` (a child of this process) exits within `ms`.
inline bool ExitsWithin(pid_t pid, int ms) { return WaitWithDeadline(pid, ms) != kChildTimedOut; }

// True if the helper process (our child) is still running (not a zombie).
inline bool HelperAlive(pid_t helper) {
  int status;
  return waitpid(helper, &status, WNOHANG) == 0;
}

// A raw connection: sends whatever it is told.
class Raw {
 public:
  explicit Raw(const std::string& address) : sock_(ConnectSession(address.c_str())) {}
  ~Raw() {
    if (sock_ >= 0) close(sock_);
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  bool connected() const { return sock_ >= 0; }

  // Status of the reply (0 or -errno), or a transport error (-ECONNRESET,
  // -EPIPE: the helper closed the connection).
  int Call(Request req, int send_fd = -1, int* recv_fd = nullptr, Reply* out = nullptr) {
    Reply reply;
    int rc = CallHelper(sock_, req, out != nullptr ? out : &reply, send_fd, recv_fd);
    return rc;
  }
  int Call(Op op, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0) {
    Request req;
    req.op = op;
    req.a = a;
    req.b = b;
    req.c = c;
    req.d = d;
    return Call(req);
  }
  // True if the helper has closed this connection (EOF or reset).
  bool ClosedByHelper() {
    char buf[8];
    for (int i = 0; i < 200; i++) {
      ssize_t n = recv(sock_, buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
      usleep(5000);
    }
    return false;
  }

 private:
  int sock_;
};

// A transport error: the helper refused or closed the connection.
inline bool Refused(int rc) { return rc == -ECONNRESET || rc == -EPIPE || rc == -ENOTCONN; }

inline bool BecomeUid(uid_t uid) {
  return setgroups(0, nullptr) == 0 && setgid(uid) == 0 && setuid(uid) == 0;
}

// Runs fn as `uid` in a forked child: a member of the session's tree (it
// descends from this process, a client). Returns the wait status.
inline int AsMember(uid_t uid, const std::function<int()>& fn, int timeout_ms = 60000) {
  return ForkAndWaitWithDeadline([&] { return BecomeUid(uid) ? fn() : 99; }, timeout_ms);
}

// Runs fn as `uid` in a process that is not a descendant of this one: a
// grandchild whose parent exited first (it is re-parented to init). Returns
// fn's result, or -1 if it did not finish within timeout_ms.
inline int AsOutsider(uid_t uid, const std::function<int()>& fn, int timeout_ms = 60000) {
  volatile uint64_t* word = SharedWord();  // [0]: done flag, [1]: result
  pid_t child = fork();
  if (child == 0) {
    pid_t parent = getpid();
    if (fork() == 0) {
      while (getppid() == parent) usleep(1000);  // wait to be an orphan
      int rc = BecomeUid(uid) ? fn() : 99;
      word[1] = static_cast<uint64_t>(rc);
      word[0] = 1;
      _exit(0);
    }
    _exit(0);
  }
  int status;
  waitpid(child, &status, 0);
  for (int ms = 0; ms < timeout_ms && word[0] == 0; ms += 2) usleep(2000);
  return word[0] != 0 ? static_cast<int>(word[1]) : -1;
}

inline pid_t HelperPid() {
  uint64_t pid = 0;
  size_t len = sizeof(pid);
  return libshm_ctl("session.helper_pid", &pid, &len, nullptr, 0) == 0 ? static_cast<pid_t>(pid)
                                                                       : -1;
}

}  // namespace libshm::test

#endif  // LIBSHM_TESTS_SECURITY_SECURITY_UTIL_H_
