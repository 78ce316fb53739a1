// SPDX-License-Identifier: MIT
// shmsim: replays page-reference traces (or built-in synthetic workloads)
// against libshm's eviction policies and reports faults, miss ratio,
// write-backs, the gap to Belady's OPT and replay throughput, as a table,
// CSV or JSON, with optional gnuplot plots. docs/policies.md is the manual.
//
// Exit status: 0 success, 1 a trace or policy failed, 2 bad command line.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libshm/policy.h"
#include "libshm/version.h"
#include "plot.h"
#include "policies/params.h"
#include "progress.h"
#include "report.h"
#include "simulator.h"
#include "trace.h"
#include "workload.h"

namespace libshm::internal {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char* kUsage =
    "usage: shmsim (--trace FILE | --workload SPEC)... [options]\n"
    "\n"
    "Replays page references against eviction policies. The simplest call,\n"
    "  shmsim --trace FILE --policy NAME --size PAGES\n"
    "prints one line with miss_ratio=.\n"
    "\n"
    "input (repeatable, mixed):\n"
    "  --trace FILE        page numbers one per line (optionally 'r'/'w' after each),\n"
    "                      the binary form, or a LIBSHM_TRACE recording; gzip or not\n"
    "  --workload SPEC     synthetic, e.g. zipf:alpha=0.9,pages=10000,n=1000000,write=0.3\n"
    "options:\n"
    "  --policy LIST       comma-separated names, or 'all' (default all); a name may\n"
    "                      take parameters: clock:insert_ref=0 (see --list)\n"
    "  --size LIST         memory sizes, comma-separated: PAGES or PERCENT% of the\n"
    "                      distinct pages (default 5%,10%,20%,40%; a recording's limit)\n"
    "  --mrc               miss-ratio curve: LRU in one pass by stack distance (read-only\n"
    "                      traces), the others by size sweep (default sizes 1%..100%)\n"
    "  --format F          table (default), csv, json, or markdown (miss ratios only)\n"
    "  --access MODE       every: policies see every hit (default); faults: only what a\n"
    "                      pager sees without sampling, the first write to a clean page;\n"
    "                      sampled:N: faults, plus one random resident page armed every\n"
    "                      N references whose next access is reported (sampling faults)\n"
    "  --write-ratio R     make each reference a write with probability R (seeded)\n"
    "  --seed N            seed for policies and --write-ratio (default 1)\n"
    "  --window N|P%       count faults per N references, or per P% of the trace\n"
    "                      (miss ratio over time)\n"
    "  --plot DIR          draw plots into DIR with gnuplot (curve; over time with --window)\n"
    "  --plot-format F     svg (default) or png\n"
    "  --batch N           evict N victims at a time when memory is full, as the\n"
    "                      runtime does (default 1)\n"
    "  --repeat N          replay each run N times and report the fastest\n"
    "  --no-opt            do not run OPT for gap_to_opt\n"
    "  --no-progress       no progress bar (it only shows on a terminal anyway)\n"
    "  --convert OUT       write the one input in the binary form to OUT (.gz: compressed)\n"
    "  --list              list the policies and exit\n"
    "  -h, --help          print this help and exit\n"
    "  --version           print the version and exit\n"
    "workloads (SPEC = kind:key=value,...):\n";

struct Options {
  std::vector<std::pair<bool, std::string>> inputs;  // (is_workload, path or spec)
  std::vector<std::string> policy_names;
  std::vector<std::string> sizes;  // as given, resolved per trace
  bool sizes_given = false;
  bool mrc = false;
  Format format = Format::kTable;
  AccessMode access = AccessMode::kEveryHit;
  uint64_t sample_period = 0;
  std::optional<double> write_ratio;
  uint64_t seed = 1;
  uint64_t window = 0;        // references, or
  double window_percent = 0;  // percent of each trace's references
  std::string plot_dir;
  std::string plot_format = "svg";
  int repeat = 1;
  uint64_t batch = 1;
  bool opt = true;
  bool progress = true;
  std::string convert;
  bool list = false;
};

int UsageError(const std::string& message) {
  std::fprintf(stderr, "shmsim: error: %s\n(shmsim --help for usage)\n", message.c_str());
  return kExitUsage;
}

int Failure(const std::string& message) {
  std::fprintf(stderr, "shmsim: error: %s\n", message.c_str());
  return kExitFailure;
}

std::vector<std::string> SplitCommas(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

// A policy list: names split at commas, except that a piece holding '='
// but no ':' continues the parameters of the name before it (no policy name
// has a '=', and a ':' starts a name's parameters): "clock:insert_ref=0,lirs"
// and "s3-fifo:threshold=2,lirs:nonresident=1" are two policies, "x:a=1,b=2"
// is one.
std::vector<std::string> SplitPolicies(std::string_view s) {
  std::vector<std::string> out;
  for (std::string& piece : SplitCommas(s)) {
    if (!out.empty() && piece.find('=') != std::string::npos &&
        piece.find(':') == std::string::npos && out.back().find(':') != std::string::npos) {
      out.back() += "," + piece;
    } else {
      out.push_back(std::move(piece));
    }
  }
  return out;
}

bool ParseUnsigned(const std::string& s, uint64_t* out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  *out = std::strtoull(s.c_str(), nullptr, 10);
  return errno == 0;
}

// Returns an empty string on success, else the error.
std::string ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      has_value = true;
    }
    auto take = [&](std::string* v) {
      if (has_value) {
        *v = value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    auto flag = [&](bool* b) {
      *b = true;
      return !has_value;
    };
    std::string v;
    bool ok = true;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::fputs(WorkloadHelp().c_str(), stdout);
      std::exit(0);
    } else if (arg == "--version") {
      std::printf("shmsim (libshm) %s\n", LIBSHM_VERSION_STRING);
      std::exit(0);
    } else if (arg == "--trace") {
      ok = take(&v);
      o->inputs.emplace_back(false, v);
    } else if (arg == "--workload") {
      ok = take(&v);
      o->inputs.emplace_back(true, v);
    } else if (arg == "--policy") {
      ok = take(&v);
      o->policy_names = SplitPolicies(v);
    } else if (arg == "--size") {
      ok = take(&v);
      o->sizes = SplitCommas(v);
      o->sizes_given = true;
    } else if (arg == "--mrc") {
      ok = flag(&o->mrc);
    } else if (arg == "--format") {
      ok = take(&v);
      if (v == "table") {
        o->format = Format::kTable;
      } else if (v == "csv") {
        o->format = Format::kCsv;
      } else if (v == "json") {
        o->format = Format::kJson;
      } else if (v == "markdown") {
        o->format = Format::kMarkdown;
      } else if (ok) {
        return "bad --format '" + v + "': expected table, csv, json or markdown";
      }
    } else if (arg == "--access") {
      ok = take(&v);
      if (v == "every") {
        o->access = AccessMode::kEveryHit;
      } else if (v == "faults") {
        o->access = AccessMode::kWriteFaults;
      } else if (v.starts_with("sampled:") && ParseUnsigned(v.substr(8), &o->sample_period) &&
                 o->sample_period > 0) {
        o->access = AccessMode::kSampled;
      } else if (ok) {
        return "bad --access '" + v + "': expected every, faults or sampled:N";
      }
    } else if (arg == "--write-ratio") {
      ok = take(&v);
      char* end = nullptr;
      double r = std::strtod(v.c_str(), &end);
      if (ok && (v.empty() || *end != '\0' || !(r >= 0 && r <= 1))) {
        return "bad --write-ratio '" + v + "': expected a number in [0, 1]";
      }
      o->write_ratio = r;
    } else if (arg == "--seed") {
      ok = take(&v);
      if (ok && !ParseUnsigned(v, &o->seed)) return "bad --seed '" + v + "'";
    } else if (arg == "--window") {
      ok = take(&v);
      if (ok && !v.empty() && v.back() == '%') {
        char* end = nullptr;
        o->window_percent = std::strtod(v.c_str(), &end);
        if (*end != '%' || !(o->window_percent > 0 && o->window_percent <= 100)) {
          return "bad --window '" + v + "': expected a percentage in (0, 100]";
        }
      } else if (ok && (!ParseUnsigned(v, &o->window) || o->window == 0)) {
        return "bad --window '" + v + "': expected N references or P%";
      }
    } else if (arg == "--plot") {
      ok = take(&o->plot_dir);
    } else if (arg == "--plot-format") {
      ok = take(&o->plot_format);
      if (ok && o->plot_format != "svg" && o->plot_format != "png") {
        return "bad --plot-format '" + o->plot_format + "': expected svg or png";
      }
    } else if (arg == "--repeat") {
      ok = take(&v);
      uint64_t r = 1;
      if (ok && (!ParseUnsigned(v, &r) || r == 0 || r > 1000)) {
        return "bad --repeat '" + v + "': expected 1..1000";
      }
      o->repeat = static_cast<int>(r);
    } else if (arg == "--batch") {
      ok = take(&v);
      if (ok && (!ParseUnsigned(v, &o->batch) || o->batch == 0 || o->batch > 65536)) {
        return "bad --batch '" + v + "': expected 1..65536";
      }
    } else if (arg == "--no-opt") {
      bool b;
      ok = flag(&b);
      o->opt = false;
    } else if (arg == "--no-progress") {
      bool b;
      ok = flag(&b);
      o->progress = false;
    } else if (arg == "--convert") {
      ok = take(&o->convert);
    } else if (arg == "--list") {
      ok = flag(&o->list);
    } else {
      return "unknown option '" + arg + "'";
    }
    if (!ok) return "option " + arg + (has_value ? " takes no value" : " needs a value");
  }
  return "";
}

