// SPDX-License-Identifier: MIT
// Shared pieces of the libshm micro-benchmarks: a mapping that is either a
// libshm region or the kernel's own MAP_SHARED|MAP_ANONYMOUS memory, page
// stamps for cheap correctness checks, session stats, timing, latency
// percentiles and a one-line way to fail a benchmark loudly.
//
// Every benchmark pairs a "libshm" case with a baseline in the same run; the
// ratio is computed by ratios.py from the JSON output. Verification is part
// of every benchmark but outside the timed region: a mismatch fails the
// benchmark (SkipWithError) and makes the program exit non-zero.
//
// Single-threaded: benchmarks run one at a time on the main thread.
#ifndef LIBSHM_BENCH_MICRO_COMMON_H_
#define LIBSHM_BENCH_MICRO_COMMON_H_

#include <benchmark/benchmark.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <string>
#include <vector>

#include "libshm/libshm.h"

namespace libshm_bench {

constexpr size_t kPageSize = 4096;
constexpr size_t kWordsPerPage = kPageSize / sizeof(uint64_t);
constexpr size_t kMiB = 1024 * 1024;

// Region sizes. The session limit (main.cc) is well above the largest, so
// nothing is evicted unless a benchmark asks for it.
constexpr size_t kLargeBytes = 256 * kMiB;  // first touch, refault, resident
constexpr size_t kSmallBytes = 64 * kMiB;   // first write after msync, msync

enum class Backend { kLibshm, kKernel };

// A shared read-write mapping of `bytes`: libshm_map, or the kernel's
// mmap(MAP_SHARED|MAP_ANONYMOUS). Unmaps on destruction.
class Mapping {
 public:
  Mapping(Backend backend, size_t bytes);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  // 0 or -errno from the map call.
  int error() const { return error_; }
  char* data() const { return data_; }
  uint64_t* page(size_t i) const { return reinterpret_cast<uint64_t*>(data_ + i * kPageSize); }
  size_t bytes() const { return bytes_; }
  size_t pages() const { return bytes_ / kPageSize; }
  // Unmaps now; returns 0 or -errno.
  int Unmap();

 private:
  Backend backend_;
  size_t bytes_;
  char* data_ = nullptr;
  int error_ = 0;
};

// The value page `page` carries in generation `gen`; word j of a fully
// written page holds Stamp(page, gen) + j.
inline uint64_t Stamp(uint64_t page, uint64_t gen) {
  return (page * 0x9e3779b97f4a7c15ull) ^ (gen << 48) ^ 0x5bd1e995ull;
}

// Writes all 512 words of page `p` for generation `gen`.
inline void FillPage(uint64_t* p, uint64_t page, uint64_t gen) {
  uint64_t v = Stamp(page, gen);
  for (size_t j = 0; j < kWordsPerPage; j++) p[j] = v + j;
}

// True if page `p` holds exactly what FillPage(p, page, gen) wrote.
bool CheckPage(const uint64_t* p, uint64_t page, uint64_t gen);

// A fixed pseudo-random permutation of [0, pages) (same in every run).
const std::vector<uint32_t>& Permutation(size_t pages);

// `count` distinct page indices spread over [0, pages), for sampled checks.
std::vector<uint32_t> Sample(size_t pages, size_t count);

inline uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// xorshift64*: cheap enough to sit inside a memory-bound loop.
struct Rng {
  uint64_t s;
  uint64_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
  }
};

// Per-access latencies (ns) of one benchmark, across its iterations.
class Latencies {
 public:
  void Reserve(size_t n) { ns_.reserve(n); }
  void Add(uint64_t ns) { ns_.push_back(static_cast<uint32_t>(ns > UINT32_MAX ? UINT32_MAX : ns)); }
  // Sets counters p50_us and p99_us on `state`.
  void Report(benchmark::State& state);

 private:
  std::vector<uint32_t> ns_;
};

// Session statistics; fails the benchmark (and returns false) if the call
// fails.
bool ReadStats(benchmark::State& state, libshm_stats_t* out);

// libshm_ctl("evict.run", 0): evicts every resident page of the session.
// Checks afterwards that nothing is resident; false (benchmark failed) if not.
bool EvictAll(benchmark::State& state);

// Fails the benchmark with a printf-style message (also printed on stderr
// as "BENCH-FAILURE: <message>"; the benchmark's row carries it too) and
// marks the process as failed.
void Fail(benchmark::State& state, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// True once any benchmark has failed (main's exit status).
bool AnyFailure();

// Sets the counters every benchmark reports: the bytes one iteration
// touches ("bytes", per iteration) and the pages ("pages").
void ReportSize(benchmark::State& state, size_t bytes);

// After a benchmark unmaps its region the session must hold no region and
// no resident page (regions are benchmarked one at a time). Waits up to one
// second (unmap notifications may be asynchronous), then fails the benchmark.
bool ExpectNothingResident(benchmark::State& state, const char* when);

// Registers the benchmarks that need two CPUs, if this process may use two
// (first_write.cc). Called from main before the run.
void RegisterCrossCpuBenchmarks();

}  // namespace libshm_bench

#endif  // LIBSHM_BENCH_MICRO_COMMON_H_
