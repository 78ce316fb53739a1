// SPDX-License-Identifier: MIT
#include "stats.h"

#include <stdio.h>
#include <string.h>

#include "config.h"

namespace libshm::internal {
namespace {

enum Shown { kFull, kBrief };

struct StatField {
  const char* name;
  const char* unit;
  const char* description;
  size_t offset;
  Shown shown;
};

const StatField kFields[] = {
#define STAT(field, unit, shown, desc) \
  {#field, #unit, desc, offsetof(libshm_stats_t, field), shown},
#include "stats.def"
#undef STAT
};

struct NativeReason {
  const char* name;
  const char* description;
};

// Indexed by LIBSHM_NATIVE_* (libshm.h).
const NativeReason kNativeReasons[LIBSHM_NATIVE_REASONS] = {
    {"hugetlb", "MAP_HUGETLB (hugetlbfs pages are not managed)"},
    {"flags", "a flag libshm does not manage (MAP_SYNC, MAP_UNINITIALIZED, ...)"},
    {"min_size", "smaller than LIBSHM_MIN_SIZE"},
    {"error", "the helper refused the region (swap full, LIBSHM_SWAP_MAX, no fds)"},
    {"no_session", "the process could not join the session"},
};

uint64_t FieldValue(const libshm_stats_t& s, const StatField& f) {
  uint64_t v;
  memcpy(&v, reinterpret_cast<const char*>(&s) + f.offset, sizeof(v));
  return v;
}

// The aligned table: the rows shown at `level` (every row for kFull), then
// the fault latency histogram.
void PrintTable(const libshm_stats_t& s, Shown level, WriteCallback cb, void* arg) {
  char line[256];
  snprintf(line, sizeof(line), "libshm stats (policy %s, mode %s)\n", s.policy, s.mode);
  cb(arg, line);
  for (const StatField& f : kFields) {
    if (level == kBrief && f.shown != kBrief) continue;
    uint64_t v = FieldValue(s, f);
    char human[32] = "";
    if (strcmp(f.unit, "bytes") == 0) {
      snprintf(human, sizeof(human), "%.1f MiB", static_cast<double>(v) / (1 << 20));
    } else if (strcmp(f.unit, "ns") == 0) {
      snprintf(human, sizeof(human), "%.1f us", static_cast<double>(v) / 1000);
    }
    snprintf(line, sizeof(line), "  %-22s %14llu  %-12s %s\n", f.name,
             static_cast<unsigned long long>(v), human, f.description);
    cb(arg, line);
  }
  cb(arg, "  fault service time histogram (us: faults)\n   ");
  // Wrapped to fit 80 columns.
  size_t width = 3;
  for (int i = 0; i < LIBSHM_FAULT_HIST_BUCKETS; i++) {
    if (s.fault_us_hist[i] == 0) continue;
    int n = snprintf(line, sizeof(line), " %s%llu: %llu",
                     i == 0 ? "<" : ">=", i == 0 ? 1ull : 1ull << (i - 1),
                     static_cast<unsigned long long>(s.fault_us_hist[i]));
    if (width > 3 && width + static_cast<size_t>(n) > 80) {
      cb(arg, "\n   ");
      width = 3;
    }
    cb(arg, line);
    width += static_cast<size_t>(n);
  }
  cb(arg, "\n");
  // Shared anonymous memory left to the kernel: every reason in the full
  // table; in the brief one only those seen, short enough for 80 columns.
  if (level == kFull) cb(arg, "  shared anonymous memory left native (bytes, mappings, reason)\n");
  for (int r = 0; r < LIBSHM_NATIVE_REASONS; r++) {
    const NativeReason& reason = kNativeReasons[r];
    unsigned long long bytes = s.native_bytes[r], mappings = s.native_mappings[r];
    double mib = static_cast<double>(bytes) / (1 << 20);
    if (level == kFull) {
      snprintf(line, sizeof(line),
               "  native_shared_bytes{reason=\"%s\"} %llu  %.1f MiB  %llu  %s\n", reason.name,
               bytes, mib, mappings, reason.description);
    } else if (mappings != 0) {
      // Sized in the largest unit that keeps a digit before the point.
      const char* units = "KMGTPE";
      double v = static_cast<double>(bytes) / 1024;
      int u = 0;
      while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
      }
      snprintf(line, sizeof(line),
               "  native_shared_bytes{reason=\"%s\"} %.1f%ciB in %llu mapping%s\n", reason.name, v,
               units[u], mappings, mappings == 1 ? "" : "s");
    } else {
      continue;
    }
    cb(arg, line);
  }
}

}  // namespace

void PrintStats(const libshm_stats_t& s, bool json, WriteCallback cb, void* arg) {
  char line[256];
  if (json) {
    cb(arg, "{");
    for (const StatField& f : kFields) {
      snprintf(line, sizeof(line), "\"%s\": %llu, ", f.name,
               static_cast<unsigned long long>(FieldValue(s, f)));
      cb(arg, line);
    }
    cb(arg, "\"fault_us_hist\": [");
    for (int i = 0; i < LIBSHM_FAULT_HIST_BUCKETS; i++) {
      snprintf(line, sizeof(line), i == 0 ? "%llu" : ", %llu",
               static_cast<unsigned long long>(s.fault_us_hist[i]));
      cb(arg, line);
    }
    for (int kind = 0; kind < 2; kind++) {
      const uint64_t* v = kind == 0 ? s.native_bytes : s.native_mappings;
      cb(arg, kind == 0 ? "], \"native_shared_bytes\": {" : "}, \"native_shared_mappings\": {");
      for (int r = 0; r < LIBSHM_NATIVE_REASONS; r++) {
        snprintf(line, sizeof(line), "%s\"%s\": %llu", r == 0 ? "" : ", ", kNativeReasons[r].name,
                 static_cast<unsigned long long>(v[r]));
        cb(arg, line);
      }
    }
    snprintf(line, sizeof(line), "}, \"policy\": \"%s\", \"mode\": \"%s\"}\n", s.policy, s.mode);
    cb(arg, line);
    return;
  }
  PrintTable(s, kFull, cb, arg);
}

void PrintStatsBrief(const libshm_stats_t& s, WriteCallback cb, void* arg) {
  PrintTable(s, kBrief, cb, arg);
}

const char* NativeReasonName(int reason) {
  return reason >= 0 && reason < LIBSHM_NATIVE_REASONS ? kNativeReasons[reason].name : nullptr;
}

const char* NativeReasonDescription(int reason) {
  return reason >= 0 && reason < LIBSHM_NATIVE_REASONS ? kNativeReasons[reason].description
                                                       : nullptr;
}

bool StatByName(const libshm_stats_t& s, const char* name, uint64_t* out) {
  for (int kind = 0; kind < 2; kind++) {
    const char* prefix = kind == 0 ? "native_shared_bytes." : "native_shared_mappings.";
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0) continue;
    for (int r = 0; r < LIBSHM_NATIVE_REASONS; r++) {
      if (strcmp(name + n, kNativeReasons[r].name) == 0) {
        *out = kind == 0 ? s.native_bytes[r] : s.native_mappings[r];
        return true;
      }
    }
    return false;
  }
  for (const StatField& f : kFields) {
    if (strcmp(f.name, name) == 0) {
      *out = FieldValue(s, f);
      return true;
    }
  }
  return false;
}

