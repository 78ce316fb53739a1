// SPDX-License-Identifier: MIT
// libshm_interop_bench: the same Boost.Interprocess map in the kernel's
// anonymous_shared_memory and in a libshm region, with a segment half the
// session's memory limit ("within") and four times it ("beyond"). Each run
// measures both backends back to back, alternating which goes first; the
// table gives medians over runs and the median of the same-run ratios.
//
//   libshm_interop_bench [--limit SIZE] [--runs N] [--lookups N] [--readers N]
//
// --lookups is per reader beyond the limit; within it, readers do ten times
// as many.
//
// The kernel's memory has no limit here: "beyond" compares libshm paging
// through its limit with a kernel that keeps everything resident.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/anonymous_shared_memory.hpp>
#include <optional>
#include <string>
#include <vector>

#include "libshm/segment.hpp"
#include "workload.h"

namespace libshm_bench {
namespace {

constexpr size_t kMiB = 1 << 20;

struct Options {
  size_t limit = 64 * kMiB;
  int runs = 5;
  WorkloadConfig workload;
};

struct Sample {
  PhaseTimes kernel, libshm;
  uint64_t swap_ins = 0, swap_outs = 0;  // libshm's, during its run
};

bool ParseSize(const char* s, size_t* out) {
  char* end;
  unsigned long long v = strtoull(s, &end, 10);
  switch (*end) {
    case 'G':
      v <<= 10;
      [[fallthrough]];
    case 'M':
      v <<= 10;
      [[fallthrough]];
    case 'K':
      v <<= 10;
      end++;
      break;
    default:
      break;
  }
  *out = static_cast<size_t>(v);
  return *end == '\0' && v > 0;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (a == "--limit") {
      if (!ParseSize(v, &o->limit)) return false;
    } else if (a == "--runs") {
      o->runs = atoi(v);
    } else if (a == "--lookups") {
      o->workload.lookups = strtoull(v, nullptr, 10);
    } else if (a == "--readers") {
      o->workload.readers = atoi(v);
    } else {
      return false;
    }
  }
  return o->runs > 0 && o->workload.lookups > 0 && o->workload.readers > 0;
}

uint64_t Stat(const char* name) {
  uint64_t v = 0;
  size_t len = sizeof(v);
  libshm_ctl(name, &v, &len, nullptr, 0);
  return v;
}

// One backend, one segment size: map, run the workload, unmap.
int RunKernel(size_t size, const WorkloadConfig& config, PhaseTimes* out) {
  std::optional<boost::interprocess::mapped_region> region;
  int rc = libshm::Segment::Run(
      [&] { region.emplace(boost::interprocess::anonymous_shared_memory(size)); });
  return rc != 0 ? rc : RunWorkload(region->get_address(), size, config, out);
}

int RunLibshm(size_t size, const WorkloadConfig& config, Sample* s) {
  libshm::Region region(size);
  if (!region) return region.error();
  uint64_t ins = Stat("stats.swap_ins"), outs = Stat("stats.swap_outs");
  int rc = RunWorkload(region.data(), size, config, &s->libshm);
  s->swap_ins = Stat("stats.swap_ins") - ins;
  s->swap_outs = Stat("stats.swap_outs") - outs;
  return rc;
}

// The 1-minute load average: the table says how busy the machine was.
double LoadAverage() {
  double load = -1;
  if (FILE* f = fopen("/proc/loadavg", "r")) {
    if (fscanf(f, "%lf", &load) != 1) load = -1;
    fclose(f);
  }
  return load;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <typename F>
void Row(const char* name, const std::vector<Sample>& samples, F phase) {
  std::vector<double> k, l, ratio;
  for (const Sample& s : samples) {
    k.push_back(phase(s.kernel));
    l.push_back(phase(s.libshm));
    ratio.push_back(phase(s.libshm) / phase(s.kernel));
  }
  printf("| %-24s | %9.1f | %9.1f | %12.2fx |\n", name, Median(k) * 1e3, Median(l) * 1e3,
         Median(ratio));
}

void Table(const char* label, size_t size, const Options& o, const WorkloadConfig& w,
           const std::vector<Sample>& samples) {
  std::vector<double> ins, outs;
  for (const Sample& s : samples) {
    ins.push_back(static_cast<double>(s.swap_ins));
    outs.push_back(static_cast<double>(s.swap_outs));
  }
  printf(
      "\n**%s**: segment %zu MiB, limit %zu MiB, %llu entries; libshm paged %.0f in / %.0f out "
      "(median per run)\n\n",
      label, size / kMiB, o.limit / kMiB,
      static_cast<unsigned long long>(samples[0].kernel.entries), Median(ins), Median(outs));
  printf("| %-24s | kernel ms | libshm ms | libshm/kernel |\n", "phase");
  printf("|--------------------------|----------:|----------:|--------------:|\n");
  Row("build (ascending)", samples, [](const PhaseTimes& t) { return t.build_s; });
  Row("scan (in order)", samples, [](const PhaseTimes& t) { return t.scan_s; });
  char uniform[64], hot[64];
  snprintf(uniform, sizeof(uniform), "%dx%llu lookups uniform", w.readers,
           static_cast<unsigned long long>(w.lookups));
  snprintf(hot, sizeof(hot), "%dx%llu lookups hot", w.readers,
           static_cast<unsigned long long>(w.lookups));
  Row(uniform, samples, [](const PhaseTimes& t) { return t.uniform_s; });
  Row(hot, samples, [](const PhaseTimes& t) { return t.hot_s; });
}

}  // namespace
}  // namespace libshm_bench

