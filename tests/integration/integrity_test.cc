// SPDX-License-Identifier: MIT
// Integrity under heavy eviction: a region 10x the limit, random writes with
// checksummed pages, every page verified; resident memory bounded by the
// limit plus one eviction batch, seen from the stats and from smaps.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "test_util.h"

namespace libshm::test {
namespace {

constexpr size_t kLimit = 4 << 20;
constexpr size_t kBatchBytes = 64 * kPage;  // LIBSHM_EVICT_BATCH default

class Integrity : public ::testing::Test {
 protected:
  void SetUp() override { setenv("LIBSHM_LIMIT", "4M", 1); }
};

bool PageOk(const char* base, size_t page, uint32_t version) {
  const char* p = base + page * kPage;
  if (version == 0) {
    for (size_t i = 0; i < kPage; i++) {
      if (p[i] != 0) return false;
    }
    return true;
  }
  return CheckPage(p, page, version);
}

TEST_F(Integrity, RandomWritesSurviveHeavyEviction) {
  const size_t size = 10 * kLimit, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  std::vector<uint32_t> version(pages, 0);
  std::mt19937_64 rng(42);
  uint64_t max_resident = 0;
  long max_rss = 0;
  for (int op = 0; op < 40000; op++) {
    size_t page = rng() % pages;
    if (rng() % 10 < 7) {
      FillPage(base + page * kPage, page, ++version[page]);
    } else {
      ASSERT_TRUE(PageOk(base, page, version[page])) << "page " << page << " op " << op;
    }
    if (op % 2000 == 0) {
      max_resident = std::max(max_resident, Stat("resident_bytes"));
      max_rss = std::max(max_rss, SmapsRss(getpid(), base));
    }
  }
  for (size_t page = 0; page < pages; page++) {
    ASSERT_TRUE(PageOk(base, page, version[page])) << "final check, page " << page;
  }
  EXPECT_GT(Stat("swap_outs"), pages / 2) << "the test must force eviction";
  EXPECT_GT(Stat("swap_ins"), 0u);
  EXPECT_LE(max_resident, kLimit + kBatchBytes);
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit + kBatchBytes);
  EXPECT_GT(max_rss, 0);
  EXPECT_LE(static_cast<size_t>(max_rss), kLimit + kBatchBytes);
  EXPECT_EQ(libshm_unmap(mem, size), 0);
}

TEST_F(Integrity, ThreadsWriteDisjointPagesWhileEvictionRuns) {
  const size_t size = 8 * kLimit, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  constexpr int kThreads = 3;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<uint32_t> version(pages, 0);
      for (int op = 0; op < 8000; op++) {
        size_t page = (rng() % (pages / kThreads)) * kThreads + t;
        if (rng() % 2 == 0) {
          FillPage(base + page * kPage, page, ++version[page]);
        } else if (!PageOk(base, page, version[page])) {
          failures++;
        }
      }
      for (size_t page = t; page < pages; page += kThreads) {
        if (!PageOk(base, page, version[page])) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(Stat("swap_outs"), 0u);
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit + kBatchBytes);
}

// Writers keep re-dirtying a small hot set while other threads stream through
// the rest of the region, so the hot pages are evicted under the writers'
// hands. A write that lands between writeback and punch (eviction without
// write-protection) would be lost and seen here as a stale counter.
TEST_F(Integrity, WritesRacingEvictionAreNeverLost) {
  const size_t size = 8 * kLimit, pages = size / kPage, hot = 512;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  auto* base = static_cast<volatile uint64_t*>(mem);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lost{0}, writes{0};
  auto writer = [&](size_t first) {
    std::vector<uint64_t> expect(hot, 0);
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    while (std::chrono::steady_clock::now() < end) {
      for (size_t p = first; p < hot; p += 2) {
        volatile uint64_t* w = base + p * (kPage / 8);
        if (*w != expect[p]) lost++;
        *w = ++expect[p];
        writes++;
      }
    }
  };
  auto streamer = [&] {
    uint64_t sum = 0;
    while (!stop) {
      for (size_t p = hot; p < pages; p++) sum += base[p * (kPage / 8)];
    }
    EXPECT_EQ(sum, 0u);
  };
  std::thread a(writer, 0), b(writer, 1), c(streamer);
  a.join();
  b.join();
  stop = true;
  c.join();
  EXPECT_EQ(lost.load(), 0u) << "of " << writes.load() << " writes";
  EXPECT_GT(Stat("swap_outs"), hot) << "the hot pages must have been evicted while written";
}

TEST_F(Integrity, UntouchedPagesReadZeroAndCostNoSwap) {
  const size_t size = 8 * kLimit, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  const char* base = static_cast<const char*>(mem);
  for (size_t page = 0; page < pages; page++) {
    ASSERT_TRUE(PageOk(base, page, 0)) << page;
  }
  // Zero pages are clean: evicting them writes nothing.
  EXPECT_EQ(Stat("swap_outs"), 0u);
  EXPECT_GT(Stat("evictions"), 0u);
  EXPECT_EQ(Stat("zero_fills"), pages);
}

}  // namespace
}  // namespace libshm::test

