// SPDX-License-Identifier: MIT
// First touch: fill every 4 KiB page of a fresh 256 MiB region, in address
// order or in a random order, against the kernel's first touch of fresh
// MAP_SHARED|MAP_ANONYMOUS memory. The session limit is far above the
// region, so no eviction runs. Mapping and unmapping are not timed.
#include <string.h>

#include "common.h"

namespace libshm_bench {
namespace {

// Every written page must be resident and dirty (a written page that is not
// dirty would be dropped by eviction: a lost write).
bool CheckLibshmAfterFill(benchmark::State& state, const libshm_stats_t& before, size_t bytes) {
  libshm_stats_t after;
  if (!ReadStats(state, &after)) return false;
  if (after.resident_bytes != bytes || after.dirty_bytes != bytes ||
      after.evictions != before.evictions) {
    Fail(state, "after writing %zu bytes: resident_bytes=%llu dirty_bytes=%llu evictions+%llu",
         bytes, (unsigned long long)after.resident_bytes, (unsigned long long)after.dirty_bytes,
         (unsigned long long)(after.evictions - before.evictions));
    return false;
  }
  state.counters["faults_per_page"] =
      static_cast<double>(after.faults - before.faults) / static_cast<double>(bytes / kPageSize);
  return true;
}

void BM_FirstTouch(benchmark::State& state, Backend backend, bool random) {
  const size_t bytes = kLargeBytes;
  const size_t pages = bytes / kPageSize;
  const uint32_t* order = random ? Permutation(pages).data() : nullptr;
  const std::vector<uint32_t> sample = Sample(pages, 256);
  uint64_t gen = 0;
  for (auto _ : state) {
    gen++;
    libshm_stats_t before{};
    if (backend == Backend::kLibshm && !ReadStats(state, &before)) break;
    Mapping m(backend, bytes);
    if (m.error() != 0) {
      Fail(state, "map %zu bytes: %s", bytes, strerror(-m.error()));
      break;
    }
    uint64_t t0 = NowNs();
    for (size_t i = 0; i < pages; i++) {
      size_t pg = order != nullptr ? order[i] : i;
      FillPage(m.page(pg), pg, gen);
    }
    uint64_t t1 = NowNs();
    state.SetIterationTime(static_cast<double>(t1 - t0) * 1e-9);

    bool ok = true;
    for (uint32_t pg : sample) {
      if (!CheckPage(m.page(pg), pg, gen)) {
        Fail(state, "page %u does not hold what was written", pg);
        ok = false;
        break;
      }
    }
    if (ok && backend == Backend::kLibshm) ok = CheckLibshmAfterFill(state, before, bytes);
    int rc = m.Unmap();
    if (ok && rc != 0) {
      Fail(state, "unmap: %s", strerror(-rc));
      ok = false;
    }
    if (ok && backend == Backend::kLibshm) ok = ExpectNothingResident(state, "first touch");
    if (!ok) break;
  }
  ReportSize(state, bytes);
}

BENCHMARK_CAPTURE(BM_FirstTouch, seq_libshm, Backend::kLibshm, false)
    ->Name("first_touch_seq/libshm")
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FirstTouch, seq_kernel, Backend::kKernel, false)
    ->Name("first_touch_seq/kernel")
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FirstTouch, random_libshm, Backend::kLibshm, true)
    ->Name("first_touch_random/libshm")
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_FirstTouch, random_kernel, Backend::kKernel, true)
    ->Name("first_touch_random/kernel")
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace libshm_bench
