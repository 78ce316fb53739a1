// SPDX-License-Identifier: MIT
#include "live_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "libshm/libshm.h"

extern char** environ;

namespace libshm::internal {
namespace {

constexpr size_t kPageSize = 4096;

// An access slower than this was served by the helper (a fault: missing,
// write-protect or sampling). A hit, even one that misses every cache and
// the TLB, takes well under a microsecond; the cheapest uffd round trip
// through the helper takes several (docs/design.md, KERNEL_FACTS.md). A
// preempted hit on a busy machine is counted too: the count is an upper
// bound, compared with faults + wp_faults + sample_hits in the report.
constexpr uint64_t kStallNs = 2000;

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Every variable a run sets, so that an inherited value never leaks into
// a run that wants the default. LIBSHM_SESSION would join the caller's
// session instead of starting a fresh one.
constexpr const char* kOwnedVariables[] = {
    "LIBSHM_SESSION",       "LIBSHM_POLICY",      "LIBSHM_LIMIT",   "LIBSHM_SAMPLE_RATE",
    "LIBSHM_LOW_WATERMARK", "LIBSHM_EVICT_BATCH", "LIBSHM_CLUSTER", "LIBSHM_TRACE",
    "LIBSHM_STATS_FILE",    "LIBSHM_SHOW_STATS",
};

std::vector<std::string> ChildEnvironment(const LiveSettings& s) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; e++) {
    bool owned = false;
    for (const char* name : kOwnedVariables) {
      size_t n = strlen(name);
      owned |= strncmp(*e, name, n) == 0 && (*e)[n] == '=';
    }
    if (!owned) env.emplace_back(*e);
  }
  auto set = [&](const char* name, const std::string& value) {
    if (!value.empty()) env.push_back(std::string(name) + "=" + value);
  };
  set("LIBSHM_POLICY", s.policy);
  set("LIBSHM_LIMIT", std::to_string(s.limit_bytes));
  set("LIBSHM_SAMPLE_RATE", s.sample_rate);
  set("LIBSHM_LOW_WATERMARK", s.low_watermark);
  set("LIBSHM_EVICT_BATCH", s.evict_batch);
  set("LIBSHM_CLUSTER", s.cluster);
  set("LIBSHM_TRACE", s.record);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (std::string& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void ParseWords(const std::string& text, Fields* fields) {
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    size_t eq = word.find('=');
    if (eq != std::string::npos) (*fields)[word.substr(0, eq)] = word.substr(eq + 1);
  }
}

std::string StatusText(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

// Spawns argv and waits for it; *wall_s is the time from spawn to exit.
// With `out`, collects its stdout there; without, its stdout goes to our
// stderr, so that a command's output never mixes with the report.
bool Spawn(const std::vector<std::string>& argv_in, const LiveSettings& settings, std::string* out,
           int* status, double* wall_s, std::string* error) {
  int pipefd[2] = {-1, -1};
  if (out != nullptr && pipe2(pipefd, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out != nullptr ? pipefd[1] : STDERR_FILENO,
                                   STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so a run that hangs can be killed whole
  // (shmrun and the command's children) without touching anything else.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<std::string> argv_copy = argv_in;
  std::vector<std::string> env = ChildEnvironment(settings);
  std::vector<char*> argv = CStrings(argv_copy);
  std::vector<char*> envp = CStrings(env);
  pid_t pid = 0;
  const uint64_t start = NowNs();
  int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (out != nullptr) close(pipefd[1]);
  if (rc != 0) {
    if (out != nullptr) close(pipefd[0]);
    *error = "cannot start " + argv_in[0] + ": " + strerror(rc);
    return false;
  }
  const uint64_t deadline = start + static_cast<uint64_t>(settings.timeout_s * 1e9);
  bool timed_out = false;
  bool exited = false;
  char buf[4096];
  while (!exited) {
    const uint64_t now = NowNs();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    if (out != nullptr && pipefd[0] >= 0) {
      // The output first: a child blocked on a full pipe never exits.
      struct pollfd p = {pipefd[0], POLLIN, 0};
      int ms = static_cast<int>(std::min<uint64_t>((deadline - now) / 1000000 + 1, 100));
      if (poll(&p, 1, ms) > 0) {
        ssize_t r = read(pipefd[0], buf, sizeof(buf));
        if (r > 0) {
          out->append(buf, static_cast<size_t>(r));
          continue;
        }
        if (r == 0) {
          // EOF: the child is exiting (the helper it started closes our pipe
          // when it detaches, or holds it until the session ends).
          close(pipefd[0]);
          pipefd[0] = -1;
        }
      }
    } else {
      usleep(1000);
    }
    pid_t w = waitpid(pid, status, WNOHANG);
    exited = w == pid;
  }
  if (pipefd[0] >= 0) {
    // Whatever the child wrote before it exited and we had not read yet.
    struct pollfd p = {pipefd[0], POLLIN, 0};
    ssize_t r = 0;
    while (poll(&p, 1, 0) > 0 && (r = read(pipefd[0], buf, sizeof(buf))) > 0) {
      out->append(buf, static_cast<size_t>(r));
    }
    close(pipefd[0]);
  }
  if (timed_out) {
    kill(-pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    *error =
        argv_in[0] + " ran longer than " + std::to_string(settings.timeout_s) + " s and was killed";
    return false;
  }
  *wall_s = static_cast<double>(NowNs() - start) * 1e-9;
  return true;
}

}  // namespace

bool RunChild(const std::vector<std::string>& argv, const LiveSettings& settings, Fields* fields,
              std::string* error) {
  std::string out;
  int status = 0;
  double wall_s = 0;
  if (!Spawn(argv, settings, &out, &status, &wall_s, error)) return false;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = "live run (policy " + settings.policy + ") " + StatusText(status);
    return false;
  }
  ParseWords(out, fields);
  if (fields->count("faults") == 0) {
    *error = "live run (policy " + settings.policy + ") printed no stats";
    return false;
  }
  return true;
}

bool RunCommand(const std::string& shmrun_path, const std::vector<std::string>& command,
                const LiveSettings& settings, Fields* fields, std::string* error) {
  char path[] = "/tmp/shmlive-stats-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    *error = std::string("mkstemp: ") + strerror(errno);
    return false;
  }
  close(fd);
  std::vector<std::string> argv = {shmrun_path, "--limit", std::to_string(settings.limit_bytes),
                                   "--stats=" + std::string(path)};
  if (!settings.policy.empty()) {
    argv.push_back("--policy");
    argv.push_back(settings.policy);
  }
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  int status = 0;
  double wall_s = 0;
  bool ok = Spawn(argv, settings, nullptr, &status, &wall_s, error);
  // shmrun writes the file when CMD exits, and the helper rewrites it when
  // the session ends, just after: a read in between can find it truncated
  // (fopen "w" before the write). Read until it parses, for up to 2 s.
  bool parsed = false;
  for (int attempt = 0; ok && !parsed && attempt < 100; attempt++) {
    if (attempt > 0) usleep(20000);
    std::ifstream in(path);
    std::stringstream json;
    json << in.rdbuf();
    fields->clear();
    parsed = ParseFlatJson(json.str(), fields) && fields->count("faults") != 0;
  }
  unlink(path);
  if (!ok) return false;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = "command under policy " + settings.policy + ": shmrun " + StatusText(status);
    return false;
  }
  if (!parsed) {
    *error = "shmrun wrote no stats to " + std::string(path);
    return false;
  }
  (*fields)["wall_s"] = std::to_string(wall_s);
  return true;
}

int ReplayInThisProcess(const Trace& trace, bool client_timing) {
  const size_t pages = std::max<size_t>(1, trace.distinct());
  void* addr = nullptr;
  int rc = libshm_map(nullptr, pages * kPageSize, PROT_READ | PROT_WRITE, 0, &addr);
  if (rc != 0) {
    std::fprintf(stderr, "shmlive: libshm_map of %zu pages: %s\n", pages, strerror(-rc));
    return 1;
  }
  auto* base = static_cast<volatile unsigned char*>(addr);
  // What each page's first byte must read: zero until written, then the
  // last value written. A wrong byte is a libshm bug (lost write-back,
  // zero fill of a swapped page), never a policy's doing. Written values run
  // 1..255 and never 0: the evictor does not write back a page that holds
  // only zeros, and every written page must cost a write-back, as it does in
  // the simulator.
  std::vector<unsigned char> expected(pages, 0);
  std::vector<uint32_t> stalls;
  uint64_t mismatches = 0;
  const uint32_t* refs = trace.refs.data();
  const size_t n = trace.refs.size();
  const uint64_t start = NowNs();
  for (size_t i = 0; i < n; i++) {
    const uint32_t id = Trace::Id(refs[i]);
    volatile unsigned char* p = base + static_cast<size_t>(id) * kPageSize;
    const bool write = Trace::IsWrite(refs[i]);
    const unsigned char value = static_cast<unsigned char>(expected[id] % 255 + 1);
    uint64_t t0 = client_timing ? NowNs() : 0;
    unsigned char seen = 0;
    if (write) {
      *p = value;
    } else {
      seen = *p;
    }
    if (client_timing) {
      uint64_t dt = NowNs() - t0;
      if (dt >= kStallNs)
        stalls.push_back(static_cast<uint32_t>(std::min<uint64_t>(dt, UINT32_MAX)));
    }
    if (write) {
      expected[id] = value;
    } else if (seen != expected[id]) {
      mismatches++;
    }
  }
  const double wall_s = static_cast<double>(NowNs() - start) * 1e-9;
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);

