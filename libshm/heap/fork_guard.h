// SPDX-License-Identifier: MIT
// The fork generation: a number that changes in every forked child. A heap
// records the generation of the process that created it; a process with
// another generation is a forked child, which shares the heap's memory but
// not jemalloc's private bookkeeping of it, so it must not allocate, free,
// purge or destroy there (it would hand out or discard the owner's memory).
//
// Process-global by nature (fork duplicates the whole process); reading it is
// one relaxed atomic load, cheap enough for every allocation.
#ifndef LIBSHM_HEAP_FORK_GUARD_H_
#define LIBSHM_HEAP_FORK_GUARD_H_

#include <stdint.h>

namespace libshm::internal {

// Installs the pthread_atfork child handler (once per process) and returns
// the current generation (never 0), or 0 if the handler could not be
// installed (pthread_atfork: ENOMEM).
uint64_t InstallForkGuard() noexcept;

// The current generation. pre: InstallForkGuard() has run in this process
// or an ancestor.
uint64_t ForkGeneration() noexcept;

}  // namespace libshm::internal

#endif  // LIBSHM_HEAP_FORK_GUARD_H_
