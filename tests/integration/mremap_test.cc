// SPDX-License-Identifier: MIT
// mremap (grow, shrink, move), partial munmap, MADV_DONTNEED and MADV_REMOVE
// keep their kernel meaning on a managed region. Each case runs the same
// steps on the kernel's own MAP_SHARED|MAP_ANONYMOUS and compares.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/syscall.h>

#include <functional>
#include <string>

#include "test_util.h"

namespace libshm::test {
namespace {

constexpr size_t kPages = 64;

class Remap : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { setenv("LIBSHM_LIMIT", "4M", 1); }
  bool managed() const { return GetParam(); }

  char* Map(size_t pages) {
    void* p = nullptr;
    if (managed()) {
      EXPECT_EQ(libshm_map(nullptr, pages * kPage, PROT_READ | PROT_WRITE, 0, &p), 0);
    } else {
      p = mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      EXPECT_NE(p, MAP_FAILED);
    }
    return static_cast<char*>(p);
  }
  // Evicts everything when managed, so the next access must come from swap.
  void Evict() {
    if (managed()) EvictAll();
  }
  int Madvise(void* addr, size_t len, int advice) {
    if (managed()) return libshm_madvise(addr, len, advice);
    return madvise(addr, len, advice) == 0 ? 0 : -errno;
  }
};

// The signal that touching `addr` raises in a child, or 0.
int SignalOnTouch(volatile char* addr, bool write) {
  int status = ForkAndWait([&] {
    // Die of the signal itself, even under a sanitizer's handler.
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
    if (write) {
      *addr = 1;
    } else {
      (void)*addr;
    }
    return 0;
  });
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

// "dev inode" of the file mapped at `addr` (/proc/self/maps), "" if nothing
// is mapped there.
std::string MappedFile(const void* addr) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (f == nullptr) return "?";
  char line[512];
  std::string found;
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  while (fgets(line, sizeof(line), f) != nullptr) {
    unsigned long start, end, inode;
    char dev[16];
    if (sscanf(line, "%lx-%lx %*s %*s %15s %lu", &start, &end, dev, &inode) == 4 && a >= start &&
        a < end) {
      found = std::string(dev) + " " + std::to_string(inode);
      break;
    }
  }
  fclose(f);
  return found;
}

// True if `addr` no longer maps the file that `region` maps: unmapped, or
// reused by a mapping of something else. (Under ASan, the shim's own
// allocations may be placed in the hole an unmap or shrink leaves.)
bool NoLongerMaps(const void* addr, const void* region) {
  std::string file = MappedFile(region);
  return !file.empty() && MappedFile(addr) != file;
}

TEST_P(Remap, GrowKeepsDataAndTheGrownPartBusErrorsLikeTheKernel) {
  char* a = Map(kPages);
  for (size_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 1);
  Evict();
  char* b = static_cast<char*>(mremap(a, kPages * kPage, 2 * kPages * kPage, MREMAP_MAYMOVE));
  ASSERT_NE(b, MAP_FAILED);
  for (size_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(b + p * kPage, p, 1)) << p;
  // Shared anonymous memory has a fixed size: past it is SIGBUS, managed or not.
  EXPECT_EQ(SignalOnTouch(b + (kPages + 1) * kPage, true), SIGBUS);
}

TEST_P(Remap, ShrinkKeepsTheHeadAndUnmapsTheTail) {
  char* a = Map(kPages);
  for (size_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 2);
  Evict();
  char* b = static_cast<char*>(mremap(a, kPages * kPage, kPages / 2 * kPage, 0));
  ASSERT_EQ(b, a);
  for (size_t p = 0; p < kPages / 2; p++) ASSERT_TRUE(CheckPage(b + p * kPage, p, 2)) << p;
  EXPECT_TRUE(NoLongerMaps(a + (kPages - 1) * kPage, a));
}

// Python's mmap.resize(n/2) then resize(n) with a raw mremap (no shim: the
// helper learns of the grown part from its first fault and the kernel's
// maps). Once evicted, the regrown part is served, and writes there are
// tracked from then on. Checked in a child with a deadline: this hung.
TEST_P(Remap, ShrinkThenGrowInPlaceServesTheRegrownPart) {
  char* a = Map(kPages);
  for (size_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 10);
  Evict();
  ASSERT_EQ(mremap(a, kPages * kPage, kPages / 2 * kPage, 0), a);
  ASSERT_EQ(mremap(a, kPages / 2 * kPage, kPages * kPage, 0), a);
  int status = ForkAndWait([&] {
    alarm(20);
    for (size_t p = 0; p < kPages; p++) {
      if (!CheckPage(a + p * kPage, p, 10)) return 1;
    }
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status)) << "the child hung or died reading the regrown part";
  ASSERT_EQ(WEXITSTATUS(status), 0);
  for (size_t p = kPages / 2; p < kPages; p++) FillPage(a + p * kPage, p, 11);
  Evict();
  for (size_t p = 0; p < kPages; p++) {
    ASSERT_TRUE(CheckPage(a + p * kPage, p, p < kPages / 2 ? 10 : 11)) << p;
  }
}

TEST_P(Remap, MoveCarriesDataAndTracking) {
  char* a = Map(kPages);
  for (size_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 3);
  Evict();
  // Reserve a destination, then move onto it.
  void* dest = mmap(nullptr, kPages * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(dest, MAP_FAILED);
  char* b = static_cast<char*>(
      mremap(a, kPages * kPage, kPages * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, dest));
  ASSERT_EQ(b, dest);
  for (size_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(b + p * kPage, p, 3)) << p;
  // Writes at the new address are tracked: they survive another eviction.
  for (size_t p = 0; p < kPages; p += 3) FillPage(b + p * kPage, p, 4);
  Evict();
  for (size_t p = 0; p < kPages; p++) {
    ASSERT_TRUE(CheckPage(b + p * kPage, p, p % 3 == 0 ? 4 : 3)) << p;
  }
  EXPECT_TRUE(NoLongerMaps(a, b));
}

TEST_P(Remap, PartialMunmapLeavesTheRestWorking) {
  char* a = Map(kPages);
  for (size_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 5);
  ASSERT_EQ(munmap(a + 16 * kPage, 16 * kPage), 0);
  EXPECT_TRUE(NoLongerMaps(a + 20 * kPage, a));
  Evict();
  for (size_t p = 0; p < kPages; p++) {
    if (p >= 16 && p < 32) continue;
    ASSERT_TRUE(CheckPage(a + p * kPage, p, 5)) << p;
  }
}

TEST_P(Remap, DontneedKeepsSharedData) {
  char* a = Map(kPages);
  for (size_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 6);
  // For shared memory MADV_DONTNEED only drops this process's page tables.
  ASSERT_EQ(madvise(a, kPages * kPage, MADV_DONTNEED), 0);
  for (size_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 6)) << p;
  Evict();
  ASSERT_EQ(madvise(a, kPages * kPage, MADV_DONTNEED), 0);
  for (size_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 6)) << p;
}

