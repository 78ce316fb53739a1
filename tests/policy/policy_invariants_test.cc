// SPDX-License-Identifier: MIT
// Invariants every registered policy must keep, driven by random operation
// sequences against a model of the resident set: victims are resident and
// distinct, a policy never holds more pages than it was given (draining
// names exactly the resident pages), remove() forgets pages, unknown keys
// are ignored, handing a victim back with miss() works, and the same seed
// gives the same victims.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "libshm/policy.h"

namespace libshm::internal {
namespace {

std::vector<const libshm_policy_ops*> AllPolicies() {
  std::vector<const libshm_policy_ops*> all(libshm_policy_list(nullptr, 0));
  all.resize(libshm_policy_list(all.data(), all.size()));
  return all;
}

// Every policy, and the non-default setting of every parameter (at both
// ends of its range), which must keep the same invariants.
std::vector<std::string> PolicyNames() {
  std::vector<std::string> names;
  for (const libshm_policy_ops* ops : AllPolicies()) names.push_back(ops->name);
  for (const char* setting : {"clock:insert_ref=0", "s3-fifo:threshold=2", "s3-fifo:threshold=3",
                              "lirs:nonresident=0", "lirs:nonresident=100"}) {
    names.push_back(setting);
  }
  return names;
}

// Sparse 64-bit keys, as the runtime's (region, page) keys are, including
// the extremes an open-addressing table might mistake for "empty".
uint64_t KeyOf(uint64_t i) {
  if (i == 0) return 0;
  if (i == 1) return UINT64_MAX;
  return (i * 0x9E3779B97F4A7C15ull) ^ (i << 40);
}

class Harness {
 public:
  Harness(const libshm_policy_ops* ops, size_t capacity, uint64_t seed)
      : ops_(ops), capacity_(capacity), self_(ops->create(capacity, seed)) {}
  ~Harness() {
    if (self_ != nullptr) ops_->destroy(self_);
  }
  bool ok() const { return self_ != nullptr; }

  void Miss(uint64_t key, bool write) {
    if (ops_->next_use != nullptr) ops_->next_use(self_, key, ++clock_ + key % 977);
    ops_->miss(self_, key, write ? 1 : 0);
    resident_.insert(key);
  }

  void Reference(uint64_t key, bool write) {
    if (ops_->next_use != nullptr) ops_->next_use(self_, key, ++clock_ + key % 977);
    if (ops_->reference != nullptr) ops_->reference(self_, key, write ? 1 : 0);
  }

  // Asks for up to `max` victims and checks them; returns them.
  std::vector<uint64_t> Evict(size_t max) {
    std::vector<uint64_t> out(max + 1, 0xdeadbeef);
    size_t n = ops_->choose_victims(self_, out.data(), max);
    EXPECT_LE(n, max) << ops_->name;
    EXPECT_EQ(out[max], 0xdeadbeefu) << ops_->name << " wrote past max";
    if (!resident_.empty()) {
      EXPECT_GE(n, 1u) << ops_->name << " named no victim with pages resident";
    } else {
      EXPECT_EQ(n, 0u) << ops_->name;
    }
    out.resize(std::min(n, max));
    for (uint64_t v : out) {
      EXPECT_EQ(resident_.count(v), 1u) << ops_->name << " named non-resident page " << v;
      resident_.erase(v);
    }
    return out;
  }

  void Remove(uint64_t key) {
    ops_->remove(self_, key);
    resident_.erase(key);
  }

  void SetDirty(uint64_t key, bool dirty) {
    if (ops_->set_dirty != nullptr) ops_->set_dirty(self_, key, dirty ? 1 : 0);
  }

  const std::set<uint64_t>& resident() const { return resident_; }
  size_t capacity() const { return capacity_; }

