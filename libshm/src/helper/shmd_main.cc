// SPDX-License-Identifier: MIT
// shmd: the libshm helper process. It hosts the engine for one session and
// exits when its last client is gone (or, while none has joined, when the
// process that started it is), removing its (already unlinked) swap file.
// Started by the library (posix_spawn, --listen-fd, --detach, --starter) or
// by shmrun; `shmd --probe` prints the kernel feature table and the mode.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>

#include "config.h"
#include "engine.h"
#include "libshm/version.h"
#include "log.h"
#include "probe.h"
#include "session_socket.h"
#include "stats.h"
#include "sys/syscalls.h"

extern char** environ;

namespace {

using namespace libshm::internal;

void Usage(FILE* out) {
  fputs(
      "usage: shmd --probe\n"
      "       shmd --listen-fd=FD [--ready-fd=FD] [--detach] [--starter=PID]\n"
      "       shmd --listen=ADDRESS\n"
      "The libshm helper: serves userfaultfd faults of managed regions for one session.\n"
      "libshm and shmrun start it; it exits when the last client of its session is gone\n"
      "(or, while none has joined, when the process that started it is).\n"
      "  --probe            print the kernel's userfaultfd features and the mode, and exit\n"
      "                     (status 1 if userfaultfd is unavailable)\n"
      "  --listen-fd=FD     serve the session on FD, an inherited listening socket\n"
      "  --listen=ADDRESS   listen on the session address ADDRESS and serve it\n"
      "  --ready-fd=FD      write one byte to FD, then close it, once serving\n"
      "  --detach           fork once more, so that the helper is no child of its launcher\n"
      "  --starter=PID      the launcher, which must be the parent (default: the parent);\n"
      "                     until a client joins, the helper waits for it while it lives\n"
      "  -h, --help         print this help and exit\n"
      "  --version          print the version and exit\n"
      "Configured from LIBSHM_* variables (see libshm(3)).\n",
      out);
}

void WriteToFile(void* f, const char* s) { fputs(s, static_cast<FILE*>(f)); }

// Closes every fd from 3 up but `a` and `b` (both > 2).
void CloseAllFdsExcept(int a, int b) {
  unsigned lo = static_cast<unsigned>(std::min(a, b)), hi = static_cast<unsigned>(std::max(a, b));
  if (lo > 3) close_range(3, lo - 1, 0);
  if (hi > lo + 1) close_range(lo + 1, hi - 1, 0);
  close_range(hi + 1, ~0u, 0);
}

// The helper holds one memfd per region and a socket, uffd and pidfd per
// client: at the common soft limit of 1024 open files, about 1,000 regions or
// 340 clients exhaust it (issue 10). Raise the soft limit to the hard one.
// Only here: an engine running as a thread of a program leaves its limits alone.
void RaiseOpenFileLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t was = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (was != rl.rlim_max && setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    LIBSHM_LOG_DEBUG("open files: cannot raise the limit from %llu to %llu: %s",
                     static_cast<unsigned long long>(was),
                     static_cast<unsigned long long>(rl.rlim_max), strerror(errno));
    return;
  }
  LIBSHM_LOG_DEBUG("open files: limit %llu (was %llu)",
                   static_cast<unsigned long long>(rl.rlim_cur),
                   static_cast<unsigned long long>(was));
}

}  // namespace

