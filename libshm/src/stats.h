// SPDX-License-Identifier: MIT
// Stats formatting (one emitter, two formats: aligned table and JSON) and
// the fault-latency histogram. The counters themselves live in the engine.
#ifndef LIBSHM_SRC_STATS_H_
#define LIBSHM_SRC_STATS_H_

#include <stddef.h>
#include <stdint.h>

#include "libshm/libshm.h"

namespace libshm::internal {

using WriteCallback = void (*)(void*, const char*);

// Writes `s` as a table (json=false) or one JSON object (json=true).
void PrintStats(const libshm_stats_t& s, bool json, WriteCallback cb, void* arg);
// The table with only its main rows (limit, peak, faults, swap traffic, fault
// latency) and the histogram: a summary that fits beside other output.
void PrintStatsBrief(const libshm_stats_t& s, WriteCallback cb, void* arg);

// The name of a LIBSHM_NATIVE_* reason ("hugetlb") and what it means;
// nullptr if `reason` is out of range.
const char* NativeReasonName(int reason);
const char* NativeReasonDescription(int reason);

// Looks up a numeric field by name ("resident_bytes", or
// "native_shared_bytes.<reason>", "native_shared_mappings.<reason>"); false
// if unknown.
bool StatByName(const libshm_stats_t& s, const char* name, uint64_t* out);

// Log-linear latency histogram: 8 sub-buckets per power of two, so a
// percentile is within 12.5% of the true value. Not thread-safe.
class LatencyHistogram {
 public:
  void Record(uint64_t ns);
  uint64_t Percentile(double p) const;  // p in [0, 100]
  // Folds the buckets into `n` power-of-two microsecond buckets (see
  // libshm_stats_t.fault_us_hist).
  void Log2Microseconds(uint64_t* out, int n) const;
  uint64_t count() const { return count_; }

 private:
  static constexpr int kSubBits = 3;
  static constexpr int kBuckets = 64 << kSubBits;
  static int BucketOf(uint64_t ns);
  static uint64_t ValueOf(int bucket);
  uint64_t buckets_[kBuckets] = {};
  uint64_t count_ = 0;
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_STATS_H_
