// SPDX-License-Identifier: MIT
// libshm::Segment (issue 6): Boost.Interprocess in a managed region shared
// across fork. Four forked workers fill one map larger than the memory
// limit under a process-shared mutex; named objects, offset_ptr links and
// exhaustion come out as error codes, never as exceptions.
#include "libshm/segment.hpp"

#include <gtest/gtest.h>

#include <boost/interprocess/containers/map.hpp>
#include <boost/interprocess/containers/vector.hpp>
#include <boost/interprocess/offset_ptr.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <vector>

#include "test_util.h"

namespace libshm::test {
namespace {

namespace bip = boost::interprocess;

constexpr size_t kMiB = 1 << 20;
using Entry = std::pair<const uint64_t, uint64_t>;
using Map = bip::map<uint64_t, uint64_t, std::less<uint64_t>, Segment::Allocator<Entry>>;
using Lock = bip::scoped_lock<bip::interprocess_mutex>;

constexpr int kWorkers = 4;
constexpr uint64_t kPerWorker = 100000;
constexpr uint64_t kShared = 1000;            // keys every worker increments
constexpr uint64_t kSharedBase = 1ull << 40;  // where the shared keys start

uint64_t ValueOf(uint64_t key) { return key * 2654435761u + 17; }

// One worker: finds the objects by name, inserts its own keys and adds one
// to each shared key, in batches under the process-shared mutex.
int Worker(Segment& seg, int w) {
  Map* map = nullptr;
  bip::interprocess_mutex* mutex = nullptr;
  uint64_t* done = nullptr;
  if (seg.Find("map", &map) != 0) return 10;
  if (seg.Find("mutex", &mutex) != 0) return 11;
  if (seg.Find("done", &done) != 0) return 12;
  for (uint64_t i = 0; i < kPerWorker; i += 100) {
    int rc = Segment::Run([&] {
      Lock lock(*mutex);
      for (uint64_t k = i; k < i + 100; k++) {
        uint64_t key = static_cast<uint64_t>(w) * kPerWorker + k;
        map->emplace(key, ValueOf(key));
      }
      for (uint64_t s = i / 100; s < kShared; s += kPerWorker / 100) (*map)[kSharedBase + s]++;
    });
    if (rc != 0) return 13;
  }
  int rc = Segment::Run([&] {
    Lock lock(*mutex);
    ++*done;
  });
  return rc == 0 ? 0 : 14;
}

TEST(Segment, FourForkedWorkersShareOneMapLargerThanTheLimit) {
  setenv("LIBSHM_LIMIT", "8M", 1);
  Segment seg(64 * kMiB);
  ASSERT_TRUE(seg) << seg.error();
  Map* map = nullptr;
  bip::interprocess_mutex* mutex = nullptr;
  uint64_t* done = nullptr;
  ASSERT_EQ(seg.Construct("map", &map, seg.manager()), 0);
  ASSERT_EQ(seg.Construct("mutex", &mutex), 0);
  ASSERT_EQ(seg.Construct("done", &done, 0u), 0);

  std::vector<pid_t> pids;
  for (int w = 0; w < kWorkers; w++) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(Worker(seg, w));
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "worker killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  EXPECT_EQ(*done, static_cast<uint64_t>(kWorkers));
  ASSERT_EQ(map->size(), kWorkers * kPerWorker + kShared);
  size_t bad = 0;
  for (uint64_t key = 0; key < kWorkers * kPerWorker; key++) {
    auto it = map->find(key);
    bad += it == map->end() || it->second != ValueOf(key);
  }
  for (uint64_t s = 0; s < kShared; s++) {
    auto it = map->find(kSharedBase + s);
    bad += it == map->end() || it->second != kWorkers;
  }
  EXPECT_EQ(bad, 0u);
  // The map outgrew the limit: it lived through eviction.
  EXPECT_GT(seg.region().size() - seg.free_memory(), 8 * kMiB);
  EXPECT_GT(Stat("swap_outs"), 0u);
  EXPECT_LE(Stat("peak_resident_bytes"), 9 * kMiB);
}

TEST(Segment, NamedObjectsReportErrorsAsCodes) {
  setenv("LIBSHM_LIMIT", "8M", 1);
  Segment seg(kMiB);
  ASSERT_TRUE(seg);
  EXPECT_EQ(libshm_is_managed(seg.region().data()), 1);
  uint64_t* a = nullptr;
  uint64_t* b = nullptr;
  ASSERT_EQ(seg.Construct("a", &a, 5u), 0);
  EXPECT_EQ(seg.Construct("a", &b, 6u), -EEXIST);
  EXPECT_EQ(seg.FindOrConstruct("a", &b, 7u), 0);
  EXPECT_EQ(b, a);
  EXPECT_EQ(*b, 5u);
  EXPECT_EQ(seg.Find("missing", &b), -ENOENT);
  EXPECT_EQ(seg.Destroy<uint64_t>("missing"), -ENOENT);
  EXPECT_EQ(seg.Destroy<uint64_t>("a"), 0);
  EXPECT_EQ(seg.Find("a", &b), -ENOENT);
  // A name created in a child is found by the parent.
  int status = ForkAndWait([&] {
    uint64_t* c = nullptr;
    return seg.Construct("from-child", &c, 99u) == 0 ? 0 : 1;
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(seg.Find("from-child", &b), 0);
  EXPECT_EQ(*b, 99u);

  EXPECT_EQ(Segment(16).error(), -EINVAL);
  EXPECT_EQ(Segment(0).error(), -EINVAL);
  Segment none;
  EXPECT_FALSE(none);
  EXPECT_EQ(none.Find("a", &b), -EINVAL);
  EXPECT_EQ(Segment::Run([] { throw std::runtime_error("x"); }), -EIO);
  EXPECT_EQ(Segment::Run([] { return -EAGAIN; }), -EAGAIN);
}

TEST(Segment, ExhaustionIsEnomemAndTheSegmentStaysUsable) {
  setenv("LIBSHM_LIMIT", "8M", 1);
  Segment seg(256 * 1024);
  ASSERT_TRUE(seg);
  using Vec = bip::vector<uint64_t, Segment::Allocator<uint64_t>>;
  Vec* v = nullptr;
  ASSERT_EQ(seg.Construct("v", &v, seg.manager()), 0);
  int rc = 0;
  uint64_t n = 0;
  while (rc == 0 && n < 1000000) rc = Segment::Run([&] { v->push_back(n++); });
  EXPECT_EQ(rc, -ENOMEM);
  EXPECT_LT(n, 1000000u);
  for (uint64_t i = 0; i < v->size(); i++) ASSERT_EQ((*v)[i], i);
  uint64_t* small = nullptr;
  EXPECT_EQ(seg.Construct("small", &small, 1u), -ENOMEM) << "the segment should be full";
  ASSERT_EQ(seg.Destroy<Vec>("v"), 0);
  EXPECT_EQ(seg.Construct("small", &small, 1u), 0) << "freed memory is not reusable";
}

TEST(Segment, OffsetPtrListAndMutexWorkAcrossForkAndEviction) {
  setenv("LIBSHM_LIMIT", "8M", 1);
  struct Node {
    bip::offset_ptr<Node> next;
    uint64_t value;
  };
  struct Head {
    bip::interprocess_mutex mutex;
    bip::offset_ptr<Node> first;
  };
  Segment seg(4 * kMiB);
  ASSERT_TRUE(seg);
  Head* head = nullptr;
  ASSERT_EQ(seg.Construct("head", &head), 0);
  ASSERT_EQ(Segment::Run([&] {
              for (uint64_t i = 1; i <= 10000; i++) {
                void* mem = seg.manager()->allocate(sizeof(Node));
                head->first = new (mem) Node{head->first, i};
              }
            }),
            0);
  EvictAll();
  ASSERT_EQ(Stat("resident_bytes"), 0u);
  head->mutex.lock();
  SharedBarrier* barrier = SharedBarrier::Create(2);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Head* h = nullptr;
    if (seg.Find("head", &h) != 0) _exit(1);
    if (h->mutex.try_lock()) _exit(2);  // the parent holds it
    barrier->Wait();
    h->mutex.lock();  // blocks until the parent unlocks
    uint64_t sum = 0;
    for (Node* n = h->first.get(); n != nullptr; n = n->next.get()) sum += n->value;
    h->mutex.unlock();
    _exit(sum == 10000ull * 10001 / 2 ? 0 : 3);
  }
  barrier->Wait();
  head->mutex.unlock();
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace libshm::test