// Resolves "PAGES" or "PERCENT%" against the trace's distinct pages.
bool ResolveSizes(const std::vector<std::string>& specs, size_t distinct,
                  std::vector<size_t>* sizes, std::string* error) {
  sizes->clear();
  for (const std::string& spec : specs) {
    bool percent = !spec.empty() && spec.back() == '%';
    std::string number = percent ? spec.substr(0, spec.size() - 1) : spec;
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(number.c_str(), &end);
    bool integral = number.find_first_not_of("0123456789") == std::string::npos;
    if (number.empty() || *end != '\0' || errno != 0 || !(v > 0) || (!percent && !integral) ||
        (percent && v > 1000)) {
      *error = "bad --size value '" + spec + "': expected PAGES (a positive integer) or PERCENT%";
      return false;
    }
    double pages = percent ? std::round(v / 100.0 * static_cast<double>(distinct)) : v;
    if (pages > static_cast<double>(UINT32_MAX)) {
      *error = "bad --size value '" + spec + "': too large";
      return false;
    }
    sizes->push_back(std::max<size_t>(1, static_cast<size_t>(pages)));
  }
  std::sort(sizes->begin(), sizes->end());
  sizes->erase(std::unique(sizes->begin(), sizes->end()), sizes->end());
  return true;
}

