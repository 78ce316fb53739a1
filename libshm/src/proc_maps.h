// SPDX-License-Identifier: MIT
// Reading one process's /proc/<pid>/maps: the kernel's own word on what a
// client maps where (used when the helper must not take the client's).
//
// The file is read whole line by line, however long a line is (a path can
// be thousands of bytes, and a fixed buffer would read its tail as a line of
// its own: a forged entry), and an entry names a file by device and inode,
// which a client cannot choose, not by its name, which it can.
#ifndef LIBSHM_SRC_PROC_MAPS_H_
#define LIBSHM_SRC_PROC_MAPS_H_

#include <stdint.h>
#include <sys/types.h>

#include <functional>

namespace libshm::internal {

struct MapsEntry {
  uintptr_t start = 0, end = 0;
  uint64_t offset = 0;  // bytes into the mapped file
  dev_t dev = 0;        // of the mapped file (makedev of the maps' major:minor)
  uint64_t ino = 0;
};

// Calls fn for every entry of `pid`'s maps until it returns false. Returns
// false if the maps cannot be read.
bool ForEachMapsEntry(pid_t pid, const std::function<bool(const MapsEntry&)>& fn);
// The entry of `pid`'s maps that contains `addr`. Returns false if none.
// Asks the kernel for that one entry (PROCMAP_QUERY), reading the maps only
// where the kernel cannot answer: its cost does not grow with the maps.
bool FindMapsEntry(pid_t pid, uintptr_t addr, MapsEntry* out);
// True if anything is mapped at `addr` in `pid`.
bool MappedAt(pid_t pid, uintptr_t addr);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_PROC_MAPS_H_
