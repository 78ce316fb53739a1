// SPDX-License-Identifier: MIT
// The one clock libshm reads: CLOCK_MONOTONIC in nanoseconds (vDSO, no syscall).
#ifndef LIBSHM_SRC_CLOCK_H_
#define LIBSHM_SRC_CLOCK_H_

#include <stdint.h>
#include <time.h>

namespace libshm::internal {

inline uint64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_CLOCK_H_