 private:
  const libshm_policy_ops* ops_;
  size_t capacity_;
  void* self_;
  std::set<uint64_t> resident_;
  uint64_t clock_ = 0;
};

// Runs a random mix of operations; returns every victim in order.
std::vector<uint64_t> RandomWorkout(Harness& h, uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> victims;
  auto pick_resident = [&]() {
    auto it = h.resident().begin();
    std::advance(it, static_cast<long>(rng() % h.resident().size()));
    return *it;
  };
  const uint64_t universe = 3 * h.capacity() + 5;
  for (int step = 0; step < steps; step++) {
    unsigned op = static_cast<unsigned>(rng() % 100);
    if (op < 55) {
      uint64_t key = KeyOf(rng() % universe);
      if (h.resident().count(key) != 0) {
        h.Reference(key, rng() % 4 == 0);
        continue;
      }
      if (h.resident().size() >= h.capacity()) {
        for (uint64_t v : h.Evict(1 + rng() % 3)) victims.push_back(v);
      }
      h.Miss(key, rng() % 3 == 0);
    } else if (op < 75 && !h.resident().empty()) {
      h.Reference(pick_resident(), rng() % 2 == 0);
    } else if (op < 82 && !h.resident().empty()) {
      h.Remove(pick_resident());
    } else if (op < 85) {
      h.Remove(KeyOf(universe + rng() % 1000));  // never seen: ignored
    } else if (op < 90 && !h.resident().empty()) {
      h.SetDirty(pick_resident(), rng() % 2 == 0);
    } else if (op < 95 && !h.resident().empty()) {
      // The runtime hands back a victim it could not evict.
      std::vector<uint64_t> v = h.Evict(1);
      for (uint64_t key : v) h.Miss(key, false);
    } else if (!h.resident().empty()) {
      for (uint64_t v : h.Evict(1 + rng() % 8)) victims.push_back(v);
    }
    EXPECT_LE(h.resident().size(), h.capacity());
  }
  return victims;
}

class PolicyTest : public testing::TestWithParam<std::string> {
 protected:
  const libshm_policy_ops* ops() const { return libshm_policy_find(GetParam().c_str()); }
};

TEST_P(PolicyTest, TableIsWellFormed) {
  const libshm_policy_ops* p = ops();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->abi_version, static_cast<uint32_t>(LIBSHM_POLICY_ABI_VERSION));
  EXPECT_STREQ(p->name, GetParam().c_str());
  ASSERT_NE(p->description, nullptr);
  EXPECT_GT(std::string(p->description).size(), 10u);
  EXPECT_NE(p->create, nullptr);
  EXPECT_NE(p->destroy, nullptr);
  EXPECT_NE(p->miss, nullptr);
  EXPECT_NE(p->choose_victims, nullptr);
  EXPECT_NE(p->remove, nullptr);
  EXPECT_NE(p->access_info & LIBSHM_ACCESS_MISSES, 0u) << "every policy sees faults";
  // A policy that consumes hits must have a hook to receive them, and one
  // that receives none must not claim to use them.
  const uint32_t hit_bits =
      LIBSHM_ACCESS_WRITE_FAULTS | LIBSHM_ACCESS_SAMPLED | LIBSHM_ACCESS_EVERY_HIT;
  if (p->reference == nullptr && p->next_use == nullptr) {
    EXPECT_EQ(p->access_info & hit_bits, 0u);
  }
  if ((p->access_info & hit_bits) != 0 && p->next_use == nullptr) {
    EXPECT_NE(p->reference, nullptr);
  }
  // Needing the future rules out running live, and is the only use of next_use.
  EXPECT_EQ(p->next_use != nullptr, (p->access_info & LIBSHM_ACCESS_FUTURE) != 0);
  if ((p->access_info & LIBSHM_ACCESS_FUTURE) != 0) {
    EXPECT_EQ(p->live, 0);
  }
}

TEST_P(PolicyTest, FillAndDrainNamesExactlyTheResidentPages) {
  for (size_t capacity : {1u, 2u, 7u, 64u, 1000u}) {
    Harness h(ops(), capacity, 1);
    ASSERT_TRUE(h.ok());
    for (uint64_t i = 0; i < capacity; i++) h.Miss(KeyOf(i), i % 2 == 0);
    std::set<uint64_t> expected = h.resident();
    std::set<uint64_t> drained;
    for (;;) {
      std::vector<uint64_t> v = h.Evict(3);
      if (v.empty()) break;
      for (uint64_t key : v) EXPECT_TRUE(drained.insert(key).second) << "named twice: " << key;
    }
    EXPECT_EQ(drained, expected) << "capacity " << capacity;
  }
}

TEST_P(PolicyTest, RandomOperationsKeepTheInvariants) {
  for (size_t capacity : {1u, 3u, 16u, 200u}) {
    Harness h(ops(), capacity, 7);
    ASSERT_TRUE(h.ok());
    RandomWorkout(h, 1000 + capacity, 20000);
    // Whatever happened, draining names exactly what the model holds.
    std::set<uint64_t> expected = h.resident();
    std::set<uint64_t> drained;
    for (std::vector<uint64_t> v = h.Evict(5); !v.empty(); v = h.Evict(5)) {
      drained.insert(v.begin(), v.end());
    }
    EXPECT_EQ(drained, expected) << "capacity " << capacity;
  }
}

TEST_P(PolicyTest, RemovedPagesAreNeverVictims) {
  Harness h(ops(), 50, 3);
  ASSERT_TRUE(h.ok());
  for (uint64_t i = 0; i < 50; i++) h.Miss(KeyOf(i), false);
  for (uint64_t i = 0; i < 50; i += 2) h.Remove(KeyOf(i));
  h.Remove(KeyOf(12345));  // unknown: ignored
  std::set<uint64_t> drained;
  for (std::vector<uint64_t> v = h.Evict(4); !v.empty(); v = h.Evict(4)) {
    drained.insert(v.begin(), v.end());
  }
  EXPECT_EQ(drained.size(), 25u);
  for (uint64_t i = 0; i < 50; i += 2) EXPECT_EQ(drained.count(KeyOf(i)), 0u) << i;
}

TEST_P(PolicyTest, SameSeedSameVictims) {
  std::vector<uint64_t> first, second;
  {
    Harness h(ops(), 40, 99);
    first = RandomWorkout(h, 5, 5000);
  }
  {
    Harness h(ops(), 40, 99);
    second = RandomWorkout(h, 5, 5000);
  }
  EXPECT_FALSE(first.empty());
  EXPECT_EQ(first, second);
}

INSTANTIATE_TEST_SUITE_P(AllPolicies, PolicyTest, testing::ValuesIn(PolicyNames()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) c = isalnum(c) ? c : '_';
                           return name;
                         });

