// SPDX-License-Identifier: MIT
#include "proc_maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace libshm::internal {
namespace {

// PROCMAP_QUERY (Linux 6.11, <linux/fs.h>; the machine headers are 6.1):
// the VMA that covers an address, found in the kernel's VMA tree.
struct ProcmapQuery {
  uint64_t size;
  uint64_t query_flags;
  uint64_t query_addr;
  uint64_t vma_start;
  uint64_t vma_end;
  uint64_t vma_flags;
  uint64_t vma_page_size;
  uint64_t vma_offset;
  uint64_t inode;
  uint32_t dev_major;
  uint32_t dev_minor;
  uint32_t vma_name_size;
  uint32_t build_id_size;
  uint64_t vma_name_addr;
  uint64_t build_id_addr;
};
static_assert(sizeof(ProcmapQuery) == 104, "struct procmap_query");
constexpr unsigned long kProcmapQuery = _IOWR('f', 17, ProcmapQuery);

// 1: found, 0: nothing mapped at addr, -1: the kernel cannot say (too old).
// Test hook, not an option: LIBSHM_TEST_NO_PROCMAP_QUERY=1 answers -1, so
// that the suite runs the path of kernels before 6.11 (Debian 12's 6.1) too.
int QueryMapsEntry(pid_t pid, uintptr_t addr, MapsEntry* out) {
  static const bool too_old = secure_getenv("LIBSHM_TEST_NO_PROCMAP_QUERY") != nullptr;
  if (too_old) return -1;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/maps", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ProcmapQuery q = {};
  q.size = sizeof(q);
  q.query_addr = addr;
  int rc = ioctl(fd, kProcmapQuery, &q);
  int e = errno;
  close(fd);
  if (rc != 0) return e == ENOENT || e == ESRCH ? 0 : -1;
  out->start = q.vma_start;
  out->end = q.vma_end;
  out->offset = q.vma_offset;
  out->dev = makedev(q.dev_major, q.dev_minor);
  out->ino = q.inode;
  return 1;
}

}  // namespace

bool ForEachMapsEntry(pid_t pid, const std::function<bool(const MapsEntry&)>& fn) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/maps", static_cast<int>(pid));
  FILE* f = fopen(path, "re");
  if (f == nullptr) return false;
  char* line = nullptr;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    unsigned long start, end, offset, ino;
    unsigned major, minor;
    if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &start, &end, &offset, &major, &minor, &ino) !=
        6) {
      continue;
    }
    MapsEntry e;
    e.start = start;
    e.end = end;
    e.offset = offset;
    e.dev = makedev(major, minor);
    e.ino = ino;
    if (!fn(e)) break;
  }
  free(line);
  fclose(f);
  return true;
}

bool FindMapsEntry(pid_t pid, uintptr_t addr, MapsEntry* out) {
  // Ask the kernel for the one entry: O(log VMAs). Reading the maps to find
  // it cost the engine thread the whole file, as long as the process likes
  // (65,530 VMAs by default), for each lookup: a member with cut tails and
  // a long maps file stalled every eviction (several lookups per run).
  int q = QueryMapsEntry(pid, addr, out);
  if (q >= 0) return q == 1;
  bool found = false;
  ForEachMapsEntry(pid, [&](const MapsEntry& e) {
    if (addr < e.start || addr >= e.end) return true;
    *out = e;
    found = true;
    return false;
  });
  return found;
}

bool MappedAt(pid_t pid, uintptr_t addr) {
  MapsEntry e;
  return FindMapsEntry(pid, addr, &e);
}

}  // namespace libshm::internal
