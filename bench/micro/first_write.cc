// SPDX-License-Identifier: MIT
// First write after writeback: a 64 MiB region is written, msync(MS_SYNC)
// makes every page clean (and, in libshm, write-protected), then the timed
// pass writes one word into each page in address order. In libshm each of
// those writes is a synchronous write-protect fault served by the pager.
//
// Baselines, same run:
// - kernel_rewrite: the same pass over kernel MAP_SHARED|MAP_ANONYMOUS pages
//   that were already written (msync is a no-op there): plain stores.
// - raw_uffd_wp: the floor for any write-protect-based dirty tracking: the
//   same pass over kernel shared anonymous pages write-protected with a
//   userfaultfd registered MODE_WP, served by a handler thread in this
//   process that un-protects the page (UFFDIO_WRITEPROTECT mode 0, which
//   also wakes the writer). No pager, no bookkeeping, no helper process.
// - raw_uffd_wp_cross_cpu (registered only when two CPUs are allowed): the
//   same with the writer and the handler thread pinned to different CPUs,
//   the round trip a pager on another CPU pays.
//
// libshm and raw_uffd_wp record each write's latency (p50_us, p99_us).
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common.h"

namespace libshm_bench {
namespace {

constexpr uint64_t kBaseGen = 1;

// After a pass of generation `gen`: word 0 of each sampled page holds the
// new stamp, the rest still holds generation kBaseGen.
bool CheckSample(benchmark::State& state, const Mapping& m, uint64_t gen) {
  for (uint32_t pg : Sample(m.pages(), 256)) {
    const uint64_t* p = m.page(pg);
    uint64_t base = Stamp(pg, kBaseGen);
    bool good = p[0] == Stamp(pg, gen);
    for (size_t j = 1; good && j < kWordsPerPage; j++) good = p[j] == base + j;
    if (!good) {
      Fail(state, "page %u does not hold what was written", pg);
      return false;
    }
  }
  return true;
}

// Writes word 0 of every page; returns the elapsed ns.
uint64_t WritePass(const Mapping& m, uint64_t gen, Latencies* lat) {
  const size_t pages = m.pages();
  uint64_t t0 = NowNs();
  for (size_t pg = 0; pg < pages; pg++) {
    volatile uint64_t* p = m.page(pg);
    if (lat != nullptr) {
      uint64_t a = NowNs();
      *p = Stamp(pg, gen);
      lat->Add(NowNs() - a);
    } else {
      *p = Stamp(pg, gen);
    }
  }
  return NowNs() - t0;
}

void BM_FirstWriteLibshm(benchmark::State& state) {
  const size_t bytes = kSmallBytes;
  const size_t pages = bytes / kPageSize;
  Mapping m(Backend::kLibshm, bytes);
  if (m.error() != 0) {
    Fail(state, "map %zu bytes: %s", bytes, strerror(-m.error()));
    return;
  }
  for (size_t pg = 0; pg < pages; pg++) FillPage(m.page(pg), pg, kBaseGen);
  Latencies lat;
  lat.Reserve(pages * static_cast<size_t>(state.max_iterations));
  uint64_t gen = kBaseGen;
  uint64_t sample_hits = 0;
  bool ok = true;
  for (auto _ : state) {
    gen++;
    libshm_stats_t before, after;
    int rc = libshm_msync(m.data(), bytes, MS_SYNC);
    if (rc != 0) {
      Fail(state, "libshm_msync: %s", strerror(-rc));
      ok = false;
      break;
    }
    if (!ReadStats(state, &before)) {
      ok = false;
      break;
    }
    if (before.dirty_bytes != 0 || before.resident_bytes != bytes) {
      Fail(state, "after msync(MS_SYNC): dirty_bytes=%llu resident_bytes=%llu",
           (unsigned long long)before.dirty_bytes, (unsigned long long)before.resident_bytes);
      ok = false;
      break;
    }
    state.SetIterationTime(static_cast<double>(WritePass(m, gen, &lat)) * 1e-9);
    if (!ReadStats(state, &after)) {
      ok = false;
      break;
    }
    // Each first write is seen once: as a write-protect fault, or as the
    // refault of a page that reference sampling had soft-evicted (counted in
    // sample_hits, which also counts sampled pages that were only read).
    uint64_t wp = after.wp_faults - before.wp_faults;
    uint64_t hits = after.sample_hits - before.sample_hits;
    if (wp > pages || wp + hits < pages || after.dirty_bytes != bytes ||
        after.faults != before.faults) {
      Fail(state,
           "first writes to %zu clean pages: wp_faults+%llu sample_hits+%llu dirty_bytes=%llu "
           "faults+%llu",
           pages, (unsigned long long)wp, (unsigned long long)hits,
           (unsigned long long)after.dirty_bytes,
           (unsigned long long)(after.faults - before.faults));
      ok = false;
      break;
    }
    sample_hits += hits;
    if (!CheckSample(state, m, gen)) {
      ok = false;
      break;
    }
  }
  int rc = m.Unmap();
  if (ok && rc != 0) Fail(state, "unmap: %s", strerror(-rc));
  if (ok && rc == 0) ExpectNothingResident(state, "first write");
  state.counters["sample_hits"] = static_cast<double>(sample_hits);
  lat.Report(state);
  ReportSize(state, bytes);
}

void BM_KernelRewrite(benchmark::State& state) {
  const size_t bytes = kSmallBytes;
  const size_t pages = bytes / kPageSize;
  Mapping m(Backend::kKernel, bytes);
  if (m.error() != 0) {
    Fail(state, "mmap %zu bytes: %s", bytes, strerror(-m.error()));
    return;
  }
  for (size_t pg = 0; pg < pages; pg++) FillPage(m.page(pg), pg, kBaseGen);
  uint64_t gen = kBaseGen;
  for (auto _ : state) {
    gen++;
    if (msync(m.data(), bytes, MS_SYNC) != 0) {
      Fail(state, "msync: %s", strerror(errno));
      break;
    }
    state.SetIterationTime(static_cast<double>(WritePass(m, gen, nullptr)) * 1e-9);
    if (!CheckSample(state, m, gen)) break;
  }
  ReportSize(state, bytes);
}

// A userfaultfd registered MODE_WP over [base, base+len) and a thread that
// un-protects each faulting page.
class RawWpHandler {
 public:
  ~RawWpHandler() { Stop(); }