namespace libshm::test {
namespace {

// Fill-ahead: a sequential scan faults once per cluster, not once per page,
// and what it fills is exactly what the pages hold (zeros or swap data).
TEST(FillAhead, SequentialScansFaultOncePerCluster) {
  setenv("LIBSHM_LIMIT", "64M", 1);
  const size_t size = 16 << 20, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  for (size_t p = 0; p < pages; p++) FillPage(base + p * kPage, p, 1);  // sequential writes
  EXPECT_LT(Stat("faults"), pages / 8);
  EXPECT_EQ(Stat("zero_fills"), pages);
  EvictAll();
  uint64_t faults = Stat("faults");
  for (size_t p = 0; p < pages; p++) ASSERT_TRUE(CheckPage(base + p * kPage, p, 1)) << p;
  EXPECT_LT(Stat("faults") - faults, pages / 8) << "sequential swap-in should read ahead";
  EXPECT_EQ(Stat("swap_ins"), pages);
}

TEST(FillAhead, PagesFilledAheadButNeverWrittenCostNoSwap) {
  setenv("LIBSHM_LIMIT", "64M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  const size_t size = 32 << 20, half = size / 2;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  for (size_t i = 0; i < half; i += kPage) memset(base + i, 1, kPage);  // a write scan, half way
  EXPECT_GT(Stat("dirty_bytes"), half) << "fill-ahead ran past the last page written";
  EvictAll();
  // Only the pages written went to swap; the zeros filled ahead did not.
  EXPECT_EQ(Stat("swap_outs"), half / kPage);
  EXPECT_EQ(Stat("swapped_bytes"), half);
  for (size_t i = half; i < size; i += kPage) ASSERT_EQ(base[i], 0) << i;
  for (size_t i = 0; i < half; i += kPage) ASSERT_EQ(base[i], 1) << i;
}

// Background eviction starts above the high watermark (midway between the
// low one and the limit) and goes on down to the low one.
TEST(Watermarks, BackgroundEvictionGoesDownToTheLowWatermark) {
  setenv("LIBSHM_LIMIT", "4M", 1);  // 1024 pages: low 512, high 768
  setenv("LIBSHM_LOW_WATERMARK", "50", 1);
  setenv("LIBSHM_CLUSTER", "1", 1);
  setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, 2048 * kPage, PROT_READ | PROT_WRITE, 0, &mem), 0);
  uint64_t low = UINT64_MAX, high = 0;
  for (size_t p = 0; p < 2000; p++) {
    static_cast<char*>(mem)[p * kPage] = 1;
    if (p > 1000 && p % 25 == 0) {
      uint64_t r = Stat("resident_bytes") / kPage;
      low = std::min(low, r);
      high = std::max(high, r);
    }
  }
  EXPECT_LE(low, 512u + 64) << "eviction stopped above the low watermark";
  EXPECT_LE(high, 768u + 64) << "resident memory passed the high watermark by more than a batch";
}

TEST(FillAhead, SparseRandomTouchesFillOnlyThemselvesASecondFillsTheCluster) {
  setenv("LIBSHM_LIMIT", "64M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  const size_t size = 16 << 20, clusters = size / kPage / 64;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  // One touch per 64-page cluster, in descending order (never sequential).
  for (size_t k = clusters; k-- > 0;) base[k * 64 * kPage] = 1;
  EXPECT_EQ(Stat("zero_fills"), clusters) << "a lone touch fills only its page";
  // A second zero fill in cluster 0 fills the rest of that cluster.
  base[32 * kPage] = 2;
  EXPECT_EQ(Stat("zero_fills"), clusters + 63);
  EXPECT_EQ(Stat("faults"), clusters + 1);
  for (size_t p = 0; p < 64; p++) {
    EXPECT_EQ(base[p * kPage], p == 0 ? 1 : p == 32 ? 2 : 0) << p;
  }
}

TEST(FillAhead, ClusterOneTurnsItOff) {
  setenv("LIBSHM_LIMIT", "64M", 1);
  setenv("LIBSHM_CLUSTER", "1", 1);
  const size_t size = 4 << 20, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  for (size_t p = 0; p < pages; p++) static_cast<char*>(mem)[p * kPage] = 1;
  EXPECT_EQ(Stat("faults"), pages);
}

}  // namespace
}  // namespace libshm::test

