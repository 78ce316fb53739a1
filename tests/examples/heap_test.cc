// SPDX-License-Identifier: MIT
// libshm_heap (issue 6): a jemalloc heap on managed regions holds objects
// totalling eight times the memory limit, purge discards pages and their swap
// copies, the cap and the swap file's size fail cleanly with ENOMEM, and a
// forked child shares the objects but cannot allocate.
#include "libshm/heap.h"

#include <gtest/gtest.h>
#include <jemalloc/jemalloc.h>

#include <map>
#include <thread>
#include <vector>

#include "libshm/heap.hpp"
#include "test_util.h"

namespace libshm::test {
namespace {

constexpr size_t kMiB = 1 << 20;
constexpr size_t kLimit = 8 * kMiB;

// Fills an object of `size` bytes with a pattern of (id, size); the first
// word is the id, so a swapped object or a stale copy is caught.
void FillObject(void* p, uint64_t id, size_t size) {
  auto* w = static_cast<uint64_t*>(p);
  uint64_t x = id * 0x9e3779b97f4a7c15ull + size;
  w[0] = id;
  for (size_t i = 1; i < size / 8; i++) w[i] = x += 0xbf58476d1ce4e5b9ull;
}

bool CheckObject(const void* p, uint64_t id, size_t size) {
  const auto* w = static_cast<const uint64_t*>(p);
  uint64_t x = id * 0x9e3779b97f4a7c15ull + size;
  if (w[0] != id) return false;
  for (size_t i = 1; i < size / 8; i++) {
    if (w[i] != (x += 0xbf58476d1ce4e5b9ull)) return false;
  }
  return true;
}

// Object sizes cycle through small (slab), medium and large (own extent)
// jemalloc size classes.
size_t SizeOf(uint64_t id) {
  static constexpr size_t kSizes[] = {64, 200, 1024, 4000, 12288, 65536, 300000, 1 << 20};
  return kSizes[id % (sizeof(kSizes) / sizeof(kSizes[0]))];
}

struct Object {
  void* p;
  size_t size;
};

class HeapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("LIBSHM_LIMIT", "8M", 1);
    ASSERT_EQ(libshm_heap_create(0, &heap_), 0);
  }
  void TearDown() override { EXPECT_EQ(libshm_heap_destroy(heap_), 0); }

  // Allocates objects until they total `bytes`, each filled with its pattern.
  std::vector<Object> AllocateFilled(size_t bytes) {
    std::vector<Object> objects;
    size_t total = 0;
    for (uint64_t id = 0; total < bytes; id++) {
      size_t size = SizeOf(id);
      void* p = libshm_heap_malloc(heap_, size);
      if (p == nullptr) {
        ADD_FAILURE() << "malloc " << size << " failed after " << total << " bytes: errno "
                      << errno;
        break;
      }
      FillObject(p, id, size);
      objects.push_back({p, size});
      total += size;
    }
    return objects;
  }

  libshm_heap_stats_t HeapStats() {
    libshm_heap_stats_t s{};
    s.size = sizeof(s);
    EXPECT_EQ(libshm_heap_stats(heap_, &s), 0);
    return s;
  }

  libshm_heap_t* heap_ = nullptr;
};

TEST_F(HeapTest, ObjectsTotallingEightTimesTheLimitAreAllIntact) {
  std::vector<Object> objects = AllocateFilled(8 * kLimit);
  ASSERT_FALSE(HasFailure());
  for (size_t id = 0; id < objects.size(); id++) {
    EXPECT_EQ(libshm_is_managed(objects[id].p), 1) << id;
  }
  size_t bad = 0;
  for (size_t id = 0; id < objects.size(); id++) {
    bad += !CheckObject(objects[id].p, id, objects[id].size);
  }
  EXPECT_EQ(bad, 0u) << "of " << objects.size() << " objects";
  libshm_heap_stats_t hs = HeapStats();
  EXPECT_GE(hs.allocated_bytes, 8 * kLimit);
  EXPECT_GE(hs.mapped_bytes, 8 * kLimit);
  // The heap really went through the limit: pages were written to swap and
  // read back, and residency stayed near the limit.
  EXPECT_GT(Stat("swap_outs"), 0u);
  EXPECT_GT(Stat("swap_ins"), 0u);
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit + kMiB);
  for (const Object& o : objects) libshm_heap_free(heap_, o.p);
  EXPECT_EQ(HeapStats().allocated_bytes, 0u);
}

