// SPDX-License-Identifier: MIT
#include "fork_guard.h"

#include <pthread.h>

#include <atomic>

namespace libshm::internal {
namespace {

// File scope because the child handler has no argument to find an object by.
std::atomic<uint64_t> g_generation{1};

void OnForkChild() { g_generation.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

uint64_t InstallForkGuard() noexcept {
  // A function-local static runs the registration exactly once, thread-safely.
  static const bool installed = pthread_atfork(nullptr, nullptr, OnForkChild) == 0;
  return installed ? ForkGeneration() : 0;
}

uint64_t ForkGeneration() noexcept { return g_generation.load(std::memory_order_relaxed); }

}  // namespace libshm::internal
