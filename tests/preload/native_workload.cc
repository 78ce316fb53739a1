// SPDX-License-Identifier: MIT
// An unmodified program for the shmrun/shmstat tests (issue 10): it maps
// shared anonymous memory that libshm leaves to the kernel, and prints what
// the kernel (or the shim) answered, so that a run under shmrun can be
// compared with a run without it.
//
//   native_workload            MAP_HUGETLB (2 MiB) and MAP_SYNC (3 pages)
//   native_workload --no-uffd  userfaultfd(2) is refused (seccomp), then
//                              64 KiB of plain shared anonymous memory
//   native_workload --errno    errno set to 1234, then this program's first
//                              mmap (64 KiB of shared anonymous memory);
//                              prints "mapped, errno N"
//   native_workload --signal-in-first-call
//                              with LIBSHM_TEST_RAISE_IN_INIT=10 (SIGUSR1):
//                              its handler maps 3 pages with MAP_SYNC while
//                              the shim's first call is under way; prints
//                              "mapped, handler mapped N"
//   native_workload --stopped-helper
//                              a forked child maps a managed region and
//                              sends the helper's pid; then, with the helper
//                              SIGSTOPped, 3 pages with MAP_SYNC; prints
//                              "returned in N ms", or "blocked" if the mmap
//                              was still waiting after 2 s (an alarm then
//                              sends SIGCONT); SIGCONT after either way
//   native_workload --exec-small-stack N
//                              from a thread with a 64 KiB stack, execve of
//                              sh with N variables and no LIBSHM_SESSION; sh
//                              prints "exec ok, session: yes" or "no"
//   native_workload --exec-scrubbed VIA PROGRAM
//                              starts PROGRAM (a path, or a name for the
//                              PATH-searching VIAs) as sh with only TZ in its
//                              environment, by VIA: execve, execle, execvpe,
//                              fexecve, execveat, posix_spawn or posix_spawnp;
//                              sh prints "VIA: session: yes" or "VIA: session: ";
//                              a failure prints "VIA: errno N"
//
// Prints "NAME BYTES: mapped" or "NAME BYTES: errno N" for each mmap
// (MAP_HUGETLB fails with ENOMEM when no huge page can be had). Exits 0, or
// 2 if the seccomp filter cannot be installed.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

void Try(const char* name, size_t len, int flags) {
  errno = 0;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | flags, -1, 0);
  if (p == MAP_FAILED) {
    printf("%s %zu: errno %d\n", name, len, errno);
    return;
  }
  memset(p, 1, len);  // it is memory
  printf("%s %zu: mapped\n", name, len);
}

// userfaultfd(2) fails with EPERM from now on, as where it is forbidden.
bool RefuseUserfaultfd() {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_userfaultfd, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])),
                            filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// A scrubbed environment of n variables, exec'd from a thread whose stack is
// small (as a vfork child runs on its caller's): the shim's execve must not
// need stack in proportion to the environment.
std::vector<std::string> exec_vars;
std::vector<char*> exec_env;

void* ExecFromThread(void*) {
  char sh[] = "sh", c[] = "-c", script[] = "echo \"exec ok, session: ${LIBSHM_SESSION:+yes}\"";
  char* args[] = {sh, c, script, nullptr};
  execve("/bin/sh", args, exec_env.data());
  perror("execve");
  _exit(3);
}

int ExecFromSmallStack(size_t n) {
  for (size_t i = 0; i < n; i++) exec_vars.push_back("V" + std::to_string(i) + "=1");
  for (std::string& v : exec_vars) exec_env.push_back(v.data());
  exec_env.push_back(nullptr);
  fflush(stdout);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_t t;
  if (pthread_create(&t, &attr, ExecFromThread, nullptr) != 0) return 2;
  pthread_join(t, nullptr);
  return 3;
}

int ExecScrubbed(const std::string& via, const char* program) {
  char tz[] = "TZ=UTC";
  char* env[] = {tz, nullptr};
  std::string script = "echo \"" + via + ": session: ${LIBSHM_SESSION:+yes}\"";
  char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), script.data(), nullptr};
  fflush(stdout);
  int rc = 0;
  if (via == "execve") {
    rc = execve(program, argv, env) == 0 ? 0 : errno;
  } else if (via == "execle") {
    rc = execle(program, "sh", "-c", script.c_str(), static_cast<char*>(nullptr), env) == 0 ? 0
                                                                                            : errno;
  } else if (via == "execvpe") {
    rc = execvpe(program, argv, env) == 0 ? 0 : errno;
  } else if (via == "fexecve" || via == "execveat") {
    int fd = open(program, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      rc = errno;
    } else if (via == "fexecve") {
      rc = fexecve(fd, argv, env) == 0 ? 0 : errno;
    } else {
      rc = execveat(fd, "", argv, env, AT_EMPTY_PATH) == 0 ? 0 : errno;
    }
  } else if (via == "posix_spawn" || via == "posix_spawnp") {
    pid_t pid;
    rc = via == "posix_spawn" ? posix_spawn(&pid, program, nullptr, nullptr, argv, env)
                              : posix_spawnp(&pid, program, nullptr, nullptr, argv, env);
    if (rc == 0) {
      int status;
      waitpid(pid, &status, 0);
      return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
    }
  } else {
    return 2;
  }
  printf("%s: errno %d\n", via.c_str(), rc);
  return 0;
}

