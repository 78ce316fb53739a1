// SPDX-License-Identifier: MIT
// Resident access: random 8-byte reads and read-modify-writes over a 256 MiB
// region that is fully resident and dirty (every page written during the
// untimed warm-up), against the kernel's MAP_SHARED|MAP_ANONYMOUS. One op is
// one random read plus one random increment. Once resident, a libshm page
// must cost nothing: the timed loop must raise no missing or write-protect
// fault (checked from the stats); the only faults allowed are reference
// sampling's (LIBSHM_SAMPLE_RATE a second at most, reported as sample_hits).
// The sum of all words must grow by exactly the number of increments
// (checked once at the end).
#include <string.h>

#include "common.h"

namespace libshm_bench {
namespace {

constexpr uint64_t kOpsPerIteration = 8u << 20;

uint64_t SumWords(const Mapping& m) {
  const uint64_t* w = m.page(0);
  uint64_t sum = 0;
  for (size_t i = 0; i < m.bytes() / sizeof(uint64_t); i++) sum += w[i];
  return sum;
}

void BM_Resident(benchmark::State& state, Backend backend) {
  const size_t bytes = kLargeBytes;
  const size_t pages = bytes / kPageSize;
  const uint64_t mask = bytes / sizeof(uint64_t) - 1;  // a power of two
  Mapping m(backend, bytes);
  if (m.error() != 0) {
    Fail(state, "map %zu bytes: %s", bytes, strerror(-m.error()));
    return;
  }
  for (size_t pg = 0; pg < pages; pg++) FillPage(m.page(pg), pg, 1);
  uint64_t expected = SumWords(m);
  bool ok = true;
  libshm_stats_t s0{};
  if (backend == Backend::kLibshm) {
    ok = ReadStats(state, &s0);
    if (ok && (s0.resident_bytes != bytes || s0.dirty_bytes != bytes)) {
      Fail(state, "after warm-up: resident_bytes=%llu dirty_bytes=%llu, expected %zu",
           (unsigned long long)s0.resident_bytes, (unsigned long long)s0.dirty_bytes, bytes);
      ok = false;
    }
  }
  uint64_t* w = m.page(0);
  Rng rng{0x243f6a8885a308d3ull};
  uint64_t acc = 0, sample_hits = 0;
  for (auto _ : state) {
    if (!ok) break;
    libshm_stats_t before{}, after{};
    if (backend == Backend::kLibshm && !ReadStats(state, &before)) break;
    uint64_t t0 = NowNs();
    for (uint64_t i = 0; i < kOpsPerIteration; i++) {
      acc += w[rng.Next() & mask];
      w[rng.Next() & mask]++;
    }
    uint64_t t1 = NowNs();
    state.SetIterationTime(static_cast<double>(t1 - t0) * 1e-9);
    expected += kOpsPerIteration;
    if (backend == Backend::kLibshm) {
      if (!ReadStats(state, &after)) break;
      if (after.faults != before.faults || after.wp_faults != before.wp_faults ||
          after.evictions != before.evictions) {
        Fail(state, "resident loop saw faults+%llu wp_faults+%llu evictions+%llu",
             (unsigned long long)(after.faults - before.faults),
             (unsigned long long)(after.wp_faults - before.wp_faults),
             (unsigned long long)(after.evictions - before.evictions));
        ok = false;
        break;
      }
      sample_hits += after.sample_hits - before.sample_hits;
    }
  }
  benchmark::DoNotOptimize(acc);
  if (ok && !AnyFailure()) {
    uint64_t sum = SumWords(m);
    if (sum != expected) {
      Fail(state, "sum of words %llu, expected %llu", (unsigned long long)sum,
           (unsigned long long)expected);
      ok = false;
    }
  }
  int rc = m.Unmap();
  if (ok && rc != 0) Fail(state, "unmap: %s", strerror(-rc));
  if (ok && rc == 0 && backend == Backend::kLibshm) ExpectNothingResident(state, "resident");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kOpsPerIteration));
  state.counters["ops"] = static_cast<double>(kOpsPerIteration);
  if (backend == Backend::kLibshm) state.counters["sample_hits"] = static_cast<double>(sample_hits);
}

BENCHMARK_CAPTURE(BM_Resident, libshm, Backend::kLibshm)
    ->Name("resident_random_rw/libshm")
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Resident, kernel, Backend::kKernel)
    ->Name("resident_random_rw/kernel")
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace libshm_bench
