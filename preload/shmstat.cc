// SPDX-License-Identifier: MIT
// shmstat: a live view of a running libshm session.
//
//   shmstat [--session ADDRESS] [--json] [--watch SECS] [--count N]
//   shmstat [--session ADDRESS] --swapoff | --swap-dir DIR
//
// Per region: size, resident, dirty, swapped, mappings, faults/s, swap-ins/s,
// swap-outs/s; the session totals, the fault-latency percentiles and the
// shared anonymous memory left native, by reason (native_shared_bytes). Rates
// need two samples: with --watch they are per interval, otherwise shmstat
// samples twice, one second apart. It connects as an observer, which does
// not keep the session alive. --swapoff and --swap-dir act on the session's
// swap (ctl swap.off and swap.dir; the helper's own uid or root only).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "libshm/version.h"
#include "protocol.h"
#include "session_socket.h"
#include "stats.h"

namespace {

using namespace libshm::internal;

const char kUsage[] =
    "usage: shmstat [--session ADDRESS] [--json] [--watch SECS] [--count N]\n"
    "       shmstat [--session ADDRESS] --swapoff | --swap-dir DIR\n"
    "Show a running libshm session: per region size, resident, dirty, swapped,\n"
    "faults/s, swap-ins/s and swap-outs/s, and what it is (anonymous; a POSIX shm\n"
    "object, named or unlinked, a System V segment (key, id), or a memfd, with its\n"
    "name, owner and mode, as\n"
    "ls -l /dev/shm and ipcs -m show them), the totals, and the shared memory the\n"
    "processes left native, by reason (native_shared_bytes{reason=...}).\n"
    "  --session ADDRESS  the session (default: LIBSHM_SESSION, else the only one running)\n"
    "  --json             one JSON object per sample\n"
    "  --watch SECS       sample every SECS seconds until the session ends\n"
    "  --count N          stop after N samples (with --watch)\n"
    "  --swapoff          bring every swapped page back into memory and close the swap\n"
    "                     file; eviction is then suspended (the limit is not enforced)\n"
    "                     until --swap-dir; refused if it would not fit under the limit\n"
    "  --swap-dir DIR     move the session's swap file to DIR while programs run, or\n"
    "                     turn swap on again there after --swapoff\n"
    "  -h, --help         print this help and exit\n"
    "  --version          print the version and exit\n";

struct Sample {
  double time = 0;
  libshm_stats_t stats{};
  std::vector<RegionInfo> regions;
};

double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Listening libshm sockets in /proc/net/unix ("@libshm-..." abstract names).
std::vector<std::string> FindSessions() {
  std::vector<std::string> out;
  FILE* f = fopen("/proc/net/unix", "r");
  if (f == nullptr) return out;
  char line[512];
  while (fgets(line, sizeof(line), f) != nullptr) {
    unsigned flags = 0, state = 0;
    char path[256] = "";
    if (sscanf(line, "%*s %*s %*s %x %*s %x %*s %255s", &flags, &state, path) == 3 &&
        (flags & 0x10000) != 0 && strncmp(path, "@libshm-", 8) == 0) {
      out.push_back(path);
    }
  }
  fclose(f);
  return out;
}

int Call(int sock, const Request& req, Reply* reply) {
  return CallHelper(sock, req, reply, -1, nullptr);
}

bool Take(int sock, Sample* s) {
  Request req;
  Reply reply;
  req.op = Op::kStats;
  if (Call(sock, req, &reply) != 0) return false;
  s->time = Now();
  s->stats = reply.stats;
  s->regions.clear();
  for (uint64_t cursor = 0;;) {
    req = Request();
    req.op = Op::kRegionInfo;
    req.a = cursor;
    int rc = Call(sock, req, &reply);
    // EACCES: a member of another uid sees the session's totals, not
    // other processes' regions.
    if (rc == -ENOENT || rc == -EACCES) break;
    if (rc != 0 || reply.b <= cursor) return false;
    cursor = reply.b;
    RegionInfo info;
    memcpy(&info, reply.text, sizeof(info));
    s->regions.push_back(info);
  }
  return true;
}

std::string Size(uint64_t b) {
  char buf[32];
  const char* units[] = {"B", "K", "M", "G", "T"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  snprintf(buf, sizeof(buf), u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
  return buf;
}

// What a region is: an anonymous region, a POSIX shm object (named, or
// unlinked), a System V segment, or a program's memfd.
const char* Kind(const RegionInfo& r) {
  if ((r.flags & kRegionProgram) == 0) return "anonymous";
  if ((r.flags & kRegionSysv) != 0) return "sysv";
  if ((r.flags & kRegionNamed) != 0) return "posix";
  return (r.flags & kRegionPosix) != 0 ? "unlinked" : "memfd";
}

// A name as a JSON string's contents.
std::string JsonEscaped(const char* s) {
  std::string out;
  for (; *s != '\0'; s++) {
    unsigned char c = static_cast<unsigned char>(*s);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

double Rate(uint64_t now, uint64_t before, double secs) {
  return secs > 0 && now >= before ? static_cast<double>(now - before) / secs : 0;
}

void Print(const std::string& session, const Sample& s, const Sample& prev, bool json) {
  double secs = s.time - prev.time;
  std::map<uint64_t, const RegionInfo*> before;
  for (const RegionInfo& r : prev.regions) before[r.id] = &r;
  const libshm_stats_t& t = s.stats;
  if (json) {
    printf(
        "{\"session\": \"%s\", \"interval_s\": %.3f, \"policy\": \"%s\", \"mode\": \"%s\", "
        "\"limit_bytes\": %llu, \"resident_bytes\": %llu, \"peak_resident_bytes\": %llu, "
        "\"dirty_bytes\": %llu, \"swapped_bytes\": %llu, \"faults_per_s\": %.1f, "
        "\"swap_ins_per_s\": %.1f, \"swap_outs_per_s\": %.1f, \"fault_ns_p50\": %llu, "
        "\"fault_ns_p99\": %llu, \"swap_off\": %s, \"regions\": [",
        session.c_str(), secs, t.policy, t.mode, (unsigned long long)t.limit_bytes,
        (unsigned long long)t.resident_bytes, (unsigned long long)t.peak_resident_bytes,
        (unsigned long long)t.dirty_bytes, (unsigned long long)t.swapped_bytes,
        Rate(t.faults, prev.stats.faults, secs), Rate(t.swap_ins, prev.stats.swap_ins, secs),
        Rate(t.swap_outs, prev.stats.swap_outs, secs), (unsigned long long)t.fault_ns_p50,
        (unsigned long long)t.fault_ns_p99, t.swap_off != 0 ? "true" : "false");
    for (size_t i = 0; i < s.regions.size(); i++) {
      const RegionInfo& r = s.regions[i];
      const RegionInfo* b = before.count(r.id) ? before[r.id] : &r;
      printf(
          "%s{\"id\": %llu, \"bytes\": %llu, \"resident_bytes\": %llu, \"dirty_bytes\": %llu, "
          "\"swapped_bytes\": %llu, \"mappings\": %llu, \"faults_per_s\": %.1f, "
          "\"swap_ins_per_s\": %.1f, \"swap_outs_per_s\": %.1f, \"kind\": \"%s\"",
          i ? ", " : "", (unsigned long long)r.id, (unsigned long long)r.bytes,
          (unsigned long long)r.resident_bytes, (unsigned long long)r.dirty_bytes,
          (unsigned long long)r.swapped_bytes, (unsigned long long)r.mappings,
          Rate(r.faults, b->faults, secs), Rate(r.swap_ins, b->swap_ins, secs),
          Rate(r.swap_outs, b->swap_outs, secs), Kind(r));
      if ((r.flags & kRegionProgram) != 0) {
        printf(
            ", \"name\": \"%s\", \"uid\": %u, \"gid\": %u, \"mode\": \"%04o\", "
            "\"pinned\": %s",
            JsonEscaped(r.name).c_str(), r.uid, r.gid, r.mode,
            (r.flags & kRegionPinned) != 0 ? "true" : "false");
      }
      printf("}");
    }
    printf("], \"fault_us_hist\": [");
    for (int i = 0; i < LIBSHM_FAULT_HIST_BUCKETS; i++) {
      printf(i ? ", %llu" : "%llu", (unsigned long long)t.fault_us_hist[i]);
    }
    for (int kind = 0; kind < 2; kind++) {
      const uint64_t* v = kind == 0 ? t.native_bytes : t.native_mappings;
      printf(kind == 0 ? "], \"native_shared_bytes\": {" : "}, \"native_shared_mappings\": {");
      for (int r = 0; r < LIBSHM_NATIVE_REASONS; r++) {
        printf("%s\"%s\": %llu", r ? ", " : "", NativeReasonName(r), (unsigned long long)v[r]);
      }
    }
    printf("}}\n");
    fflush(stdout);
    return;
  }
  printf("session %s  policy %s  mode %s  limit %s  resident %s  peak %s  clients %llu\n",
         session.c_str(), t.policy, t.mode, Size(t.limit_bytes).c_str(),
         Size(t.resident_bytes).c_str(), Size(t.peak_resident_bytes).c_str(),
         (unsigned long long)t.clients);
  if (t.swap_off != 0) {
    printf(
        "swap off: eviction suspended, the limit is not enforced (shmstat --swap-dir DIR "
        "turns it on)\n");
  }
  printf("%-12s %9s %9s %9s %9s %5s %10s %10s %10s  %s\n", "region", "size", "resident", "dirty",
         "swapped", "maps", "faults/s", "swapin/s", "swapout/s", "object");
  for (const RegionInfo& r : s.regions) {
    const RegionInfo* b = before.count(r.id) ? before[r.id] : &r;
    // Like ls -l of /dev/shm and ipcs -m: name, owner, mode.
    char object[192];
    if ((r.flags & kRegionProgram) != 0) {
      snprintf(object, sizeof(object), "%s %s uid %u mode %04o%s", Kind(r), r.name, r.uid, r.mode,
               (r.flags & kRegionPinned) != 0 ? " pinned" : "");
    } else {
      snprintf(object, sizeof(object), "%s", Kind(r));
    }
    printf("%-12llu %9s %9s %9s %9s %5llu %10.0f %10.0f %10.0f  %s\n", (unsigned long long)r.id,
           Size(r.bytes).c_str(), Size(r.resident_bytes).c_str(), Size(r.dirty_bytes).c_str(),
           Size(r.swapped_bytes).c_str(), (unsigned long long)r.mappings,
           Rate(r.faults, b->faults, secs), Rate(r.swap_ins, b->swap_ins, secs),
           Rate(r.swap_outs, b->swap_outs, secs), object);
  }
  uint64_t total = 0;
  for (const RegionInfo& r : s.regions) total += r.bytes;
  printf("%-12s %9s %9s %9s %9s %5s %10.0f %10.0f %10.0f\n", "total", Size(total).c_str(),
         Size(t.resident_bytes).c_str(), Size(t.dirty_bytes).c_str(), Size(t.swapped_bytes).c_str(),
         "", Rate(t.faults, prev.stats.faults, secs), Rate(t.swap_ins, prev.stats.swap_ins, secs),
         Rate(t.swap_outs, prev.stats.swap_outs, secs));
  printf("fault service p50 %.1f us  p99 %.1f us  histogram (us: faults):",
         static_cast<double>(t.fault_ns_p50) / 1000, static_cast<double>(t.fault_ns_p99) / 1000);
  for (int i = 0; i < LIBSHM_FAULT_HIST_BUCKETS; i++) {
    if (t.fault_us_hist[i] == 0) continue;
    printf(" %s%llu: %llu", i == 0 ? "<" : ">=", i == 0 ? 1ull : 1ull << (i - 1),
           (unsigned long long)t.fault_us_hist[i]);
  }
  printf("\n");
  // Shared memory the processes left to the kernel: only reasons seen.
  for (int r = 0; r < LIBSHM_NATIVE_REASONS; r++) {
    if (t.native_mappings[r] == 0) continue;
    printf("native_shared_bytes{reason=\"%s\"} %llu  (%s in %llu mapping%s: %s)\n",
           NativeReasonName(r), (unsigned long long)t.native_bytes[r],
           Size(t.native_bytes[r]).c_str(), (unsigned long long)t.native_mappings[r],
           t.native_mappings[r] == 1 ? "" : "s", NativeReasonDescription(r));
  }
  fflush(stdout);
}

// --swapoff / --swap-dir: one ctl write. Prints what happened, or the
// helper's one line on why it refused. Returns the exit status.
int SwapAction(int sock, const std::string& session, bool off, const std::string& dir) {
  Request req;
  req.op = Op::kCtl;
  req.a = 1;
  if (off) {
    snprintf(req.text, sizeof(req.text), "swap.off");
    req.b = 1;
  } else {
    snprintf(req.text, sizeof(req.text), "swap.dir");
    if (dir.size() >= sizeof(req.text2)) {
      fprintf(stderr, "shmstat: --swap-dir %s: path too long\n", dir.c_str());
      return 2;
    }
    snprintf(req.text2, sizeof(req.text2), "%s", dir.c_str());
  }
  Reply reply;
  int rc = Call(sock, req, &reply);
  if (rc != 0) {
    if (reply.text[0] != '\0') {
      fprintf(stderr, "shmstat: %s (%s)\n", reply.text, strerror(-rc));
    } else {
      fprintf(stderr, "shmstat: %s: %s%s\n", off ? "swapoff" : "swap move", strerror(-rc),
              rc == -EPERM ? " (only the session's own user or root may change it)" : "");
    }
    return 1;
  }
  if (off) {
    printf(
        "%s: swap off, %s brought back into memory; eviction is suspended until "
        "shmstat --swap-dir DIR\n",
        session.c_str(), Size(reply.a).c_str());
  } else {
    printf("%s: swap file now in %s\n", session.c_str(), reply.text);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string session;
  bool json = false;
  double watch = 0;
  long count = -1;
  bool swapoff = false;
  std::string swap_dir;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      fputs(kUsage, stdout);
      return 0;
    } else if (a == "--version") {
      printf("shmstat (libshm) %s\n", LIBSHM_VERSION_STRING);
      return 0;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--swapoff") {
      swapoff = true;
    } else if (a == "--swap-dir" && i + 1 < argc) {
      swap_dir = argv[++i];
      if (swap_dir.empty()) {
        fprintf(stderr, "shmstat: --swap-dir needs a directory\n%s", kUsage);
        return 2;
      }
    } else if ((a == "--session" || a == "--watch" || a == "--count") && i + 1 < argc) {
      const char* v = argv[++i];
      char* end = nullptr;
      if (a == "--session") {
        session = v;
      } else if (a == "--watch") {
        watch = strtod(v, &end);
        if (*end != '\0' || watch <= 0) {
          fprintf(stderr, "shmstat: --watch %s: expected a positive number of seconds\n%s", v,
                  kUsage);
          return 2;
        }
      } else {
        count = strtol(v, &end, 10);
        if (*end != '\0' || count <= 0) {
          fprintf(stderr, "shmstat: --count %s: expected a positive integer\n%s", v, kUsage);
          return 2;
        }
      }
    } else {
      fprintf(stderr, "shmstat: unknown or incomplete option %s\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (swapoff && !swap_dir.empty()) {
    fprintf(stderr, "shmstat: --swapoff and --swap-dir exclude each other\n%s", kUsage);
    return 2;
  }
  if (!swap_dir.empty() && swap_dir[0] != '/') {
    // The helper resolves nothing relative to its own directory.
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) {
      fprintf(stderr, "shmstat: --swap-dir %s: %s\n", swap_dir.c_str(), strerror(errno));
      return 1;
    }
    swap_dir = std::string(cwd) + "/" + swap_dir;
  }
  if (session.empty() && getenv("LIBSHM_SESSION") != nullptr) session = getenv("LIBSHM_SESSION");
  if (session.empty()) {
    std::vector<std::string> found = FindSessions();
    if (found.empty()) {
      fprintf(stderr, "shmstat: no libshm session is running\n");
      return 1;
    }
    if (found.size() > 1) {
      fprintf(stderr, "shmstat: %zu sessions are running; choose one with --session:\n",
              found.size());
      for (const std::string& s : found) fprintf(stderr, "  %s\n", s.c_str());
      return 1;
    }
    session = found[0];
  }
  int sock = ConnectSession(session.c_str());
  if (sock < 0) {
    fprintf(stderr, "shmstat: cannot connect to %s: %s\n", session.c_str(), strerror(-sock));
    return 1;
  }
  Request hello;
  hello.op = Op::kHello;
  hello.flags = kHelloObserver;
  size_t hash = session.find('#');
  Reply reply;
  if (Call(sock, hello, &reply) != 0) {
    fprintf(stderr, "shmstat: %s refused the connection\n", session.c_str());
    return 1;
  }
  std::string name = session.substr(0, hash);
  if (swapoff || !swap_dir.empty()) return SwapAction(sock, name, swapoff, swap_dir);
  Sample prev, cur;
  if (!Take(sock, &prev)) return 1;
  double interval = watch > 0 ? watch : 1.0;
  for (long n = 0; count < 0 || n < count; n++) {
    usleep(static_cast<useconds_t>(interval * 1e6));
    if (!Take(sock, &cur)) {
      if (watch > 0 && n > 0) return 0;  // the session ended while watching
      fprintf(stderr, "shmstat: the session ended\n");
      return 1;
    }
    Print(name, cur, prev, json);
    if (watch <= 0) break;
    prev = cur;
  }
  return 0;
}
