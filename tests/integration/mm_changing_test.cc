// SPDX-License-Identifier: MIT
// A mapping made while another thread of the process is changing its
// address space. From the moment a munmap (or madvise, mremap, fork) of a
// registered range starts until the helper has read its event, the kernel
// refuses UFFDIO_WRITEPROTECT on that process with EAGAIN (mmap_changing).
// Registering a new mapping write-protects it: the helper must not turn that
// passing state into a failed mmap, write or shmat. Found by PyTorch's
// DataLoader, whose queue feeder thread unmapped a batch while the worker's
// main thread wrote into the next one ("unable to write to file
// </torch_...>: Resource temporarily unavailable").
//
// The window is made long on purpose. The munmapping thread itself ends
// mmap_changing, once the helper has read its unmap event and the thread
// runs again; here it runs at SCHED_IDLE on a CPU a busy thread holds, so
// it runs again only milliseconds later, as on a loaded machine.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "test_util.h"

namespace libshm::test {
namespace {

constexpr size_t kSmall = 4 * kPage;

bool PinTo(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

TEST(MmChanging, MappingsMadeWhileAnotherThreadUnmapsNeverFail) {
  cpu_set_t online;
  ASSERT_EQ(sched_getaffinity(0, sizeof(online), &online), 0);
  if (CPU_COUNT(&online) < 2) GTEST_SKIP() << "needs two CPUs";
  int cpus[2], found = 0;
  for (int c = 0; c < CPU_SETSIZE && found < 2; c++) {
    if (CPU_ISSET(c, &online)) cpus[found++] = c;
  }
  setenv("LIBSHM_LIMIT", "64M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  void* warm = nullptr;  // starts the helper before the threads
  ASSERT_EQ(libshm_map(nullptr, kSmall, PROT_READ | PROT_WRITE, 0, &warm), 0);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, first_error{0}, unmapper_failures{0};
  std::atomic<uint64_t> maps{0}, unmaps{0};
  // Holds the unmapper's CPU.
  std::thread hog([&] {
    PinTo(cpus[0]);
    while (!done.load(std::memory_order_relaxed)) {
    }
  });
  // Maps, writes, checks and unmaps, on the other CPU.
  std::thread mapper([&] {
    PinTo(cpus[1]);
    for (uint64_t n = 0; !done.load(); n++) {
      void* p = nullptr;
      int rc = libshm_map(nullptr, kSmall, PROT_READ | PROT_WRITE, 0, &p);
      if (rc != 0) {
        if (failures.fetch_add(1) == 0) first_error.store(rc);
        continue;
      }
      FillPage(static_cast<char*>(p), n, n + 1);
      if (!CheckPage(static_cast<char*>(p), n, n + 1)) failures.fetch_add(1);
      munmap(p, kSmall);
      maps.fetch_add(1);
    }
  });
  // Maps and unmaps at SCHED_IDLE beside the hog: each munmap leaves the
  // process's mmap_changing raised until this thread runs again.
  std::thread unmapper([&] {
    PinTo(cpus[0]);
    struct sched_param param = {};
    sched_setscheduler(0, SCHED_IDLE, &param);
    // (Until the first failure: a planted defect fails fast.)
    for (int i = 0; i < 200 && failures.load() == 0 && unmapper_failures.load() == 0; i++) {
      void* p = nullptr;
      int rc = libshm_map(nullptr, kSmall, PROT_READ | PROT_WRITE, 0, &p);
      if (rc != 0) {
        unmapper_failures.fetch_add(1);
        continue;
      }
      static_cast<char*>(p)[0] = 1;
      munmap(p, kSmall);
      unmaps.fetch_add(1);
    }
  });
  unmapper.join();
  done.store(true);
  mapper.join();
  hog.join();
  libshm_unmap(warm, kSmall);
  ASSERT_GT(unmaps.load(), 0u);
  ASSERT_GT(maps.load(), 0u);
  EXPECT_EQ(unmapper_failures.load(), 0);
  EXPECT_EQ(failures.load(), 0) << "of " << maps.load() << " mappings; first error "
                                << first_error.load();
}

}  // namespace
}  // namespace libshm::test
