// SPDX-License-Identifier: MIT
// TraceLog: the live page-event trace (LIBSHM_TRACE=path), in the text
// format of docs/policies.md ("libshm-trace v1"), which shmsim replays.
// One line per event: F (fault made resident), P (filled ahead of a
// sequential fault, no fault of its own), R (access information: a write to
// a clean page), E (evicted, d/c), D (left without eviction).
//
// Buffered through stdio; owned by the engine thread.
#ifndef LIBSHM_SRC_TRACE_LOG_H_
#define LIBSHM_SRC_TRACE_LOG_H_

#include <stdint.h>
#include <stdio.h>

namespace libshm::internal {

class TraceLog {
 public:
  TraceLog() = default;
  ~TraceLog();
  TraceLog(const TraceLog&) = delete;
  TraceLog& operator=(const TraceLog&) = delete;

  // Opens (truncates) `path` and writes the header. Returns 0 or -errno.
  int Open(const char* path, uint64_t limit_pages, const char* policy);
  bool enabled() const { return file_ != nullptr; }
  // Flushes and closes; later records are dropped.
  void Close();
  // event: 'F', 'P', 'R', 'E' or 'D'; flag: 'r', 'w', 'd', 'c' or '-'.
  void Record(char event, uint32_t region, uint64_t page, char flag);

 private:
  FILE* file_ = nullptr;
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_TRACE_LOG_H_
