// SPDX-License-Identifier: MIT
#include "proc_maps.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/sysmacros.h>

namespace libshm::internal {

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
