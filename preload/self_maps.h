// SPDX-License-Identifier: MIT
// The shim's walk of /proc/self/maps: no allocation, raw system calls (it
// may run inside an interposed call of any kind).
#ifndef LIBSHM_PRELOAD_SELF_MAPS_H_
#define LIBSHM_PRELOAD_SELF_MAPS_H_

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "sys/syscalls.h"

namespace libshm::internal {

// Calls fn(start, end, offset, ino, shared, path) for each line of
// /proc/self/maps until it returns false (shared: the 's' of its perms). A fixed buffer, no
// allocation; a line longer than it is skipped whole (no path of ours is that long).
template <typename Fn>
inline void ForEachMapping(Fn fn) {
  int fd = static_cast<int>(sys::Syscall(
      SYS_openat, AT_FDCWD, reinterpret_cast<long>("/proc/self/maps"), O_RDONLY | O_CLOEXEC));
  if (fd < 0) return;
  char buf[8192];
  size_t have = 0;
  bool skipping = false, go = true;
  while (go) {
    ssize_t n = sys::Read(fd, buf + have, sizeof(buf) - 1 - have);
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    buf[have] = '\0';
    char* line = buf;
    for (char* nl; go && (nl = strchr(line, '\n')) != nullptr; line = nl + 1) {
      *nl = '\0';
      if (skipping) {
        skipping = false;
        continue;
      }
      unsigned long start, end, off, ino;
      char perms[8] = {};
      int path_at = 0;
      if (sscanf(line, "%lx-%lx %7s %lx %*s %lu %n", &start, &end, perms, &off, &ino, &path_at) >=
          5) {
        go = fn(start, end, off, ino, perms[3] == 's', path_at > 0 ? line + path_at : "");
      }
    }
    have = static_cast<size_t>(buf + have - line);
    memmove(buf, line, have);
    if (have == sizeof(buf) - 1) {  // a line longer than the buffer
      have = 0;
      skipping = true;
    }
  }
  sys::Close(fd);
}

}  // namespace libshm::internal

#endif  // LIBSHM_PRELOAD_SELF_MAPS_H_
