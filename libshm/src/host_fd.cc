// SPDX-License-Identifier: MIT
#include "host_fd.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

namespace libshm::internal {

bool StillOurUffd(const HostFd& h) {
  if (!h.StillOurs()) return false;
  char path[40], kind[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", h.fd);
  ssize_t n = readlink(path, kind, sizeof(kind) - 1);
  if (n <= 0) return false;
  kind[n] = '\0';
  return strcmp(kind, "anon_inode:[userfaultfd]") == 0;
}

}  // namespace libshm::internal
