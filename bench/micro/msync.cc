// SPDX-License-Identifier: MIT
// msync(MS_SYNC) of a 64 MiB range whose every page is dirty. Only the
// msync call is timed; re-dirtying the range between iterations is not.
//
// Baselines, same run:
// - kernel_noop: msync(MS_SYNC) on kernel MAP_SHARED|MAP_ANONYMOUS memory.
//   shmem has no backing store, so this is a no-op that returns at once:
//   listed to show that, not as a target.
// - pwrite_fdatasync: the same 64 MiB written with pwrite (1 MiB calls) to a
//   preallocated file in the swap directory (LIBSHM_SWAP_DIR, default
//   /var/tmp), then fdatasync: what writing those bytes durably to that
//   file system costs.
//
// Both libshm and pwrite_fdatasync do one untimed warm-up pass first, so
// the timed passes overwrite blocks written once (steady state).
//
// libshm checks: msync writes back exactly the range (writeback_bytes),
// leaves nothing dirty, and afterwards evicting the region writes nothing,
// and the pages read back from swap hold the last generation.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

namespace libshm_bench {
namespace {

constexpr size_t kChunk = 1 * kMiB;

void FillAll(const Mapping& m, uint64_t gen) {
  for (size_t pg = 0; pg < m.pages(); pg++) FillPage(m.page(pg), pg, gen);
}

// pwrite of the whole mapping in kChunk calls, then fdatasync.
bool WriteFile(int fd, const Mapping& m) {
  for (size_t off = 0; off < m.bytes(); off += kChunk) {
    if (pwrite(fd, m.data() + off, kChunk, static_cast<off_t>(off)) !=
        static_cast<ssize_t>(kChunk)) {
      return false;
    }
  }
  return fdatasync(fd) == 0;
}

const char* SwapDir() {
  const char* d = getenv("LIBSHM_SWAP_DIR");
  return d != nullptr && d[0] != '\0' ? d : "/var/tmp";
}

void BM_MsyncLibshm(benchmark::State& state) {
  const size_t bytes = kSmallBytes;
  const size_t pages = bytes / kPageSize;
  Mapping m(Backend::kLibshm, bytes);
  if (m.error() != 0) {
    Fail(state, "map %zu bytes: %s", bytes, strerror(-m.error()));
    return;
  }
  // Warm-up, untimed: the first writeback to a freshly reserved extent also
  // pays for block allocation (unwritten extents); measure the steady state.
  uint64_t gen = 1;
  FillAll(m, gen);
  int warm = libshm_msync(m.data(), bytes, MS_SYNC);
  if (warm != 0) {
    Fail(state, "libshm_msync (warm-up): %s", strerror(-warm));
    return;
  }
  bool ok = true;
  for (auto _ : state) {
    gen++;
    FillAll(m, gen);
    libshm_stats_t before, after;
    if (!ReadStats(state, &before)) {
      ok = false;
      break;
    }
    if (before.dirty_bytes != bytes) {
      Fail(state, "after writing every page: dirty_bytes=%llu, expected %zu",
           (unsigned long long)before.dirty_bytes, bytes);
      ok = false;
      break;
    }
    uint64_t t0 = NowNs();
    int rc = libshm_msync(m.data(), bytes, MS_SYNC);
    uint64_t t1 = NowNs();
    state.SetIterationTime(static_cast<double>(t1 - t0) * 1e-9);
    if (rc != 0) {
      Fail(state, "libshm_msync: %s", strerror(-rc));
      ok = false;
      break;
    }
    if (!ReadStats(state, &after)) {
      ok = false;
      break;
    }
    if (after.writeback_bytes - before.writeback_bytes != bytes || after.dirty_bytes != 0) {
      Fail(state, "msync of %zu dirty bytes: writeback_bytes+%llu dirty_bytes=%llu", bytes,
           (unsigned long long)(after.writeback_bytes - before.writeback_bytes),
           (unsigned long long)after.dirty_bytes);
      ok = false;
      break;
    }
  }
  // Clean after msync: evicting writes nothing, and swap holds the data.
  libshm_stats_t before, after;
  if (ok && ReadStats(state, &before) && EvictAll(state) && ReadStats(state, &after)) {
    if (after.writeback_bytes != before.writeback_bytes || after.swap_outs != before.swap_outs) {
      Fail(state, "evicting a range clean after msync wrote %llu bytes",
           (unsigned long long)(after.writeback_bytes - before.writeback_bytes));
      ok = false;
    }
    for (uint32_t pg : Sample(pages, 256)) {
      if (!ok) break;
      if (!CheckPage(m.page(pg), pg, gen)) {
        Fail(state, "page %u read back from swap after msync does not hold generation %llu", pg,
             (unsigned long long)gen);
        ok = false;
      }
    }
  }
  int rc = m.Unmap();
  if (ok && rc != 0) Fail(state, "unmap: %s", strerror(-rc));
  if (ok && rc == 0) ExpectNothingResident(state, "msync");
  ReportSize(state, bytes);
}

void BM_MsyncKernel(benchmark::State& state) {
  const size_t bytes = kSmallBytes;
  Mapping m(Backend::kKernel, bytes);
  if (m.error() != 0) {
    Fail(state, "mmap %zu bytes: %s", bytes, strerror(-m.error()));
    return;
  }
  uint64_t gen = 0;
  for (auto _ : state) {
    FillAll(m, ++gen);
    uint64_t t0 = NowNs();
    int rc = msync(m.data(), bytes, MS_SYNC);
    uint64_t t1 = NowNs();
    state.SetIterationTime(static_cast<double>(t1 - t0) * 1e-9);
    if (rc != 0) {
      Fail(state, "msync: %s", strerror(errno));
      break;
    }
  }
  ReportSize(state, bytes);
}

void BM_PwriteFdatasync(benchmark::State& state) {
  const size_t bytes = kSmallBytes;
  const size_t pages = bytes / kPageSize;
  Mapping m(Backend::kKernel, bytes);
  if (m.error() != 0) {
    Fail(state, "mmap %zu bytes: %s", bytes, strerror(-m.error()));
    return;
  }
  int fd = open(SwapDir(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    Fail(state, "O_TMPFILE in %s: %s", SwapDir(), strerror(errno));
    return;
  }
  if (fallocate(fd, 0, 0, static_cast<off_t>(bytes)) != 0) {
    Fail(state, "fallocate: %s", strerror(errno));
    close(fd);
    return;
  }
  // Warm-up pass, untimed, as for libshm: the timed passes overwrite
  // blocks that were written once.
  uint64_t gen = 1;
  FillAll(m, gen);
  bool ok = WriteFile(fd, m);
  if (!ok) {
    Fail(state, "pwrite/fdatasync (warm-up): %s", strerror(errno));
    close(fd);
    return;
  }
  for (auto _ : state) {
    FillAll(m, ++gen);
    uint64_t t0 = NowNs();
    ok = WriteFile(fd, m);
    uint64_t t1 = NowNs();
    state.SetIterationTime(static_cast<double>(t1 - t0) * 1e-9);
    if (!ok) {
      Fail(state, "pwrite/fdatasync: %s", strerror(errno));
      break;
    }
  }
  alignas(64) uint64_t buf[kWordsPerPage];
  for (uint32_t pg : Sample(pages, 64)) {
    if (!ok) break;
    if (pread(fd, buf, kPageSize, static_cast<off_t>(pg) * kPageSize) !=
            static_cast<ssize_t>(kPageSize) ||
        !CheckPage(buf, pg, gen)) {
      Fail(state, "file page %u does not hold generation %llu", pg, (unsigned long long)gen);
      ok = false;
    }
  }
  close(fd);
  ReportSize(state, bytes);
}

BENCHMARK(BM_MsyncLibshm)
    ->Name("msync_dirty_64M/libshm")
    ->Iterations(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MsyncKernel)
    ->Name("msync_dirty_64M/kernel_noop")
    ->Iterations(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PwriteFdatasync)
    ->Name("msync_dirty_64M/pwrite_fdatasync")
    ->Iterations(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace libshm_bench
