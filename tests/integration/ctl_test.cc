// SPDX-License-Identifier: MIT
// libshm_ctl and libshm_stats: names, types and error codes.
#include <gtest/gtest.h>

#include <string>

#include "libshm/libshm.hpp"
#include "test_util.h"

namespace libshm::test {
namespace {

class Ctl : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("LIBSHM_LIMIT", "8M", 1);
    region_ = Region(1 << 20);
    ASSERT_TRUE(region_) << region_.error();
  }
  Region region_;
};

TEST_F(Ctl, ReadsStringsAndNumbers) {
  char buf[64];
  size_t len = sizeof(buf);
  ASSERT_EQ(libshm_ctl("version", buf, &len, nullptr, 0), 0);
  EXPECT_STREQ(buf, libshm_version());
  EXPECT_EQ(len, strlen(buf) + 1);
  len = sizeof(buf);
  ASSERT_EQ(libshm_ctl("kernel.mode", buf, &len, nullptr, 0), 0);
  EXPECT_TRUE(strcmp(buf, "full") == 0 || strcmp(buf, "restricted") == 0) << buf;
  uint64_t v = 0;
  len = sizeof(v);
  ASSERT_EQ(libshm_ctl("opt.limit", &v, &len, nullptr, 0), 0);
  EXPECT_EQ(v, 8u << 20);
  ASSERT_EQ(libshm_ctl("stats.regions", &v, &len, nullptr, 0), 0);
  EXPECT_EQ(v, 1u);
  ASSERT_EQ(libshm_ctl("stats.limit_bytes", &v, &len, nullptr, 0), 0);
  EXPECT_EQ(v, 8u << 20);
}

TEST_F(Ctl, ErrorsFollowMallctl) {
  uint64_t v = 0;
  size_t len = sizeof(v);
  EXPECT_EQ(libshm_ctl("no.such.name", &v, &len, nullptr, 0), -ENOENT);
  EXPECT_EQ(libshm_ctl("stats.nope", &v, &len, nullptr, 0), -ENOENT);
  EXPECT_EQ(libshm_ctl("stats.faults", &v, &len, &v, sizeof(v)), -EPERM);
  EXPECT_EQ(libshm_ctl("evict.run", &v, &len, nullptr, 0), -EPERM);
  size_t short_len = 4;
  EXPECT_EQ(libshm_ctl("stats.faults", &v, &short_len, nullptr, 0), -EINVAL);
  EXPECT_EQ(libshm_ctl("stats.faults", &v, nullptr, nullptr, 0), -EINVAL);
  EXPECT_EQ(libshm_ctl(nullptr, &v, &len, nullptr, 0), -EINVAL);
  char tiny[2];
  len = sizeof(tiny);
  EXPECT_EQ(libshm_ctl("version", tiny, &len, nullptr, 0), -EINVAL);
}

TEST_F(Ctl, PolicyCanBeSwitchedLive) {
  char name[32];
  size_t len = sizeof(name);
  ASSERT_EQ(libshm_ctl("evict.policy", name, &len, "fifo", 5), 0);
  EXPECT_STREQ(name, "fifo");
  EXPECT_EQ(libshm_ctl("evict.policy", nullptr, nullptr, "nope", 5), -ENOENT);
  len = sizeof(name);
  ASSERT_EQ(libshm_ctl("evict.policy", name, &len, nullptr, 0), 0);
  EXPECT_STREQ(name, "fifo");
  // Still evicts correctly under the new policy.
  char* p = region_.as<char>();
  for (size_t i = 0; i < region_.size(); i += kPage) p[i] = 3;
  EvictAll();
  EXPECT_EQ(Stat("resident_bytes"), 0u);
  for (size_t i = 0; i < region_.size(); i += kPage) ASSERT_EQ(p[i], 3);
}

// A policy with parameters (docs/policies.md) switches in the same way and
// reads back under its canonical name; a bad parameter is refused.
TEST_F(Ctl, PolicyWithParametersCanBeSwitchedLive) {
  char name[32];
  size_t len = sizeof(name);
  const char spec[] = "s3-fifo:threshold=02";
  ASSERT_EQ(libshm_ctl("evict.policy", name, &len, spec, sizeof(spec)), 0);
  EXPECT_STREQ(name, "s3-fifo:threshold=2");
  const char bad[] = "s3-fifo:threshold=9";
  EXPECT_EQ(libshm_ctl("evict.policy", nullptr, nullptr, bad, sizeof(bad)), -ENOENT);
  len = sizeof(name);
  ASSERT_EQ(libshm_ctl("evict.policy", name, &len, nullptr, 0), 0);
  EXPECT_STREQ(name, "s3-fifo:threshold=2");
  char* p = region_.as<char>();
  for (size_t i = 0; i < region_.size(); i += kPage) p[i] = 4;
  EvictAll();
  EXPECT_EQ(Stat("resident_bytes"), 0u);
  for (size_t i = 0; i < region_.size(); i += kPage) ASSERT_EQ(p[i], 4);
}

