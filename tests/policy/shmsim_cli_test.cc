// SPDX-License-Identifier: MIT
// The shmsim command line, run as a user would: the one-line form, the
// table/CSV/JSON forms, --convert, plots, and clear errors with a non-zero
// exit status for a missing file, a bad size, an unknown policy or option.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "reference_policies.h"

namespace libshm::internal {
namespace {

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

class ShmsimCli : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/shmsim_cli_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    trace_ = dir_ + "/small.trace";
    std::ofstream f(trace_);
    for (int i = 0; i < 3000; i++) f << (i * 7 % 101 + (i / 500) * 13) << "\n";
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  Outcome Run(const std::string& args) {
    std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
    std::string cmd = std::string(LIBSHM_SHMSIM_PATH) + " " + args + " >" + out + " 2>" + err;
    int raw = std::system(cmd.c_str());
    Outcome o;
    o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    o.out = Slurp(out);
    o.err = Slurp(err);
    return o;
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  static uint64_t Field(const std::string& line, const std::string& key) {
    size_t at = line.find(" " + key + "=");
    if (at == std::string::npos) return UINT64_MAX;
    return std::stoull(line.substr(at + key.size() + 2));
  }

  std::string dir_;
  std::string trace_;
};

TEST_F(ShmsimCli, SimplestCallPrintsOneLine) {
  Outcome o = Run("--trace " + trace_ + " --policy fifo --size 40");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(std::count(o.out.begin(), o.out.end(), '\n'), 1) << o.out;
  EXPECT_NE(o.out.find("miss_ratio="), std::string::npos) << o.out;
  std::vector<reference::Access> plain;
  ASSERT_TRUE(reference::ReadPlainTrace(trace_, &plain));
  EXPECT_EQ(Field(o.out, "faults"), reference::Fifo(plain, 40).misses) << o.out;
  EXPECT_EQ(Field(o.out, "requests"), plain.size());
}

TEST_F(ShmsimCli, TableCsvAndJsonCarryEveryPolicyAndSize) {
  Outcome table = Run("--trace " + trace_ + " --policy all --size 5%,10%,20%,40%");
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("miss_ratio"), std::string::npos);
  EXPECT_NE(table.out.find('*'), std::string::npos) << "best per size is marked";

  Outcome csv = Run("--trace " + trace_ + " --policy fifo,lru,opt --size 10,20 --format csv");
  ASSERT_EQ(csv.status, 0) << csv.err;
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 1 + 3 * 2) << csv.out;
  EXPECT_EQ(csv.out.rfind("trace,policy,size,", 0), 0u);

  Outcome json = Run("--trace " + trace_ + " --policy lru --size 10,20 --format json --window 500");
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_EQ(json.out.front(), '{');
  EXPECT_NE(json.out.find("\"window_faults\": ["), std::string::npos);
  EXPECT_NE(json.out.find("\"gap_to_opt\""), std::string::npos);
}

TEST_F(ShmsimCli, MrcUsesStackDistanceForLru) {
  Outcome o = Run("--trace " + trace_ + " --policy lru,fifo --mrc --format csv");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find(",stack,"), std::string::npos);
  EXPECT_NE(o.out.find(",sim,"), std::string::npos);
  Outcome sim = Run("--trace " + trace_ + " --policy lru --size 37");
  Outcome stack = Run("--trace " + trace_ + " --policy lru --size 37 --mrc");
  EXPECT_EQ(Field(sim.out, "faults"), Field(stack.out, "faults"));
}

TEST_F(ShmsimCli, ConvertedTraceReplaysIdentically) {
  std::string bin = dir_ + "/small.bin.gz";
  Outcome c = Run("--trace " + trace_ + " --convert " + bin);
  ASSERT_EQ(c.status, 0) << c.err;
  Outcome a = Run("--trace " + trace_ + " --policy arc --size 30");
  Outcome b = Run("--trace " + bin + " --policy arc --size 30");
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_EQ(Field(a.out, "faults"), Field(b.out, "faults"));
}

TEST_F(ShmsimCli, WorkloadWithWritesCountsWritebacks) {
  Outcome o = Run("--workload zipf:pages=2000,n=50000,write=0.5 --policy clock --size 100");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_GT(Field(o.out, "writebacks"), 0u) << o.out;
  Outcome ro = Run("--trace " + trace_ + " --policy clock --size 10");
  EXPECT_EQ(Field(ro.out, "writebacks"), 0u) << "a trace without r/w is read-only";
  Outcome mixed = Run("--trace " + trace_ + " --policy clock --size 10 --write-ratio 0.5");
  EXPECT_GT(Field(mixed.out, "writebacks"), 0u) << mixed.out;
}

