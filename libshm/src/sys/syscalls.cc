// SPDX-License-Identifier: MIT
// Raw syscalls: result or -errno, errno untouched.
#include "sys/syscalls.h"

#include <fcntl.h>
#include <sys/syscall.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

namespace libshm::internal::sys {

long Syscall(long nr, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  register long r9 asm("r9") = f;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}

int Userfaultfd(int flags) { return static_cast<int>(Syscall(SYS_userfaultfd, flags)); }
int MemfdCreate(const char* name, unsigned flags) {
  return static_cast<int>(Syscall(SYS_memfd_create, reinterpret_cast<long>(name), flags));
}
int PidfdOpen(pid_t pid) { return static_cast<int>(Syscall(SYS_pidfd_open, pid, 0)); }
int Ioctl(int fd, unsigned long request, void* arg) {
  return static_cast<int>(
      Syscall(SYS_ioctl, fd, static_cast<long>(request), reinterpret_cast<long>(arg)));
}
int Close(int fd) { return static_cast<int>(Syscall(SYS_close, fd)); }
int Ftruncate(int fd, off_t length) { return static_cast<int>(Syscall(SYS_ftruncate, fd, length)); }
int Fallocate(int fd, int mode, off_t offset, off_t len) {
  return static_cast<int>(Syscall(SYS_fallocate, fd, mode, offset, len));
}
ssize_t Pread(int fd, void* buf, size_t count, off_t offset) {
  return Syscall(SYS_pread64, fd, reinterpret_cast<long>(buf), static_cast<long>(count), offset);
}
ssize_t Pwrite(int fd, const void* buf, size_t count, off_t offset) {
  return Syscall(SYS_pwrite64, fd, reinterpret_cast<long>(buf), static_cast<long>(count), offset);
}
ssize_t Read(int fd, void* buf, size_t count) {
  return Syscall(SYS_read, fd, reinterpret_cast<long>(buf), static_cast<long>(count));
}
int Fdatasync(int fd) { return static_cast<int>(Syscall(SYS_fdatasync, fd)); }
long Mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return Syscall(SYS_mmap, reinterpret_cast<long>(addr), static_cast<long>(len), prot, flags, fd,
                 off);
}
int Munmap(void* addr, size_t len) {
  return static_cast<int>(
      Syscall(SYS_munmap, reinterpret_cast<long>(addr), static_cast<long>(len)));
}
int Madvise(void* addr, size_t len, int advice) {
  return static_cast<int>(
      Syscall(SYS_madvise, reinterpret_cast<long>(addr), static_cast<long>(len), advice));
}
pid_t Getpid() { return static_cast<pid_t>(Syscall(SYS_getpid)); }
pid_t Gettid() { return static_cast<pid_t>(Syscall(SYS_gettid)); }

}  // namespace libshm::internal::sys
