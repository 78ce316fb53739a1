// SPDX-License-Identifier: MIT
// SessionEnv (preload/session_env.h): which variables an execve that dropped
// the session gets back.
#include "session_env.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace libshm::internal {
namespace {

std::vector<std::string> Missing(std::vector<const char*> envp) {
  envp.push_back(nullptr);
  const char* out[kMaxSessionVars];
  size_t n = MissingSessionEnv(const_cast<char* const*>(envp.data()), out);
  return std::vector<std::string>(out, out + n);
}

void Save(std::vector<const char*> envp) {
  envp.push_back(nullptr);
  SaveSessionEnv(const_cast<char* const*>(envp.data()));
}

TEST(SessionEnv, OutsideASessionNothingIsAdded) {
  Save({"PATH=/bin", "LD_PRELOAD=/x/libshm_preload.so", "LIBSHM_LIMIT=4M"});
  EXPECT_TRUE(Missing({"TZ=UTC"}).empty());
}

// An empty LIBSHM_SESSION names no session (the runtime starts a helper of
// its own): such a process is not a member, and its execve passes the
// environment it is given as it is.
TEST(SessionEnv, AnEmptySessionIsNoSession) {
  Save({"LD_PRELOAD=/x/libshm_preload.so", "LIBSHM_LIMIT=4M", "LIBSHM_SESSION="});
  EXPECT_TRUE(Missing({"TZ=UTC"}).empty());
  const char* out[kMaxSessionVars];
  EXPECT_EQ(MissingSessionEnv(nullptr, out), 0u);
}

TEST(SessionEnv, ScrubbedEnvironmentGetsTheSessionBack) {
  Save({"PATH=/bin", "LD_PRELOAD=/x/libshm_preload.so", "LIBSHM_LIMIT=4M",
        "LIBSHM_SESSION=@libshm-run-1-ab", "LIBSHMX=no", "HOME=/root"});
  std::vector<std::string> want = {"LD_PRELOAD=/x/libshm_preload.so", "LIBSHM_LIMIT=4M",
                                   "LIBSHM_SESSION=@libshm-run-1-ab"};
  EXPECT_EQ(Missing({"TZ=UTC", "NGINX=6;7;"}), want);
  EXPECT_EQ(Missing({}), want);
  const char* out[kMaxSessionVars];
  EXPECT_EQ(MissingSessionEnv(nullptr, out), 3u);  // execve accepts a null envp
}

TEST(SessionEnv, WhatTheProgramSetsWins) {
  Save({"LD_PRELOAD=/x/libshm_preload.so", "LIBSHM_LIMIT=4M", "LIBSHM_SESSION=@s"});
  // Its own limit, no preload: only the rest comes back.
  EXPECT_EQ(Missing({"LIBSHM_LIMIT=8M"}),
            (std::vector<std::string>{"LD_PRELOAD=/x/libshm_preload.so", "LIBSHM_SESSION=@s"}));
  // A session of its own choosing, or the same one: nothing is touched.
  EXPECT_TRUE(Missing({"LIBSHM_SESSION=@other"}).empty());
  EXPECT_TRUE(Missing({"LIBSHM_SESSION=@s", "TZ=UTC"}).empty());
}

TEST(SessionEnv, NoSessionKeptWithoutRoomForIt) {
  std::string huge = "LD_PRELOAD=" + std::string(20000, 'x');
  Save({huge.c_str(), "LIBSHM_SESSION=@s"});  // no room for the preload: the session only
  EXPECT_EQ(Missing({}), std::vector<std::string>{"LIBSHM_SESSION=@s"});
  std::string big = "LIBSHM_SWAP_DIR=" + std::string(16350, 'x');
  Save({big.c_str(), "LIBSHM_SESSION=@s"});  // no room left for the session: nothing
  EXPECT_TRUE(Missing({}).empty());
}

TEST(SessionEnv, CopiesOutliveTheOriginalStrings) {
  std::string preload = "LD_PRELOAD=/x/libshm_preload.so", session = "LIBSHM_SESSION=@s";
  Save({preload.c_str(), session.c_str()});
  preload.assign(preload.size(), 'X');  // a process title written over them
  session.assign(session.size(), 'X');
  EXPECT_EQ(Missing({}),
            (std::vector<std::string>{"LD_PRELOAD=/x/libshm_preload.so", "LIBSHM_SESSION=@s"}));
}

}  // namespace
}  // namespace libshm::internal