TEST_F(Ctl, StatsStructAndPrint) {
  libshm_stats_t s;
  s.size = 8;
  EXPECT_EQ(libshm_stats(&s), -EINVAL);
  // A caller with an older, shorter struct gets the fields it has, no more.
  memset(&s, 0xee, sizeof(s));
  s.size = offsetof(libshm_stats_t, limit_bytes) + sizeof(uint64_t);
  ASSERT_EQ(libshm_stats(&s), 0);
  EXPECT_EQ(s.limit_bytes, 8u << 20);
  EXPECT_EQ(s.resident_bytes, 0xeeeeeeeeeeeeeeeeull) << "wrote past the caller's size";
  EXPECT_EQ(libshm_stats(nullptr), -EINVAL);
  s.size = sizeof(s);
  ASSERT_EQ(libshm_stats(&s), 0);
  EXPECT_EQ(s.version, 1u);
  EXPECT_STREQ(s.policy, "clock");
  EXPECT_EQ(s.regions, 1u);
  std::string out;
  ASSERT_EQ(libshm_stats_print(
                [](void* o, const char* t) { static_cast<std::string*>(o)->append(t); }, &out, "J"),
            0);
  EXPECT_EQ(out.front(), '{');
  EXPECT_NE(out.find("\"resident_bytes\""), std::string::npos);
  std::string brief;
  ASSERT_EQ(
      libshm_stats_print([](void* o, const char* t) { static_cast<std::string*>(o)->append(t); },
                         &brief, "b"),
      0);
  EXPECT_EQ(brief.rfind("libshm stats (policy clock", 0), 0u) << brief;
  EXPECT_NE(brief.find("  swap_outs "), std::string::npos) << brief;
  EXPECT_NE(brief.find("fault service time histogram"), std::string::npos) << brief;
  EXPECT_EQ(brief.find("  regions "), std::string::npos) << "a full table: " << brief;
}

TEST_F(Ctl, MapRejectsBadArguments) {
  void* p = nullptr;
  EXPECT_EQ(libshm_map(nullptr, 0, PROT_READ, 0, &p), -EINVAL);
  EXPECT_EQ(libshm_map(nullptr, kPage, PROT_READ, MAP_GROWSDOWN, &p), -EINVAL);
  EXPECT_EQ(libshm_map(nullptr, kPage, PROT_READ, 0, nullptr), -EINVAL);
  EXPECT_EQ(libshm_map(nullptr, SIZE_MAX - 10, PROT_READ, 0, &p), -ENOMEM);
  // MAP_FIXED_NOREPLACE over an existing mapping: EEXIST, as mmap(2).
  EXPECT_EQ(libshm_map(region_.data(), kPage, PROT_READ, MAP_FIXED_NOREPLACE, &p), -EEXIST);
  EXPECT_EQ(Stat("regions"), 1u);
  EXPECT_EQ(libshm_is_managed(region_.data()), 1);
  EXPECT_EQ(libshm_is_managed(&p), 0);
  errno = 1234;
  EXPECT_EQ(libshm_map(nullptr, 0, PROT_READ, 0, &p), -EINVAL);
  EXPECT_EQ(errno, 1234) << "the C API must not touch errno";
}

TEST_F(Ctl, FixedMapAndOddLength) {
  void* hint = static_cast<char*>(region_.data());
  void* p = nullptr;
  ASSERT_EQ(libshm_map(hint, 3 * kPage + 5, PROT_READ | PROT_WRITE, MAP_FIXED, &p), 0);
  EXPECT_EQ(p, hint);
  static_cast<char*>(p)[3 * kPage + 4] = 9;  // the rounded-up tail is usable
  EvictAll();
  EXPECT_EQ(static_cast<char*>(p)[3 * kPage + 4], 9);
  EXPECT_EQ(static_cast<char*>(p)[0], 0);
}

}  // namespace
}  // namespace libshm::test