// gnuplot is part of the README's test command: without it this test fails
// (shmsim itself only warns and draws nothing).
TEST_F(ShmsimCli, PlotsAreDrawnWithGnuplot) {
  ASSERT_EQ(std::system("command -v gnuplot >/dev/null 2>&1"), 0)
      << "gnuplot not found: apt-get install gnuplot-nox";
  std::string plots = dir_ + "/plots";
  Outcome o = Run("--trace " + trace_ + " --policy fifo,lru,opt --size 10,20,40 --window 300" +
                  " --plot " + plots);
  ASSERT_EQ(o.status, 0) << o.err;
  struct stat st;
  EXPECT_EQ(stat((plots + "/small-mrc.svg").c_str(), &st), 0) << o.err;
  EXPECT_GT(st.st_size, 1000);
  EXPECT_EQ(stat((plots + "/small-time-20.svg").c_str(), &st), 0) << o.err;
}

TEST_F(ShmsimCli, MissingFileIsAClearError) {
  Outcome o = Run("--trace " + dir_ + "/nope.trace --policy fifo --size 10");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.err.find("cannot open trace"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("nope.trace"), std::string::npos) << o.err;
  EXPECT_TRUE(o.out.empty());
}

TEST_F(ShmsimCli, BadSizesAreClearErrors) {
  for (const char* size : {"abc", "0", "-5", "10%%", "1.5", "", "5,,10", "0%"}) {
    Outcome o = Run("--trace " + trace_ + " --policy fifo --size '" + size + "'");
    EXPECT_EQ(o.status, 2) << "size '" << size << "'";
    EXPECT_NE(o.err.find("bad --size"), std::string::npos) << size << ": " << o.err;
  }
}

TEST_F(ShmsimCli, UnknownPolicyListsTheKnownOnes) {
  Outcome o = Run("--trace " + trace_ + " --policy lfu --size 10");
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("unknown policy 'lfu'"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("clock-pro"), std::string::npos) << o.err;
}

// Parameters are read by the registry (libshm_policy_resolve); shmsim
// passes its message on and splits a list without cutting a name's
// parameters apart.
TEST_F(ShmsimCli, BadPolicyParametersAreClearErrors) {
  struct Case {
    const char* policy;
    const char* says;
  } cases[] = {{"clock:bogus=1", "policy clock has no parameter 'bogus' (it takes: insert_ref)"},
               {"clock:insert_ref=yes", "insert_ref=yes is not a whole number"},
               {"clock:insert_ref=", "insert_ref= is not a whole number"},
               {"clock:insert_ref=2", "insert_ref=2 is out of range [0, 1]"},
               {"s3-fifo:threshold=0", "threshold=0 is out of range [1, 3]"},
               {"lirs:nonresident=101", "nonresident=101 is out of range [0, 100]"},
               {"lirs:nonresident=99999999999999999999", "out of range"},
               {"clock:insert_ref=0,insert_ref=1", "insert_ref given twice"},
               {"clock:", "expected key=value"},
               {"clock:insert_ref", "expected key=value"},
               {"fifo:x=1", "policy fifo takes no parameters"},
               {"lfu:x=1", "unknown policy 'lfu'"}};
  for (const Case& c : cases) {
    Outcome o = Run("--trace " + trace_ + " --policy '" + c.policy + "' --size 10");
    EXPECT_EQ(o.status, 2) << c.policy;
    EXPECT_NE(o.err.find(c.says), std::string::npos) << c.policy << ": " << o.err;
  }
}

TEST_F(ShmsimCli, PolicyParametersInAList) {
  Outcome o = Run("--trace " + trace_ +
                  " --policy clock,clock:insert_ref=1,clock:insert_ref=0,s3-fifo:threshold=2,"
                  "lirs:nonresident=1 "
                  "--size 10 --format csv --no-opt");
  ASSERT_EQ(o.status, 0) << o.err;
  // Each setting is a row under its canonical name, the default spelled
  // out too.
  EXPECT_NE(o.out.find(",clock,"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(",clock:insert_ref=1,"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(",clock:insert_ref=0,"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(",s3-fifo:threshold=2,"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(",lirs:nonresident=1,"), std::string::npos) << o.out;
  Outcome list = Run("--list");
  EXPECT_NE(list.out.find("clock:insert_ref=0..1"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("s3-fifo:threshold=1..3"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("lirs:nonresident=0..100"), std::string::npos) << list.out;
}

TEST_F(ShmsimCli, UsageErrors) {
  EXPECT_EQ(Run("").status, 2);
  EXPECT_EQ(Run("--trace " + trace_ + " --frobnicate").status, 2);
  EXPECT_EQ(Run("--trace").status, 2);
  EXPECT_EQ(Run("--trace " + trace_ + " --format xml").status, 2);
  EXPECT_EQ(Run("--trace " + trace_ + " --access sampled:0").status, 2);
  EXPECT_EQ(Run("--trace " + trace_ + " --batch 0").status, 2);
  EXPECT_EQ(Run("--workload nosuch:n=10").status, 1);
  Outcome help = Run("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("zipfscan"), std::string::npos);
  Outcome list = Run("--list");
  EXPECT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("opt        no"), std::string::npos) << list.out;
}

}  // namespace
}  // namespace libshm::internal