  // 0 or -errno. With handler_cpu >= 0 the handler thread runs on that CPU.
  int Start(char* base, size_t len, int handler_cpu) {
    base_ = base;
    len_ = len;
    uffd_ = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    if (uffd_ < 0) return -errno;
    struct uffdio_api api = {};
    api.api = UFFD_API;
    if (ioctl(uffd_, UFFDIO_API, &api) != 0) return -errno;
    struct uffdio_register reg = {};
    reg.range.start = reinterpret_cast<uintptr_t>(base);
    reg.range.len = len;
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    if (ioctl(uffd_, UFFDIO_REGISTER, &reg) != 0) return -errno;
    if ((reg.ioctls & (1ull << _UFFDIO_WRITEPROTECT)) == 0) return -ENOTSUP;
    stop_fd_ = eventfd(0, EFD_CLOEXEC);
    if (stop_fd_ < 0) return -errno;
    thread_ = std::thread([this, handler_cpu] {
      if (handler_cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(handler_cpu, &set);
        int e = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
        if (e != 0) error_ = -e;
      }
      Loop();
    });
    return 0;
  }

  // Write-protects the whole range; 0 or -errno.
  int Protect() { return WriteProtect(reinterpret_cast<uintptr_t>(base_), len_, true); }

  uint64_t faults() const { return faults_.load(std::memory_order_relaxed); }
  int error() const { return error_.load(); }

  void Stop() {
    if (thread_.joinable()) {
      uint64_t one = 1;
      if (write(stop_fd_, &one, sizeof(one)) != sizeof(one)) abort();
      thread_.join();
    }
    if (stop_fd_ >= 0) close(stop_fd_);
    if (uffd_ >= 0) close(uffd_);
    stop_fd_ = uffd_ = -1;
  }

 private:
  int WriteProtect(uintptr_t start, size_t len, bool protect) {
    struct uffdio_writeprotect wp = {};
    wp.range.start = start;
    wp.range.len = len;
    wp.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
    return ioctl(uffd_, UFFDIO_WRITEPROTECT, &wp) == 0 ? 0 : -errno;
  }

