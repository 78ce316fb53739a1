// SPDX-License-Identifier: MIT
// shmsim's exact policies (FIFO, LRU, CLOCK, OPT) against the reference
// implementations on every LIRS trace in bench/traces/lirs, at 1 page, 5,
// 10, 20 and 40% of the distinct pages and at 100%: the miss counts (and
// FIFO's, LRU's and CLOCK's write-backs, with 30% of references made writes)
// must be identical, and so must the one-pass LRU curve. CLOCK is checked
// with both settings of insert_ref, on synthetic workloads too, and on a
// short sequence worked out by hand. Also checks that OPT is a floor for
// every built-in policy.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "libshm/policy.h"
#include "reference_policies.h"
#include "simulator.h"
#include "trace.h"
#include "workload.h"

namespace libshm::internal {
namespace {

const char* const kTraces[] = {"2_pools", "backf",  "cpp", "cs",   "gli",    "loop",  "multi1",
                               "multi2",  "multi3", "ps",  "scan", "sprite", "zigzag"};

std::string TracePath(const std::string& name) {
  return std::string(LIBSHM_LIRS_TRACE_DIR) + "/" + name + ".trace.gz";
}

class LirsTraceTest : public testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string path = TracePath(GetParam());
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0)
        << "trace not found: " << path << " (the traces are in the repository: bench/traces)";
    ASSERT_TRUE(reference::ReadPlainTrace(path, &plain_)) << path;
    std::string error;
    ASSERT_TRUE(LoadTrace(path, &trace_, &error)) << error;
    next_use_ = ComputeNextUse(trace_);
    size_t distinct = reference::DistinctPages(plain_);
    sizes_ = {1, distinct};
    for (double pct : {5.0, 10.0, 20.0, 40.0}) {
      sizes_.push_back(std::max<size_t>(
          1, static_cast<size_t>(std::round(pct / 100.0 * static_cast<double>(distinct)))));
    }
  }

  SimResult Run(const char* policy, size_t size, AccessMode access = AccessMode::kEveryHit) {
    const libshm_policy_ops* ops = libshm_policy_find(policy);
    EXPECT_NE(ops, nullptr) << policy;
    SimOptions options;
    options.capacity = size;
    options.access = access;
    SimResult result;
    std::string error;
    EXPECT_TRUE(Simulate(trace_, &next_use_, *ops, options, nullptr, &result, &error)) << error;
    return result;
  }

  // Makes 30% of the references writes, in both views of the trace, so
  // that write-backs are checked too (miss counts do not depend on them).
  void AddWrites() {
    ApplyWriteRatio(&trace_, 0.3, 42);
    size_t writes = 0;
    for (size_t i = 0; i < plain_.size(); i++) {
      plain_[i].write = Trace::IsWrite(trace_.refs[i]);
      writes += plain_[i].write;
    }
    ASSERT_GT(writes, 0u);
  }

  std::vector<reference::Access> plain_;
  Trace trace_;
  std::vector<uint32_t> next_use_;
  std::vector<size_t> sizes_;
};

TEST_P(LirsTraceTest, LoaderMatchesPlainReader) {
  ASSERT_EQ(trace_.refs.size(), plain_.size());
  for (size_t i = 0; i < plain_.size(); i++) {
    ASSERT_EQ(trace_.pages[Trace::Id(trace_.refs[i])], plain_[i].page) << "reference " << i;
  }
  EXPECT_EQ(trace_.distinct(), reference::DistinctPages(plain_));
  EXPECT_FALSE(trace_.has_writes);
}

TEST_P(LirsTraceTest, FifoMatchesReference) {
  AddWrites();
  for (size_t size : sizes_) {
    reference::Counts expected = reference::Fifo(plain_, size);
    SimResult fifo = Run("fifo", size);
    EXPECT_EQ(fifo.faults, expected.misses) << "size " << size;
    EXPECT_EQ(fifo.writebacks, expected.writebacks) << "size " << size;
  }
}

// LRU replayed size by size and LRU from the one-pass stack-distance curve.
TEST_P(LirsTraceTest, LruMatchesReference) {
  AddWrites();
  std::vector<uint64_t> curve = LruFaultCurve(trace_);
  ASSERT_EQ(curve.size(), trace_.distinct() + 1);
  EXPECT_EQ(curve[0], trace_.refs.size());
  for (size_t size : sizes_) {
    reference::Counts expected = reference::Lru(plain_, size);
    SimResult lru = Run("lru", size);
    EXPECT_EQ(lru.faults, expected.misses) << "size " << size;
    EXPECT_EQ(lru.writebacks, expected.writebacks) << "size " << size;
    EXPECT_EQ(curve[size], expected.misses) << "curve at size " << size;
  }
}

