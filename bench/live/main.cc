// SPDX-License-Identifier: MIT
// shmlive: runs a workload live under libshm, once per policy, limit and
// sampling rate, each run in a fresh process with its own session, and
// reports what the runtime did (faults, swap-ins and -outs, bytes written
// back, wall time, fault latency on both sides, samples) beside what shmsim
// predicts for the same references at the same size. bench/policies/LIVE.md
// holds measured results and the command that regenerates them.
//
// Exit status: 0 success, 1 a run failed, 2 bad command line.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "libshm/policy.h"
#include "live_runner.h"
#include "simulator.h"
#include "trace.h"
#include "workload.h"

#ifndef LIBSHM_SHMRUN_PATH
#define LIBSHM_SHMRUN_PATH "shmrun"
#endif

namespace libshm::internal {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr uint64_t kPageSize = 4096;
// LIBSHM_LIMIT's minimum (libshm/src/options.def).
constexpr uint64_t kMinLimitBytes = 1ull << 20;

const char* kUsage =
    "usage: shmlive (--trace FILE | --workload SPEC)... [options]\n"
    "       shmlive [options] -- CMD [ARG...]\n"
    "\n"
    "Runs a workload live under libshm once per policy, limit and sampling rate,\n"
    "each run in a fresh process with its own session, and reports what the\n"
    "runtime did beside what shmsim predicts at the same size.\n"
    "\n"
    "input (repeatable, mixed), or a command:\n"
    "  --trace FILE        any trace shmsim reads; replayed onto one managed region,\n"
    "                      one page per distinct page, each reference a read or a write\n"
    "  --workload SPEC     a shmsim synthetic workload, e.g. zipf:pages=20000,write=0.3\n"
    "  -- CMD [ARG...]     run CMD under shmrun instead (no miss ratio: no reference count)\n"
    "options:\n"
    "  --policy LIST       comma-separated live policies, or 'all' (default all)\n"
    "  --size LIST         limits, comma-separated: PAGES, PERCENT% of the distinct pages,\n"
    "                      or bytes with K/M/G (at least 1M = 256 pages; default 10%;\n"
    "                      for a command, bytes only, default 64M)\n"
    "  --sample-rate LIST  run each policy at each LIBSHM_SAMPLE_RATE (default: the\n"
    "                      runtime's); only policies that use samples are affected\n"
    "  --low-watermark N   LIBSHM_LOW_WATERMARK, 10..100 (default: the runtime's)\n"
    "  --evict-batch N     LIBSHM_EVICT_BATCH (default: the runtime's, 64); the\n"
    "                      simulation evicts the same number at a time\n"
    "  --cluster N         LIBSHM_CLUSTER (default for replays 1: pages are renumbered\n"
    "                      in first-reference order, which would look sequential to\n"
    "                      fill-ahead; for commands the runtime's)\n"
    "  --write-ratio R     make each reference a write with probability R (seeded)\n"
    "  --seed N            seed for --write-ratio and the simulated policies (default 1)\n"
    "  --repeat N          run every configuration N times, in N rounds over all of\n"
    "                      them; report each one's fastest run\n"
    "  --format F          table (default; key=value lines for single runs), csv, json,\n"
    "                      or markdown (live against simulated miss ratios)\n"
    "  --no-sim            leave out the simulated columns\n"
    "  --no-client-timing  do not time accesses in the replaying process\n"
    "  --record DIR        record each run with LIBSHM_TRACE into DIR\n"
    "  --timeout SEC       kill a run that takes longer (default 600)\n"
    "  --shmrun PATH       shmrun for commands (default: the one built with shmlive)\n";

struct Options {
  std::vector<std::pair<bool, std::string>> inputs;  // (is_workload, path or spec)
  std::vector<std::string> command;
  std::vector<std::string> policy_names;
  std::vector<std::string> sizes;
  std::vector<std::string> sample_rates;
  std::string low_watermark;
  std::string evict_batch;
  std::string cluster;
  bool cluster_given = false;
  std::optional<double> write_ratio;
  uint64_t seed = 1;
  int repeat = 1;
  std::string format = "table";
  bool sim = true;
  bool client_timing = true;
  std::string record_dir;
  double timeout_s = 600;
  std::string shmrun = LIBSHM_SHMRUN_PATH;
  bool child = false;
};

// One live run and what the simulator says of the same configuration.
struct LiveRow {
  std::string input;
  std::string policy;
  uint64_t distinct = 0;
  uint64_t limit_pages = 0;
  Fields live;
  double sim_faults = -1;   // shmsim --access faults --batch B: the pager's view
  double sim_sampled = -1;  // --access sampled:N with N matched to the run's samples
  double sim_every = -1;    // --access every --batch B: the textbook figure
  uint64_t sim_fault_count = 0;
  uint64_t sim_writebacks = 0;
};

int UsageError(const std::string& message) {
  std::fprintf(stderr, "shmlive: error: %s\n(shmlive --help for usage)\n", message.c_str());
  return kExitUsage;
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

bool ParseUnsigned(const std::string& s, uint64_t* out) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  *out = std::strtoull(s.c_str(), nullptr, 10);
  return errno == 0;
}

std::string ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--") {
      o->command.assign(argv + i + 1, argv + argc);
      if (o->command.empty()) return "-- needs a command";
      break;
    }
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
    auto take_uint = [&](std::string* v, uint64_t lo, uint64_t hi, std::string* error) {
      if (!take(v)) return false;
      uint64_t n = 0;
      if (!ParseUnsigned(*v, &n) || n < lo || n > hi) {
        *error = "bad " + arg + " '" + *v + "': expected " + std::to_string(lo) + ".." +
                 std::to_string(hi);
      }
      return true;
    };
    std::string v, error;
    bool ok = true;
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::printf("workloads (SPEC = kind:key=value,...):\n%s", WorkloadHelp().c_str());
      std::exit(0);
    } else if (arg == "--trace") {
      ok = take(&v);
      o->inputs.emplace_back(false, v);
    } else if (arg == "--workload") {
      ok = take(&v);
      o->inputs.emplace_back(true, v);
    } else if (arg == "--policy") {
      ok = take(&v);
      o->policy_names = SplitCommas(v);
    } else if (arg == "--size") {
      ok = take(&v);
      o->sizes = SplitCommas(v);
    } else if (arg == "--sample-rate") {
      ok = take(&v);
      o->sample_rates = SplitCommas(v);
      for (const std::string& r : o->sample_rates) {
        uint64_t n = 0;
        if (ok && (!ParseUnsigned(r, &n) || n > 100000)) {
          return "bad --sample-rate '" + r + "': expected 0..100000";
        }
      }
    } else if (arg == "--low-watermark") {
      ok = take_uint(&o->low_watermark, 10, 100, &error);
    } else if (arg == "--evict-batch") {
      ok = take_uint(&o->evict_batch, 1, 4096, &error);
    } else if (arg == "--cluster") {
      ok = take_uint(&o->cluster, 1, 256, &error);
      o->cluster_given = true;
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
    } else if (arg == "--repeat") {
      uint64_t n = 0;
      ok = take(&v);
      if (ok && (!ParseUnsigned(v, &n) || n == 0 || n > 100)) {
        return "bad --repeat '" + v + "': expected 1..100";
      }
      o->repeat = static_cast<int>(n);
    } else if (arg == "--format") {
      ok = take(&o->format);
      if (ok && o->format != "table" && o->format != "csv" && o->format != "json" &&
          o->format != "markdown") {
        return "bad --format '" + o->format + "': expected table, csv, json or markdown";
      }
    } else if (arg == "--no-sim" && !has_value) {
      o->sim = false;
    } else if (arg == "--no-client-timing" && !has_value) {
      o->client_timing = false;
    } else if (arg == "--record") {
      ok = take(&o->record_dir);
    } else if (arg == "--timeout") {
      ok = take(&v);
      char* end = nullptr;
      o->timeout_s = std::strtod(v.c_str(), &end);
      if (ok && (v.empty() || *end != '\0' || !(o->timeout_s > 0))) {
        return "bad --timeout '" + v + "': expected seconds";
      }
    } else if (arg == "--shmrun") {
      ok = take(&o->shmrun);
    } else if (arg == "--child" && !has_value) {
      o->child = true;
    } else {
      return "unknown option '" + arg + "'";
    }
    if (!error.empty()) return error;
    if (!ok) return "option " + arg + " needs a value";
  }
  if (o->inputs.empty() && o->command.empty()) return "no --trace, --workload or command";
  if (!o->inputs.empty() && !o->command.empty()) {
    return "give traces and workloads, or a command, not both";
  }
  return "";
}