int main(int argc, char** argv) {
  int listen_fd = -1;
  int ready_fd = -1;  // written once serving (SpawnHelper waits for it)
  bool detach = false;
  pid_t starter_arg = 0;  // --starter: who SpawnHelper says started us
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--probe") == 0) {
      PrintProbe(ProbeKernel(), STDOUT_FILENO);
      return ProbeKernel().mode == RunMode::kUnavailable ? 1 : 0;
    } else if (strncmp(argv[i], "--listen-fd=", 12) == 0) {
      listen_fd = atoi(argv[i] + 12);
    } else if (strncmp(argv[i], "--listen=", 9) == 0) {
      listen_fd = ListenSession(argv[i] + 9);
      if (listen_fd < 0) {
        fprintf(stderr, "shmd: cannot listen on %s: %s\n", argv[i] + 9, strerror(-listen_fd));
        return 1;
      }
    } else if (strncmp(argv[i], "--ready-fd=", 11) == 0) {
      ready_fd = atoi(argv[i] + 11);
    } else if (strncmp(argv[i], "--starter=", 10) == 0) {
      starter_arg = static_cast<pid_t>(atoi(argv[i] + 10));
    } else if (strcmp(argv[i], "--detach") == 0) {
      detach = true;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      Usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("shmd (libshm) %s\n", LIBSHM_VERSION_STRING);
      return 0;
    } else {
      Usage(stderr);
      return 2;
    }
  }
  if (listen_fd < 0) {
    Usage(stderr);
    return 2;
  }
  int listening = 0;
  socklen_t optlen = sizeof(listening);
  if (getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) != 0 || !listening) {
    fprintf(stderr, "shmd: fd %d is not a listening socket\n", listen_fd);
    return 2;
  }
  if (listen_fd <= STDERR_FILENO) listen_fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 3);
  if (ready_fd <= STDERR_FILENO) ready_fd = -1;
  // Nothing of the launcher's but the socket: fds it leaked to us (a pipe,
  // another process's socket) would stay open as long as the session.
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
  }
  if (devnull > STDERR_FILENO) close(devnull);
  CloseAllFdsExcept(listen_fd, ready_fd >= 0 ? ready_fd : listen_fd);
  fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
  fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
  // Who started us (the library, shmrun; by hand: a shell): until a member
  // says hello, the session waits for it while it lives, and not after (a
  // starter killed before it connected left the helper for ever). It is our
  // parent; taken before the detach. SpawnHelper names itself (--starter):
  // a parent killed before we got here has left us to a reaper (init, a
  // subreaper) that getppid() would name instead. getppid() is read again
  // after pidfd_open: if it changed, the starter is gone and the pidfd may
  // name another process.
  pid_t starter = starter_arg > 0 ? starter_arg : getppid();
  int starter_pidfd = getppid() == starter ? sys::PidfdOpen(starter) : -ESRCH;
  // Another error: no pidfds (Linux < 5.3); the session begins with its
  // first connection, as before.
  bool starter_known = starter_pidfd >= 0 || starter_pidfd == -ESRCH;
  if (starter_pidfd >= 0 && getppid() != starter) {
    close(starter_pidfd);
    starter_pidfd = -ESRCH;
  }
  if (starter_pidfd < 0) starter_pidfd = -1;
  if (detach) {
    // Double fork: the helper must not be a child of the program it serves.
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid > 0) _exit(0);
  }
  static char tag[32];
  snprintf(tag, sizeof(tag), "shmd[%d]", static_cast<int>(getpid()));
  SetLogTag(tag);
  // Terminal signals go to the program, not to its helper; the helper ends
  // when its last client does.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  // A lease break would send SIGIO: the hold probe of program objects takes
  // a lease for an instant (program_objects.cc).
  signal(SIGIO, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  // A service stop sends SIGTERM to the whole group or cgroup: the programs
  // run their shutdown and still need their memory served. The helper leaves
  // when its last client does (SIGKILL ends it at once; see docs/security.md).
  signal(SIGTERM, SIG_IGN);
  prctl(PR_SET_NAME, "shmd");

  Options opts;
  ParseOptions(&opts, environ, /*warn=*/false);  // the client already warned
  SetLogVerbosity(static_cast<int>(opts.verbose));
  RaiseOpenFileLimit();
  Engine engine(opts);
  int rc = engine.Init(listen_fd);
  if (starter_known) engine.SetStarter(starter, starter_pidfd);  // the engine owns it now
  if (rc != 0) {
    // Init said why: tell the launcher so, or it would add a line of its own.
    char said = 'E';
    if (ready_fd >= 0 && write(ready_fd, &said, 1) != 1) {
      // The launcher is gone.
    }
    return 1;
  }
  if (ready_fd >= 0) {
    char byte = 'R';
    if (write(ready_fd, &byte, 1) != 1) {
      // The launcher is gone; serve anyway.
    }
    close(ready_fd);
  }
  engine.Run();
  libshm_stats_t s = engine.Snapshot();
  if (opts.show_stats) PrintStats(s, /*json=*/false, WriteToFile, stderr);
  if (opts.stats_file[0] != '\0') {
    FILE* f = fopen(opts.stats_file, "w");
    if (f != nullptr) {
      PrintStats(s, /*json=*/true, WriteToFile, f);
      fclose(f);
    } else {
      LIBSHM_LOG_ERROR("cannot write %s: %s", opts.stats_file, strerror(errno));
    }
  }
  return 0;
}
