// SPDX-License-Identifier: MIT
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>

namespace libshm::internal {
namespace {

std::atomic<int> verbosity{static_cast<int>(LogLevel::kWarning)};
const char* log_tag = nullptr;
thread_local bool in_log = false;

void WriteAll(const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(STDERR_FILENO, buf, len);
    if (n <= 0) return;
    buf += n;
    len -= static_cast<size_t>(n);
  }
}

}  // namespace

void SetLogVerbosity(int level) { verbosity.store(level, std::memory_order_relaxed); }
int LogVerbosity() { return verbosity.load(std::memory_order_relaxed); }
void SetLogTag(const char* tag) { log_tag = tag; }

void Log(LogLevel level, const char* fmt, ...) {
  if (static_cast<int>(level) > LogVerbosity() || in_log) return;
  in_log = true;
  int saved_errno = errno;
  char buf[1024];
  size_t len = 0;
  auto append = [&](const char* s) {
    size_t n = strlen(s);
    if (n > sizeof(buf) - 2 - len) n = sizeof(buf) - 2 - len;
    memcpy(buf + len, s, n);
    len += n;
  };
  append("libshm: ");
  if (log_tag != nullptr) {
    append(log_tag);
    append(": ");
  }
  if (level == LogLevel::kWarning) append("warning: ");
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + len, sizeof(buf) - 1 - len, fmt, ap);
  va_end(ap);
  if (n > 0)
    len += static_cast<size_t>(n) < sizeof(buf) - 1 - len ? static_cast<size_t>(n)
                                                          : sizeof(buf) - 2 - len;
  buf[len++] = '\n';
  WriteAll(buf, len);
  errno = saved_errno;
  in_log = false;
}

void AssertFail(const char* file, int line, const char* expr) {
  Log(LogLevel::kError, "assertion failed at %s:%d: %s", file, line, expr);
  abort();
}

}  // namespace libshm::internal
