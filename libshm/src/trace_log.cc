// SPDX-License-Identifier: MIT
#include "trace_log.h"

#include <errno.h>
#include <time.h>

#include "clock.h"

namespace libshm::internal {

TraceLog::~TraceLog() { Close(); }

void TraceLog::Close() {
  if (file_ != nullptr) fclose(file_);
  file_ = nullptr;
}

int TraceLog::Open(const char* path, uint64_t limit_pages, const char* policy) {
  file_ = fopen(path, "we");
  if (file_ == nullptr) return -errno;
  fprintf(file_, "# libshm-trace v1 page_size=4096 limit_pages=%llu policy=%s\n",
          static_cast<unsigned long long>(limit_pages), policy);
  return 0;
}

void TraceLog::Record(char event, uint32_t region, uint64_t page, char flag) {
  if (file_ == nullptr) return;
  fprintf(file_, "%c %llu %u %llu %c\n", event, static_cast<unsigned long long>(MonotonicNs()),
          region, static_cast<unsigned long long>(page), flag);
}

}  // namespace libshm::internal
