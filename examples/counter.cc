// SPDX-License-Identifier: MIT
// The smallest fork-shared counter: an atomic in a managed region, which
// forked children share with their parent like MAP_SHARED|MAP_ANONYMOUS.
//
//   ./libshm_example_counter
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <new>

#include "libshm/libshm.hpp"

int main() {
  constexpr int kChildren = 4;
  constexpr uint64_t kIncrements = 100000;
  libshm::Region region(sizeof(std::atomic<uint64_t>));
  if (!region) {
    fprintf(stderr, "counter: libshm_map: %s\n", strerror(-region.error()));
    return region.error() == -EPERM || region.error() == -ENOSYS ? 77 : 1;  // 77: skip
  }
  auto* counter = new (region.data()) std::atomic<uint64_t>(0);
  for (int i = 0; i < kChildren; i++) {
    if (fork() == 0) {
      for (uint64_t n = 0; n < kIncrements; n++) counter->fetch_add(1);
      _exit(0);
    }
  }
  while (wait(nullptr) > 0) {
  }
  uint64_t expected = kChildren * kIncrements;
  printf("counter: %d children counted to %llu (expected %llu)\n", kChildren,
         static_cast<unsigned long long>(counter->load()),
         static_cast<unsigned long long>(expected));
  return counter->load() == expected ? 0 : 1;
}
