// SPDX-License-Identifier: MIT
// The replay engine: drives one policy over a preloaded trace at one memory
// size and counts faults (misses) and write-backs (dirty victims). Per-page
// residency and dirty state live in a flat byte array indexed by dense page
// id, so the only per-reference cost beyond the policy itself is one load.
//
// Order of calls, as a pager makes them: on a fault with memory full, first
// choose_victims(batch), then miss() for the faulting page; a hit calls
// reference(); a write to a clean page calls set_dirty(). A victim that is
// not resident (or named twice) is a policy bug and stops the run.
#ifndef LIBSHM_BENCH_SIM_SIMULATOR_H_
#define LIBSHM_BENCH_SIM_SIMULATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "libshm/policy.h"
#include "progress.h"
#include "trace.h"

namespace libshm::internal {

// What the policy is told about hits.
enum class AccessMode {
  kEveryHit,     // every reference (textbook simulation)
  kWriteFaults,  // only what a pager sees without sampling: the first write
                 // to a clean resident page (a write-protect fault)
  kSampled,      // write faults, plus reference sampling as DESIGN.md
                 // describes it: every sample_period references one random
                 // resident page is armed (unmapped); its next access is a
                 // sampling fault, reported as a reference
};

struct SimOptions {
  size_t capacity = 0;
  uint64_t seed = 1;
  AccessMode access = AccessMode::kEveryHit;
  uint64_t window = 0;         // > 0: record faults per window of this many references
  size_t batch = 1;            // victims asked for per eviction, as the runtime's evict_batch
  uint64_t sample_period = 0;  // kSampled: references between two armed pages
};

struct SimResult {
  uint64_t requests = 0;
  uint64_t faults = 0;
  uint64_t evictions = 0;
  uint64_t writebacks = 0;
  uint64_t sampling_faults = 0;         // kSampled: armed pages accessed (the cost)
  double seconds = 0;                   // replay loop only
  std::vector<uint32_t> window_faults;  // when SimOptions::window > 0
};

// next_use[i]: position of the next reference to the page of reference i,
// or UINT32_MAX if none. Needed by policies with a next_use hook (OPT).
std::vector<uint32_t> ComputeNextUse(const Trace& trace);

// Runs `ops` over `trace`. `next_use` may be null when ops->next_use is.
// Returns false and sets *error if the policy cannot be created or names an
// invalid victim.
bool Simulate(const Trace& trace, const std::vector<uint32_t>* next_use,
              const libshm_policy_ops& ops, const SimOptions& options, Progress* progress,
              SimResult* result, std::string* error);

// LRU faults at every memory size in one pass (Mattson's stack algorithm,
// with a Fenwick tree over positions for the stack distance): element c of
// the result is the number of faults with c pages of memory, for c in
// [0, distinct]. O(n log n).
std::vector<uint64_t> LruFaultCurve(const Trace& trace);

}  // namespace libshm::internal

#endif  // LIBSHM_BENCH_SIM_SIMULATOR_H_