  void Loop() {
    struct uffd_msg msgs[16];
    struct pollfd fds[2] = {{uffd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    for (;;) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        error_ = -errno;
        return;
      }
      if (fds[1].revents != 0) return;
      ssize_t n = read(uffd_, msgs, sizeof(msgs));
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        error_ = -errno;
        return;
      }
      for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(msgs[0]); i++) {
        if (msgs[i].event != UFFD_EVENT_PAGEFAULT ||
            (msgs[i].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) == 0) {
          error_ = -EPROTO;
          continue;
        }
        // Counted before the writer is woken, so the pass sees its own faults.
        faults_.fetch_add(1, std::memory_order_relaxed);
        uintptr_t addr = msgs[i].arg.pagefault.address & ~(uintptr_t)(kPageSize - 1);
        int rc = WriteProtect(addr, kPageSize, false);  // also wakes the writer
        if (rc != 0) error_ = rc;
      }
    }
  }

  char* base_ = nullptr;
  size_t len_ = 0;
  int uffd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
  std::atomic<uint64_t> faults_{0};
  std::atomic<int> error_{0};
};

// The timed passes; the handler thread on handler_cpu (-1: anywhere).
void RunRawUffdWp(benchmark::State& state, int handler_cpu) {
  const size_t bytes = kSmallBytes;
  const size_t pages = bytes / kPageSize;
  Mapping m(Backend::kKernel, bytes);
  if (m.error() != 0) {
    Fail(state, "mmap %zu bytes: %s", bytes, strerror(-m.error()));
    return;
  }
  for (size_t pg = 0; pg < pages; pg++) FillPage(m.page(pg), pg, kBaseGen);
  RawWpHandler handler;
  int rc = handler.Start(m.data(), bytes, handler_cpu);
  if (rc != 0) {
    Fail(state, "userfaultfd MODE_WP set-up: %s", strerror(-rc));
    return;
  }
  Latencies lat;
  lat.Reserve(pages * static_cast<size_t>(state.max_iterations));
  uint64_t gen = kBaseGen;
  for (auto _ : state) {
    gen++;
    rc = handler.Protect();
    if (rc != 0) {
      Fail(state, "UFFDIO_WRITEPROTECT: %s", strerror(-rc));
      break;
    }
    uint64_t before = handler.faults();
    state.SetIterationTime(static_cast<double>(WritePass(m, gen, &lat)) * 1e-9);
    uint64_t n = handler.faults() - before;
    if (n != pages || handler.error() != 0) {
      Fail(state, "%llu write-protect faults for %zu pages, handler error %d",
           (unsigned long long)n, pages, handler.error());
      break;
    }
    if (!CheckSample(state, m, gen)) break;
  }
  handler.Stop();
  lat.Report(state);
  ReportSize(state, bytes);
}

// cross_cpu: the writer runs on one allowed CPU and the handler thread on
// another, as when the pager and the program are on different CPUs.
void BM_RawUffdWp(benchmark::State& state, bool cross_cpu) {
  cpu_set_t saved;
  int writer_cpu = -1, handler_cpu = -1;
  if (cross_cpu) {
    if (sched_getaffinity(0, sizeof(saved), &saved) != 0) {
      Fail(state, "sched_getaffinity: %s", strerror(errno));
      return;
    }
    for (int c = 0; c < CPU_SETSIZE && handler_cpu < 0; c++) {
      if (!CPU_ISSET(c, &saved)) continue;
      (writer_cpu < 0 ? writer_cpu : handler_cpu) = c;
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(writer_cpu, &one);
    if (handler_cpu < 0 || sched_setaffinity(0, sizeof(one), &one) != 0) {
      Fail(state, "cannot place writer and handler on two CPUs");
      return;
    }
  }
  RunRawUffdWp(state, handler_cpu);
  if (cross_cpu) sched_setaffinity(0, sizeof(saved), &saved);
}

BENCHMARK(BM_FirstWriteLibshm)
    ->Name("first_write_after_msync/libshm")
    ->Iterations(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KernelRewrite)
    ->Name("first_write_after_msync/kernel_rewrite")
    ->Iterations(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_RawUffdWp, same, false)
    ->Name("first_write_after_msync/raw_uffd_wp")
    ->Iterations(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

void RegisterCrossCpuBenchmarks() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) < 2) return;
  benchmark::RegisterBenchmark("first_write_after_msync/raw_uffd_wp_cross_cpu", BM_RawUffdWp, true)
      ->Iterations(5)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace libshm_bench
