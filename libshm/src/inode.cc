// SPDX-License-Identifier: MIT
#include "inode.h"

#include <errno.h>
#include <linux/falloc.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>

#include "sys/syscalls.h"
#include "uffd.h"

namespace libshm::internal {

Inode::~Inode() {
  if (memfd_ >= 0) close(memfd_);
}

int Inode::Punch(uint64_t page, uint64_t n) const {
  return sys::Fallocate(memfd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                        static_cast<off_t>(page * kPageSize), static_cast<off_t>(n * kPageSize));
}

int Inode::ReadPages(uint64_t page, uint64_t n, void* buf) const {
  size_t want = n * kPageSize;
  size_t done = 0;
  while (done < want) {
    ssize_t r = sys::Pread(memfd_, static_cast<char*>(buf) + done, want - done,
                           static_cast<off_t>(page * kPageSize + done));
    if (r < 0) return static_cast<int>(r);
    if (r == 0) {
      // Past the end of a program object whose size is not whole pages:
      // the rest of its last page reads zeros, as through a mapping.
      memset(static_cast<char*>(buf) + done, 0, want - done);
      return 0;
    }
    done += static_cast<size_t>(r);
  }
  return 0;
}

}  // namespace libshm::internal
