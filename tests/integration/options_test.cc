// SPDX-License-Identifier: MIT
// LIBSHM_* from the environment as a user meets them: one clear line for a bad
// value and the default kept, or the call failing under LIBSHM_STRICT=1; the
// stats written at the end of the session.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <string>

#include "test_util.h"

namespace libshm::test {
namespace {

struct Outcome {
  int status;
  std::string err;
};

// Runs fn in a child with stderr captured.
Outcome RunCapturingStderr(const std::function<int()>& fn) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    _exit(fn());
  }
  close(fds[1]);
  std::string err;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) err.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  return {status, err};
}

int MapSome() {
  void* p;
  int rc = libshm_map(nullptr, 1 << 20, PROT_READ | PROT_WRITE, 0, &p);
  return rc == 0 ? 0 : -rc;
}

TEST(Options, BadLimitPrintsOneLineAndKeepsTheDefault) {
  Outcome o = RunCapturingStderr([] {
    setenv("LIBSHM_LIMIT", "a lot", 1);
    if (MapSome() != 0) return 1;
    uint64_t limit = 0;
    size_t len = sizeof(limit);
    if (libshm_ctl("opt.limit", &limit, &len, nullptr, 0) != 0) return 2;
    return limit == (256ull << 20) ? 0 : 3;
  });
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), 0) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_NE(o.err.find("libshm: LIBSHM_LIMIT='a lot'"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("256M"), std::string::npos) << "the accepted form: " << o.err;
}

TEST(Options, BadPolicyNamesTheVariable) {
  Outcome o = RunCapturingStderr([] {
    setenv("LIBSHM_POLICY", "bogus", 1);
    if (MapSome() != 0) return 1;
    char name[32];
    size_t len = sizeof(name);
    if (libshm_ctl("evict.policy", name, &len, nullptr, 0) != 0) return 2;
    return strcmp(name, "clock") == 0 ? 0 : 3;
  });
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), 0) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_NE(o.err.find("LIBSHM_POLICY='bogus'"), std::string::npos) << o.err;
}

// The helper runs the policy with its parameters and reports the canonical
// name; a bad parameter is named, and the session keeps the default.
TEST(Options, PolicyParametersReachTheHelper) {
  Outcome o = RunCapturingStderr([] {
    setenv("LIBSHM_POLICY", "clock:insert_ref=00", 1);
    if (MapSome() != 0) return 1;
    char name[32];
    size_t len = sizeof(name);
    if (libshm_ctl("evict.policy", name, &len, nullptr, 0) != 0) return 2;
    return strcmp(name, "clock:insert_ref=0") == 0 ? 0 : 3;
  });
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), 0) << o.err;
  EXPECT_EQ(o.err, "");
}

TEST(Options, BadPolicyParameterIsNamed) {
  Outcome o = RunCapturingStderr([] {
    setenv("LIBSHM_POLICY", "clock:insert_ref=7", 1);
    if (MapSome() != 0) return 1;
    char name[32];
    size_t len = sizeof(name);
    if (libshm_ctl("evict.policy", name, &len, nullptr, 0) != 0) return 2;
    return strcmp(name, "clock") == 0 ? 0 : 3;
  });
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), 0) << o.err;
  EXPECT_NE(o.err.find("LIBSHM_POLICY='clock:insert_ref=7'"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("insert_ref=7 is out of range [0, 1]"), std::string::npos) << o.err;
}

TEST(Options, StrictMakesTheCallFail) {
  Outcome o = RunCapturingStderr([] {
    setenv("LIBSHM_LIMIT", "12Q", 1);
    setenv("LIBSHM_STRICT", "1", 1);
    return MapSome();
  });
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_EQ(WEXITSTATUS(o.status), EINVAL) << o.err;
  EXPECT_NE(o.err.find("LIBSHM_LIMIT"), std::string::npos) << o.err;
}

TEST(Options, UnusableSwapDirectoryFailsTheMapLoudly) {
  Outcome o = RunCapturingStderr([] {
    setenv("LIBSHM_SWAP_DIR", "/nonexistent/libshm", 1);
    return MapSome();
  });
  ASSERT_TRUE(WIFEXITED(o.status));
  EXPECT_NE(WEXITSTATUS(o.status), 0);
  EXPECT_NE(o.err.find("/nonexistent/libshm"), std::string::npos) << o.err;
}

