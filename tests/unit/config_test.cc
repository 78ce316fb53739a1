// SPDX-License-Identifier: MIT
#include "config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

namespace libshm::internal {
namespace {

TEST(ParseSize, AcceptsSuffixes) {
  uint64_t v;
  ASSERT_TRUE(ParseSize("4096", &v));
  EXPECT_EQ(v, 4096u);
  ASSERT_TRUE(ParseSize("256M", &v));
  EXPECT_EQ(v, 256ull << 20);
  ASSERT_TRUE(ParseSize("2GiB", &v));
  EXPECT_EQ(v, 2ull << 30);
  ASSERT_TRUE(ParseSize("1kb", &v));
  EXPECT_EQ(v, 1024u);
  ASSERT_TRUE(ParseSize("3T", &v));
  EXPECT_EQ(v, 3ull << 40);
}

TEST(ParseSize, RejectsGarbageAndOverflow) {
  uint64_t v = 7;
  for (const char* bad :
       {"", "M", "12Q", "1.5G", "-4", "99999999999999999999", "16777216T", "4 M", "4MM"}) {
    EXPECT_FALSE(ParseSize(bad, &v)) << bad;
  }
  EXPECT_EQ(v, 7u);
}

std::vector<char*> Env(std::vector<std::string>& storage) {
  std::vector<char*> env;
  for (auto& s : storage) env.push_back(s.data());
  env.push_back(nullptr);
  return env;
}

TEST(ParseOptions, DefaultsWithoutEnvironment) {
  Options o;
  ParseOptions(&o, nullptr, false);
  EXPECT_EQ(o.limit, 256ull << 20);
  EXPECT_STREQ(o.policy, "clock");
  EXPECT_STREQ(o.swap_dir, "/var/tmp");
  EXPECT_FALSE(o.strict);
  EXPECT_EQ(o.bad_values, 0);
}

TEST(ParseOptions, ReadsValues) {
  std::vector<std::string> s = {"LIBSHM_LIMIT=64M",  "LIBSHM_POLICY=fifo",
                                "LIBSHM_STRICT=yes", "LIBSHM_EVICT_BATCH=128",
                                "PATH=/bin",         "LIBSHM_SWAP_DIR=/tmp"};
  auto env = Env(s);
  Options o;
  ParseOptions(&o, env.data(), false);
  EXPECT_EQ(o.limit, 64ull << 20);
  EXPECT_STREQ(o.policy, "fifo");
  EXPECT_TRUE(o.strict);
  EXPECT_EQ(o.evict_batch, 128u);
  EXPECT_STREQ(o.swap_dir, "/tmp");
  EXPECT_EQ(o.bad_values, 0);
}

TEST(ParseOptions, BadValuesKeepDefaultsAndAreCounted) {
  std::vector<std::string> s = {"LIBSHM_LIMIT=12Q", "LIBSHM_STRICT=maybe", "LIBSHM_EVICT_BATCH=0",
                                "LIBSHM_VERBOSE=9", "LIBSHM_LIMIT_X=1"};
  auto env = Env(s);
  Options o;
  ParseOptions(&o, env.data(), false);
  EXPECT_EQ(o.limit, 256ull << 20);
  EXPECT_FALSE(o.strict);
  EXPECT_EQ(o.evict_batch, 64u);
  EXPECT_EQ(o.verbose, 1u);
  EXPECT_EQ(o.bad_values, 4);
}

TEST(ParseOptions, BadValuePrintsOneLineNamingVariableAndForm) {
  std::vector<std::string> s = {"LIBSHM_LIMIT=lots"};
  auto env = Env(s);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  Options o;
  ParseOptions(&o, env.data(), true);
  dup2(saved, STDERR_FILENO);
  close(fds[1]);
  char buf[1024] = {};
  ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  ASSERT_GT(n, 0);
  std::string out(buf, static_cast<size_t>(n));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(out.rfind("libshm: ", 0), 0u) << out;
  EXPECT_NE(out.find("LIBSHM_LIMIT"), std::string::npos) << out;
  EXPECT_NE(out.find("256M"), std::string::npos) << out;  // the accepted form
}

TEST(ParseOptions, UnknownNamesWarnButTestHooksDoNot) {
  std::vector<std::string> s = {"LIBSHM_TEST_PAUSE_BEFORE_PUNCH_US=1000", "LIBSHM_LIMTI=4M"};
  auto env = Env(s);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  Options o;
  ParseOptions(&o, env.data(), true);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fds[1]);
  char buf[1024] = {};
  ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  ASSERT_GT(n, 0);
  std::string out(buf, static_cast<size_t>(n));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("LIBSHM_LIMTI is not a libshm option"), std::string::npos) << out;
  EXPECT_EQ(out.find("LIBSHM_TEST_"), std::string::npos) << out;
  EXPECT_EQ(o.bad_values, 0);
}

