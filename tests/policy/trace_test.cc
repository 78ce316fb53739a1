// SPDX-License-Identifier: MIT
// Trace formats (plain, r/w column, gzip, binary round trip, live
// recordings), synthetic workloads and the simulator's bookkeeping
// (write-backs, windows) on inputs small enough to check by hand.
#include "trace.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <deque>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "libshm/policy.h"
#include "simulator.h"
#include "workload.h"

namespace libshm::internal {
namespace {

class TraceTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shmsim_trace_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& f : files_) std::remove(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    files_.push_back(path);
    return path;
  }
  std::string Path(const std::string& name) {
    files_.push_back(dir_ + "/" + name);
    return files_.back();
  }
  std::vector<uint64_t> Pages(const Trace& t) {
    std::vector<uint64_t> out;
    for (uint32_t ref : t.refs) out.push_back(t.pages[Trace::Id(ref)]);
    return out;
  }
  std::vector<bool> Writes(const Trace& t) {
    std::vector<bool> out;
    for (uint32_t ref : t.refs) out.push_back(Trace::IsWrite(ref));
    return out;
  }

  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(TraceTest, PlainTextWithCommentsSeparatorsAndCrlf) {
  Trace t;
  std::string error;
  ASSERT_TRUE(LoadTrace(Write("a.trace", "# header\n5\r\n7\n\n*\n0x10\n5\n"), &t, &error)) << error;
  EXPECT_EQ(Pages(t), (std::vector<uint64_t>{5, 7, 16, 5}));
  EXPECT_EQ(t.distinct(), 3u);
  EXPECT_FALSE(t.has_writes);
}

TEST_F(TraceTest, ReadWriteColumn) {
  Trace t;
  std::string error;
  ASSERT_TRUE(LoadTrace(Write("rw.trace", "1 r\n2 w\n1 W\n3\n"), &t, &error)) << error;
  EXPECT_TRUE(t.has_writes);
  EXPECT_EQ(Writes(t), (std::vector<bool>{false, true, true, false}));
}

TEST_F(TraceTest, BadLinesNameTheLine) {
  Trace t;
  std::string error;
  EXPECT_FALSE(LoadTrace(Write("bad.trace", "1\n2\nbanana\n"), &t, &error));
  EXPECT_NE(error.find(":3:"), std::string::npos) << error;
  EXPECT_FALSE(LoadTrace(Write("bad2.trace", "1 x\n"), &t, &error));
  EXPECT_NE(error.find("r or w"), std::string::npos) << error;
  EXPECT_FALSE(LoadTrace(Write("empty.trace", "# nothing\n"), &t, &error));
  EXPECT_NE(error.find("no references"), std::string::npos) << error;
  EXPECT_FALSE(LoadTrace(dir_ + "/missing.trace", &t, &error));
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
}

TEST_F(TraceTest, GzipIsDetectedByContent) {
  std::string path = Path("z.dat");
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzputs(f, "3\n4\n3 w\n");
  gzclose(f);
  Trace t;
  std::string error;
  ASSERT_TRUE(LoadTrace(path, &t, &error)) << error;
  EXPECT_EQ(Pages(t), (std::vector<uint64_t>{3, 4, 3}));
  EXPECT_EQ(Writes(t), (std::vector<bool>{false, false, true}));
}

TEST_F(TraceTest, BinaryRoundTripPlainAndCompressed) {
  Trace original;
  std::string error;
  ASSERT_TRUE(MakeWorkload("zipf:pages=5000,n=20000,write=0.25,seed=3", &original, &error));
  // Large and descending page numbers exercise the signed deltas.
  TraceBuilder extra(&original);
  extra.Add((1ull << 62) - 1, true);
  extra.Add(0, false);
  for (const char* name : {"t.bin", "t.bin.gz"}) {
    std::string path = Path(name);
    ASSERT_TRUE(WriteBinaryTrace(original, path, &error)) << error;
    Trace back;
    ASSERT_TRUE(LoadTrace(path, &back, &error)) << error;
    EXPECT_EQ(Pages(back), Pages(original)) << name;
    EXPECT_EQ(Writes(back), Writes(original)) << name;
    EXPECT_TRUE(back.has_writes);
  }
  TraceBuilder too_big(&original);
  too_big.Add(1ull << 62, false);
  EXPECT_FALSE(WriteBinaryTrace(original, Path("big.bin"), &error));
}

TEST_F(TraceTest, BinaryIsCompact) {
  Trace t;
  std::string error;
  ASSERT_TRUE(MakeWorkload("loop:pages=1000,n=100000", &t, &error));
  std::string path = Path("loop.bin");
  ASSERT_TRUE(WriteBinaryTrace(t, path, &error)) << error;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  // Deltas of +1 take one byte; the 100 wraps back to page 0 take two; plus
  // a 24-byte header.
  EXPECT_EQ(static_cast<size_t>(in.tellg()), 24 + t.refs.size() + 100 - 1);
}

TEST_F(TraceTest, TruncatedBinaryIsAnError) {
  Trace t;
  std::string error;
  ASSERT_TRUE(MakeWorkload("uniform:pages=100,n=1000", &t, &error));
  std::string path = Path("cut.bin");
  ASSERT_TRUE(WriteBinaryTrace(t, path, &error));
  ASSERT_EQ(truncate(path.c_str(), 200), 0);
  EXPECT_FALSE(LoadTrace(path, &t, &error));
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
}

TEST_F(TraceTest, LiveRecordingReplaysFaultsAndReferences) {
  std::string live =
      "# libshm-trace v1 page_size=4096 limit_pages=2 policy=clock\n"
      "F 100 1 0 r\n"
      "F 110 1 1 w\n"
      "R 120 1 0 w\n"
      "F 130 2 0 r\n"
      "P 130 2 1 r\n"
      "E 131 1 1 d\n"
      "X 132 future event that readers skip\n"
      "E 140 1 0 c\n"
      "D 150 2 0 -\n"
      "F 160 1 1 r\n";
  Trace t;
  std::string error;
  ASSERT_TRUE(LoadTrace(Write("live.trace", live), &t, &error)) << error;
  EXPECT_EQ(t.refs.size(), 6u);
  EXPECT_EQ(t.distinct(), 4u);  // (1,0), (1,1), (2,0), (2,1)
  EXPECT_EQ(Writes(t), (std::vector<bool>{false, true, true, false, false, false}));
  EXPECT_TRUE(t.recorded.present);
  EXPECT_EQ(t.recorded.policy, "clock");
  EXPECT_EQ(t.recorded.limit_pages, 2u);
  EXPECT_EQ(t.recorded.faults, 4u);
  EXPECT_EQ(t.recorded.fills, 1u);
  EXPECT_EQ(t.recorded.references, 1u);
  EXPECT_EQ(t.recorded.evictions, 2u);
  EXPECT_EQ(t.recorded.writebacks, 1u);
  EXPECT_NE(Pages(t)[0], Pages(t)[3]) << "same page index in two regions must differ";
  EXPECT_FALSE(LoadTrace(Write("live_bad.trace", "# libshm-trace v1\nF 1 2\n"), &t, &error));
}

// Capacity 1, FIFO: every change of page evicts the previous one, which
// costs a write exactly when it was written while resident.
TEST_F(TraceTest, DirtyVictimsCostWritebacks) {
  Trace t;
  std::string error;
  ASSERT_TRUE(LoadTrace(Write("wb.trace", "1 w\n1 r\n2 r\n1 r\n1 w\n2 r\n2 w\n3 r\n"), &t, &error));
  SimOptions options;
  options.capacity = 1;
  SimResult r;
  ASSERT_TRUE(Simulate(t, nullptr, *libshm_policy_find("fifo"), options, nullptr, &r, &error));
  EXPECT_EQ(r.faults, 5u);      // 1 2 1 2 3
  EXPECT_EQ(r.evictions, 4u);   // every fault but the first
  EXPECT_EQ(r.writebacks, 3u);  // 1 (written), 1 (written again), 2 (written)
}

TEST_F(TraceTest, WindowsAddUpToTheFaults) {
  Trace t;
  std::string error;
  ASSERT_TRUE(MakeWorkload("shift:pages=2000,n=50000,ws=100,period=5000", &t, &error)) << error;
  for (uint64_t window : {1000u, 777u, 50000u, 60000u}) {
    SimOptions options;
    options.capacity = 150;
    options.window = window;
    SimResult r;
    ASSERT_TRUE(Simulate(t, nullptr, *libshm_policy_find("lru"), options, nullptr, &r, &error));
    EXPECT_EQ(r.window_faults.size(), (t.refs.size() + window - 1) / window) << window;
    EXPECT_EQ(std::accumulate(r.window_faults.begin(), r.window_faults.end(), uint64_t{0}),
              r.faults);
  }
}

// Batched eviction as the runtime does it: FIFO with memory full drops the
// `batch` oldest pages at once.
TEST_F(TraceTest, BatchedEvictionMatchesADequeFifo) {
  Trace t;
  std::string error;
  ASSERT_TRUE(MakeWorkload("zipf:pages=3000,n=30000,seed=4", &t, &error)) << error;
  for (size_t batch : {1u, 4u, 32u}) {
    std::deque<uint32_t> queue;
    std::vector<bool> resident(t.distinct());
    uint64_t misses = 0;
    for (uint32_t ref : t.refs) {
      uint32_t id = Trace::Id(ref);
      if (resident[id]) continue;
      misses++;
      if (queue.size() == 300) {
        for (size_t k = 0; k < batch; k++) {
          resident[queue.front()] = false;
          queue.pop_front();
        }
      }
      queue.push_back(id);
      resident[id] = true;
    }
    SimOptions options;
    options.capacity = 300;
    options.batch = batch;
    SimResult r;
    ASSERT_TRUE(Simulate(t, nullptr, *libshm_policy_find("fifo"), options, nullptr, &r, &error));
    EXPECT_EQ(r.faults, misses) << "batch " << batch;
  }
}

TEST_F(TraceTest, SamplingReportsArmedPagesWithinItsBudget) {
  Trace t;
  std::string error;
  ASSERT_TRUE(MakeWorkload("zipf:pages=5000,n=100000,write=0.2,seed=9", &t, &error)) << error;
  const libshm_policy_ops& clock = *libshm_policy_find("clock");
  auto run = [&](AccessMode access, uint64_t period, uint64_t seed) {
    SimOptions options;
    options.capacity = 500;
    options.access = access;
    options.sample_period = period;
    options.seed = seed;
    SimResult r;
    EXPECT_TRUE(Simulate(t, nullptr, clock, options, nullptr, &r, &error)) << error;
    return r;
  };
  SimResult faults_only = run(AccessMode::kWriteFaults, 0, 1);
  SimResult every = run(AccessMode::kEveryHit, 0, 1);
  // A sample every 10^9 references never fires: exactly the faults-only view.
  SimResult never = run(AccessMode::kSampled, 1000000000, 1);
  EXPECT_EQ(never.faults, faults_only.faults);
  EXPECT_EQ(never.sampling_faults, 0u);
  SimResult sampled = run(AccessMode::kSampled, 20, 1);
  EXPECT_GT(sampled.sampling_faults, 0u);
  EXPECT_LE(sampled.sampling_faults, t.refs.size() / 20);
  EXPECT_EQ(run(AccessMode::kSampled, 20, 1).faults, sampled.faults) << "seeded";
  // More information should not make CLOCK worse on a skewed workload.
  EXPECT_LE(every.faults, sampled.faults);
  EXPECT_LE(sampled.faults, faults_only.faults);
}

TEST(WorkloadTest, EveryKindIsSeededAndSized) {
  for (const char* kind :
       {"zipf", "uniform", "scan", "loop", "zigzag", "shift", "zipfscan", "twopools"}) {
    std::string spec = std::string(kind) + ":pages=3000,n=20000,write=0.3";
    Trace a, b, c;
    std::string error;
    ASSERT_TRUE(MakeWorkload(spec + ",seed=1", &a, &error)) << error;
    ASSERT_TRUE(MakeWorkload(spec + ",seed=1", &b, &error)) << error;
    ASSERT_TRUE(MakeWorkload(spec + ",seed=2", &c, &error)) << error;
    EXPECT_EQ(a.refs.size(), 20000u) << kind;
    EXPECT_EQ(a.refs, b.refs) << kind << ": same seed, same trace";
    EXPECT_NE(a.refs, c.refs) << kind << ": the seed drives at least the writes";
    EXPECT_TRUE(a.has_writes);
    size_t writes = 0;
    for (uint32_t ref : a.refs) writes += Trace::IsWrite(ref);
    EXPECT_NEAR(static_cast<double>(writes) / 20000.0, 0.3, 0.03) << kind;
  }
}

TEST(WorkloadTest, ShapesAreWhatTheyClaim) {
  Trace t;
  std::string error;
  ASSERT_TRUE(MakeWorkload("loop:pages=100,n=1000", &t, &error));
  EXPECT_EQ(t.distinct(), 100u);
  EXPECT_FALSE(t.has_writes);
  for (size_t i = 0; i < t.refs.size(); i++) ASSERT_EQ(t.pages[Trace::Id(t.refs[i])], i % 100);
  ASSERT_TRUE(MakeWorkload("zigzag:pages=10,n=40", &t, &error));
  EXPECT_EQ(t.pages[Trace::Id(t.refs[9])], 9u);
  EXPECT_EQ(t.pages[Trace::Id(t.refs[10])], 9u);
  EXPECT_EQ(t.pages[Trace::Id(t.refs[19])], 0u);
  // Zipf: the hottest page is far more popular than a median one.
  ASSERT_TRUE(MakeWorkload("zipf:alpha=1.0,pages=1000,n=100000", &t, &error));
  std::vector<size_t> count(t.distinct());
  for (uint32_t ref : t.refs) count[Trace::Id(ref)]++;
  std::sort(count.begin(), count.end());
  EXPECT_GT(count.back(), 20 * count[count.size() / 2]);
  // Scans of fresh pages grow the page set beyond the Zipf pages.
  ASSERT_TRUE(MakeWorkload("zipfscan:pages=1000,n=100000,period=10000,scan=500", &t, &error));
  EXPECT_GT(t.distinct(), 1000u + 4000u);
}

TEST(WorkloadTest, BadSpecsAreRejected) {
  Trace t;
  std::string error;
  EXPECT_FALSE(MakeWorkload("nosuch:pages=10", &t, &error));
  EXPECT_NE(error.find("unknown workload"), std::string::npos);
  EXPECT_FALSE(MakeWorkload("zipf:colour=blue", &t, &error));
  EXPECT_NE(error.find("unknown parameter"), std::string::npos);
  EXPECT_FALSE(MakeWorkload("zipf:alpha=abc", &t, &error));
  EXPECT_FALSE(MakeWorkload("uniform:pages=0", &t, &error));
  EXPECT_FALSE(MakeWorkload("uniform:write=1.5", &t, &error));
}

}  // namespace
}  // namespace libshm::internal
