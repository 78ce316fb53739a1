// SPDX-License-Identifier: MIT
// The libshm demo: a parent maps a shared region eight times the memory
// limit and forks workers that write their own pages and check each other's,
// then runs the same work on the kernel's own
// shared memory (no limit) and prints a one-screen summary: the work, the
// session's main stats (swap traffic, fault latency histogram), both times
// and a verdict.
//
//   LIBSHM_LIMIT=32M ./libshm_demo [workers]
//
// Every page carries a checksummed pattern of (page, round), so a lost write,
// a stale page or a page of zeros is caught. Exits 0 on PASS, 1 on FAIL.
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <new>

#include "libshm/libshm.h"

namespace {

constexpr size_t kPage = 4096;
constexpr int kRounds = 2;
constexpr int kMaxWorkers = 64;

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

double MiB(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// What the workers share besides the region: a process-shared barrier and
// the progress counter the parent reports from. In kernel shared memory (the
// demo calls mmap itself, so nothing here is managed).
struct Shared {
  pthread_barrier_t barrier;
  std::atomic<uint64_t> pages_done;  // pages written or checked, all workers
  std::atomic<uint64_t> bad_pages;
};

Shared* MakeShared(unsigned workers) {
  void* m =
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  auto* s = new (m) Shared;
  pthread_barrierattr_t attr;
  pthread_barrierattr_init(&attr);
  pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_barrier_init(&s->barrier, &attr, workers);
  return s;
}

// Worker k owns pages p with p % workers == k. Each round it writes its own
// pages, waits for everyone, then checks the pages of worker k+1. A bad page
// is counted, never a reason to leave early: the others wait at the barrier.
int Work(char* base, size_t pages, int k, int workers, Shared* sh) {
  int next = (k + 1) % workers;
  uint64_t bad = 0;
  for (int r = 1; r <= kRounds; r++) {
    uint64_t n = 0;
    for (size_t p = k; p < pages; p += workers) {
      Fill(base + p * kPage, p, r);
      if (++n % 256 == 0) sh->pages_done.fetch_add(256, std::memory_order_relaxed);
    }
    sh->pages_done.fetch_add(n % 256, std::memory_order_relaxed);
    pthread_barrier_wait(&sh->barrier);
    n = 0;
    for (size_t p = next; p < pages; p += workers) {
      if (!Check(base + p * kPage, p, r) && bad++ < 3) {
        fprintf(stderr, "demo: worker %d: page %zu of worker %d is wrong in round %d\n", k, p, next,
                r);
      }
      if (++n % 256 == 0) sh->pages_done.fetch_add(256, std::memory_order_relaxed);
    }
    sh->pages_done.fetch_add(n % 256, std::memory_order_relaxed);
    pthread_barrier_wait(&sh->barrier);
  }
  sh->bad_pages.fetch_add(bad);
  return bad == 0 ? 0 : 1;
}

// Progress on stdout: one line that updates in place on a terminal, a line
// at the start and the end of each phase otherwise (a log, a pipe).
class Progress {
 public:
  Progress() : tty_(isatty(STDOUT_FILENO) == 1) {}

  void Start(const char* phase) {
    phase_ = phase;
    start_ = Now();
    if (tty_) {
      Update(0, 1);
    } else {
      printf("demo: %s ...\n", phase_);
      fflush(stdout);
    }
  }

  void Update(uint64_t done, uint64_t total) {
    if (!tty_) return;
    printf("\r\033[Kdemo: %s ... %3d%% %.1f s", phase_,
           static_cast<int>(total == 0 ? 100 : done * 100 / total), Now() - start_);
    fflush(stdout);
  }

  // Ends the phase; returns its time in seconds.
  double Done(const char* result) {
    double secs = Now() - start_;
    printf("%sdemo: %s: %s in %.1f s\n", tty_ ? "\r\033[K" : "", phase_, result, secs);
    fflush(stdout);
    return secs;
  }

 private:
  bool tty_;
  const char* phase_ = "";
  double start_ = 0;
};

struct RunResult {
  double secs = 0;
  uint64_t bad_pages = 0;  // found by the workers
  int failed_workers = 0;  // exited nonzero or were killed
};

// The workload on `base`: the workers' rounds, in which every page is written
// by its owner and checked by its owner's neighbour. The same for libshm and
// for kernel shared memory.
RunResult Run(const char* phase, char* base, size_t pages, int workers, Progress* progress) {
  RunResult res;
  Shared* sh = MakeShared(static_cast<unsigned>(workers));
  if (sh == nullptr) {
    perror("demo: mmap");
    res.failed_workers = workers;
    return res;
  }
  const uint64_t total = 2ull * kRounds * pages;  // each round writes and checks every page
  progress->Start(phase);
  pid_t pids[kMaxWorkers];
  int started = 0;
  for (int k = 0; k < workers; k++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("demo: fork");
      break;
    }
    if (pid == 0) _exit(Work(base, pages, k, workers, sh));
    pids[started++] = pid;
  }
  if (started < workers) {
    // The barrier would never open: stop the ones that started.
    for (int k = 0; k < started; k++) kill(pids[k], SIGKILL);
    res.failed_workers = workers - started;
  }
  int left = started;
  while (left > 0) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0) break;
    if (pid == 0) {
      progress->Update(sh->pages_done.load(std::memory_order_relaxed), total);
      usleep(100 * 1000);
      continue;
    }
    left--;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    res.failed_workers++;
    if (!WIFEXITED(status)) {
      // A killed worker never reaches the barrier again: neither would the rest.
      fprintf(stderr, "demo: a worker was killed by signal %d\n", WTERMSIG(status));
      for (int k = 0; k < started; k++) kill(pids[k], SIGKILL);
    }
  }
  res.bad_pages = sh->bad_pages.load();
  char result[96];
  snprintf(result, sizeof(result), "%s",
           res.bad_pages == 0 && res.failed_workers == 0 ? "every page checked" : "WRONG DATA");
  res.secs = progress->Done(result);
  munmap(sh, sizeof(Shared));
  return res;
}