TEST_F(HeapTest, PurgeDiscardsPagesAndTheirSwapCopies) {
  std::vector<Object> objects = AllocateFilled(4 * kLimit);
  ASSERT_FALSE(HasFailure());
  size_t object_bytes = 0;
  for (const Object& o : objects) object_bytes += o.size;
  EvictAll();
  uint64_t swapped = Stat("swapped_bytes");
  ASSERT_GE(swapped, object_bytes) << "the objects should be in the swap file";
  for (const Object& o : objects) libshm_heap_free(heap_, o.p);
  ASSERT_EQ(libshm_heap_purge(heap_), 0);
  libshm_heap_stats_t hs = HeapStats();
  EXPECT_GE(hs.purged_bytes, object_bytes);
  // The freed objects' swap copies are gone. (Not necessarily every swapped
  // byte of the session: pages the heap never used but the helper filled
  // ahead of a fault are not the heap's to purge.)
  EXPECT_GE(swapped - Stat("swapped_bytes"), object_bytes);
  EXPECT_EQ(Stat("resident_bytes"), 0u);
  // The regions are kept for reuse, and what the objects held now reads
  // zero without a single swap-in: no stale copy is left anywhere. (The
  // freed memory is still mapped, so reading it here is safe.)
  EXPECT_GE(hs.mapped_bytes, object_bytes);
  uint64_t swap_ins = Stat("swap_ins");
  size_t stale = 0;
  for (const Object& o : objects) {
    const auto* c = static_cast<const unsigned char*>(o.p);
    for (size_t i = 0; i < o.size; i += 8) stale += c[i] != 0;
  }
  EXPECT_EQ(stale, 0u);
  EXPECT_EQ(Stat("swap_ins"), swap_ins) << "purged pages were read back from swap";
  auto* z = static_cast<unsigned char*>(libshm_heap_calloc(heap_, 1, 4 * kMiB));
  ASSERT_NE(z, nullptr);
  size_t nonzero = 0;
  for (size_t i = 0; i < 4 * kMiB; i++) nonzero += z[i] != 0;
  EXPECT_EQ(nonzero, 0u);
  libshm_heap_free(heap_, z);
}

