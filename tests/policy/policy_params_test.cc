// SPDX-License-Identifier: MIT
// Policy parameters ("clock:insert_ref=0", registry.cc): bad input is
// refused with a message naming what is wrong, a setting resolves to one
// table whose name is canonical, the defaults are what the plain name does,
// and each parameter changes which pages are evicted.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "libshm/policy.h"
#include "simulator.h"
#include "trace.h"

namespace libshm::internal {
namespace {

std::string ResolveError(const char* spec) {
  char error[160] = "untouched";
  EXPECT_EQ(libshm_policy_resolve(spec, error, sizeof(error)), nullptr) << spec;
  EXPECT_EQ(libshm_policy_find(spec), nullptr) << spec;
  return error;
}

TEST(PolicyParams, BadInputNamesWhatIsWrong) {
  EXPECT_EQ(ResolveError("clock:bogus=1"),
            "policy clock has no parameter 'bogus' (it takes: "
            "insert_ref)");
  EXPECT_EQ(ResolveError("clock:insert_ref=x"), "policy clock: insert_ref=x is not a whole number");
  EXPECT_EQ(ResolveError("clock:insert_ref=1.0"),
            "policy clock: insert_ref=1.0 is not a whole number");
  EXPECT_EQ(ResolveError("clock:insert_ref=-"), "policy clock: insert_ref=- is not a whole number");
  EXPECT_EQ(ResolveError("clock:insert_ref=2"),
            "policy clock: insert_ref=2 is out of range [0, 1]");
  EXPECT_EQ(ResolveError("clock:insert_ref=-1"),
            "policy clock: insert_ref=-1 is out of range [0, 1]");
  EXPECT_EQ(ResolveError("s3-fifo:threshold=4"),
            "policy s3-fifo: threshold=4 is out of range [1, 3]");
  EXPECT_EQ(ResolveError("lirs:nonresident=99999999999999999999999"),
            "policy lirs: nonresident=99999999999999999999999 is out of range [0, 100]");
  EXPECT_EQ(ResolveError("lirs:nonresident=9223372036854775808"),
            "policy lirs: nonresident=9223372036854775808 is out of range [0, 100]");
  EXPECT_EQ(ResolveError("clock:insert_ref=1,insert_ref=0"),
            "policy clock: parameter insert_ref given twice");
  EXPECT_EQ(ResolveError("clock:=1"), "policy clock: expected key=value, got '=1'");
  EXPECT_EQ(ResolveError("clock:insert_ref=1,"), "policy clock: expected key=value, got ''");
  EXPECT_EQ(ResolveError("clock:"), "policy clock: expected key=value after ':'");
  EXPECT_EQ(ResolveError("fifo:insert_ref=1"), "policy fifo takes no parameters");
  EXPECT_EQ(ResolveError("nope:x=1"), "unknown policy 'nope'");
  EXPECT_EQ(ResolveError("nope"), "unknown policy 'nope'");
  EXPECT_EQ(ResolveError(nullptr), "no policy name");
  // No error buffer is fine.
  EXPECT_EQ(libshm_policy_resolve("clock:bogus=1", nullptr, 0), nullptr);
}

TEST(PolicyParams, OneCanonicalTablePerSetting) {
  const libshm_policy_ops* clock = libshm_policy_find("clock");
  const libshm_policy_ops* a = libshm_policy_find("clock:insert_ref=0");
  const libshm_policy_ops* b = libshm_policy_find("clock:insert_ref=00");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, clock);
  EXPECT_STREQ(a->name, "clock:insert_ref=0");
  EXPECT_STREQ(clock->name, "clock");
  EXPECT_EQ(libshm_policy_find(a->name), a);
  // Everything but the name and create is the base policy's.
  EXPECT_EQ(a->miss, clock->miss);
  EXPECT_EQ(a->reference, clock->reference);
  EXPECT_EQ(a->live, clock->live);
  EXPECT_NE(a->create, clock->create);
  char error[160] = "untouched";
  EXPECT_EQ(libshm_policy_resolve("clock", error, sizeof(error)), clock);
  EXPECT_STREQ(error, "");
  // The registry lists only base policies.
  std::vector<const libshm_policy_ops*> all(libshm_policy_list(nullptr, 0));
  all.resize(libshm_policy_list(all.data(), all.size()));
  for (const libshm_policy_ops* ops : all) EXPECT_EQ(strchr(ops->name, ':'), nullptr);
}

TEST(PolicyParams, RegisteredNamesCannotSpellParameters) {
  libshm_policy_ops custom = *libshm_policy_find("fifo");
  for (const char* name : {"my:fifo", "my,fifo", "my=fifo"}) {
    custom.name = name;
    EXPECT_EQ(libshm_policy_register(&custom), -EINVAL) << name;
  }
}

// A registered name of any length is found again (the parameter parser
// copies the base name into a 32-byte buffer: a plain name must not go
// through it).
TEST(PolicyParams, LongRegisteredNameIsFound) {
  static libshm_policy_ops custom = *libshm_policy_find("fifo");
  custom.name = "a-policy-whose-name-is-longer-than-32-bytes";
  ASSERT_EQ(libshm_policy_register(&custom), 0);
  EXPECT_EQ(libshm_policy_find(custom.name), &custom);
}

// multi1 (a LIRS trace) at 5% of its distinct pages, with every hit seen.
class PolicyParamsOnMulti1 : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    trace_ = new Trace;
    ASSERT_TRUE(LoadTrace(std::string(LIBSHM_LIRS_TRACE_DIR) + "/multi1.trace.gz", trace_, &error))
        << error;
  }
  static void TearDownTestSuite() { delete trace_; }

  static uint64_t Faults(const char* policy) {
    const libshm_policy_ops* ops = libshm_policy_find(policy);
    EXPECT_NE(ops, nullptr) << policy;
    if (ops == nullptr) return 0;
    SimOptions options;
    options.capacity = trace_->distinct() / 20;
    SimResult r;
    std::string error;
    EXPECT_TRUE(Simulate(*trace_, nullptr, *ops, options, nullptr, &r, &error)) << error;
    return r.faults;
  }

  static Trace* trace_;
};

