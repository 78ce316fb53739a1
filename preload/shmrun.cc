// SPDX-License-Identifier: MIT
// shmrun: run a command tree under one libshm session.
//
//   shmrun [--limit SIZE] [--policy NAME] [--swap-dir DIR] [--stats[=FILE]]
//          [--user USER] [--] CMD [ARG...]
//
// Starts one helper for the whole tree (so --limit bounds the tree), exports
// LD_PRELOAD and the session address, runs CMD and exits with its status.
// Started as root, the helper keeps its privilege and lends each member a
// full userfaultfd, so programs that drop privileges (postgres, nginx
// workers) still run in full mode (privilege separation). Members that run as
// another user are admitted because they descend from the session's
// processes (the kernel's parent links), which nothing they send can fake.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "config.h"
#include "libshm/policy.h"
#include "libshm/version.h"
#include "protocol.h"
#include "session_socket.h"
#include "stats.h"
#include "swap_file.h"

extern char** environ;

namespace {

using namespace libshm::internal;

const char kUsage[] =
    "usage: shmrun [--limit SIZE] [--policy NAME] [--swap-dir DIR] [--stats[=FILE]]\n"
    "              [--user USER] [--] CMD [ARG...]\n"
    "Run CMD with its shared memory (MAP_SHARED|MAP_ANONYMOUS, /dev/zero, POSIX shm\n"
    "objects from shm_open, memfds, System V segments with a key) managed by libshm:\n"
    "one helper and one memory limit for the whole process tree; shm_open names and\n"
    "shmget keys live in the helper, not in /dev/shm or the kernel.\n"
    "  --limit SIZE     resident limit of the tree, e.g. 256M, 2G (default LIBSHM_LIMIT or 256M)\n"
    "  --policy NAME    eviction policy: fifo, clock, ... (default clock), with\n"
    "                   optional parameters: clock:insert_ref=0 (shmsim --list)\n"
    "  --swap-dir DIR   directory of the session's swap file (default /var/tmp)\n"
    "  --stats[=FILE]   print the stats table on stderr when CMD exits, or write JSON to FILE\n"
    "                   (rewritten when the session ends)\n"
    "  --user USER      run CMD as USER; the helper keeps root (full mode for the tree)\n"
    "  -h, --help       print this help and exit\n"
    "  --version        print the version and exit\n"
    "Exits with CMD's status (128+N if CMD died of signal N). LIBSHM_* variables apply.\n";

// A usage error: one line that names the cause and the fix (issue 14).
[[noreturn]] void Fail(const char* fmt, const char* arg) {
  fprintf(stderr, "shmrun: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  exit(2);
}

std::string ExeDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  std::string s(buf);
  return s.substr(0, s.rfind('/'));
}

// The first executable/readable of: an environment override, paths beside
// this binary (install tree: bin/ -> lib/, libexec/libshm/), the build tree.
std::string Locate(const char* env, const char* const* relative, const char* build,
                   const char* install) {
  const char* e = getenv(env);
  if (e != nullptr && *e != '\0') return e;
  std::string dir = ExeDir();
  for (const char* const* r = relative; *r != nullptr; r++) {
    std::string p = dir + "/" + *r;
    if (access(p.c_str(), R_OK) == 0) return p;
  }
  if (access(build, R_OK) == 0) return build;
  return install;
}

pid_t child_pid = 0;
void Forward(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

void WriteTo(void* f, const char* s) { fputs(s, static_cast<FILE*>(f)); }

bool ReadAll(int fd, void* buf, size_t len) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// A connection that holds the session open (an owner: a hello without a
// uffd). Returns the socket, or -1; *reply gets the helper's answer.
int ConnectOwner(const std::string& address, Reply* reply) {
  int conn = ConnectSession(address.c_str());
  Request hello;
  hello.op = Op::kHello;
  if (conn >= 0 && CallHelper(conn, hello, reply, -1, nullptr) == 0) return conn;
  if (conn >= 0) close(conn);
  return -1;
}

// The session keeper (see main): connects, starts CMD, reports CMD's pid and
// then its wait status on `report`, and reaps every process of the tree that
// is re-parented to it until none is left.
[[noreturn]] void RunKeeper(const std::string& address, const struct passwd* pw, char** cmd,
                            int report) {
  // Ctrl-C, a service stop, a hangup: for CMD, which gets them directly (and
  // from shmrun); the keeper leaves when the tree has.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) signal(sig, SIG_IGN);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  Reply reply;
  int conn = ConnectOwner(address, &reply);
  if (conn < 0) {
    fprintf(stderr, "shmrun: cannot hold the session open\n");
    _exit(1);
  }
  pid_t child = fork();
  if (child < 0) {
    perror("shmrun: fork");
    _exit(1);
  }
  if (child == 0) {
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) signal(sig, SIG_DFL);
    if (pw != nullptr) {
      if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
          setuid(pw->pw_uid) != 0) {
        perror("shmrun: cannot become the user");
        _exit(126);
      }
    }
    execvp(cmd[0], cmd);
    fprintf(stderr, "shmrun: %s: %s\n", cmd[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  if (write(report, &child, sizeof(child)) != sizeof(child)) _exit(1);
  // Hold no terminal or pipe of the program's: `shmrun cmd | cat` must end
  // when the tree's own ends do.
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int fd = 0; fd <= 2 && devnull >= 0; fd++) dup2(devnull, fd);
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;  // ECHILD: the tree is gone
    if (pid == child && write(report, &status, sizeof(status)) != sizeof(status)) {
      // shmrun is gone; keep the session for the rest of the tree.
    }
  }
  close(conn);
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  const char* limit = nullptr;
  const char* policy = nullptr;
  const char* swap_dir = nullptr;
  const char* user = nullptr;
  bool stats = false;
  const char* stats_file = nullptr;
  int i = 1;
  for (; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      size_t n = strlen(name);
      if (a.size() > n && a.compare(0, n, name) == 0 && a[n] == '=') return argv[i] + n + 1;
      if (a == name) {
        if (i + 1 >= argc) Fail("%s needs a value (see shmrun --help)", name);
        return argv[++i];
      }
      return nullptr;
    };
    const char* v;
    if (a == "--") {
      i++;
      break;
    } else if (a == "--help" || a == "-h") {
      fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      printf("shmrun (libshm) %s\n", LIBSHM_VERSION_STRING);
      return 0;
    } else if ((v = value("--limit")) != nullptr) {
      limit = v;
    } else if ((v = value("--policy")) != nullptr) {
      policy = v;
    } else if ((v = value("--swap-dir")) != nullptr) {
      swap_dir = v;
    } else if ((v = value("--user")) != nullptr) {
      user = v;
    } else if (a == "--stats") {
      stats = true;
    } else if (a.compare(0, 8, "--stats=") == 0) {
      stats = true;
      stats_file = argv[i] + 8;
    } else if (a[0] == '-') {
      Fail("unknown option %s (see shmrun --help)", argv[i]);
    } else {
      break;
    }
  }
  if (i >= argc) Fail("%s", "no command given: shmrun [OPTIONS] -- CMD [ARG...]");