// The default `clock` is textbook CLOCK with new pages referenced; the
// parameter insert_ref=0 is textbook CLOCK with new pages unreferenced.
TEST_P(LirsTraceTest, ClockMatchesReference) {
  AddWrites();
  for (size_t size : sizes_) {
    reference::Counts referenced = reference::Clock(plain_, size, /*insert_ref=*/true);
    reference::Counts unreferenced = reference::Clock(plain_, size, /*insert_ref=*/false);
    for (const char* name : {"clock", "clock:insert_ref=1"}) {
      SimResult r = Run(name, size);
      EXPECT_EQ(r.faults, referenced.misses)
          << name << " at size " << size
          << " differs from textbook CLOCK with new pages inserted referenced (bit set)"
          << (r.faults == unreferenced.misses ? "; it matches insertion with the bit clear" : "");
      EXPECT_EQ(r.writebacks, referenced.writebacks) << name << " at size " << size;
    }
    SimResult r = Run("clock:insert_ref=0", size);
    EXPECT_EQ(r.faults, unreferenced.misses)
        << "clock:insert_ref=0 at size " << size
        << " differs from textbook CLOCK with new pages inserted unreferenced (bit clear)";
    EXPECT_EQ(r.writebacks, unreferenced.writebacks) << "clock:insert_ref=0 at size " << size;
  }
}

TEST_P(LirsTraceTest, OptMatchesReference) {
  for (size_t size : sizes_) {
    EXPECT_EQ(Run("opt", size).faults, reference::Opt(plain_, size).misses) << "size " << size;
  }
}

TEST_P(LirsTraceTest, OptIsAFloorForEveryPolicy) {
  std::vector<const libshm_policy_ops*> all(libshm_policy_list(nullptr, 0));
  all.resize(libshm_policy_list(all.data(), all.size()));
  for (size_t size : sizes_) {
    // One page of memory says nothing about policies and is the slowest run.
    if (size == 1) continue;
    uint64_t opt = Run("opt", size).faults;
    for (const libshm_policy_ops* ops : all) {
      SimResult r = Run(ops->name, size);
      EXPECT_GE(r.faults, opt) << ops->name << " at size " << size;
      // Every page faults at least once; with all pages resident only once.
      EXPECT_GE(r.faults, trace_.distinct()) << ops->name;
      if (size >= trace_.distinct()) {
        EXPECT_EQ(r.faults, trace_.distinct()) << ops->name;
      }
    }
  }
}

// Without hits LRU learns nothing after a fault on a read-only trace, so in
// the pager's view it must evict exactly as FIFO does.
TEST_P(LirsTraceTest, LruSeeingOnlyFaultsIsFifo) {
  for (size_t size : sizes_) {
    EXPECT_EQ(Run("lru", size, AccessMode::kWriteFaults).faults, Run("fifo", size).faults)
        << "size " << size;
  }
}

INSTANTIATE_TEST_SUITE_P(Traces, LirsTraceTest, testing::ValuesIn(kTraces),
                         [](const testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           return name == "2_pools" ? std::string("two_pools") : name;
                         });

// Replays `trace` through a policy's table the way shmsim does (memory
// full: choose_victims(1), then miss; a hit: reference) and records, per
// access, hit (true) or miss, and every victim in order.
struct Replay {
  std::vector<bool> hits;
  std::vector<uint64_t> victims;
};

Replay ReplayByHand(const char* policy, const std::vector<uint64_t>& trace, size_t capacity) {
  Replay out;
  const libshm_policy_ops* ops = libshm_policy_find(policy);
  EXPECT_NE(ops, nullptr) << policy;
  if (ops == nullptr) return out;
  void* self = ops->create(capacity, 1);
  std::set<uint64_t> resident;
  for (uint64_t page : trace) {
    bool hit = resident.count(page) != 0;
    out.hits.push_back(hit);
    if (hit) {
      ops->reference(self, page, 0);
      continue;
    }
    if (resident.size() == capacity) {
      uint64_t victim = 0;
      EXPECT_EQ(ops->choose_victims(self, &victim, 1), 1u);
      out.victims.push_back(victim);
      resident.erase(victim);
    }
    ops->miss(self, page, 0);
    resident.insert(page);
  }
  ops->destroy(self);
  return out;
}

std::vector<reference::Access> Reads(const std::vector<uint64_t>& pages) {
  std::vector<reference::Access> out;
  for (uint64_t p : pages) out.push_back({p, false});
  return out;
}

