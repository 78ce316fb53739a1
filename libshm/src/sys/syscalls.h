// SPDX-License-Identifier: MIT
// Raw system calls used by libshm. Every wrapper returns the result or
// -errno and never reads or writes the caller's errno (liburing style), so
// the preload shim can keep the host program's errno exact.
#ifndef LIBSHM_SRC_SYS_SYSCALLS_H_
#define LIBSHM_SRC_SYS_SYSCALLS_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

namespace libshm::internal::sys {

long Syscall(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0);

int Userfaultfd(int flags);
int MemfdCreate(const char* name, unsigned flags);
int PidfdOpen(pid_t pid);
int Ioctl(int fd, unsigned long request, void* arg);
int Close(int fd);
int Ftruncate(int fd, off_t length);
int Fallocate(int fd, int mode, off_t offset, off_t len);
ssize_t Pread(int fd, void* buf, size_t count, off_t offset);
ssize_t Pwrite(int fd, const void* buf, size_t count, off_t offset);
ssize_t Read(int fd, void* buf, size_t count);
int Fdatasync(int fd);
// Returns the mapping or a value in [-4095, -1] as -errno (check with IsErr).
long Mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off);
int Munmap(void* addr, size_t len);
int Madvise(void* addr, size_t len, int advice);
pid_t Getpid();
pid_t Gettid();

inline bool IsErr(long r) { return r < 0 && r >= -4095; }

}  // namespace libshm::internal::sys

#endif  // LIBSHM_SRC_SYS_SYSCALLS_H_
