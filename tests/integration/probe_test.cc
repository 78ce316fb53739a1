// SPDX-License-Identifier: MIT
// `shmd --probe`: the feature table and the mode, as root and as nobody.
#include <gtest/gtest.h>
#include <stdio.h>

#include <string>

namespace {

std::string RunCommand(const std::string& cmd, int* status) {
  FILE* f = popen(cmd.c_str(), "r");
  std::string out;
  if (f == nullptr) return out;
  char buf[256];
  while (fgets(buf, sizeof(buf), f) != nullptr) out += buf;
  *status = pclose(f);
  return out;
}

TEST(Probe, RootRunsInFullMode) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  int status;
  std::string out = RunCommand(std::string(LIBSHM_SHMD_PATH) + " --probe", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("UFFD_FEATURE_EVENT_FORK              yes"), std::string::npos) << out;
  EXPECT_NE(out.find("mode: full"), std::string::npos) << out;
}

TEST(Probe, NobodyRunsRestrictedAndIsToldTheCost) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become nobody";
  int status;
  std::string out = RunCommand("setpriv --reuid=65534 --regid=65534 --clear-groups " +
                                   std::string(LIBSHM_SHMD_PATH) + " --probe",
                               &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("mode: restricted"), std::string::npos) << out;
  EXPECT_NE(out.find("EFAULT"), std::string::npos) << out;
}

TEST(Probe, BadArgumentsAreRefused) {
  int status;
  std::string out = RunCommand(std::string(LIBSHM_SHMD_PATH) + " --frobnicate 2>&1", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("usage:"), std::string::npos) << out;
}

}  // namespace
