// SPDX-License-Identifier: MIT
// Helpers for multi-process tests: fork-and-wait with distinct exit codes,
// page patterns with checksums, stats and ctl shortcuts, smaps readers.
#ifndef LIBSHM_TESTS_SUPPORT_TEST_UTIL_H_
#define LIBSHM_TESTS_SUPPORT_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "libshm/libshm.h"

namespace libshm::test {

constexpr size_t kPage = 4096;

// Fills one page with a pattern derived from (page, version); the last 8
// bytes hold a checksum of the rest, so a torn or zeroed page is caught.
inline void FillPage(void* p, uint64_t page, uint64_t version) {
  auto* w = static_cast<uint64_t*>(p);
  uint64_t x = page * 0x9e3779b97f4a7c15ull + version * 0xbf58476d1ce4e5b9ull + 1;
  uint64_t sum = 0;
  for (size_t i = 0; i + 1 < kPage / 8; i++) {
    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 29;
    w[i] = x;
    sum += x * (i + 1);
  }
  w[kPage / 8 - 1] = sum;
}

// True if the page holds exactly FillPage(page, version).
inline bool CheckPage(const void* p, uint64_t page, uint64_t version) {
  alignas(8) static thread_local unsigned char expect[kPage];
  FillPage(expect, page, version);
  return memcmp(p, expect, kPage) == 0;
}

// Runs fn in a child; returns its wait status. The child exits with fn()'s value.
inline int ForkAndWait(const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

inline uint64_t Stat(const char* name) {
  uint64_t v = 0;
  size_t len = sizeof(v);
  std::string full = std::string("stats.") + name;
  EXPECT_EQ(libshm_ctl(full.c_str(), &v, &len, nullptr, 0), 0) << full;
  return v;
}

// Evicts every resident page of the session (0 = everything).
inline void EvictAll() {
  uint64_t zero = 0;
  ASSERT_EQ(libshm_ctl("evict.run", nullptr, nullptr, &zero, sizeof(zero)), 0);
}

// Rss of the mapping that starts at `addr` in /proc/<pid>/smaps, in bytes; -1 if absent.
inline long SmapsRss(pid_t pid, const void* addr) {
  char path[64], line[512];
  snprintf(path, sizeof(path), "/proc/%d/smaps", static_cast<int>(pid));
  FILE* f = fopen(path, "r");
  if (f == nullptr) return -1;
  bool in = false;
  long rss = -1;
  while (fgets(line, sizeof(line), f) != nullptr) {
    unsigned long start, end;
    if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
      in = start == reinterpret_cast<uintptr_t>(addr);
      continue;
    }
    long kb;
    if (in && sscanf(line, "Rss: %ld kB", &kb) == 1) {
      rss = kb * 1024;
      in = false;
    }
  }
  fclose(f);
  return rss;
}

// A process-shared barrier in MAP_SHARED memory (not managed).
struct SharedBarrier {
  pthread_barrier_t barrier;
  static SharedBarrier* Create(unsigned count) {
    void* p = mmap(nullptr, sizeof(SharedBarrier), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    auto* b = static_cast<SharedBarrier*>(p);
    pthread_barrierattr_t attr;
    pthread_barrierattr_init(&attr);
    pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(&b->barrier, &attr, count);
    return b;
  }
  void Wait() { pthread_barrier_wait(&barrier); }
};

}  // namespace libshm::test

#endif  // LIBSHM_TESTS_SUPPORT_TEST_UTIL_H_
