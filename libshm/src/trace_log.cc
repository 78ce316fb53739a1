// SPDX-License-Identifier: MIT
#include "trace_log.h"

#include <errno.h>
#include <time.h>

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
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  fprintf(file_, "%c %llu %u %llu %c\n", event,
          static_cast<unsigned long long>(ts.tv_sec) * 1000000000ull +
              static_cast<unsigned long long>(ts.tv_nsec),
          region, static_cast<unsigned long long>(page), flag);
}

}  // namespace libshm::internal