void ToStdout(void*, const char* text) { fputs(text, stdout); }

}  // namespace

int main(int argc, char** argv) {
  int workers = argc > 1 ? atoi(argv[1]) : 4;
  if (workers < 1 || workers > kMaxWorkers) {
    fprintf(stderr, "usage: %s [workers 1..%d]\n", argv[0], kMaxWorkers);
    return 2;
  }
  if (getenv("LIBSHM_LIMIT") == nullptr) setenv("LIBSHM_LIMIT", "32M", 1);
  uint64_t limit = 0;
  size_t len = sizeof(limit);
  int rc = libshm_ctl("opt.limit", &limit, &len, nullptr, 0);
  if (rc != 0) {
    fprintf(stderr, "demo: libshm is not available here: %s\n", strerror(-rc));
    return 1;
  }
  const size_t size = 8 * limit, pages = size / kPage;
  void* mem;
  rc = libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem);
  if (rc != 0) {
    fprintf(stderr, "demo: libshm_map(%zu MiB): %s\n", size >> 20, strerror(-rc));
    return 1;
  }
  printf("demo: %d workers share a %zu MiB region, 8x the %llu MiB limit, for %d rounds\n", workers,
         size >> 20, static_cast<unsigned long long>(limit >> 20), kRounds);
  fflush(stdout);
  Progress progress;
  RunResult managed =
      Run("[1/2] libshm region", static_cast<char*>(mem), pages, workers, &progress);
  libshm_stats_t s;
  s.size = sizeof(s);
  libshm_stats(&s);
  libshm_unmap(mem, size);

  // The same work on the kernel's shared memory, with no limit.
  RunResult native;
  void* plain = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (plain == MAP_FAILED) {
    perror("demo: mmap of the kernel's shared memory");
    native.failed_workers = workers;
  } else {
    native = Run("[2/2] kernel shared memory, no limit", static_cast<char*>(plain), pages, workers,
                 &progress);
    munmap(plain, size);
  }

  const uint64_t written = static_cast<uint64_t>(kRounds) * size;
  const uint64_t read = static_cast<uint64_t>(kRounds) * size;
  printf("\nsummary\n");
  printf("  work    %d workers wrote %.0f MiB and read back %.0f MiB of a %zu MiB region\n",
         workers, MiB(written), MiB(read), size >> 20);
  printf("  limit   %.0f MiB through a %llu MiB limit, peak resident %.1f MiB\n",
         MiB(written + read), static_cast<unsigned long long>(limit >> 20),
         MiB(s.peak_resident_bytes));
  printf("  swap    %.0f MiB out (%llu pages), %.0f MiB in (%llu pages)\n",
         MiB(s.swap_outs * kPage), static_cast<unsigned long long>(s.swap_outs),
         MiB(s.swap_ins * kPage), static_cast<unsigned long long>(s.swap_ins));
  libshm_stats_print(ToStdout, nullptr, "b");
  printf("  time    libshm %.1f s, kernel shared memory %.1f s: %.1fx the kernel's time\n",
         managed.secs, native.secs, native.secs > 0 ? managed.secs / native.secs : 0.0);
  bool ok = managed.bad_pages == 0 && managed.failed_workers == 0 && native.bad_pages == 0 &&
            native.failed_workers == 0 && s.swap_outs > 0 &&
            s.peak_resident_bytes <= limit + (1 << 20);
  if (ok) {
    printf("demo: PASS: every page was checked by the worker next to its writer, each round\n");
  } else {
    printf(
        "demo: FAIL: %llu bad pages and %d failed workers on libshm, %llu and %d on kernel "
        "memory; %llu pages swapped out, peak resident %.1f MiB\n",
        static_cast<unsigned long long>(managed.bad_pages), managed.failed_workers,
        static_cast<unsigned long long>(native.bad_pages), native.failed_workers,
        static_cast<unsigned long long>(s.swap_outs), MiB(s.peak_resident_bytes));
  }
  return ok ? 0 : 1;
}
