// SPDX-License-Identifier: MIT
// Results of a run and their output forms: an aligned table (or, for one
// policy at one size, a single key=value line), CSV and JSON, which carry
// every field, and a Markdown grid of miss ratios (traces and sizes down,
// policies across, best of each row in bold) for reports.
#ifndef LIBSHM_BENCH_SIM_REPORT_H_
#define LIBSHM_BENCH_SIM_REPORT_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "trace.h"

namespace libshm::internal {

struct Row {
  std::string policy;
  size_t size = 0;  // pages of memory
  uint64_t requests = 0;
  uint64_t faults = 0;
  uint64_t writebacks = 0;
  uint64_t sampling_faults = 0;  // --access sampled:N
  double seconds = 0;            // replay time; 0 when not measured (stack method)
  const char* method = "sim";    // "sim" (replayed) or "stack" (LRU stack distances)
  double opt_miss_ratio = -1;    // < 0: OPT was not run
  bool best = false;             // lowest miss ratio at this size, OPT aside
  std::vector<uint32_t> window_faults;

  double miss_ratio() const {
    return requests == 0 ? 0 : static_cast<double>(faults) / static_cast<double>(requests);
  }
};

struct TraceReport {
  std::string name;
  uint64_t requests = 0;
  uint64_t distinct = 0;
  std::string writes;  // where read/write information came from
  RecordedRun recorded;
  uint64_t window = 0;
  std::vector<Row> rows;  // grouped by size, in policy order
};

enum class Format { kTable, kCsv, kJson, kMarkdown };

// Marks the best row of each size (lowest faults; OPT excluded).
void MarkBest(TraceReport* report);

void PrintReports(const std::vector<TraceReport>& reports, Format format, std::FILE* out);

}  // namespace libshm::internal

#endif  // LIBSHM_BENCH_SIM_REPORT_H_