  uint64_t bytes;
  if (limit != nullptr && !ParseSize(limit, &bytes)) {
    Fail("--limit %s: expected a size such as 256M or 2G (at least 1M)", limit);
  }
  if (limit != nullptr && bytes < (1u << 20)) {
    Fail("--limit %s is below the minimum 1M: give at least 1M, such as 256M", limit);
  }
  if (policy != nullptr) {
    char why[160] = "";
    const libshm_policy_ops* ops = libshm_policy_resolve(policy, why, sizeof(why));
    if (ops == nullptr || !ops->live) {
      char live[256];
      FormatLivePolicies(live, sizeof(live));
      std::string line = std::string("--policy ") + policy + " is not a live policy (" +
                         (ops == nullptr ? why : "simulation only") + "): use one of " + live;
      Fail("%s", line.c_str());
    }
  }
  struct passwd* pw = nullptr;
  if (user != nullptr) {
    pw = getpwnam(user);
    if (pw == nullptr) Fail("--user %s: no such user", user);
    if (geteuid() != 0) Fail("--user %s: needs root", user);
  }
  if (limit != nullptr) setenv("LIBSHM_LIMIT", limit, 1);
  if (policy != nullptr) setenv("LIBSHM_POLICY", policy, 1);
  if (swap_dir != nullptr) setenv("LIBSHM_SWAP_DIR", swap_dir, 1);
  if (stats_file != nullptr) setenv("LIBSHM_STATS_FILE", stats_file, 1);
  Options opts;
  ParseOptions(&opts, environ, /*warn=*/true);  // one line per bad LIBSHM_* value
  // The swap directory, before a helper fails on it.
  char why[160];
  if (ProbeSwapDir(opts.swap_dir, why, sizeof(why)) != 0) {
    std::string line = swap_dir != nullptr ? std::string("--swap-dir ") + swap_dir
                                           : std::string("LIBSHM_SWAP_DIR=") + opts.swap_dir;
    line += std::string(" cannot hold the swap file (") + why +
            "): give a writable directory on a disk (default /var/tmp)";
    Fail("%s", line.c_str());
  }

  // The session: an abstract address, random so that two sessions never
  // meet. It is no secret: the helper admits a process for what the kernel
  // says about it (its uid, its ancestry), not for what it knows
  // (docs/security.md).
  unsigned char raw[8];
  if (getrandom(raw, sizeof(raw), 0) != sizeof(raw)) Fail("%s", "getrandom failed");
  char tag[17];
  for (int k = 0; k < 8; k++) snprintf(tag + 2 * k, 3, "%02x", raw[k]);
  std::string address = "@libshm-run-" + std::to_string(getpid()) + "-" + tag;
  setenv("LIBSHM_SESSION", address.c_str(), 1);

