// SPDX-License-Identifier: MIT
// SessionEnv: the variables that make a process a member of its session
// (LD_PRELOAD and every LIBSHM_* variable), copied when the shim is loaded,
// so that an exec that drops them keeps the process in its session
// (DESIGN.md invariant 10: exec, daemonize, reload and binary upgrade keep
// it). nginx's binary upgrade is the case: the master execs its new binary
// with an environment scrubbed of everything but TZ and its own NGINX
// variable, and the new master, in the session's tree, would map its zones
// natively. Only a process started with a non-empty LIBSHM_SESSION saves
// anything.
//
// The copies live in static storage: the host may overwrite its original
// environment strings (nginx and PostgreSQL write their process titles over
// them). Nothing allocates. Save runs once, before main, single-threaded;
// Missing only reads, and is async-signal-safe.
#ifndef LIBSHM_PRELOAD_SESSION_ENV_H_
#define LIBSHM_PRELOAD_SESSION_ENV_H_

#include <stddef.h>

namespace libshm::internal {

constexpr size_t kMaxSessionVars = 64;

// Copies LD_PRELOAD and the LIBSHM_* entries of `envp` if it has a non-empty
// LIBSHM_SESSION, replacing what an earlier call saved; entries that do not
// fit the static storage are left out, and nothing is kept if LIBSHM_SESSION
// is one of them.
void SaveSessionEnv(char* const* envp) noexcept;

// If `envp` (NULL-terminated; nullptr is empty) lacks LIBSHM_SESSION, stores
// in out[] the saved entries whose names `envp` lacks and returns how many
// (at most kMaxSessionVars); otherwise, or outside a session, returns 0.
size_t MissingSessionEnv(char* const* envp, const char** out) noexcept;

}  // namespace libshm::internal

#endif  // LIBSHM_PRELOAD_SESSION_ENV_H_