TEST(PolicyRegistry, NamesAreUniqueAndFindable) {
  std::set<std::string> names;
  for (const libshm_policy_ops* ops : AllPolicies()) {
    EXPECT_TRUE(names.insert(ops->name).second) << ops->name;
    EXPECT_EQ(libshm_policy_find(ops->name), ops);
  }
  for (const char* required : {"fifo", "random", "clock", "lru", "opt", "2q", "arc", "car", "lirs",
                               "clock-pro", "s3-fifo", "sieve", "linux"}) {
    EXPECT_NE(libshm_policy_find(required), nullptr) << required;
  }
  EXPECT_EQ(libshm_policy_find("no-such-policy"), nullptr);
  EXPECT_EQ(libshm_policy_find(nullptr), nullptr);
  EXPECT_EQ(libshm_policy_find("opt")->live, 0);
}

TEST(PolicyRegistry, RegisterChecksItsInput) {
  libshm_policy_ops custom = *libshm_policy_find("fifo");
  custom.name = "fifo";
  EXPECT_EQ(libshm_policy_register(&custom), -EEXIST);
  custom.name = "custom-fifo";
  custom.miss = nullptr;
  EXPECT_EQ(libshm_policy_register(&custom), -EINVAL);
  custom.miss = libshm_policy_find("fifo")->miss;
  custom.abi_version = 99;
  EXPECT_EQ(libshm_policy_register(&custom), -EINVAL);
  custom.abi_version = LIBSHM_POLICY_ABI_VERSION;
  EXPECT_EQ(libshm_policy_register(&custom), 0);
  EXPECT_EQ(libshm_policy_find("custom-fifo"), &custom);
  EXPECT_EQ(libshm_policy_register(nullptr), -EINVAL);
}

}  // namespace
}  // namespace libshm::internal