  static const char* const kHelperRel[] = {"../libexec/libshm/shmd", "shmd", nullptr};
  static const char* const kPreloadRel[] = {"../lib/libshm_preload.so", "libshm_preload.so",
                                            "../" LIBSHM_LIBDIR_NAME "/libshm_preload.so", nullptr};
  std::string helper =
      Locate("LIBSHM_HELPER", kHelperRel, LIBSHM_BUILD_HELPER_PATH, LIBSHM_INSTALL_HELPER_PATH);
  std::string preload =
      Locate("LIBSHM_PRELOAD", kPreloadRel, LIBSHM_BUILD_PRELOAD_PATH, LIBSHM_INSTALL_PRELOAD_PATH);

  // Start the helper on a listening socket we made, so connecting cannot race it.
  int lfd = ListenSession(address.c_str());
  if (lfd < 0) {
    fprintf(stderr, "shmrun: cannot listen on %s: %s\n", address.c_str(), strerror(-lfd));
    return 1;
  }
  int rc = SpawnHelper(helper.c_str(), lfd, environ);
  close(lfd);
  if (rc == kHelperSaidWhy) return 1;  // its line is above
  if (rc != 0) {
    fprintf(stderr,
            "shmrun: cannot start the helper %s (%s): set LIBSHM_HELPER to the path of shmd, "
            "or unset it to use the one installed with shmrun\n",
            helper.c_str(), HelperStartError(rc));
    return 1;
  }

  // Our own connection keeps the session open until CMD is done.
  Reply reply;
  int owner = ConnectOwner(address, &reply);
  if (owner < 0) {
    fprintf(stderr, "shmrun: the helper did not start (see its message above)\n");
    return 1;
  }
  if (strcmp(reply.text, "unavailable") == 0) {
    fprintf(stderr,
            "shmrun: userfaultfd is unavailable here: CMD runs with native shared "
            "memory (shmd --probe tells why)\n");
  } else if (strcmp(reply.text, "restricted") == 0) {
    // Fork events need CAP_SYS_PTRACE in the helper whatever opened the
    // userfaultfd (the sysctl and the device only open it): only root helps.
    fprintf(stderr,
            "shmrun: restricted mode (%s): read(2)/write(2) of evicted managed memory fails "
            "with EFAULT; run shmrun as root (--user USER runs CMD as USER) for full mode: "
            "vm.unprivileged_userfaultfd=1 or access to /dev/userfaultfd is not enough, "
            "fork events need CAP_SYS_PTRACE\n",
            geteuid() != 0 ? "not root" : "no CAP_SYS_PTRACE");
  }

  const char* old = getenv("LD_PRELOAD");
  std::string ld = preload + (old != nullptr && *old != '\0' ? std::string(":") + old : "");
  setenv("LD_PRELOAD", ld.c_str(), 1);

  // The session keeper: CMD's parent and, as a child subreaper, the parent
  // of every process of the tree that daemonizes. It holds a connection to
  // the helper while any process of the tree lives, so the session survives
  // a launcher that exits, a daemon that maps long after, and a master that
  // re-execs with no other process connected; and it ends, with the swap
  // file, when the last one is gone. We only wait for CMD's status.
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) {
    perror("shmrun: pipe");
    return 1;
  }
  pid_t keeper = fork();
  if (keeper < 0) {
    perror("shmrun: fork");
    return 1;
  }
  if (keeper == 0) {
    close(status_pipe[0]);
    close(owner);
    RunKeeper(address, pw, argv + i, status_pipe[1]);  // never returns
  }
  close(status_pipe[1]);
  if (!ReadAll(status_pipe[0], &child_pid, sizeof(child_pid))) return 1;  // keeper said why
  struct sigaction sa_fwd = {};
  sa_fwd.sa_handler = Forward;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
    sigaction(sig, &sa_fwd, nullptr);
  }
  int status = 0;
  if (!ReadAll(status_pipe[0], &status, sizeof(status))) {
    fprintf(stderr, "shmrun: lost the session keeper\n");
    status = 1 << 8;
  }
  close(status_pipe[0]);
  if (stats) {
    Request req;
    req.op = Op::kStats;
    if (CallHelper(owner, req, &reply, -1, nullptr) == 0) {
      if (stats_file != nullptr) {
        FILE* f = fopen(stats_file, "w");
        if (f != nullptr) {
          PrintStats(reply.stats, true, WriteTo, f);
          fclose(f);
        } else {
          fprintf(stderr, "shmrun: cannot write %s: %s\n", stats_file, strerror(errno));
        }
      } else {
        PrintStats(reply.stats, false, WriteTo, stderr);
      }
    }
  }
  close(owner);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
