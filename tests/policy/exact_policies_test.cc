// SPDX-License-Identifier: MIT
// shmsim's exact policies (FIFO, LRU, OPT) against the reference
// implementations on every LIRS trace in bench/traces/lirs, at 1 page, 5,
// 10, 20 and 40% of the distinct pages and at 100%: the miss counts (and
// FIFO's and LRU's write-backs, with 30% of references made writes) must be
// identical, and so must the one-pass LRU curve. Also checks that OPT is a
// floor for every built-in policy.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <string>
#include <vector>

#include "libshm/policy.h"
#include "reference_policies.h"
#include "simulator.h"
#include "trace.h"

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

}  // namespace
}  // namespace libshm::internal