std::string AccessNames(uint32_t bits) {
  static constexpr std::pair<uint32_t, const char*> kNames[] = {
      {LIBSHM_ACCESS_MISSES, "misses"},
      {LIBSHM_ACCESS_WRITE_FAULTS, "write-faults"},
      {LIBSHM_ACCESS_SAMPLED, "sampled"},
      {LIBSHM_ACCESS_EVERY_HIT, "every-hit"},
      {LIBSHM_ACCESS_FUTURE, "future"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((bits & bit) == 0) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

std::vector<const libshm_policy_ops*> AllPolicies() {
  std::vector<const libshm_policy_ops*> all(libshm_policy_list(nullptr, 0));
  all.resize(libshm_policy_list(all.data(), all.size()));
  return all;
}

int ListPolicies() {
  std::printf("%-10s %-5s %-44s %s\n", "policy", "live", "access information", "description");
  for (const libshm_policy_ops* ops : AllPolicies()) {
    std::printf("%-10s %-5s %-44s %s\n", ops->name, ops->live ? "yes" : "no",
                AccessNames(ops->access_info).c_str(), ops->description);
  }
  std::printf(
      "\nparameters (--policy NAME:KEY=VALUE,...; LIBSHM_POLICY and shmrun --policy too):\n");
  for (const libshm_policy_ops* ops : AllPolicies()) {
    const PolicyParams* p = FindPolicyParams(ops);
    for (size_t i = 0; p != nullptr && i < p->count; i++) {
      const PolicyParam& param = p->params[i];
      std::string key = std::string(ops->name) + ":" + param.key + "=" + std::to_string(param.min) +
                        ".." + std::to_string(param.max);
      std::printf("  %-28s default %-4lld %s\n", key.c_str(), static_cast<long long>(param.def),
                  param.help);
    }
  }
  return 0;
}

bool ResolvePolicies(const std::vector<std::string>& names,
                     std::vector<const libshm_policy_ops*>* out, std::string* error) {
  out->clear();
  if (names.empty() || (names.size() == 1 && names[0] == "all")) {
    *out = AllPolicies();
    return true;
  }
  for (const std::string& name : names) {
    char why[160];
    const libshm_policy_ops* ops = libshm_policy_resolve(name.c_str(), why, sizeof(why));
    if (ops == nullptr && name.find(':') != std::string::npos) {
      *error = why;
      return false;
    }
    if (ops == nullptr) {
      std::string known;
      for (const libshm_policy_ops* p : AllPolicies()) known += std::string(" ") + p->name;
      *error = "unknown policy '" + name + "' (known:" + known + ", or all)";
      return false;
    }
    if (std::find(out->begin(), out->end(), ops) == out->end()) out->push_back(ops);
  }
  return true;
}

bool LoadInput(const std::pair<bool, std::string>& input, Trace* trace, std::string* error) {
  return input.first ? MakeWorkload(input.second, trace, error)
                     : LoadTrace(input.second, trace, error);
}

const std::vector<std::string> kMrcSizes = {"1%",  "2%",  "3%",  "4%",  "5%",  "6%",  "8%",
                                            "10%", "12%", "15%", "20%", "25%", "30%", "40%",
                                            "50%", "60%", "70%", "80%", "90%", "100%"};

// Runs every policy at every size over one trace.
bool RunTrace(const Trace& trace, const Options& o,
              const std::vector<const libshm_policy_ops*>& policies,
              const std::vector<size_t>& sizes, TraceReport* report, std::string* error) {
  report->name = trace.name;
  report->requests = trace.refs.size();
  report->distinct = trace.distinct();
  report->recorded = trace.recorded;
  report->window = o.window;
  if (o.window_percent > 0) {
    report->window = std::max<uint64_t>(
        1,
        static_cast<uint64_t>(o.window_percent / 100.0 * static_cast<double>(trace.refs.size())));
  }
  if (o.write_ratio) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "random, ratio %g (seed %llu)", *o.write_ratio,
                  static_cast<unsigned long long>(o.seed));
    report->writes = buf;
  } else {
    report->writes = trace.has_writes ? "from the trace"
                                      : "none (read-only trace: no write-backs; see --write-ratio)";
  }
  const libshm_policy_ops* opt = libshm_policy_find("opt");
  bool run_opt = o.opt && opt != nullptr;
  bool need_next_use = run_opt;
  for (const libshm_policy_ops* ops : policies) need_next_use |= ops->next_use != nullptr;
  std::vector<uint32_t> next_use;
  if (need_next_use) next_use = ComputeNextUse(trace);
  // The stack-distance pass gives LRU's faults at every size at once, for
  // the textbook case only: with writes (write-backs), windows, batches or a
  // restricted access mode, LRU is replayed like the others.
  const bool lru_by_stack = o.mrc && o.access == AccessMode::kEveryHit && o.batch == 1 &&
                            report->window == 0 && !trace.has_writes;
  std::vector<uint64_t> lru_curve;
  if (lru_by_stack) lru_curve = LruFaultCurve(trace);
  auto is_stack_lru = [&](const libshm_policy_ops* ops) {
    return lru_by_stack && std::string_view(ops->name) == "lru";
  };

  size_t runs = 0;
  for (const libshm_policy_ops* ops : policies) runs += is_stack_lru(ops) ? 0 : 1;
  Progress progress(trace.refs.size() * sizes.size() * (runs + (run_opt ? 1 : 0)) *
                        static_cast<uint64_t>(o.repeat),
                    o.progress);
  auto run = [&](const libshm_policy_ops& ops, size_t size, Row* row) {
    SimOptions sim;
    sim.capacity = size;
    sim.seed = o.seed;
    sim.access = o.access;
    sim.window = report->window;
    sim.batch = o.batch;
    sim.sample_period = o.sample_period;
    progress.SetLabel(trace.name + " " + ops.name + " size=" + std::to_string(size));
    for (int r = 0; r < o.repeat; r++) {
      SimResult result;
      if (!Simulate(trace, &next_use, ops, sim, &progress, &result, error)) return false;
      if (r == 0 || result.seconds < row->seconds) row->seconds = result.seconds;
      row->requests = result.requests;
      row->faults = result.faults;
      row->writebacks = result.writebacks;
      row->sampling_faults = result.sampling_faults;
      row->window_faults = std::move(result.window_faults);
    }
    row->policy = ops.name;
    row->size = size;
    return true;
  };
  for (size_t size : sizes) {
    Row opt_row;
    if (run_opt && !run(*opt, size, &opt_row)) return false;
    for (const libshm_policy_ops* ops : policies) {
      Row row;
      if (ops == opt && run_opt) {
        row = opt_row;
      } else if (is_stack_lru(ops)) {
        row.policy = ops->name;
        row.size = size;
        row.requests = trace.refs.size();
        row.faults = lru_curve[std::min(size, lru_curve.size() - 1)];
        row.method = "stack";
      } else if (!run(*ops, size, &row)) {
        return false;
      }
      if (run_opt) row.opt_miss_ratio = opt_row.miss_ratio();
      report->rows.push_back(std::move(row));
    }
  }
  MarkBest(report);
  return true;
}

int Convert(const Options& o) {
  if (o.inputs.size() != 1) return UsageError("--convert takes exactly one --trace or --workload");
  Trace trace;
  std::string error;
  if (!LoadInput(o.inputs[0], &trace, &error)) return Failure(error);
  if (o.write_ratio) ApplyWriteRatio(&trace, *o.write_ratio, o.seed);
  if (!WriteBinaryTrace(trace, o.convert, &error)) return Failure(error);
  struct stat st {};
  stat(o.convert.c_str(), &st);
  std::printf("wrote %s: %zu references, %zu distinct pages, %lld bytes\n", o.convert.c_str(),
              trace.refs.size(), trace.distinct(), static_cast<long long>(st.st_size));
  return 0;
}

int Main(int argc, char** argv) {
  Options o;
  if (std::string error = ParseArgs(argc, argv, &o); !error.empty()) return UsageError(error);
  if (o.list) return ListPolicies();
  if (o.inputs.empty()) return UsageError("no input: give --trace FILE or --workload SPEC");
  if (!o.convert.empty()) return Convert(o);

  std::vector<const libshm_policy_ops*> policies;
  std::string error;
  if (!ResolvePolicies(o.policy_names, &policies, &error)) return UsageError(error);
  // Sizes are checked once up front so a typo fails before any long load.
  std::vector<size_t> probe;
  if (o.sizes_given && !ResolveSizes(o.sizes, 1000, &probe, &error)) return UsageError(error);
  if (!o.plot_dir.empty()) {
    if (mkdir(o.plot_dir.c_str(), 0777) != 0 && errno != EEXIST) {
      return Failure("cannot create plot directory '" + o.plot_dir + "': " + std::strerror(errno));
    }
  }
  bool plots = !o.plot_dir.empty() && HaveGnuplot();
  if (!o.plot_dir.empty() && !plots) {
    std::fprintf(stderr,
                 "shmsim: warning: gnuplot not found (Debian: apt-get install gnuplot-nox); "
                 "no plots drawn\n");
  }

  std::vector<TraceReport> reports;
  for (const auto& input : o.inputs) {
    Trace trace;
    if (!LoadInput(input, &trace, &error)) return Failure(error);
    if (o.write_ratio) ApplyWriteRatio(&trace, *o.write_ratio, o.seed);
    std::vector<std::string> size_specs = o.sizes;
    if (!o.sizes_given) {
      if (trace.recorded.limit_pages != 0) {
        size_specs = {std::to_string(trace.recorded.limit_pages)};
      } else if (o.mrc) {
        size_specs = kMrcSizes;
      } else {
        size_specs = {"5%", "10%", "20%", "40%"};
      }
    }
    std::vector<size_t> sizes;
    if (!ResolveSizes(size_specs, trace.distinct(), &sizes, &error)) return UsageError(error);
    TraceReport report;
    if (!RunTrace(trace, o, policies, sizes, &report, &error)) return Failure(error);
    if (plots) {
      std::vector<std::string> written;
      if (!WritePlots(report, o.plot_dir, o.plot_format, &written, &error)) return Failure(error);
      for (const std::string& path : written)
        std::fprintf(stderr, "shmsim: wrote %s\n", path.c_str());
    }
    reports.push_back(std::move(report));
  }
  PrintReports(reports, o.format, stdout);
  return 0;
}

}  // namespace
}  // namespace libshm::internal

int main(int argc, char** argv) { return libshm::internal::Main(argc, argv); }