// Three frames, 1 2 3 4 1 3 5 2 3. [a b c] lists the frames in order, *
// marks a set reference bit and ^ the frame under the hand.
//
// Inserted referenced (insert_ref=1, the default):
//   1 2 3  miss x3                                [^1* 2* 3*]
//   4      miss: the hand clears 1, 2, 3, comes round to 1 and evicts it
//                                                 [4* ^2 3]
//   1      miss: 2 is clear, evict 2              [4* 1* ^3]
//   3      hit: set 3's bit                       [4* 1* ^3*]
//   5      miss: clear 3, 4, 1; evict 3           [^4 1 5*]
//   2      miss: evict 4                          [2* ^1 5*]
//   3      miss: evict 1                          [2* 3* ^5*]
//   8 misses, 1 hit (the first 3), victims 1 2 3 4 1.
//
// Inserted unreferenced (insert_ref=0):
//   1 2 3  miss x3                                [^1 2 3]
//   4      miss: evict 1                          [4 ^2 3]
//   1      miss: evict 2                          [4 1 ^3]
//   3      hit                                    [4 1 ^3*]
//   5      miss: clear 3, evict 4                 [5 ^1 3]
//   2      miss: evict 1                          [5 2 ^3]
//   3      hit
//   7 misses, 2 hits (both 3s), victims 1 2 4 1.
//
// They part at the 5: with bits set on insertion, 3's hit leaves it no
// better than 4 and 1, which were never referenced again, and the hand
// evicts it.
TEST(ClockReference, HandCheckedSequence) {
  const std::vector<uint64_t> trace = {1, 2, 3, 4, 1, 3, 5, 2, 3};
  const std::vector<bool> hits_referenced = {false, false, false, false, false,
                                             true,  false, false, false};
  const std::vector<uint64_t> victims_referenced = {1, 2, 3, 4, 1};
  const std::vector<bool> hits_unreferenced = {false, false, false, false, false,
                                               true,  false, false, true};
  const std::vector<uint64_t> victims_unreferenced = {1, 2, 4, 1};

  for (const char* name : {"clock", "clock:insert_ref=1"}) {
    Replay r = ReplayByHand(name, trace, 3);
    EXPECT_EQ(r.hits, hits_referenced)
        << name << ": hits differ from the hand-checked CLOCK with new pages referenced";
    EXPECT_EQ(r.victims, victims_referenced)
        << name << ": victims differ from the hand-checked CLOCK with new pages referenced";
  }
  Replay r = ReplayByHand("clock:insert_ref=0", trace, 3);
  EXPECT_EQ(r.hits, hits_unreferenced)
      << "clock:insert_ref=0: hits differ from the hand-checked CLOCK with new pages unreferenced";
  EXPECT_EQ(r.victims, victims_unreferenced)
      << "clock:insert_ref=0: victims differ from the hand-checked CLOCK with new pages "
         "unreferenced";

  // The reference agrees with the hand check too.
  std::vector<uint64_t> victims;
  EXPECT_EQ(reference::Clock(Reads(trace), 3, true, &victims).misses, 8u);
  EXPECT_EQ(victims, victims_referenced);
  victims.clear();
  EXPECT_EQ(reference::Clock(Reads(trace), 3, false, &victims).misses, 7u);
  EXPECT_EQ(victims, victims_unreferenced);
}

// Synthetic workloads with writes, at several sizes, against the reference
// with both insertion settings. The settings must differ somewhere (not on
// the loop, which never hits), or the comparison could not tell them apart.
TEST(ClockReference, SyntheticWorkloads) {
  bool settings_differ = false;
  for (const char* spec : {"zipf:alpha=0.9,pages=2000,n=60000,write=0.3,seed=3",
                           "zipfscan:alpha=0.8,pages=2000,n=60000,period=5000,write=0.2",
                           "loop:pages=500,n=20000,write=0.5"}) {
    Trace trace;
    std::string error;
    ASSERT_TRUE(MakeWorkload(spec, &trace, &error)) << error;
    std::vector<reference::Access> plain;
    for (uint32_t ref : trace.refs) {
      plain.push_back({trace.pages[Trace::Id(ref)], Trace::IsWrite(ref)});
    }
    for (size_t size : {size_t{1}, size_t{50}, size_t{200}, size_t{450}, size_t{1000}}) {
      uint64_t misses[2] = {};
      for (bool insert_ref : {true, false}) {
        const char* name = insert_ref ? "clock" : "clock:insert_ref=0";
        reference::Counts expected = reference::Clock(plain, size, insert_ref);
        misses[insert_ref] = expected.misses;
        SimOptions options;
        options.capacity = size;
        SimResult r;
        ASSERT_TRUE(
            Simulate(trace, nullptr, *libshm_policy_find(name), options, nullptr, &r, &error))
            << error;
        EXPECT_EQ(r.faults, expected.misses)
            << name << " on " << spec << " at size " << size
            << " differs from textbook CLOCK with new pages inserted "
            << (insert_ref ? "referenced (bit set)" : "unreferenced (bit clear)");
        EXPECT_EQ(r.writebacks, expected.writebacks) << name << " on " << spec << " size " << size;
      }
      settings_differ |= misses[0] != misses[1];
    }
  }
  EXPECT_TRUE(settings_differ);
}

}  // namespace
}  // namespace libshm::internal
