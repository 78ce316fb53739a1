// SPDX-License-Identifier: MIT
// The shim's cost to a program that has no shared anonymous memory: private
// mmap/munmap churn and malloc/free churn (glibc malloc mmaps large blocks).
// Run it with and without LD_PRELOAD=libshm_preload.so (run.sh does) and
// compare; it prints one line per loop: name and ns per operation.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include <vector>

namespace {

double NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main() {
  constexpr int kMaps = 200000;
  double t0 = NowNs();
  for (int i = 0; i < kMaps; i++) {
    auto* p = static_cast<volatile char*>(
        mmap(nullptr, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return 1;
    p[0] = 1;
    munmap(const_cast<char*>(p), 64 << 10);
  }
  printf("mmap_munmap_private_64k %.1f\n", (NowNs() - t0) / kMaps);

  constexpr int kAllocs = 4000000;
  std::vector<void*> live(1024, nullptr);
  uint64_t x = 88172645463325252ull;
  t0 = NowNs();
  for (int i = 0; i < kAllocs; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t slot = x % live.size();
    free(live[slot]);
    // Mostly small blocks, sometimes one above glibc's mmap threshold.
    size_t size = (x >> 20) % 64 == 0 ? (256 << 10) : 16 + (x >> 32) % 2048;
    live[slot] = malloc(size);
    static_cast<volatile char*>(live[slot])[0] = 1;
  }
  printf("malloc_free_mixed %.1f\n", (NowNs() - t0) / kAllocs);
  for (void* p : live) free(p);
  return 0;
}
