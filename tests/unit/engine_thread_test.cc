// SPDX-License-Identifier: MIT
// The engine running as a thread of the test process (LIBSHM_HELPER_MODE=
// thread): the same pager code as shmd, without a second process, so the
// sanitizers see both sides.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "libshm/libshm.h"
#include "test_util.h"

namespace libshm::test {
namespace {

class EngineThread : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("LIBSHM_HELPER_MODE", "thread", 1);
    setenv("LIBSHM_LIMIT", "2M", 1);
  }
};

TEST_F(EngineThread, EvictsAndRestores) {
  const size_t size = 16 << 20, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  for (size_t p = 0; p < pages; p++) FillPage(base + p * kPage, p, 1);
  for (size_t p = 0; p < pages; p++) ASSERT_TRUE(CheckPage(base + p * kPage, p, 1)) << p;
  EXPECT_GT(Stat("swap_outs"), 0u);
  EXPECT_LE(Stat("peak_resident_bytes"), (2u << 20) + 64 * kPage);
}

TEST_F(EngineThread, ConcurrentWritersAndMsync) {
  const size_t size = 8 << 20, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; t++) {
    threads.emplace_back([&, t] {
      for (uint64_t v = 1; v <= 3; v++) {
        for (size_t p = t; p < pages; p += 2) FillPage(base + p * kPage, p, v);
        if (libshm_msync(base, size, MS_SYNC) != 0) bad++;
        for (size_t p = t; p < pages; p += 2) bad += !CheckPage(base + p * kPage, p, v);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace libshm::test
