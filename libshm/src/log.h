// SPDX-License-Identifier: MIT
// All libshm messages go through here: one line each on stderr, prefixed
// "libshm: " (or "libshm: warning: "), formatted into a fixed stack buffer
// with no allocation, so it is safe in the shim, in a forked child and in
// signal-adjacent paths. A thread-local guard stops recursion.
#ifndef LIBSHM_SRC_LOG_H_
#define LIBSHM_SRC_LOG_H_

namespace libshm::internal {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

// Messages above this level are dropped. Set from LIBSHM_VERBOSE.
void SetLogVerbosity(int level);
int LogVerbosity();
// Every line also names the process ("shmd[pid]") when set; the helper sets it.
void SetLogTag(const char* tag);

void Log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#define LIBSHM_LOG_ERROR(...) \
  ::libshm::internal::Log(::libshm::internal::LogLevel::kError, __VA_ARGS__)
#define LIBSHM_LOG_WARN(...) \
  ::libshm::internal::Log(::libshm::internal::LogLevel::kWarning, __VA_ARGS__)
#define LIBSHM_LOG_INFO(...) \
  ::libshm::internal::Log(::libshm::internal::LogLevel::kInfo, __VA_ARGS__)
#define LIBSHM_LOG_DEBUG(...) \
  ::libshm::internal::Log(::libshm::internal::LogLevel::kDebug, __VA_ARGS__)

[[noreturn]] void AssertFail(const char* file, int line, const char* expr);

}  // namespace libshm::internal

// Invariant checks: abort with file:line in debug builds, compiled out in
// release builds.
#ifdef NDEBUG
#define LIBSHM_ASSERT(expr) ((void)0)
#else
#define LIBSHM_ASSERT(expr) \
  ((expr) ? (void)0 : ::libshm::internal::AssertFail(__FILE__, __LINE__, #expr))
#endif

#endif  // LIBSHM_SRC_LOG_H_
