// SPDX-License-Identifier: MIT
// The libshm demo: a parent maps a shared region eight times the memory
// limit, forks workers that write their own pages and check each other's,
// then prints the session's stats and a verdict.
//
//   LIBSHM_LIMIT=64M ./libshm_demo [workers]
//
// Every page carries a checksummed pattern of (page, round, writer), so a
// lost write, a stale page or a page of zeros is caught.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libshm/libshm.h"

namespace {

constexpr size_t kPage = 4096;

void Fill(void* p, uint64_t page, uint64_t round) {
  auto* w = static_cast<uint64_t*>(p);
  uint64_t x = page * 0x9e3779b97f4a7c15ull ^ round * 0xbf58476d1ce4e5b9ull, sum = 0;
  for (size_t i = 0; i + 1 < kPage / 8; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    w[i] = x;
    sum += x;
  }
  w[kPage / 8 - 1] = sum;
}

bool Check(const void* p, uint64_t page, uint64_t round) {
  uint64_t expect[kPage / 8];
  Fill(expect, page, round);
  return memcmp(p, expect, kPage) == 0;
}

double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A process-shared barrier in ordinary shared memory.
pthread_barrier_t* MakeBarrier(unsigned n) {
  void* m = mmap(nullptr, sizeof(pthread_barrier_t), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  auto* b = static_cast<pthread_barrier_t*>(m);
  pthread_barrierattr_t attr;
  pthread_barrierattr_init(&attr);
  pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_barrier_init(b, &attr, n);
  return b;
}

// Worker k owns pages p with p % workers == k. Each round it writes its own
// pages, waits for everyone, then checks the pages of worker k+1.
int Work(char* base, size_t pages, int k, int workers, int rounds, pthread_barrier_t* barrier) {
  int next = (k + 1) % workers;
  for (int r = 1; r <= rounds; r++) {
    for (size_t p = k; p < pages; p += workers) Fill(base + p * kPage, p, r);
    pthread_barrier_wait(barrier);
    for (size_t p = next; p < pages; p += workers) {
      if (!Check(base + p * kPage, p, r)) {
        fprintf(stderr, "worker %d: page %zu of worker %d is wrong in round %d\n", k, p, next, r);
        return 1;
      }
    }
    pthread_barrier_wait(barrier);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int workers = argc > 1 ? atoi(argv[1]) : 4;
  if (workers < 1 || workers > 64) {
    fprintf(stderr, "usage: %s [workers 1..64]\n", argv[0]);
    return 2;
  }
  if (getenv("LIBSHM_LIMIT") == nullptr) setenv("LIBSHM_LIMIT", "64M", 1);
  uint64_t limit = 0;
  size_t len = sizeof(limit);
  int rc = libshm_ctl("opt.limit", &limit, &len, nullptr, 0);
  if (rc != 0) {
    fprintf(stderr, "demo: libshm is not available here: %s\n", strerror(-rc));
    return 1;
  }
  const size_t size = 8 * limit, pages = size / kPage;
  const int rounds = 2;
  void* mem;
  rc = libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem);
  if (rc != 0) {
    fprintf(stderr, "demo: libshm_map(%zu MiB): %s\n", size >> 20, strerror(-rc));
    return 1;
  }
  printf("demo: %d workers share a %zu MiB region under a %llu MiB limit\n", workers, size >> 20,
         static_cast<unsigned long long>(limit >> 20));
  fflush(stdout);
  pthread_barrier_t* barrier = MakeBarrier(static_cast<unsigned>(workers));
  char* base = static_cast<char*>(mem);
  double t0 = Now();
  for (int k = 0; k < workers; k++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) _exit(Work(base, pages, k, workers, rounds, barrier));
  }
  int failed = 0;
  for (int k = 0; k < workers; k++) {
    int status;
    if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
  }
  size_t bad = 0;
  for (size_t p = 0; p < pages; p++) bad += !Check(base + p * kPage, p, rounds);
  double secs = Now() - t0;
  libshm_stats_t s;
  s.size = sizeof(s);
  libshm_stats(&s);
  libshm_stats_print(nullptr, nullptr, nullptr);
  bool ok =
      failed == 0 && bad == 0 && s.swap_outs > 0 && s.peak_resident_bytes <= limit + (1 << 20);
  printf(
      "demo: %s: %d workers wrote and cross-checked %zu MiB %d times through a %llu MiB limit "
      "in %.1f s; %llu pages swapped out, %llu swapped in, peak resident %llu MiB, %zu bad pages\n",
      ok ? "PASS" : "FAIL", workers, size >> 20, rounds,
      static_cast<unsigned long long>(limit >> 20), secs,
      static_cast<unsigned long long>(s.swap_outs), static_cast<unsigned long long>(s.swap_ins),
      static_cast<unsigned long long>(s.peak_resident_bytes >> 20), bad);
  return ok ? 0 : 1;
}