// "PAGES", "PERCENT%" of `distinct`, or bytes with a K/M/G suffix, to a
// limit in bytes (a whole number of pages).
bool ResolveLimit(const std::string& spec, uint64_t distinct, uint64_t* bytes, std::string* error) {
  *error = "bad --size '" + spec + "': expected PAGES, PERCENT% or a size such as 8M";
  if (spec.empty()) return false;
  char last = static_cast<char>(toupper(static_cast<unsigned char>(spec.back())));
  std::string number = spec.substr(0, spec.size() - 1);
  uint64_t n = 0;
  if (last == '%') {
    char* end = nullptr;
    double pct = std::strtod(number.c_str(), &end);
    if (number.empty() || *end != '\0' || !(pct > 0 && pct <= 1000)) return false;
    if (distinct == 0) {
      *error = "--size '" + spec + "': a percentage needs a trace or workload";
      return false;
    }
    *bytes =
        static_cast<uint64_t>(std::round(pct / 100.0 * static_cast<double>(distinct))) * kPageSize;
  } else if (last == 'K' || last == 'M' || last == 'G') {
    if (!ParseUnsigned(number, &n)) return false;
    unsigned shift = last == 'K' ? 10 : last == 'M' ? 20 : 30;
    *bytes = (n << shift) / kPageSize * kPageSize;
  } else {
    if (!ParseUnsigned(spec, &n)) return false;
    if (distinct == 0) {
      *error = "--size '" + spec + "': give a command's limit in bytes, such as 64M";
      return false;
    }
    *bytes = n * kPageSize;
  }
  if (*bytes < kMinLimitBytes) {
    *error = "--size '" + spec + "' is " + std::to_string(*bytes / kPageSize) +
             " pages, below LIBSHM_LIMIT's minimum of 1M (256 pages)";
    return false;
  }
  error->clear();
  return true;
}

