// SPDX-License-Identifier: MIT
// An unmodified program for the shmrun/shmstat tests (issue 10): it maps
// shared anonymous memory that libshm leaves to the kernel, and prints what
// the kernel (or the shim) answered, so that a run under shmrun can be
// compared with a run without it.
//
//   native_workload
//
// Prints "hugetlb 2097152: mapped" or "hugetlb 2097152: errno N" (MAP_HUGETLB,
// which fails with ENOMEM when no huge page can be had), then the same for
// "32bit 12288" (MAP_32BIT, a flag libshm does not manage). Exits 0.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

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

}  // namespace

int main() {
  Try("hugetlb", 2 << 20, MAP_HUGETLB);
  Try("32bit", 3 * 4096, MAP_32BIT);
  return 0;
}