int LatencyHistogram::BucketOf(uint64_t ns) {
  if (ns < (1u << kSubBits)) return static_cast<int>(ns);
  int msb = 63 - __builtin_clzll(ns);
  int sub = static_cast<int>((ns >> (msb - kSubBits)) & ((1 << kSubBits) - 1));
  return ((msb - kSubBits + 1) << kSubBits) + sub;
}

uint64_t LatencyHistogram::ValueOf(int bucket) {
  if (bucket < (1 << kSubBits)) return static_cast<uint64_t>(bucket);
  int msb = (bucket >> kSubBits) + kSubBits - 1;
  uint64_t sub = static_cast<uint64_t>(bucket & ((1 << kSubBits) - 1));
  return (1ull << msb) | (sub << (msb - kSubBits));
}

void LatencyHistogram::Record(uint64_t ns) {
  int b = BucketOf(ns);
  if (b >= kBuckets) b = kBuckets - 1;
  buckets_[b]++;
  count_++;
}

void LatencyHistogram::Log2Microseconds(uint64_t* out, int n) const {
  for (int i = 0; i < n; i++) out[i] = 0;
  for (int b = 0; b < kBuckets; b++) {
    if (buckets_[b] == 0) continue;
    uint64_t us = ValueOf(b) / 1000;
    int i = us == 0 ? 0 : 64 - __builtin_clzll(us);  // us in [2^(i-1), 2^i)
    out[i < n ? i : n - 1] += buckets_[b];
  }
}

uint64_t LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(p / 100.0 * static_cast<double>(count_ - 1)) + 1;
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; b++) {
    seen += buckets_[b];
    if (seen >= rank) return ValueOf(b);
  }
  return ValueOf(kBuckets - 1);
}

}  // namespace libshm::internal
