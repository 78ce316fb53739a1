// SPDX-License-Identifier: MIT
// An msync checkpoint: write a region, msync it, and read from the session's
// stats that the range is clean - written once to the swap file, so that
// evicting it costs no I/O and a later write is tracked again.
//
//   LIBSHM_LIMIT=8M ./libshm_example_checkpoint
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cstdint>

#include "libshm/libshm.hpp"

namespace {

uint64_t Stat(const char* field) {
  char name[64];
  snprintf(name, sizeof(name), "stats.%s", field);
  uint64_t value = 0;
  size_t len = sizeof(value);
  libshm_ctl(name, &value, &len, nullptr, 0);
  return value;
}

void Show(const char* when) {
  printf("checkpoint: %-22s dirty %5llu KiB, written to swap %5llu KiB\n", when,
         static_cast<unsigned long long>(Stat("dirty_bytes") >> 10),
         static_cast<unsigned long long>(Stat("writeback_bytes") >> 10));
}

}  // namespace

int main() {
  constexpr size_t kSize = 4 << 20;
  libshm::Region region(kSize);
  if (!region) {
    fprintf(stderr, "checkpoint: libshm_map: %s\n", strerror(-region.error()));
    return region.error() == -EPERM || region.error() == -ENOSYS ? 77 : 1;  // 77: skip
  }
  auto* data = region.as<uint64_t>();
  for (size_t i = 0; i < kSize / 8; i++) data[i] = i * 31;
  Show("after writing 4 MiB:");

  uint64_t written = Stat("writeback_bytes");
  if (region.sync() != 0) return 1;  // libshm_msync(MS_SYNC) of the whole region
  Show("after msync:");
  bool ok = Stat("dirty_bytes") == 0 && Stat("writeback_bytes") == written + kSize;

  // A clean range evicts without I/O and reads back intact from the swap file.
  uint64_t everything = 0;
  libshm_ctl("evict.run", nullptr, nullptr, &everything, sizeof(everything));
  Show("after evicting it all:");
  ok = ok && Stat("resident_bytes") == 0 && Stat("writeback_bytes") == written + kSize;
  for (size_t i = 0; i < kSize / 8; i++) ok = ok && data[i] == i * 31;

  // The first write after a checkpoint is tracked again: the next msync
  // writes that one page and nothing else.
  data[0] = 7;
  if (region.sync() != 0) return 1;
  Show("after a write + msync:");
  ok = ok && Stat("writeback_bytes") == written + kSize + 4096;
  printf("checkpoint: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
