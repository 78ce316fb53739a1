// SPDX-License-Identifier: MIT
// SessionEnv: see session_env.h.
#include "session_env.h"

#include <string.h>

namespace libshm::internal {
namespace {

constexpr size_t kStorage = 16384;
char storage[kStorage];
const char* saved[kMaxSessionVars];
size_t saved_count = 0;

bool IsSessionVar(const char* e) {
  return strncmp(e, "LD_PRELOAD=", 11) == 0 || strncmp(e, "LIBSHM_", 7) == 0;
}

// Whether `envp` has an entry named like `entry` ("NAME=value").
bool HasName(char* const* envp, const char* entry) {
  size_t n = strchr(entry, '=') - entry + 1;  // the name and its '='
  for (char* const* e = envp; e != nullptr && *e != nullptr; e++) {
    if (strncmp(*e, entry, n) == 0) return true;
  }
  return false;
}

}  // namespace

void SaveSessionEnv(char* const* envp) noexcept {
  bool in_session = false;
  size_t used = 0;
  saved_count = 0;
  for (char* const* e = envp; e != nullptr && *e != nullptr; e++) {
    if (!IsSessionVar(*e) || strchr(*e, '=') == nullptr) continue;
    size_t len = strlen(*e) + 1;
    if (saved_count == kMaxSessionVars || used + len > kStorage) continue;
    // An empty address names no session (the runtime starts its own helper).
    if (strncmp(*e, "LIBSHM_SESSION=", 15) == 0 && (*e)[15] != '\0') in_session = true;
    memcpy(storage + used, *e, len);
    saved[saved_count++] = storage + used;
    used += len;
  }
  if (!in_session) saved_count = 0;
}

size_t MissingSessionEnv(char* const* envp, const char** out) noexcept {
  if (saved_count == 0 || HasName(envp, "LIBSHM_SESSION=")) return 0;
  size_t n = 0;
  for (size_t i = 0; i < saved_count; i++) {
    if (!HasName(envp, saved[i])) out[n++] = saved[i];
  }
  return n;
}

}  // namespace libshm::internal
