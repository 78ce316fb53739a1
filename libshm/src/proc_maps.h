// SPDX-License-Identifier: MIT
// Reading one process's /proc/<pid>/maps: the kernel's own word on what a
// client maps where (used when the helper must not take the client's).
#ifndef LIBSHM_SRC_PROC_MAPS_H_
#define LIBSHM_SRC_PROC_MAPS_H_

#include <stdint.h>
#include <sys/types.h>

namespace libshm::internal {

struct MapsEntry {
  uintptr_t start = 0, end = 0;
  uint64_t offset = 0;  // bytes into the mapped file
  uint64_t ino = 0;
  bool libshm_memfd = false;  // "/memfd:libshm" (a managed region's memfd)
};

// The entry of `pid`'s maps that contains `addr`. Returns false if none.
bool FindMapsEntry(pid_t pid, uintptr_t addr, MapsEntry* out);
// True if anything is mapped at `addr` in `pid`.
bool MappedAt(pid_t pid, uintptr_t addr);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_PROC_MAPS_H_
