// SPDX-License-Identifier: MIT
// A huge sparse region (MAP_NORESERVE, terabytes, a few pages touched)
// costs the helper what is touched, not what is mapped: msync, MADV_REMOVE
// and the region's collection walk only the page-state chunks that exist.
// Each used to walk (and MADV_REMOVE to allocate) one state per page: a
// member's 256 TiB region, released, stalled the engine thread for hours
// (ReviewSession.HugeCreatesStopAtTheSessionsPageCap).
#include <gtest/gtest.h>

#include <fstream>

#include "test_util.h"

namespace libshm::test {
namespace {

long RssKb(pid_t pid) {
  std::ifstream s("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(s, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

pid_t HelperPid() {
  int64_t pid = 0;
  size_t len = sizeof(pid);
  if (libshm_ctl("session.helper_pid", &pid, &len, nullptr, 0) != 0) return -1;
  return static_cast<pid_t>(pid);
}

TEST(SparseRegion, AHugeRegionCostsTheHelperOnlyItsTouchedPages) {
  setenv("LIBSHM_LIMIT", "16M", 1);
  int status = ForkAndWaitWithDeadline(
      [] {
        // 256 GiB: 2^26 pages, 1,024 chunks of page state (128 MiB if all
        // allocated). Not more: the kernel's page tables for the mapping's
        // write-protect markers cost the test 2 MiB per GiB.
        const size_t bytes = size_t{1} << 38;
        const uint64_t pages = bytes / kPage;
        const uint64_t touched[] = {0, pages / 2, pages - 1};
        void* p;
        if (libshm_map(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_NORESERVE, &p) != 0) return 1;
        char* base = static_cast<char*>(p);
        pid_t helper = HelperPid();
        long before = RssKb(helper);
        if (helper <= 0 || before < 0) return 2;
        for (uint64_t pg : touched) FillPage(base + pg * kPage, pg, 1);
        uint64_t written_before = 0, written_after = 0;
        if (ChildStat("writeback_bytes", &written_before, 2) != 0) return 2;
        if (libshm_msync(p, bytes, MS_SYNC) != 0) return 3;
        if (ChildStat("writeback_bytes", &written_after, 2) != 0) return 2;
        if (written_after - written_before != sizeof(touched) / sizeof(touched[0]) * kPage) {
          return 12;
        }
        if (ChildEvictAll(4) != 0) return 4;
        for (uint64_t pg : touched) {
          if (!CheckPage(base + pg * kPage, pg, 1)) return 5;
        }
        if (libshm_madvise(p, bytes, MADV_REMOVE) != 0) return 6;
        for (uint64_t pg : touched) {
          if (base[pg * kPage] != 0) return 7;
        }
        if (RssKb(helper) - before > 64 * 1024) return 8;
        if (libshm_unmap(p, bytes) != 0) return 9;
        // The helper collects the region, then serves a new one.
        void* q;
        if (libshm_map(nullptr, 64 * kPage, PROT_READ | PROT_WRITE, 0, &q) != 0) return 10;
        FillPage(q, 0, 2);
        if (ChildEvictAll(11) != 0 || !CheckPage(q, 0, 2)) return 11;
        return 0;
      },
      60 * 1000);
  EXPECT_EQ(DescribeChild(status,
                          {{1, "mapping 256 GiB with MAP_NORESERVE"},
                           {2, "the helper's pid or RSS"},
                           {3, "msync of the whole region"},
                           {4, "eviction"},
                           {5, "a touched page lost its data"},
                           {6, "MADV_REMOVE of the whole region"},
                           {7, "a removed page still holds data"},
                           {8, "the helper's RSS grew by > 64 MiB: page state for untouched pages"},
                           {9, "unmap"},
                           {10, "a new region after the huge one was collected"},
                           {11, "the new region's page"},
                           {12, "msync did not write exactly the three touched pages"}}),
            "ok");
}

// A member that touches one page in every 256 MiB of a region made the
// helper allocate a whole chunk of page state (64 Ki states and as many
// zero-fill counters: 128 KiB) for each, and keep it for the region's life
// after the page was evicted or removed: 32 times what the member touched,
// growing with every touch until the helper ran out of memory (and every
// client with it). A chunk whose pages are all empty again is given back,
// and a chunk costs the helper the pages of it that are used.
TEST(SparseRegion, ChunksOfPagesThatAreEmptyAgainAreGivenBack) {
  setenv("LIBSHM_LIMIT", "16M", 1);
  int status = ForkAndWaitWithDeadline(
      [] {
        // 64 GiB: 256 chunks of page state (32 MiB if all kept).
        const size_t bytes = size_t{1} << 36;
        const uint64_t chunk = 65536;  // pages per chunk (Inode::kChunkPages)
        const uint64_t chunks = bytes / kPage / chunk;
        void* p;
        if (libshm_map(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_NORESERVE, &p) != 0) return 1;
        char* base = static_cast<char*>(p);
        pid_t helper = HelperPid();
        long before = RssKb(helper);
        if (helper <= 0 || before < 0) return 2;
        // Even chunks: one page read (a zero page the evictor drops). Odd
        // chunks: one page written, then removed (MADV_REMOVE).
        for (uint64_t k = 0; k < chunks; k++) {
          char* page = base + k * chunk * kPage;
          if (k % 2 == 0) {
            if (*static_cast<volatile char*>(page) != 0) return 3;
          } else {
            FillPage(page, k, 1);
            if (libshm_madvise(page, kPage, MADV_REMOVE) != 0) return 4;
          }
        }
        if (ChildEvictAll(5) != 0) return 5;
        uint64_t resident = 1;
        if (ChildStat("resident_bytes", &resident, 2) != 0 || resident != 0) return 6;
        if (RssKb(helper) - before > 8 * 1024) return 7;
        // One page written in every chunk and swapped out: the chunks stay,
        // but cost what of them is used, not 128 KiB each.
        for (uint64_t k = 0; k < chunks; k++) FillPage(base + (k * chunk + 7) * kPage, k, 2);
        if (ChildEvictAll(5) != 0) return 5;
        if (RssKb(helper) - before > 8 * 1024) return 9;
        for (uint64_t k = 0; k < chunks; k++) {
          if (!CheckPage(base + (k * chunk + 7) * kPage, k, 2)) return 8;
          if (base[k * chunk * kPage] != 0) return 8;
        }
        return 0;
      },
      60 * 1000);
  EXPECT_EQ(DescribeChild(status, {{1, "mapping 64 GiB with MAP_NORESERVE"},
                                   {2, "the helper's pid, RSS or stats"},
                                   {3, "a page never written read non-zero"},
                                   {4, "MADV_REMOVE of a written page"},
                                   {5, "eviction"},
                                   {6, "pages are still resident after evicting everything"},
                                   {7,
                                    "the helper's RSS grew by > 8 MiB: it kept a 128 KiB chunk of "
                                    "page state for each touched page after all were empty again"},
                                   {8, "a page of a chunk given back lost its data"},
                                   {9,
                                    "the helper's RSS grew by > 8 MiB for one swapped page per "
                                    "chunk: 128 KiB of page state each"}}),
            "ok");
}

}  // namespace
}  // namespace libshm::test
