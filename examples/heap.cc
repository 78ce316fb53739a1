// SPDX-License-Identifier: MIT
// The jemalloc heap on managed memory: allocate records totalling four times
// the memory limit, check them all, free them, and purge - which discards
// the pages and their copies in the swap file.
//
//   LIBSHM_LIMIT=8M ./libshm_example_heap
#include "libshm/heap.hpp"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cstdint>
#include <vector>

namespace {

struct Record {
  uint64_t id;
  char text[1000];
};

uint64_t Stat(const char* field) {
  char name[64];
  snprintf(name, sizeof(name), "stats.%s", field);
  uint64_t value = 0;
  size_t len = sizeof(value);
  libshm_ctl(name, &value, &len, nullptr, 0);
  return value;
}

void Report(const char* when, const libshm::Heap& heap) {
  printf("heap: %-16s allocated %3llu MiB, resident %2llu MiB, in swap %3llu MiB\n", when,
         static_cast<unsigned long long>(heap.stats().allocated_bytes >> 20),
         static_cast<unsigned long long>(Stat("resident_bytes") >> 20),
         static_cast<unsigned long long>(Stat("swapped_bytes") >> 20));
}

}  // namespace

int main() {
  if (getenv("LIBSHM_LIMIT") == nullptr) setenv("LIBSHM_LIMIT", "8M", 1);
  libshm::Heap heap;
  if (!heap) {
    fprintf(stderr, "heap: libshm_heap_create: %s\n", strerror(-heap.error()));
    return heap.error() == -EPERM || heap.error() == -ENOSYS ? 77 : 1;  // 77: skip
  }
  uint64_t limit = 0;
  size_t len = sizeof(limit);
  libshm_ctl("opt.limit", &limit, &len, nullptr, 0);

  // The index lives in ordinary memory; the records in the heap.
  std::vector<Record*> records(4 * limit / sizeof(Record));
  for (uint64_t i = 0; i < records.size(); i++) {
    records[i] = static_cast<Record*>(heap.malloc(sizeof(Record)));
    if (records[i] == nullptr) return 1;
    records[i]->id = i;
    snprintf(records[i]->text, sizeof(records[i]->text), "record %llu",
             static_cast<unsigned long long>(i));
  }
  Report("after malloc:", heap);

  size_t bad = 0;
  for (uint64_t i = 0; i < records.size(); i++) {
    char expect[32];
    snprintf(expect, sizeof(expect), "record %llu", static_cast<unsigned long long>(i));
    bad += records[i]->id != i || strcmp(records[i]->text, expect) != 0;
  }
  for (Record* r : records) heap.free(r);
  heap.purge();
  Report("after purge:", heap);

  // The records went through the swap file, and purge left none of them there.
  bool ok = bad == 0 && Stat("swap_outs") > 0 && Stat("swapped_bytes") == 0;
  printf("heap: %s: %zu records of %zu bytes checked, %zu bad\n", ok ? "PASS" : "FAIL",
         records.size(), sizeof(Record), bad);
  return ok ? 0 : 1;
}
