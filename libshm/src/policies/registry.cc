// SPDX-License-Identifier: MIT
// The policy registry: built-in policies from builtin.def plus policies
// added at run time with libshm_policy_register, all behind one mutex (a
// lookup is a few string compares, done when a session starts).
#include <errno.h>
#include <string.h>

#include <mutex>

#include "libshm/policy.h"
#include "policies/builtin.h"

namespace libshm::internal {
namespace {

constexpr const libshm_policy_ops* kBuiltins[] = {
#define LIBSHM_POLICY(id) &kPolicy##id,
#include "policies/builtin.def"
#undef LIBSHM_POLICY
};
constexpr size_t kNumBuiltins = sizeof(kBuiltins) / sizeof(kBuiltins[0]);
constexpr size_t kMaxRegistered = 32;

std::mutex registry_mutex;
const libshm_policy_ops* registered[kMaxRegistered];
size_t num_registered = 0;

}  // namespace
}  // namespace libshm::internal

using namespace libshm::internal;

namespace {

// REQUIRES: registry_mutex held.
const libshm_policy_ops* FindLocked(const char* name) {
  for (const libshm_policy_ops* ops : kBuiltins) {
    if (strcmp(ops->name, name) == 0) return ops;
  }
  for (size_t i = 0; i < num_registered; i++) {
    if (strcmp(registered[i]->name, name) == 0) return registered[i];
  }
  return nullptr;
}

}  // namespace

extern "C" const libshm_policy_ops* libshm_policy_find(const char* name) {
  if (name == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(registry_mutex);
  return FindLocked(name);
}

extern "C" size_t libshm_policy_list(const libshm_policy_ops** out, size_t max) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  size_t total = kNumBuiltins + num_registered;
  for (size_t i = 0; i < total && i < max; i++) {
    out[i] = i < kNumBuiltins ? kBuiltins[i] : registered[i - kNumBuiltins];
  }
  return total;
}

extern "C" int libshm_policy_register(const libshm_policy_ops* ops) {
  if (ops == nullptr || ops->abi_version != LIBSHM_POLICY_ABI_VERSION || ops->name == nullptr ||
      ops->create == nullptr || ops->destroy == nullptr || ops->miss == nullptr ||
      ops->choose_victims == nullptr || ops->remove == nullptr) {
    return -EINVAL;
  }
  // One critical section for the check and the insert, so two threads
  // cannot register the same name.
  std::lock_guard<std::mutex> lock(registry_mutex);
  if (FindLocked(ops->name) != nullptr) return -EEXIST;
  if (num_registered == kMaxRegistered) return -ENOSPC;
  registered[num_registered++] = ops;
  return 0;
}