namespace libshm::test {
namespace {

// Reference sampling soft-evicts resident pages (data kept in the helper)
// and gives them back on the next access. Run hard, it must never change
// what a program reads, and the limit must still hold.
TEST(Sampling, HeavySamplingKeepsEveryPageRight) {
  setenv("LIBSHM_LIMIT", "4M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "100000", 1);
  const size_t size = 4 * kLimit, pages = size / kPage;
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, size, PROT_READ | PROT_WRITE, 0, &mem), 0);
  char* base = static_cast<char*>(mem);
  std::vector<uint32_t> version(pages, 0);
  std::mt19937_64 rng(3);
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  int op = 0;
  while (std::chrono::steady_clock::now() < end) {
    // A hot quarter and a cold rest, so sampled pages are both hit and evicted.
    size_t page = rng() % 4 != 0 ? rng() % (pages / 4) : rng() % pages;
    if (rng() % 3 == 0) {
      FillPage(base + page * kPage, page, ++version[page]);
    } else {
      ASSERT_TRUE(PageOk(base, page, version[page])) << "page " << page << " op " << op;
    }
    if (++op % 5000 == 0) {
      ASSERT_EQ(libshm_msync(mem, size, MS_SYNC), 0);
    }
  }
  for (size_t page = 0; page < pages; page++) ASSERT_TRUE(PageOk(base, page, version[page]));
  EXPECT_GT(Stat("samples"), 100u);
  EXPECT_GT(Stat("sample_hits"), 10u);
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit + kBatchBytes);
}

TEST(Sampling, RateZeroTurnsItOff) {
  setenv("LIBSHM_LIMIT", "4M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, kLimit, PROT_READ | PROT_WRITE, 0, &mem), 0);
  memset(mem, 1, kLimit);
  usleep(300 * 1000);
  EXPECT_EQ(Stat("samples"), 0u);
}

TEST(Sampling, NoSamplingWhileNothingNeedsEvicting) {
  setenv("LIBSHM_LIMIT", "4M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "100000", 1);
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, kLimit / 4, PROT_READ | PROT_WRITE, 0, &mem), 0);
  memset(mem, 1, kLimit / 4);  // a quarter of the limit: far below the low watermark
  usleep(300 * 1000);
  EXPECT_EQ(Stat("samples"), 0u) << "sampling faults cost the program and inform no eviction";
}

TEST(Sampling, FifoDoesNotSample) {
  setenv("LIBSHM_LIMIT", "4M", 1);
  setenv("LIBSHM_POLICY", "fifo", 1);
  setenv("LIBSHM_SAMPLE_RATE", "100000", 1);
  void* mem;
  ASSERT_EQ(libshm_map(nullptr, kLimit, PROT_READ | PROT_WRITE, 0, &mem), 0);
  memset(mem, 1, kLimit);
  usleep(300 * 1000);
  EXPECT_EQ(Stat("samples"), 0u) << "fifo uses no access information";
}

}  // namespace
}  // namespace libshm::test
