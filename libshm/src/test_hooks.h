// SPDX-License-Identifier: MIT
// Test hooks, not options: a LIBSHM_TEST_PAUSE_*_US=N variable makes the
// helper sleep N microseconds (at most 10 s) at one point of a sequence, so
// that a test can act in that window every time; LIBSHM_TEST_HELLO_TIMEOUT_US
// shortens how long a connection may wait before its hello;
// LIBSHM_TEST_COPY_EAGAIN=N makes the first N fills of a missing fault
// meet EAGAIN, as when an event of the process is in flight. Each hook reads
// its variable once; unset (the only case outside tests) it costs one load.
#ifndef LIBSHM_TEST_HOOKS_H
#define LIBSHM_TEST_HOOKS_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>

namespace libshm::internal {

// The pause `name` asks for, in microseconds (0: none).
inline uint64_t TestPauseUs(const char* name) {
  const char* v = secure_getenv(name);
  return v == nullptr ? 0 : std::min<uint64_t>(strtoull(v, nullptr, 10), 10'000'000);
}

// The count `name` asks for (0: unset), for hooks that fake an outcome N
// times.
inline uint64_t TestCount(const char* name) {
  const char* v = secure_getenv(name);
  return v == nullptr ? 0 : strtoull(v, nullptr, 10);
}

inline void SleepUs(uint64_t us) {
  if (us == 0) return;
  struct timespec ts = {static_cast<time_t>(us / 1'000'000),
                        static_cast<long>(us % 1'000'000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

}  // namespace libshm::internal

#endif  // LIBSHM_TEST_HOOKS_H
