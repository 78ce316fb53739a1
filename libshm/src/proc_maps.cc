// SPDX-License-Identifier: MIT
#include "proc_maps.h"

#include <stdio.h>
#include <string.h>

namespace libshm::internal {

bool FindMapsEntry(pid_t pid, uintptr_t addr, MapsEntry* out) {
  char path[64], line[512];
  snprintf(path, sizeof(path), "/proc/%d/maps", static_cast<int>(pid));
  FILE* f = fopen(path, "re");
  if (f == nullptr) return false;
  bool found = false;
  while (!found && fgets(line, sizeof(line), f) != nullptr) {
    unsigned long start, end, offset, ino;
    int name_at = 0;
    if (sscanf(line, "%lx-%lx %*s %lx %*x:%*x %lu %n", &start, &end, &offset, &ino, &name_at) < 4) {
      continue;
    }
    if (addr < start || addr >= end) continue;
    found = true;
    out->start = start;
    out->end = end;
    out->offset = offset;
    out->ino = ino;
    out->libshm_memfd = name_at > 0 && strncmp(line + name_at, "/memfd:libshm", 13) == 0;
  }
  fclose(f);
  return found;
}

bool MappedAt(pid_t pid, uintptr_t addr) {
  MapsEntry e;
  return FindMapsEntry(pid, addr, &e);
}

}  // namespace libshm::internal