// The helper's pid, as a member of the session sees it (libshm_ctl through
// the shim); 0 if there is none.
pid_t HelperPidFromAChild() {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  pid_t child = fork();
  if (child == 0) {
    using CtlFn = int (*)(const char*, void*, size_t*, const void*, size_t);
    auto ctl = reinterpret_cast<CtlFn>(dlsym(RTLD_DEFAULT, "libshm_ctl"));
    uint64_t pid = 0;
    size_t len = sizeof(pid);
    void* p = mmap(nullptr, 64 << 10, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || ctl == nullptr ||
        ctl("session.helper_pid", &pid, &len, nullptr, 0) != 0) {
      pid = 0;
    }
    _exit(write(fds[1], &pid, sizeof(pid)) == sizeof(pid) ? 0 : 1);
  }
  close(fds[1]);
  uint64_t pid = 0;
  if (child < 0 || read(fds[0], &pid, sizeof(pid)) != sizeof(pid)) pid = 0;
  close(fds[0]);
  if (child > 0) waitpid(child, nullptr, 0);
  return static_cast<pid_t>(pid);
}

volatile pid_t stopped_helper = 0;
volatile sig_atomic_t resumed_by_alarm = 0;

void ResumeHelper(int) {
  if (stopped_helper > 0) kill(stopped_helper, SIGCONT);  // never a pid <= 0
  resumed_by_alarm = 1;
}

int MapWithHelperStopped() {
  pid_t helper = HelperPidFromAChild();
  if (helper <= 0) {
    printf("no helper pid\n");
    return 2;
  }
  struct sigaction sa = {};
  sa.sa_handler = ResumeHelper;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, nullptr);
  stopped_helper = helper;
  if (kill(helper, SIGSTOP) != 0) return 2;
  alarm(2);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  void* p =
      mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_SYNC, -1, 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  alarm(0);
  kill(helper, SIGCONT);
  if (p == MAP_FAILED) {
    printf("errno %d\n", errno);
    return 3;
  }
  long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  if (resumed_by_alarm) {
    printf("blocked\n");
  } else {
    printf("returned in %ld ms\n", ms);
  }
  return 0;
}

}  // namespace

volatile sig_atomic_t handler_maps = 0;

void MapInHandler(int) {
  int saved = errno;
  void* p =
      mmap(nullptr, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_SYNC, -1, 0);
  handler_maps = handler_maps + (p != MAP_FAILED);
  errno = saved;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--no-uffd") == 0) {
    if (!RefuseUserfaultfd()) {
      perror("seccomp");
      return 2;
    }
    Try("shared", 64 << 10, 0);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "--signal-in-first-call") == 0) {
    // Run with LIBSHM_TEST_RAISE_IN_INIT=SIGUSR1: the shim's runtime raises
    // it while it is being made, in this program's first mmap; the handler
    // maps shared memory the shim leaves native (MAP_SYNC).
    struct sigaction sa = {};
    sa.sa_handler = MapInHandler;
    sigaction(SIGUSR1, &sa, nullptr);
    void* p = mmap(nullptr, 64 << 10, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    printf("%s, handler mapped %d\n", p == MAP_FAILED ? "failed" : "mapped",
           static_cast<int>(handler_maps));
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "--errno") == 0) {
    errno = 1234;
    void* p = mmap(nullptr, 64 << 10, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int e = errno;
    printf("%s, errno %d\n", p == MAP_FAILED ? "failed" : "mapped", e);
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "--stopped-helper") == 0) return MapWithHelperStopped();
  if (argc > 3 && strcmp(argv[1], "--exec-scrubbed") == 0) return ExecScrubbed(argv[2], argv[3]);
  if (argc > 2 && strcmp(argv[1], "--exec-small-stack") == 0) {
    return ExecFromSmallStack(strtoul(argv[2], nullptr, 10));
  }
  Try("hugetlb", 2 << 20, MAP_HUGETLB);
  Try("sync", 3 * 4096, MAP_SYNC);
  return 0;
}
