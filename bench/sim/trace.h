// SPDX-License-Identifier: MIT
// Trace: a page-reference stream preloaded into memory for replay, and the
// readers and writer of every trace format shmsim accepts (docs/policies.md,
// "Trace formats"): one page number per line, plain or gzip; the compact
// binary form; and the trace the runtime records with LIBSHM_TRACE.
//
// Pages are renumbered densely (0, 1, ... in order of first reference) so
// the simulator can keep per-page state in flat arrays; `pages` maps back.
#ifndef LIBSHM_BENCH_SIM_TRACE_H_
#define LIBSHM_BENCH_SIM_TRACE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "policies/page_map.h"

namespace libshm::internal {

// What a live-recorded trace says the recording run did.
struct RecordedRun {
  bool present = false;
  std::string policy;
  uint64_t limit_pages = 0;
  uint64_t faults = 0;
  uint64_t fills = 0;  // pages made resident ahead of a fault (P)
  uint64_t references = 0;
  uint64_t evictions = 0;
  uint64_t writebacks = 0;  // dirty evictions
};

struct Trace {
  std::string name;
  std::vector<uint32_t> refs;   // (dense page id << 1) | is_write
  std::vector<uint64_t> pages;  // dense id -> page key as read
  bool has_writes = false;      // the source said which references write
  RecordedRun recorded;

  size_t distinct() const { return pages.size(); }
  static uint32_t Id(uint32_t ref) { return ref >> 1; }
  static bool IsWrite(uint32_t ref) { return (ref & 1) != 0; }
};

// Appends references, renumbering pages densely.
class TraceBuilder {
 public:
  explicit TraceBuilder(Trace* trace) : trace_(trace), ids_(1024) {}
  // Returns false when the trace outgrows the 2^31 distinct pages or 2^32
  // references the in-memory form holds.
  bool Add(uint64_t page, bool write);

 private:
  Trace* trace_;
  PageMap ids_;
};

// Loads any supported format (detected from content, gzip or not).
// Returns false and sets *error on failure.
bool LoadTrace(const std::string& path, Trace* trace, std::string* error);

// Writes the compact binary form; gzip-compressed when path ends in ".gz".
bool WriteBinaryTrace(const Trace& trace, const std::string& path, std::string* error);

// Replaces every reference's read/write bit: a write with probability
// `ratio`, from a generator seeded with `seed`.
void ApplyWriteRatio(Trace* trace, double ratio, uint64_t seed);

}  // namespace libshm::internal

#endif  // LIBSHM_BENCH_SIM_TRACE_H_