// What ParseOptions prints on stderr.
std::string ParseAndCapture(std::vector<std::string> vars, Options* o, bool joined = false) {
  auto env = Env(vars);
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  ParseOptions(o, env.data(), true, joined);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fds[1]);
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return out;
}

TEST(ParseOptions, ValueOutOfRangeNamesTheBoundAndTheDefault) {
  Options o;
  std::string out = ParseAndCapture({"LIBSHM_LIMIT=512K"}, &o);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(out.rfind("libshm: LIBSHM_LIMIT='512K' is below the minimum 1M", 0), 0u) << out;
  EXPECT_NE(out.find("set it to at least 1M"), std::string::npos) << out;
  EXPECT_NE(out.find("using the default 256M"), std::string::npos) << out;
  EXPECT_EQ(o.limit, 256ull << 20);
  out = ParseAndCapture({"LIBSHM_EVICT_BATCH=5000"}, &o);
  EXPECT_NE(out.find("above the maximum 4096"), std::string::npos) << out;
  EXPECT_EQ(o.bad_values, 1);
}

TEST(ParseOptions, UnknownPolicyNamesTheLiveOnesAndKeepsTheDefault) {
  Options o;
  std::string out = ParseAndCapture({"LIBSHM_POLICY=nope"}, &o);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(out.rfind("libshm: LIBSHM_POLICY='nope' is not a live policy", 0), 0u) << out;
  for (const char* name : {"clock", "fifo", "lru"}) {
    EXPECT_NE(out.find(name), std::string::npos) << name << ": " << out;
  }
  EXPECT_EQ(out.find("opt"), std::string::npos) << "OPT cannot run live: " << out;
  EXPECT_STREQ(o.policy, "clock");
  EXPECT_EQ(o.bad_values, 1);
  ParseAndCapture({"LIBSHM_POLICY=fifo"}, &o);
  EXPECT_STREQ(o.policy, "fifo");
  EXPECT_EQ(o.bad_values, 0);
}

// A process that joins a session (shmrun's tree) cannot change what the
// helper applies, and shmrun already reported it: one line per session, not
// one per process (issue 14).
TEST(ParseOptions, AJoinedProcessWarnsOnlyAboutItsOwnOptions) {
  Options o;
  std::string out = ParseAndCapture({"LIBSHM_LIMIT=1K", "LIBSHM_POLICY=nope", "LIBSHM_LIMTI=4M",
                                     "LIBSHM_SWAP_MAX=x", "LIBSHM_MIN_SIZE=lots"},
                                    &o, /*joined=*/true);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("LIBSHM_MIN_SIZE"), std::string::npos) << out;
  EXPECT_EQ(o.limit, 256ull << 20);
  EXPECT_STREQ(o.policy, "clock");
  // Nor are they its bad values: the session runs with the defaults the
  // launcher announced, so LIBSHM_STRICT=1 must not fail this process's
  // mmaps for them (silently: it says nothing about them).
  EXPECT_EQ(o.bad_values, 1);
  out = ParseAndCapture({"LIBSHM_LIMIT=1K", "LIBSHM_POLICY=nope"}, &o, /*joined=*/false);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  EXPECT_EQ(o.bad_values, 2);
}

TEST(OptionTable, EveryOptionHasNameFormAndDescription) {
  size_t n;
  const OptionInfo* t = OptionTable(&n);
  ASSERT_GT(n, 5u);
  for (size_t i = 0; i < n; i++) {
    EXPECT_EQ(std::string(t[i].env).rfind("LIBSHM_", 0), 0u);
    EXPECT_GT(strlen(t[i].form), 0u);
    EXPECT_GT(strlen(t[i].description), 0u);
  }
}

TEST(OptionTable, EveryOptionIsDocumentedInTheReadmeAndChangelog) {
  for (const char* doc : {LIBSHM_README_PATH, LIBSHM_CHANGELOG_PATH}) {
    FILE* f = fopen(doc, "r");
    ASSERT_NE(f, nullptr) << doc;
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
    fclose(f);
    size_t count;
    const OptionInfo* t = OptionTable(&count);
    for (size_t i = 0; i < count; i++) {
      EXPECT_NE(text.find(std::string("`") + t[i].env + "`"), std::string::npos)
          << t[i].env << " is not in " << doc;
    }
  }
}

}  // namespace
}  // namespace libshm::internal