TEST_F(HeapTest, CapFailsWithEnomemAndTheHeapStaysUsable) {
  libshm_heap_t* capped = nullptr;
  ASSERT_EQ(libshm_heap_create(4 * kMiB, &capped), 0);
  errno = 0;
  EXPECT_EQ(libshm_heap_malloc(capped, 8 * kMiB), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  libshm_heap_stats_t s{};
  s.size = sizeof(s);
  ASSERT_EQ(libshm_heap_stats(capped, &s), 0);
  EXPECT_EQ(s.last_map_error, -ENOMEM);
  EXPECT_LE(s.mapped_bytes, 4 * kMiB);
  void* p = libshm_heap_malloc(capped, 1000);
  ASSERT_NE(p, nullptr);
  FillObject(p, 7, 1000);
  EXPECT_TRUE(CheckObject(p, 7, 1000));
  libshm_heap_free(capped, p);
  EXPECT_EQ(libshm_heap_destroy(capped), 0);
}

TEST_F(HeapTest, ForkedChildSharesObjectsButCannotChangeTheHeap) {
  auto* counter = static_cast<uint64_t*>(libshm_heap_malloc(heap_, sizeof(uint64_t)));
  ASSERT_NE(counter, nullptr);
  *counter = 41;
  int status = ForkAndWait([&] {
    if (*counter != 41) return 1;
    *counter = 42;
    errno = 0;
    if (libshm_heap_malloc(heap_, 100) != nullptr || errno != EPERM) return 2;
    if (libshm_heap_calloc(heap_, 1, 100) != nullptr || errno != EPERM) return 3;
    if (libshm_heap_purge(heap_) != -EPERM) return 4;
    if (libshm_heap_destroy(heap_) != -EPERM) return 5;
    libshm_heap_free(heap_, counter);  // a no-op in the child
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(*counter, 42u) << "the child's write is not visible";
  // The child's free did nothing: the object is still allocated here.
  EXPECT_EQ(HeapStats().allocated_bytes, 8u);
  libshm_heap_free(heap_, counter);
  void* p = libshm_heap_malloc(heap_, 100);
  EXPECT_NE(p, nullptr);
  libshm_heap_free(heap_, p);
}

TEST_F(HeapTest, CallocReallocAlignedAllocKeepMallocContracts) {
  auto* z = static_cast<unsigned char*>(libshm_heap_calloc(heap_, 1000, 3));
  ASSERT_NE(z, nullptr);
  for (int i = 0; i < 3000; i++) ASSERT_EQ(z[i], 0) << i;
  FillObject(z, 3, 2400);
  auto* r = static_cast<unsigned char*>(libshm_heap_realloc(heap_, z, 3 * kMiB));
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(CheckObject(r, 3, 2400)) << "realloc lost the contents";
  EXPECT_EQ(libshm_heap_realloc(heap_, r, 0), nullptr);
  for (size_t alignment : {size_t{1} << 16, size_t{4} << 20}) {
    void* a = libshm_heap_aligned_alloc(heap_, alignment, alignment);
    ASSERT_NE(a, nullptr) << alignment;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % alignment, 0u);
    EXPECT_EQ(libshm_is_managed(a), 1);
    FillObject(a, 9, alignment);
    EXPECT_TRUE(CheckObject(a, 9, alignment));
    libshm_heap_free(heap_, a);
  }
  void* m = libshm_heap_realloc(heap_, nullptr, 10);
  EXPECT_NE(m, nullptr);
  libshm_heap_free(heap_, m);
  void* zero = libshm_heap_malloc(heap_, 0);
  EXPECT_NE(zero, nullptr);
  libshm_heap_free(heap_, zero);

  errno = 0;
  EXPECT_EQ(libshm_heap_aligned_alloc(heap_, 24, 100), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(libshm_heap_calloc(heap_, SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(libshm_heap_malloc(nullptr, 10), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(libshm_heap_create(0, nullptr), -EINVAL);
  libshm_heap_stats_t small{};
  small.size = 8;
  EXPECT_EQ(libshm_heap_stats(heap_, &small), -EINVAL);
  EXPECT_EQ(HeapStats().allocated_bytes, 0u);
}

// jemalloc 5.3 asks the hooks only for page-aligned extents in every
// configuration tried, so the hook contract is checked by calling the
// arena's hooks directly, as jemalloc would.
TEST_F(HeapTest, ExtentHooksKeepJemallocsContract) {
  const unsigned arena = HeapStats().arena;
  char name[64];
  snprintf(name, sizeof(name), "arena.%u.extent_hooks", arena);
  extent_hooks_t* hooks = nullptr;
  size_t len = sizeof(hooks);
  ASSERT_EQ(mallctl(name, &hooks, &len, nullptr, 0), 0);
  constexpr size_t kAlign = 4 * kMiB;
  bool zero = false, commit = false;
  auto* p = static_cast<char*>(hooks->alloc(hooks, nullptr, kAlign, kAlign, &zero, &commit, arena));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kAlign, 0u);
  EXPECT_TRUE(zero && commit);
  EXPECT_EQ(libshm_is_managed(p), 1);
  // No growth in place: a region cannot grow.
  EXPECT_EQ(hooks->alloc(hooks, p + kAlign, kPage, kPage, &zero, &commit, arena), nullptr);
  // Splits and merges inside one region are fine; merges across two are not.
  auto* q = static_cast<char*>(hooks->alloc(hooks, nullptr, kPage, kPage, &zero, &commit, arena));
  ASSERT_NE(q, nullptr);
  EXPECT_FALSE(hooks->split(hooks, p, kAlign, kAlign / 2, kAlign / 2, true, arena));
  EXPECT_FALSE(hooks->merge(hooks, p, kAlign / 2, p + kAlign / 2, kAlign / 2, true, arena));
  EXPECT_TRUE(hooks->merge(hooks, p, kAlign, q, kPage, true, arena));
  // Freed memory stays mapped (retained) and is purged by MADV_REMOVE.
  EXPECT_TRUE(hooks->dalloc(hooks, q, kPage, true, arena));
  EXPECT_TRUE(hooks->purge_lazy(hooks, p, kAlign, 0, kAlign, arena));
  memset(p, 0x77, kAlign);
  uint64_t purged = HeapStats().purged_bytes;
  EXPECT_FALSE(hooks->purge_forced(hooks, p, kAlign, kMiB, kMiB, arena));
  EXPECT_EQ(HeapStats().purged_bytes, purged + kMiB);
  EXPECT_EQ(p[kMiB - 1], 0x77);
  EXPECT_EQ(p[kMiB], 0);
  EXPECT_EQ(p[2 * kMiB - 1], 0);
  EXPECT_EQ(p[2 * kMiB], 0x77);
  // A forked child may neither map nor discard.
  int status = ForkAndWait([&] {
    bool z, c;
    if (hooks->alloc(hooks, nullptr, kPage, kPage, &z, &c, arena) != nullptr) return 1;
    if (!hooks->purge_forced(hooks, p, kAlign, 0, kPage, arena)) return 2;
    return p[0] == 0x77 ? 0 : 3;
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(p[0], 0x77);
}

TEST_F(HeapTest, AllocatorPutsStandardContainersInManagedMemory) {
  std::vector<uint64_t, HeapAllocator<uint64_t>> v{HeapAllocator<uint64_t>(heap_)};
  for (uint64_t i = 0; i < 2 * kLimit / 8; i++) v.push_back(i * 3);
  EXPECT_EQ(libshm_is_managed(v.data()), 1);
  using Map =
      std::map<uint64_t, uint64_t, std::less<>, HeapAllocator<std::pair<const uint64_t, uint64_t>>>;
  Map m{HeapAllocator<std::pair<const uint64_t, uint64_t>>(heap_)};
  for (uint64_t i = 0; i < 20000; i++) m.emplace(i, i * i);
  EvictAll();
  for (uint64_t i = 0; i < v.size(); i++) ASSERT_EQ(v[i], i * 3) << i;
  for (uint64_t i = 0; i < 20000; i++) ASSERT_EQ(m.at(i), i * i) << i;

  libshm::Heap tiny(kMiB);
  ASSERT_TRUE(tiny);
  std::vector<char, HeapAllocator<char>> big{HeapAllocator<char>(tiny)};
  EXPECT_THROW(big.resize(4 * kMiB), std::bad_alloc);
}

TEST_F(HeapTest, ThreadsAllocateConcurrently) {
  constexpr int kThreads = 4;
  std::vector<std::vector<Object>> per(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 3000; i++) {
        uint64_t id = i * kThreads + t;
        size_t size = SizeOf(id) % 70000 + 8;
        void* p = libshm_heap_malloc(heap_, size);
        if (p == nullptr) return;
        FillObject(p, id, size);
        per[t].push_back({p, size});
        if (i % 3 == 0) {
          libshm_heap_free(heap_, per[t].back().p);
          per[t].back().p = nullptr;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; t++) {
    ASSERT_EQ(per[t].size(), 3000u) << "thread " << t << " failed to allocate";
    for (uint64_t i = 0; i < per[t].size(); i++) {
      if (per[t][i].p == nullptr) continue;
      ASSERT_TRUE(CheckObject(per[t][i].p, i * kThreads + t, per[t][i].size)) << t << " " << i;
      libshm_heap_free(heap_, per[t][i].p);
    }
  }
  EXPECT_EQ(HeapStats().allocated_bytes, 0u);
}

TEST(HeapLifetime, DestroyUnmapsTheRegions) {
  setenv("LIBSHM_LIMIT", "8M", 1);
  libshm_heap_t* heap = nullptr;
  ASSERT_EQ(libshm_heap_create(0, &heap), 0);
  void* p = libshm_heap_malloc(heap, 3 * kMiB);
  ASSERT_NE(p, nullptr);
  memset(p, 1, 3 * kMiB);
  libshm_heap_stats_t s{};
  s.size = sizeof(s);
  ASSERT_EQ(libshm_heap_stats(heap, &s), 0);
  ASSERT_GT(s.regions, 0u);
  EXPECT_EQ(Stat("regions"), s.regions);
  ASSERT_EQ(libshm_heap_destroy(heap), 0);
  EXPECT_EQ(libshm_is_managed(p), 0);
  EXPECT_EQ(Stat("regions"), 0u);
  EXPECT_EQ(Stat("resident_bytes"), 0u);
  EXPECT_EQ(libshm_heap_destroy(nullptr), 0);
}

TEST(HeapSwapMax, FullSwapFileFailsWithEnomemAndFreeingRecovers) {
  // The swap file can hold 16 MiB: the heap's regions reserve their slots
  // when mapped, so allocation fails cleanly once they no longer fit.
  setenv("LIBSHM_LIMIT", "8M", 1);
  setenv("LIBSHM_SWAP_MAX", "16M", 1);
  libshm_heap_t* heap = nullptr;
  ASSERT_EQ(libshm_heap_create(0, &heap), 0);
  std::vector<void*> objects;
  void* p;
  while ((p = libshm_heap_malloc(heap, kMiB)) != nullptr) {
    memset(p, 0x5a, kMiB);
    objects.push_back(p);
    ASSERT_LT(objects.size(), 64u) << "the swap cap was not enforced";
  }
  EXPECT_EQ(errno, ENOMEM);
  libshm_heap_stats_t s{};
  s.size = sizeof(s);
  ASSERT_EQ(libshm_heap_stats(heap, &s), 0);
  EXPECT_EQ(s.last_map_error, -ENOMEM);
  EXPECT_GE(objects.size(), 4u);
  for (void* o : objects) {
    auto* c = static_cast<unsigned char*>(o);
    ASSERT_TRUE(c[0] == 0x5a && c[kMiB - 1] == 0x5a);
  }
  // Freed memory is reused without new regions.
  libshm_heap_free(heap, objects.back());
  objects.pop_back();
  p = libshm_heap_malloc(heap, kMiB);
  ASSERT_NE(p, nullptr);
  objects.push_back(p);
  for (void* o : objects) libshm_heap_free(heap, o);
  EXPECT_EQ(libshm_heap_destroy(heap), 0);
}

}  // namespace
}  // namespace libshm::test