bool ResolvePolicies(const std::vector<std::string>& names,
                     std::vector<const libshm_policy_ops*>* out, std::string* error) {
  std::vector<const libshm_policy_ops*> all(libshm_policy_list(nullptr, 0));
  all.resize(libshm_policy_list(all.data(), all.size()));
  if (names.empty() || (names.size() == 1 && names[0] == "all")) {
    for (const libshm_policy_ops* ops : all) {
      if (ops->live) out->push_back(ops);
    }
    return true;
  }
  for (const std::string& name : names) {
    const libshm_policy_ops* ops = libshm_policy_find(name.c_str());
    if (ops == nullptr || !ops->live) {
      std::string known;
      for (const libshm_policy_ops* p : all) {
        if (p->live) known += std::string(" ") + p->name;
      }
      *error = (ops == nullptr ? "unknown policy '" : "policy cannot run live: '") + name +
               "' (live:" + known + ", or all)";
      return false;
    }
    if (std::find(out->begin(), out->end(), ops) == out->end()) out->push_back(ops);
  }
  return true;
}

bool LoadInput(const std::pair<bool, std::string>& input, const Options& o, Trace* trace,
               std::string* error) {
  bool ok = input.first ? MakeWorkload(input.second, trace, error)
                        : LoadTrace(input.second, trace, error);
  if (ok && o.write_ratio) ApplyWriteRatio(trace, *o.write_ratio, o.seed);
  if (ok && trace->refs.empty()) {
    *error = input.second + ": no references";
    return false;
  }
  return ok;
}

