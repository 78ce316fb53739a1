// SPDX-License-Identifier: MIT
// The interop benchmark's workload: one Boost.Interprocess map in a managed
// segment built over a given shared mapping (the kernel's or libshm's), and
// the timed phases run on it. The container type, the segment type and the
// key sequence are identical for both backends; only the memory differs.
//
// Phases: build (ascending inserts), scan (in-order walk), lookups by forked
// readers (uniform over all keys, and "hot": 90% in a contiguous tenth).
// Each phase checks its result; a mismatch is a failure, not a number.
#ifndef LIBSHM_BENCH_INTEROP_WORKLOAD_H_
#define LIBSHM_BENCH_INTEROP_WORKLOAD_H_

#include <stddef.h>
#include <stdint.h>

namespace libshm_bench {

struct WorkloadConfig {
  double fill = 0.6;         // fraction of the segment the map fills
  uint64_t lookups = 20000;  // per reader and lookup phase
  int readers = 2;           // forked processes per lookup phase
  uint64_t seed = 1;
};

struct PhaseTimes {
  double build_s = 0;
  double scan_s = 0;
  double uniform_s = 0;  // slowest reader
  double hot_s = 0;      // slowest reader
  uint64_t entries = 0;
};

// Runs every phase on a segment created over [mem, mem + size), which must
// be shared (MAP_SHARED) so that forked readers see it. Returns 0, or -errno
// (a Boost failure converted by libshm::Segment::Run, -EIO for a wrong
// result, -ECHILD for a reader that failed).
int RunWorkload(void* mem, size_t size, const WorkloadConfig& config, PhaseTimes* out);

}  // namespace libshm_bench

#endif  // LIBSHM_BENCH_INTEROP_WORKLOAD_H_