TEST_P(Remap, RemoveMakesPagesReadZeroEvenWhenSwapped) {
  char* a = Map(kPages);
  for (size_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 7);
  Evict();
  ASSERT_EQ(Madvise(a, 8 * kPage, MADV_REMOVE), 0);
  for (size_t i = 0; i < 8 * kPage; i++) ASSERT_EQ(a[i], 0) << i;
  for (size_t p = 8; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 7)) << p;
}

TEST_P(Remap, RawRemoveOfResidentPagesReadsZero) {
  char* a = Map(kPages);
  for (size_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 8);
  ASSERT_EQ(madvise(a, 4 * kPage, MADV_REMOVE), 0);
  for (size_t i = 0; i < 4 * kPage; i++) ASSERT_EQ(a[i], 0) << i;
  // ... and stay zero after another eviction; the others keep their data.
  Evict();
  for (size_t i = 0; i < 4 * kPage; i++) ASSERT_EQ(a[i], 0) << i;
  for (size_t p = 4; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 8)) << p;
}

// A mapping of a region's memfd that bypassed libshm (here a raw
// remap_file_pages syscall, which maps the memfd again, unregistered) cannot
// be write-protected: its pages must stay resident, never be evicted to come
// back as zeros through it.
TEST(RemapRaw, UnregisteredRemappingKeepsItsPagesResident) {
  setenv("LIBSHM_LIMIT", "4M", 1);
  char* p;
  ASSERT_EQ(
      libshm_map(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, 0, reinterpret_cast<void**>(&p)),
      0);
  for (size_t i = 0; i < kPages; i++) FillPage(p + i * kPage, i, 9);
  ASSERT_EQ(syscall(SYS_remap_file_pages, p, 4 * kPage, 0, 0, 0), 0);
  EvictAll();
  for (size_t i = 0; i < 4; i++) ASSERT_TRUE(CheckPage(p + i * kPage, i, 9)) << i;
  for (size_t i = 4; i < kPages; i++) ASSERT_TRUE(CheckPage(p + i * kPage, i, 9)) << i;
}

INSTANTIATE_TEST_SUITE_P(KernelAndLibshm, Remap, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "libshm" : "kernel"; });

}  // namespace
}  // namespace libshm::test