  libshm_stats_t st;
  memset(&st, 0, sizeof(st));
  st.size = sizeof(st);
  rc = libshm_stats(&st);
  if (rc != 0) {
    std::fprintf(stderr, "shmlive: libshm_stats: %s\n", strerror(-rc));
    return 1;
  }
  auto opt = [](const char* name) -> std::string {
    uint64_t v = 0;
    size_t len = sizeof(v);
    return libshm_ctl(name, &v, &len, nullptr, 0) == 0 ? std::to_string(v) : "-";
  };
  std::string out;
  auto put = [&](const char* key, const std::string& value) {
    out += out.empty() ? "" : " ";
    out += key;
    out += '=';
    out += value;
  };
  auto put_u = [&](const char* key, uint64_t v) { put(key, std::to_string(v)); };
  put("policy", st.policy);
  put("mode", st.mode);
  put_u("requests", n);
  put_u("distinct", pages);
  put_u("limit_bytes", st.limit_bytes);
  put_u("peak_resident_bytes", st.peak_resident_bytes);
  put_u("faults", st.faults);
  put_u("zero_fills", st.zero_fills);
  put_u("swap_ins", st.swap_ins);
  put_u("swap_outs", st.swap_outs);
  put_u("writeback_bytes", st.writeback_bytes);
  put_u("evictions", st.evictions);
  put_u("clean_evictions", st.clean_evictions);
  put_u("wp_faults", st.wp_faults);
  put_u("eexist", st.eexist);
  put_u("fault_ns_p50", st.fault_ns_p50);
  put_u("fault_ns_p99", st.fault_ns_p99);
  put_u("samples", st.samples);
  put_u("sample_hits", st.sample_hits);
  put("sample_rate", opt("opt.sample_rate"));
  put("low_watermark", opt("opt.low_watermark"));
  put("evict_batch", opt("opt.evict_batch"));
  put("cluster", opt("opt.cluster"));
  char wall[32];
  std::snprintf(wall, sizeof(wall), "%.6f", wall_s);
  put("wall_s", wall);
  // The replaying process's CPU time, setup included; the helper's is not
  // visible from here.
  std::snprintf(wall, sizeof(wall), "%.6f",
                static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6);
  put("client_cpu_s", wall);
  put_u("mismatches", mismatches);
  if (client_timing) {
    put_u("client_stalls", stalls.size());
    auto percentile = [&](double q) -> uint64_t {
      if (stalls.empty()) return 0;
      size_t k =
          std::min(stalls.size() - 1, static_cast<size_t>(q * static_cast<double>(stalls.size())));
      std::nth_element(stalls.begin(), stalls.begin() + static_cast<long>(k), stalls.end());
      return stalls[k];
    };
    put_u("client_stall_ns_p50", percentile(0.50));
    put_u("client_stall_ns_p99", percentile(0.99));
  }
  std::printf("%s\n", out.c_str());
  std::fflush(stdout);
  libshm_unmap(addr, pages * kPageSize);
  if (mismatches != 0) {
    std::fprintf(stderr,
                 "shmlive: %llu reads saw another value than the replay last wrote (a libshm "
                 "bug: policy %s)\n",
                 static_cast<unsigned long long>(mismatches), st.policy);
    return 1;
  }
  return 0;
}