Trace* PolicyParamsOnMulti1::trace_ = nullptr;

// The default spelled out is the plain name; every other value evicts
// differently.
TEST_F(PolicyParamsOnMulti1, EachParameterChangesMisses) {
  struct Case {
    const char* plain;
    const char* spelled_default;
    std::vector<const char*> others;
  } cases[] = {
      {"clock", "clock:insert_ref=1", {"clock:insert_ref=0"}},
      {"s3-fifo", "s3-fifo:threshold=1", {"s3-fifo:threshold=2", "s3-fifo:threshold=3"}},
      {"lirs", "lirs:nonresident=3", {"lirs:nonresident=0", "lirs:nonresident=1"}},
  };
  for (const Case& c : cases) {
    uint64_t plain = Faults(c.plain);
    EXPECT_EQ(Faults(c.spelled_default), plain) << c.spelled_default;
    for (const char* other : c.others) EXPECT_NE(Faults(other), plain) << other;
  }
}

// Ten pages fill memory (capacity 10: S-FIFO's share is one page), page 1,
// the oldest in S, was hit once. Evicting from S moves 1 to main when one
// hit is enough (threshold=1) and the victim is 2; with threshold=2 page 1
// is the victim, unless it was hit twice.
TEST(PolicyParams, S3FifoThresholdCountsHitsInSmall) {
  struct Case {
    const char* policy;
    int hits_on_1;
    uint64_t victim;
  } cases[] = {{"s3-fifo", 1, 2},
               {"s3-fifo:threshold=2", 1, 1},
               {"s3-fifo:threshold=2", 2, 2},
               {"s3-fifo:threshold=3", 2, 1},
               {"s3-fifo:threshold=3", 3, 2}};
  for (const Case& c : cases) {
    const libshm_policy_ops* ops = libshm_policy_find(c.policy);
    ASSERT_NE(ops, nullptr);
    void* self = ops->create(10, 1);
    for (uint64_t page = 1; page <= 10; page++) ops->miss(self, page, 0);
    for (int i = 0; i < c.hits_on_1; i++) ops->reference(self, 1, 0);
    uint64_t victim = 0;
    EXPECT_EQ(ops->choose_victims(self, &victim, 1), 1u);
    EXPECT_EQ(victim, c.victim) << c.policy << " with " << c.hits_on_1 << " hits on page 1";
    ops->destroy(self);
  }
}

// LIRS with 100 pages: 99 LIR, one resident HIR. Page 1000 faults in as HIR,
// is evicted by page 1001 and becomes a non-resident entry of the stack; when
// it faults again while still remembered, it turns LIR. With nonresident=0
// it is forgotten at eviction and comes back as plain HIR: it is then the
// next victim, where the remembered page is not.
TEST(PolicyParams, LirsNonresidentRemembersEvictedPages) {
  for (const char* policy : {"lirs", "lirs:nonresident=1", "lirs:nonresident=0"}) {
    const libshm_policy_ops* ops = libshm_policy_find(policy);
    ASSERT_NE(ops, nullptr);
    void* self = ops->create(100, 1);
    uint64_t victim = 0;
    for (uint64_t page = 1; page <= 100; page++) ops->miss(self, page, 0);
    for (uint64_t page : {uint64_t{1000}, uint64_t{1001}, uint64_t{1000}}) {
      ASSERT_EQ(ops->choose_victims(self, &victim, 1), 1u);
      ops->miss(self, page, 0);
    }
    ASSERT_EQ(ops->choose_victims(self, &victim, 1), 1u);
    bool forgets = strcmp(policy, "lirs:nonresident=0") == 0;
    if (forgets) {
      EXPECT_EQ(victim, 1000u) << policy << ": the re-faulted page should be HIR again";
    } else {
      EXPECT_NE(victim, 1000u) << policy << ": the re-faulted page should have become LIR";
    }
    ops->destroy(self);
  }
}

}  // namespace
}  // namespace libshm::internal