int main(int argc, char** argv) {
  using namespace libshm_bench;
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    fprintf(stderr, "usage: %s [--limit SIZE] [--runs N] [--lookups N] [--readers N]\n", argv[0]);
    return 2;
  }
  // Read by libshm at its first call, which is below.
  setenv("LIBSHM_LIMIT", std::to_string(o.limit).c_str(), 1);
  struct utsname u;
  uname(&u);
  printf("libshm_interop_bench: %d runs, limit %zu MiB, %ld CPUs, kernel %s, load %.2f; command:",
         o.runs, o.limit / kMiB, sysconf(_SC_NPROCESSORS_ONLN), u.release, LoadAverage());
  for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
  printf("\n");
  fflush(stdout);

  const struct {
    const char* label;
    size_t size;
    uint64_t lookups;
  } cases[] = {
      // Resident lookups cost about a microsecond: ten times as many keep
      // the phase long enough to measure on a busy machine.
      {"within the limit", o.limit / 2, 10 * o.workload.lookups},
      {"beyond the limit", 4 * o.limit, o.workload.lookups},
  };
  for (const auto& c : cases) {
    WorkloadConfig w = o.workload;
    w.lookups = c.lookups;
    std::vector<Sample> samples(static_cast<size_t>(o.runs));
    for (int r = 0; r < o.runs; r++) {
      Sample& s = samples[static_cast<size_t>(r)];
      s.kernel = s.libshm = PhaseTimes();
      w.seed = static_cast<uint64_t>(r) + 1;
      // Alternate which backend runs first, so neither always gets the
      // warmer machine.
      int rc = 0;
      for (int turn = 0; turn < 2 && rc == 0; turn++) {
        rc = (turn == r % 2) ? RunKernel(c.size, w, &s.kernel) : RunLibshm(c.size, w, &s);
      }
      if (rc != 0 || s.kernel.entries != s.libshm.entries) {
        fprintf(stderr, "libshm_interop_bench: %s, run %d failed: %s\n", c.label, r + 1,
                rc != 0 ? strerror(-rc) : "the backends built different maps");
        return 1;
      }
    }
    Table(c.label, c.size, o, w, samples);
    fflush(stdout);
  }
  printf("\nload average at the end: %.2f\n", LoadAverage());
  return 0;
}