bool ParseFlatJson(const std::string& text, Fields* fields) {
  size_t i = text.find('{');
  if (i == std::string::npos) return false;
  i++;
  auto skip_space = [&]() {
    while (i < text.size() && isspace(static_cast<unsigned char>(text[i]))) i++;
  };
  auto read_string = [&](std::string* s) {
    if (i >= text.size() || text[i] != '"') return false;
    for (i++; i < text.size() && text[i] != '"'; i++) {
      if (text[i] == '\\' && i + 1 < text.size()) i++;
      *s += text[i];
    }
    if (i >= text.size()) return false;
    i++;
    return true;
  };
  for (;;) {
    skip_space();
    if (i < text.size() && text[i] == '}') return true;
    std::string key, value;
    if (!read_string(&key)) return false;
    skip_space();
    if (i >= text.size() || text[i] != ':') return false;
    i++;
    skip_space();
    if (i < text.size() && text[i] == '"') {
      if (!read_string(&value)) return false;
    } else {
      while (i < text.size() && text[i] != ',' && text[i] != '}' &&
             !isspace(static_cast<unsigned char>(text[i]))) {
        value += text[i++];
      }
      if (value.empty()) return false;
    }
    (*fields)[key] = value;
    skip_space();
    if (i < text.size() && text[i] == ',') i++;
  }
}

}  // namespace libshm::internal
