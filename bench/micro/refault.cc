// SPDX-License-Identifier: MIT
// Refault from swap: read every 4 KiB page (memcpy into a buffer) of a
// 256 MiB region whose pages were all written and then evicted with
// evict.run, in address order or in a random order. The baseline is the
// kernel's first touch (read) of fresh MAP_SHARED|MAP_ANONYMOUS memory of
// the same size: the kernel has no swap here, so "bring a page in" is its
// page allocation. The swap file is buffered, so after the first eviction
// its pages sit in the host page cache: this measures the fault path, not
// the disk.
//
// Every page read is checked (first and last word) inside the timed loop,
// and a sample of pages in full after it; swap_ins must grow by the page
// count. The random variants also record each page's read latency.
#include <string.h>

#include "common.h"

namespace libshm_bench {
namespace {

constexpr uint64_t kGen = 1;

struct Pass {
  uint64_t ns = 0;
  uint64_t bad = 0;
  uint64_t first_bad = UINT64_MAX;
};

// Reads every page of `m` (memcpy into a buffer) in `order` (address order
// if null); checks each page's first and last word against generation kGen
// (`stamped`) or zero. With `lat`, records each page's read latency.
Pass ReadPass(const Mapping& m, const uint32_t* order, bool stamped, Latencies* lat) {
  alignas(64) uint64_t buf[kWordsPerPage];
  Pass r;
  const size_t pages = m.pages();
  uint64_t t0 = NowNs();
  for (size_t i = 0; i < pages; i++) {
    size_t pg = order != nullptr ? order[i] : i;
    uint64_t a = lat != nullptr ? NowNs() : 0;
    memcpy(buf, m.page(pg), kPageSize);
    benchmark::DoNotOptimize(buf);
    if (lat != nullptr) lat->Add(NowNs() - a);
    uint64_t first = stamped ? Stamp(pg, kGen) : 0;
    uint64_t last = stamped ? first + kWordsPerPage - 1 : 0;
    if (buf[0] != first || buf[kWordsPerPage - 1] != last) {
      if (r.bad++ == 0) r.first_bad = pg;
    }
  }
  r.ns = NowNs() - t0;
  return r;
}

bool CheckPass(benchmark::State& state, const Pass& r, size_t pages) {
  if (r.bad == 0) return true;
  Fail(state, "%llu of %zu pages read back wrong (first: page %llu)", (unsigned long long)r.bad,
       pages, (unsigned long long)r.first_bad);
  return false;
}

// libshm: the region lives across iterations: written once, then evicted
// before each timed pass (later evictions are clean: no I/O).
void BM_Refault(benchmark::State& state, bool random) {
  const size_t bytes = kLargeBytes;
  const size_t pages = bytes / kPageSize;
  const uint32_t* order = random ? Permutation(pages).data() : nullptr;
  const std::vector<uint32_t> sample = Sample(pages, 256);
  Latencies lat;
  if (random) lat.Reserve(pages * static_cast<size_t>(state.max_iterations));
  Mapping m(Backend::kLibshm, bytes);
  if (m.error() != 0) {
    Fail(state, "map %zu bytes: %s", bytes, strerror(-m.error()));
    return;
  }
  for (size_t pg = 0; pg < pages; pg++) FillPage(m.page(pg), pg, kGen);
  bool ok = true;
  for (auto _ : state) {
    libshm_stats_t before, after;
    if (!EvictAll(state) || !ReadStats(state, &before)) {
      ok = false;
      break;
    }
    if (before.swapped_bytes != bytes) {
      Fail(state, "after evict.run: swapped_bytes=%llu, expected %zu",
           (unsigned long long)before.swapped_bytes, bytes);
      ok = false;
      break;
    }
    Pass r = ReadPass(m, order, /*stamped=*/true, random ? &lat : nullptr);
    state.SetIterationTime(static_cast<double>(r.ns) * 1e-9);
    ok = CheckPass(state, r, pages);
    for (size_t i = 0; ok && i < sample.size(); i++) {
      if (!CheckPage(m.page(sample[i]), sample[i], kGen)) {
        Fail(state, "page %u does not hold what was written before eviction", sample[i]);
        ok = false;
      }
    }
    if (!ok || !ReadStats(state, &after)) {
      ok = false;
      break;
    }
    if (after.swap_ins - before.swap_ins != pages || after.resident_bytes != bytes) {
      Fail(state, "refault of %zu pages: swap_ins+%llu resident_bytes=%llu", pages,
           (unsigned long long)(after.swap_ins - before.swap_ins),
           (unsigned long long)after.resident_bytes);
      ok = false;
      break;
    }
    state.counters["faults_per_page"] =
        static_cast<double>(after.faults - before.faults) / static_cast<double>(pages);
  }
  int rc = m.Unmap();
  if (ok && rc != 0) Fail(state, "unmap: %s", strerror(-rc));
  if (ok && rc == 0) ExpectNothingResident(state, "refault");
  if (random) lat.Report(state);
  ReportSize(state, bytes);
}

// The kernel's first touch (read) of a fresh region of the same size.
void BM_KernelFirstTouchRead(benchmark::State& state, bool random) {
  const size_t bytes = kLargeBytes;
  const size_t pages = bytes / kPageSize;
  const uint32_t* order = random ? Permutation(pages).data() : nullptr;
  Latencies lat;
  if (random) lat.Reserve(pages * static_cast<size_t>(state.max_iterations));
  for (auto _ : state) {
    Mapping m(Backend::kKernel, bytes);
    if (m.error() != 0) {
      Fail(state, "mmap %zu bytes: %s", bytes, strerror(-m.error()));
      break;
    }
    Pass r = ReadPass(m, order, /*stamped=*/false, random ? &lat : nullptr);
    state.SetIterationTime(static_cast<double>(r.ns) * 1e-9);
    if (!CheckPass(state, r, pages)) break;
  }
  if (random) lat.Report(state);
  ReportSize(state, bytes);
}

BENCHMARK_CAPTURE(BM_Refault, seq, false)
    ->Name("refault_seq/libshm")
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_KernelFirstTouchRead, seq, false)
    ->Name("refault_seq/kernel_first_touch")
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Refault, random, true)
    ->Name("refault_random/libshm")
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_KernelFirstTouchRead, random, true)
    ->Name("refault_random/kernel_first_touch")
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace libshm_bench
