// SPDX-License-Identifier: MIT
// What stays the kernel's is said once per process, naming why and what it
// costs (docs/named.md "What stays native"): one `libshm:` line, errno
// untouched.
#ifndef LIBSHM_PRELOAD_SAY_ONCE_H_
#define LIBSHM_PRELOAD_SAY_ONCE_H_

#include <errno.h>

#include <atomic>

#include "log.h"

namespace libshm::internal {

inline void SayOnce(std::atomic<bool>& said, const char* fmt, const char* arg) {
  if (said.exchange(true)) return;
  int saved = errno;
  LIBSHM_LOG_WARN(fmt, arg);
  errno = saved;
}

}  // namespace libshm::internal

#endif  // LIBSHM_PRELOAD_SAY_ONCE_H_