std::string SelfPath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "shmlive";
  buf[n] = '\0';
  return buf;
}

double Number(const Fields& f, const char* key) {
  auto it = f.find(key);
  return it == f.end() ? 0 : std::strtod(it->second.c_str(), nullptr);
}

std::string Text(const Fields& f, const char* key) {
  auto it = f.find(key);
  return it == f.end() ? "-" : it->second;
}

std::string Fixed(double v, int digits) {
  if (v < 0) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

double MissRatio(const LiveRow& r) {
  double requests = Number(r.live, "requests");
  return requests > 0 ? Number(r.live, "faults") / requests : -1;
}

// Pages made resident ahead of a fault (fill-ahead): every zero fill and
// swap-in that was not a fault of its own.
double Fills(const LiveRow& r) {
  return std::max(
      0.0, Number(r.live, "zero_fills") + Number(r.live, "swap_ins") - Number(r.live, "faults"));
}

std::string FileStem(const std::string& name) {
  std::string stem = name.substr(name.find_last_of('/') + 1);
  for (char& c : stem) {
    if (c == ':' || c == ',' || c == '=' || c == ' ') c = '_';
  }
  return stem;
}

template <typename T>
std::string DefaultText(T v) {
  if constexpr (std::is_integral_v<T>) {
    return std::to_string(v);
  } else {
    return v;
  }
}

// The runtime's default of a LIBSHM_* option, from the one table.
std::string RuntimeDefault(std::string_view field) {
#define OPTION(name, env, type, def, min, max, form, desc) \
  if (field == #name) return DefaultText(def);
#include "options.def"
#undef OPTION
  return "-";
}

// A command's stats say nothing of the settings it ran with: say them.
void AddSettings(const LiveSettings& s, Fields* f) {
  const std::pair<const char*, const std::string*> kSettings[] = {
      {"sample_rate", &s.sample_rate},
      {"low_watermark", &s.low_watermark},
      {"evict_batch", &s.evict_batch},
      {"cluster", &s.cluster}};
  for (const auto& [name, value] : kSettings) {
    if (f->count(name) == 0) (*f)[name] = value->empty() ? RuntimeDefault(name) : *value;
  }
}

void Simulated(const Trace& trace, const libshm_policy_ops& ops, const Options& o, LiveRow* row) {
  SimOptions sim;
  sim.capacity = row->limit_pages;
  sim.seed = o.seed;
  uint64_t batch = 64;
  if (!o.evict_batch.empty()) ParseUnsigned(o.evict_batch, &batch);
  sim.batch = batch;
  SimResult result;
  std::string error;
  sim.access = AccessMode::kWriteFaults;
  if (Simulate(trace, nullptr, ops, sim, nullptr, &result, &error)) {
    row->sim_faults = static_cast<double>(result.faults) / static_cast<double>(result.requests);
    row->sim_fault_count = result.faults;
    row->sim_writebacks = result.writebacks;
  }
  // The runtime samples by time, the model by references: arm as many pages
  // as the run sampled, spread evenly over the references.
  uint64_t samples = static_cast<uint64_t>(Number(row->live, "samples"));
  if (samples > 0 && (ops.access_info & LIBSHM_ACCESS_SAMPLED) != 0) {
    sim.access = AccessMode::kSampled;
    sim.sample_period = std::max<uint64_t>(1, trace.refs.size() / samples);
    if (Simulate(trace, nullptr, ops, sim, nullptr, &result, &error)) {
      row->sim_sampled = static_cast<double>(result.faults) / static_cast<double>(result.requests);
    }
  }
  sim.access = AccessMode::kEveryHit;
  if (Simulate(trace, nullptr, ops, sim, nullptr, &result, &error)) {
    row->sim_every = static_cast<double>(result.faults) / static_cast<double>(result.requests);
  }
}

// The fields of a row in output order: (name, value).
std::vector<std::pair<std::string, std::string>> RowFields(const LiveRow& r) {
  const Fields& f = r.live;
  std::vector<std::pair<std::string, std::string>> out = {
      {"input", r.input},
      {"policy", r.policy},
      {"limit_pages", std::to_string(r.limit_pages)},
      {"size_pct", r.distinct == 0 ? "-"
                                   : Fixed(100.0 * static_cast<double>(r.limit_pages) /
                                               static_cast<double>(r.distinct),
                                           2)},
      {"sample_rate", Text(f, "sample_rate")},
      {"low_watermark", Text(f, "low_watermark")},
      {"evict_batch", Text(f, "evict_batch")},
      {"cluster", Text(f, "cluster")},
      {"requests", Text(f, "requests")},
      {"faults", Text(f, "faults")},
      {"miss_ratio", Fixed(MissRatio(r), 6)},
      {"fills", Fixed(Fills(r), 0)},
      {"swap_ins", Text(f, "swap_ins")},
      {"swap_outs", Text(f, "swap_outs")},
      {"writeback_bytes", Text(f, "writeback_bytes")},
      {"evictions", Text(f, "evictions")},
      {"wp_faults", Text(f, "wp_faults")},
      {"samples", Text(f, "samples")},
      {"sample_hits", Text(f, "sample_hits")},
      {"fault_ns_p50", Text(f, "fault_ns_p50")},
      {"fault_ns_p99", Text(f, "fault_ns_p99")},
      {"client_stalls", Text(f, "client_stalls")},
      {"client_stall_ns_p50", Text(f, "client_stall_ns_p50")},
      {"client_stall_ns_p99", Text(f, "client_stall_ns_p99")},
      {"wall_s", Text(f, "wall_s")},
      {"client_cpu_s", Text(f, "client_cpu_s")},
      {"sim_miss_ratio", Fixed(r.sim_faults, 6)},
      {"sim_sampled_miss_ratio", Fixed(r.sim_sampled, 6)},
      {"sim_every_miss_ratio", Fixed(r.sim_every, 6)},
      {"sim_writebacks", r.sim_faults < 0 ? "-" : std::to_string(r.sim_writebacks)},
      {"sim_faults", r.sim_faults < 0 ? "-" : std::to_string(r.sim_fault_count)},
  };
  return out;
}

bool IsNumber(const std::string& s) {
  if (s.empty() || s == "-") return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return *end == '\0';
}

void PrintCsv(const std::vector<LiveRow>& rows) {
  if (rows.empty()) return;
  std::string header;
  for (const auto& [name, value] : RowFields(rows[0])) header += (header.empty() ? "" : ",") + name;
  std::printf("%s\n", header.c_str());
  for (const LiveRow& r : rows) {
    std::string line;
    bool first = true;
    for (const auto& [name, value] : RowFields(r)) {
      line += first ? "" : ",";
      first = false;
      if (value.find_first_of(",\"\n") == std::string::npos) {
        line += value;
        continue;
      }
      line += '"';
      for (char c : value) line += c == '"' ? std::string("\"\"") : std::string(1, c);
      line += '"';
    }
    std::printf("%s\n", line.c_str());
  }
}

void PrintJson(const std::vector<LiveRow>& rows) {
  std::printf("[\n");
  for (size_t i = 0; i < rows.size(); i++) {
    std::string obj;
    for (const auto& [name, value] : RowFields(rows[i])) {
      obj += obj.empty() ? "{" : ", ";
      obj += "\"" + name + "\": ";
      if (IsNumber(value)) {
        obj += value;
      } else if (value == "-") {
        obj += "null";
      } else {
        std::string escaped;
        for (char c : value)
          escaped += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
        obj += "\"" + escaped + "\"";
      }
    }
    std::printf("  %s}%s\n", obj.c_str(), i + 1 < rows.size() ? "," : "");
  }
  std::printf("]\n");
}

std::string Micros(const Fields& f, const char* key) {
  double ns = Number(f, key);
  return f.count(key) == 0 ? "-" : Fixed(ns / 1000.0, 1);
}

void PrintTable(const std::vector<LiveRow>& rows) {
  if (rows.size() == 1) {
    std::string line;
    for (const auto& [name, value] : RowFields(rows[0])) {
      line += (line.empty() ? "" : " ") + name + "=" + value;
    }
    std::printf("%s\n", line.c_str());
    return;
  }
  std::string input;
  bool first = true;
  for (const LiveRow& r : rows) {
    if (first || r.input != input) {
      input = r.input;
      const bool was_first = first;
      first = false;
      std::printf("%s%s: %s references, %llu distinct pages\n", was_first ? "" : "\n",
                  input.c_str(), Text(r.live, "requests").c_str(),
                  static_cast<unsigned long long>(r.distinct));
      std::printf("%-10s %7s %6s %9s %8s %8s %8s %8s %8s %9s %7s/%-7s %7s/%-7s %7s/%-7s %8s\n",
                  "policy", "limit", "rate", "faults", "miss", "sim", "sim_samp", "sim_every",
                  "swap_in", "swap_out", "samples", "hits", "p50us", "p99us", "cp50us", "cp99us",
                  "wall_s");
    }
    std::printf("%-10s %7llu %6s %9s %8s %8s %8s %8s %8s %9s %7s/%-7s %7s/%-7s %7s/%-7s %8s\n",
                r.policy.c_str(), static_cast<unsigned long long>(r.limit_pages),
                Text(r.live, "sample_rate").c_str(), Text(r.live, "faults").c_str(),
                Fixed(MissRatio(r), 4).c_str(), Fixed(r.sim_faults, 4).c_str(),
                Fixed(r.sim_sampled, 4).c_str(), Fixed(r.sim_every, 4).c_str(),
                Text(r.live, "swap_ins").c_str(), Text(r.live, "swap_outs").c_str(),
                Text(r.live, "samples").c_str(), Text(r.live, "sample_hits").c_str(),
                Micros(r.live, "fault_ns_p50").c_str(), Micros(r.live, "fault_ns_p99").c_str(),
                Micros(r.live, "client_stall_ns_p50").c_str(),
                Micros(r.live, "client_stall_ns_p99").c_str(), Text(r.live, "wall_s").c_str());
  }
}

// One table per input: live against simulated miss ratios, for reports.
void PrintMarkdown(const std::vector<LiveRow>& rows) {
  std::string input;
  bool first = true;
  for (const LiveRow& r : rows) {
    if (first || r.input != input) {
      input = r.input;
      const bool was_first = first;
      first = false;
      std::printf("%s### %s\n\n%s references, %llu distinct pages.\n\n", was_first ? "" : "\n",
                  input.c_str(), Text(r.live, "requests").c_str(),
                  static_cast<unsigned long long>(r.distinct));
      std::printf(
          "| policy | limit (pages) | sample rate | live | sim, pager's view | sim, sampled | "
          "sim, every hit | live − pager's view | swap-ins | swap-outs | samples / hits | "
          "fault p50 / p99 µs | wall s |\n");
      std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    }
    double delta = MissRatio(r) >= 0 && r.sim_faults >= 0 ? MissRatio(r) - r.sim_faults : NAN;
    char delta_text[32];
    if (std::isnan(delta)) {
      std::snprintf(delta_text, sizeof(delta_text), "-");
    } else {
      std::snprintf(delta_text, sizeof(delta_text), "%+.4f", delta);
    }
    std::printf(
        "| %s | %llu (%s%%) | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s |\n",
        r.policy.c_str(), static_cast<unsigned long long>(r.limit_pages),
        r.distinct == 0
            ? "-"
            : Fixed(100.0 * static_cast<double>(r.limit_pages) / static_cast<double>(r.distinct), 0)
                  .c_str(),
        Text(r.live, "sample_rate").c_str(), Fixed(MissRatio(r), 4).c_str(),
        Fixed(r.sim_faults, 4).c_str(), Fixed(r.sim_sampled, 4).c_str(),
        Fixed(r.sim_every, 4).c_str(), delta_text, Text(r.live, "swap_ins").c_str(),
        Text(r.live, "swap_outs").c_str(), Text(r.live, "samples").c_str(),
        Text(r.live, "sample_hits").c_str(), Micros(r.live, "fault_ns_p50").c_str(),
        Micros(r.live, "fault_ns_p99").c_str(), Fixed(Number(r.live, "wall_s"), 2).c_str());
  }
}

int ChildMain(const Options& o) {
  if (o.inputs.size() != 1) {
    std::fprintf(stderr, "shmlive: --child takes one input\n");
    return kExitFailure;
  }
  Trace trace;
  std::string error;
  if (!LoadInput(o.inputs[0], o, &trace, &error)) {
    std::fprintf(stderr, "shmlive: error: %s\n", error.c_str());
    return kExitFailure;
  }
  return ReplayInThisProcess(trace, o.client_timing);
}

int Main(int argc, char** argv) {
  Options o;
  std::string error = ParseArgs(argc, argv, &o);
  if (!error.empty()) return UsageError(error);
  if (o.child) return ChildMain(o);
  std::vector<const libshm_policy_ops*> policies;
  if (!ResolvePolicies(o.policy_names, &policies, &error)) return UsageError(error);
  if (o.sizes.empty()) o.sizes = {o.command.empty() ? "10%" : "64M"};
  if (o.sample_rates.empty()) o.sample_rates = {""};
  if (o.command.empty() && !o.cluster_given) o.cluster = "1";
  // Validate every size before the first (slow) run.
  std::vector<Trace> traces(std::max<size_t>(1, o.inputs.size()));
  std::vector<std::vector<uint64_t>> limits(traces.size());
  for (size_t t = 0; t < traces.size(); t++) {
    if (!o.command.empty()) {
      traces[t].name = o.command[0];
    } else if (!LoadInput(o.inputs[t], o, &traces[t], &error)) {
      std::fprintf(stderr, "shmlive: error: %s\n", error.c_str());
      return kExitFailure;
    }
    for (const std::string& spec : o.sizes) {
      uint64_t bytes = 0;
      if (!ResolveLimit(spec, traces[t].distinct(), &bytes, &error)) return UsageError(error);
      if (std::find(limits[t].begin(), limits[t].end(), bytes) == limits[t].end()) {
        limits[t].push_back(bytes);
      }
    }
    std::sort(limits[t].begin(), limits[t].end());
  }

  // Every configuration first, then `repeat` rounds over all of them, so
  // that a slow spell of the machine spreads over configurations instead of
  // landing on one; each keeps its fastest run (noise only adds time).
  struct Job {
    size_t trace;
    LiveSettings settings;
    const libshm_policy_ops* ops;
    std::vector<std::string> argv;
    std::optional<Fields> fastest;
    bool failed = false;
  };
  const std::string self = SelfPath();
  std::vector<Job> jobs;
  for (size_t t = 0; t < traces.size(); t++) {
    const Trace& trace = traces[t];
    std::vector<std::string> child_argv;
    if (o.command.empty()) {
      child_argv = {self,
                    "--child",
                    o.inputs[t].first ? "--workload" : "--trace",
                    o.inputs[t].second,
                    "--seed",
                    std::to_string(o.seed)};
      if (o.write_ratio) {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.17g", *o.write_ratio);
        child_argv.insert(child_argv.end(), {"--write-ratio", buf});
      }
      if (!o.client_timing) child_argv.push_back("--no-client-timing");
    }
    for (uint64_t limit : limits[t]) {
      for (const std::string& rate : o.sample_rates) {
        for (const libshm_policy_ops* ops : policies) {
          Job job{t, {}, ops, child_argv, std::nullopt};
          LiveSettings& s = job.settings;
          s.policy = ops->name;
          s.limit_bytes = limit;
          s.sample_rate = rate;
          s.low_watermark = o.low_watermark;
          s.evict_batch = o.evict_batch;
          s.cluster = o.cluster;
          s.timeout_s = o.timeout_s;
          if (!o.record_dir.empty()) {
            s.record = o.record_dir + "/" + FileStem(trace.name) + "." + ops->name + "." +
                       std::to_string(limit / kPageSize) + (rate.empty() ? "" : "." + rate) +
                       ".trace";
          }
          jobs.push_back(std::move(job));
        }
      }
    }
  }
  bool failed = false;
  const bool progress = isatty(STDERR_FILENO) != 0;
  size_t done = 0;
  for (int round = 0; round < o.repeat; round++) {
    for (Job& job : jobs) {
      if (job.failed) continue;
      if (progress) {
        std::fprintf(
            stderr, "\rshmlive: run %zu/%zu: %s %s %llu pages%s%s\033[K", ++done,
            jobs.size() * static_cast<size_t>(o.repeat), traces[job.trace].name.c_str(),
            job.ops->name, static_cast<unsigned long long>(job.settings.limit_bytes / kPageSize),
            job.settings.sample_rate.empty() ? "" : " rate ", job.settings.sample_rate.c_str());
      }
      Fields f;
      bool ok = o.command.empty() ? RunChild(job.argv, job.settings, &f, &error)
                                  : RunCommand(o.shmrun, o.command, job.settings, &f, &error);
      if (!ok) {
        std::fprintf(stderr, "shmlive: error: %s: %s\n", traces[job.trace].name.c_str(),
                     error.c_str());
        job.failed = failed = true;
        continue;
      }
      if (!job.fastest || Number(f, "wall_s") < Number(*job.fastest, "wall_s")) {
        job.fastest = std::move(f);
      }
    }
  }
  if (progress) std::fprintf(stderr, "\r\033[K");
  std::vector<LiveRow> rows;
  for (Job& job : jobs) {
    if (job.failed) continue;
    const Trace& trace = traces[job.trace];
    LiveRow row;
    row.input = trace.name;
    row.policy = job.ops->name;
    row.distinct = trace.distinct();
    row.limit_pages = job.settings.limit_bytes / kPageSize;
    row.live = std::move(*job.fastest);
    AddSettings(job.settings, &row.live);
    if (Text(row.live, "policy") != job.ops->name) {
      std::fprintf(stderr, "shmlive: warning: asked for policy %s, the session ran %s\n",
                   job.ops->name, Text(row.live, "policy").c_str());
    }
    if (o.sim && o.command.empty()) Simulated(trace, *job.ops, o, &row);
    rows.push_back(std::move(row));
  }
  if (o.format == "csv") {
    PrintCsv(rows);
  } else if (o.format == "json") {
    PrintJson(rows);
  } else if (o.format == "markdown") {
    PrintMarkdown(rows);
  } else {
    PrintTable(rows);
  }
  return failed ? kExitFailure : 0;
}

}  // namespace
}  // namespace libshm::internal

int main(int argc, char** argv) { return libshm::internal::Main(argc, argv); }
