// SPDX-License-Identifier: MIT
// Issue 15: eviction write-protects a dirty page in every mapper before it
// writes the page back and punches it (DESIGN.md invariant 2). Without the
// protection, a write that lands between writeback and punch is lost with
// the punch. Integrity.WritesRacingEvictionAreNeverLost finds that only when
// the timing happens to line up; here the helper sleeps in that window
// (LIBSHM_TEST_PAUSE_BEFORE_PUNCH_US, a test hook in evictor.cc) and the test
// writes inside it every time.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "test_util.h"

namespace libshm::test {
namespace {

constexpr int kPauseMs = 300;
constexpr int kStartMs = 5000;  // how long the eviction may take to begin

// The page's /proc/self/pagemap entry: bit 63 present, bit 57 uffd-wp
// (KERNEL_FACTS Q3).
struct PteBits {
  bool present, wp;
};
PteBits ReadPte(int pagemap, const void* addr) {
  uint64_t e = 0;
  off_t at = static_cast<off_t>(reinterpret_cast<uintptr_t>(addr) / kPage * sizeof(e));
  if (pread(pagemap, &e, sizeof(e), at) != static_cast<ssize_t>(sizeof(e))) return {false, false};
  return {(e >> 63 & 1) != 0, (e >> 57 & 1) != 0};
}

TEST(EvictRace, AWriteBetweenWritebackAndPunchWaitsAndIsKept) {
  setenv("LIBSHM_LIMIT", "64M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  setenv("LIBSHM_CLUSTER", "1", 1);
  setenv("LIBSHM_TEST_PAUSE_BEFORE_PUNCH_US", std::to_string(kPauseMs * 1000).c_str(), 1);
  int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(pagemap, 0);
  char* page;
  ASSERT_EQ(
      libshm_map(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, 0, reinterpret_cast<void**>(&page)),
      0);
  // A round is conclusive when the write went in while the eviction held the
  // page: it saw the page protected, or it wrote at half the pause.
  for (uint64_t round = 1; round <= 3; round++) {
    uint64_t old_version = 2 * round - 1, new_version = 2 * round;
    FillPage(page, 0, old_version);  // dirty
    uint64_t outs_before = Stat("swap_outs");
    auto start = std::chrono::steady_clock::now();
    std::thread evictor([] { EvictAll(); });
    bool saw_wp = false, punched_first = false;
    // Until the eviction has protected the page (or already punched it). A
    // loaded machine may start the evictor thread late: wait for it, and
    // write as soon as the protection shows.
    while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(kStartMs)) {
      PteBits pte = ReadPte(pagemap, page);
      if (!pte.present) {
        punched_first = true;
        break;
      }
      if (pte.wp) {
        saw_wp = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    auto t0 = std::chrono::steady_clock::now();
    FillPage(page, 0, new_version);
    auto write_us =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    evictor.join();
    ASSERT_GT(Stat("swap_outs"), outs_before) << "round " << round << ": page 0 was not evicted";
    // Whatever the timing, a write is never lost.
    ASSERT_TRUE(CheckPage(page, 0, new_version))
        << "round " << round << ": the write made while page 0 was being evicted was lost ("
        << (CheckPage(page, 0, old_version) ? "page 0 holds the version written back before it"
                                            : "page 0 holds other data")
        << "); the write took " << write_us << " us, page 0 was " << (saw_wp ? "" : "never seen ")
        << "write-protected before the punch";
    if (punched_first) continue;  // too late: the eviction was over; try again
    EXPECT_TRUE(saw_wp) << "page 0 was never write-protected between the start of its eviction "
                           "and the punch (polled for up to "
                        << kStartMs << " ms)";
    // The write's protection fault is why it waited. (stats.wp_faults does
    // not show it: the helper reads that fault after the punch, finds the
    // page evicted and only wakes the writer, which then faults the page
    // back in from swap.)
    EXPECT_GE(write_us, kPauseMs / 3 * 1000)
        << "the write did not wait for the eviction: it took " << write_us
        << " us, so no write-protect fault held it";
    return;
  }
  FAIL() << "three rounds and no write landed while the eviction held page 0";
}

}  // namespace
}  // namespace libshm::test
