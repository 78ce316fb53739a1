// SPDX-License-Identifier: MIT
// Exec keeps the session. A session member that starts a program with an
// environment lacking LIBSHM_SESSION (nginx's binary upgrade keeps only TZ;
// Rust's Command::env_clear and Python's os.posix_spawn(env=...) spawn with
// an environment of their own) gets the session's variables back, so the
// new program runs the shim in the same session instead of mapping
// natively. Variables the new environment sets itself are left alone.
//
// Every libc entry point that takes an environment is wrapped, because
// glibc's execle, execvpe, fexecve, execveat and posix_spawn(p) reach the
// kernel through its internal __execve or a raw syscall, never through the
// execve symbol. The ones that use `environ` (execv, execvp, execl, execlp,
// system, popen) pass whatever the program left there, as without libshm.
//
// This may run in a vfork child, on its parent's stack: nothing allocates,
// the real functions are found before main, and the copied environment is
// on the stack and bounded (a larger one is passed as it is, leaving the
// session: the caller's stack may be a thread's).
#include <alloca.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "libshm/libshm.h"
#include "session_env.h"
#include "sys/syscalls.h"

namespace sys = libshm::internal::sys;

namespace {

using ExecvpeFn = int (*)(const char*, char* const[], char* const[]);
using FexecveFn = int (*)(int, char* const[], char* const[]);
using PosixSpawnFn = int (*)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                             const posix_spawnattr_t*, char* const[], char* const[]);

ExecvpeFn real_execvpe;
FexecveFn real_fexecve;
PosixSpawnFn real_posix_spawn, real_posix_spawnp;

__attribute__((constructor)) void FindRealExecs() {
  real_execvpe = reinterpret_cast<ExecvpeFn>(dlsym(RTLD_NEXT, "execvpe"));
  real_fexecve = reinterpret_cast<FexecveFn>(dlsym(RTLD_NEXT, "fexecve"));
  real_posix_spawn = reinterpret_cast<PosixSpawnFn>(dlsym(RTLD_NEXT, "posix_spawn"));
  real_posix_spawnp = reinterpret_cast<PosixSpawnFn>(dlsym(RTLD_NEXT, "posix_spawnp"));
}

constexpr size_t kMaxCopied = 1024;  // entries of a copied environment

// Calls exec(env) with `envp`, or with envp plus the session's saved
// variables it lacks (a copy in this frame, so valid during the call).
template <typename Exec>
int WithSessionEnv(char* const* envp, Exec exec) {
  const char* missing[libshm::internal::kMaxSessionVars];
  size_t k = libshm::internal::MissingSessionEnv(envp, missing);
  size_t n = 0;
  while (k != 0 && envp != nullptr && envp[n] != nullptr && n + k < kMaxCopied) n++;
  if (k == 0 || n + k >= kMaxCopied) return exec(envp);
  auto** env = static_cast<const char**>(alloca((n + k + 1) * sizeof(char*)));
  for (size_t i = 0; i < n; i++) env[i] = envp[i];
  for (size_t i = 0; i < k; i++) env[n + i] = missing[i];
  env[n + k] = nullptr;
  return exec(const_cast<char* const*>(env));
}

int SetErrnoInt(long rc) {
  if (rc < 0) {
    errno = static_cast<int>(-rc);
    return -1;
  }
  return static_cast<int>(rc);
}

int Execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int flags) {
  return SetErrnoInt(sys::Syscall(SYS_execveat, dirfd, reinterpret_cast<long>(path),
                                  reinterpret_cast<long>(argv), reinterpret_cast<long>(envp),
                                  flags));
}

}  // namespace

extern "C" {

LIBSHM_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  return WithSessionEnv(envp, [&](char* const* env) {
    return SetErrnoInt(sys::Syscall(SYS_execve, reinterpret_cast<long>(path),
                                    reinterpret_cast<long>(argv), reinterpret_cast<long>(env)));
  });
}

LIBSHM_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                           int flags) {
  return WithSessionEnv(envp,
                        [&](char* const* env) { return Execveat(dirfd, path, argv, env, flags); });
}

LIBSHM_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  return WithSessionEnv(envp, [&](char* const* env) {
    if (real_fexecve != nullptr) return real_fexecve(fd, argv, env);
    return Execveat(fd, "", argv, env, AT_EMPTY_PATH);
  });
}

LIBSHM_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  if (real_execvpe == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return WithSessionEnv(envp, [&](char* const* env) { return real_execvpe(file, argv, env); });
}

// execle(path, arg0, ..., NULL, envp): its arguments gathered on the stack,
// as glibc's own does, then execve.
LIBSHM_EXPORT int execle(const char* path, const char* arg, ...) {
  va_list ap;
  va_start(ap, arg);
  size_t argc = 1;
  while (va_arg(ap, const char*) != nullptr) argc++;
  va_end(ap);
  auto** argv = static_cast<const char**>(alloca((argc + 1) * sizeof(char*)));
  va_start(ap, arg);
  argv[0] = arg;
  for (size_t i = 1; i <= argc; i++) argv[i] = va_arg(ap, const char*);  // ends with NULL
  char* const* envp = va_arg(ap, char* const*);
  va_end(ap);
  return execve(path, const_cast<char* const*>(argv), envp);
}

LIBSHM_EXPORT int posix_spawn(pid_t* pid, const char* path,
                              const posix_spawn_file_actions_t* actions,
                              const posix_spawnattr_t* attr, char* const argv[],
                              char* const envp[]) {
  if (real_posix_spawn == nullptr) return ENOSYS;
  return WithSessionEnv(envp, [&](char* const* env) {
    return real_posix_spawn(pid, path, actions, attr, argv, env);
  });
}

LIBSHM_EXPORT int posix_spawnp(pid_t* pid, const char* file,
                               const posix_spawn_file_actions_t* actions,
                               const posix_spawnattr_t* attr, char* const argv[],
                               char* const envp[]) {
  if (real_posix_spawnp == nullptr) return ENOSYS;
  return WithSessionEnv(envp, [&](char* const* env) {
    return real_posix_spawnp(pid, file, actions, attr, argv, env);
  });
}

}  // extern "C"