// The client probes LIBSHM_SWAP_DIR before it starts a helper: the map fails
// with the directory's own error and the client's one line, and no helper is
// started (one started for it only fails after starting, ECHILD, saying so
// in its own words).
TEST(Options, UnusableSwapDirectoryIsRefusedBeforeAHelperStarts) {
  char file[] = "/tmp/libshm-not-a-dir-XXXXXX";
  int fd = mkstemp(file);
  ASSERT_GE(fd, 0);
  close(fd);
  for (auto [dir, want] : {std::pair<std::string, int>{"/nonexistent/libshm", ENOENT},
                           std::pair<std::string, int>{file, ENOTDIR}}) {
    SCOPED_TRACE(dir);
    Outcome o = RunCapturingStderr([&] {
      setenv("LIBSHM_SWAP_DIR", dir.c_str(), 1);
      return MapSome();
    });
    ASSERT_TRUE(WIFEXITED(o.status));
    int got = WEXITSTATUS(o.status);
    EXPECT_EQ(got, want) << "libshm_map failed with " << strerror(got)
                         << (got == ECHILD ? ": a helper was started, and failed on the directory"
                                           : "")
                         << ", not with the directory's error; stderr: " << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_NE(o.err.find("libshm: LIBSHM_SWAP_DIR=" + dir + " cannot hold the swap file"),
              std::string::npos)
        << "not the client's line: " << o.err;
  }
  unlink(file);
}

TEST(Options, StatsFileIsWrittenWhenTheSessionEnds) {
  char path[] = "/tmp/libshm-stats-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  unlink(path);
  Outcome o = RunCapturingStderr([&] {
    setenv("LIBSHM_STATS_FILE", path, 1);
    setenv("LIBSHM_SHOW_STATS", "1", 1);
    setenv("LIBSHM_LIMIT", "1M", 1);
    void* p;
    if (libshm_map(nullptr, 4 << 20, PROT_READ | PROT_WRITE, 0, &p) != 0) return 1;
    memset(p, 7, 4 << 20);
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(o.status));
  ASSERT_EQ(WEXITSTATUS(o.status), 0);
  struct stat st;
  for (int i = 0; i < 300 && (stat(path, &st) != 0 || st.st_size == 0); i++) usleep(10000);
  FILE* f = fopen(path, "r");
  ASSERT_NE(f, nullptr) << "no stats file";
  char buf[4096] = {};
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  unlink(path);
  std::string json(buf, n);
  EXPECT_NE(json.find("\"swap_outs\": "), std::string::npos) << json;
  EXPECT_EQ(json.find("\"swap_outs\": 0,"), std::string::npos) << "1M limit, 4M written: " << json;
  EXPECT_NE(json.find("\"policy\": \"clock\""), std::string::npos) << json;
}

TEST(Options, TraceRecordsWhatTheStatsCount) {
  std::string base = "/tmp/libshm-trace-" + std::to_string(getpid());
  std::string trace = base + ".trace", stats = base + ".json";
  Outcome o = RunCapturingStderr([&] {
    setenv("LIBSHM_TRACE", trace.c_str(), 1);
    setenv("LIBSHM_STATS_FILE", stats.c_str(), 1);
    setenv("LIBSHM_LIMIT", "1M", 1);
    setenv("LIBSHM_CLUSTER", "1", 1);
    void* p;
    if (libshm_map(nullptr, 4 << 20, PROT_READ | PROT_WRITE, 0, &p) != 0) return 1;
    char* c = static_cast<char*>(p);
    for (size_t i = 0; i < (4u << 20); i += kPage) c[i] = 1;  // write faults
    if (libshm_msync(p, 4 << 20, MS_SYNC) != 0) return 2;
    for (size_t i = 0; i < (4u << 20); i += kPage) c[i] = 2;  // faults and writes to clean pages
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(o.status));
  ASSERT_EQ(WEXITSTATUS(o.status), 0) << o.err;
  struct stat st;
  for (int i = 0; i < 300 && stat(stats.c_str(), &st) != 0; i++) usleep(10000);
  FILE* f = fopen(trace.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char line[256];
  ASSERT_NE(fgets(line, sizeof(line), f), nullptr);
  EXPECT_EQ(std::string(line).rfind("# libshm-trace v1 page_size=4096 limit_pages=256", 0), 0u)
      << line;
  std::map<char, uint64_t> events;
  while (fgets(line, sizeof(line), f) != nullptr) events[line[0]]++;
  fclose(f);
  FILE* s = fopen(stats.c_str(), "r");
  ASSERT_NE(s, nullptr);
  char json[4096] = {};
  size_t n = fread(json, 1, sizeof(json) - 1, s);
  fclose(s);
  std::string j(json, n);
  auto num = [&](const char* key) {
    size_t at = j.find(std::string("\"") + key + "\": ");
    return at == std::string::npos ? -1ll : atoll(j.c_str() + at + strlen(key) + 4);
  };
  EXPECT_EQ(static_cast<long long>(events['F']), num("faults")) << j;
  EXPECT_EQ(static_cast<long long>(events['E']), num("evictions")) << j;
  // R: writes to clean pages, and sampled pages seen again.
  EXPECT_EQ(static_cast<long long>(events['R']), num("wp_faults") + num("sample_hits")) << j;
  EXPECT_GT(events['F'], 1024u);
  unlink(trace.c_str());
  unlink(stats.c_str());
}

}  // namespace
}  // namespace libshm::test
