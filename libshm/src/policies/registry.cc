// SPDX-License-Identifier: MIT
// The policy registry: built-in policies from builtin.def plus policies
// added at run time with libshm_policy_register, all behind one mutex (a
// lookup is a few string compares, done when a session starts).
//
// It is also the one place that reads policy parameters: a name such as
// "clock:insert_ref=0" or "lirs:nonresident=1" resolves to a table of its
// own, a copy of the policy's with the canonical name and a `create` bound
// to those values. Bound tables live as long as the process (so a pointer
// returned once stays valid) and the same setting always returns the same
// table; there are at most kMaxBound distinct settings.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <array>
#include <mutex>
#include <string_view>
#include <utility>

#include "libshm/policy.h"
#include "policies/builtin.h"

namespace libshm::internal {
namespace {

constexpr const libshm_policy_ops* kBuiltins[] = {
#define LIBSHM_POLICY(id) &kPolicy##id,
#define LIBSHM_POLICY_PARAMS(id)
#include "policies/builtin.def"
#undef LIBSHM_POLICY_PARAMS
#undef LIBSHM_POLICY
};

constexpr const PolicyParams* kBuiltinParams[] = {
#define LIBSHM_POLICY(id)
#define LIBSHM_POLICY_PARAMS(id) &kParams##id,
#include "policies/builtin.def"
#undef LIBSHM_POLICY_PARAMS
#undef LIBSHM_POLICY
};
constexpr size_t kNumBuiltins = sizeof(kBuiltins) / sizeof(kBuiltins[0]);
constexpr size_t kMaxRegistered = 32;

// A policy with parameter values: `ops` is the base's table with `name`
// pointing at `name` here and `create` at CreateBound<index>.
struct Bound {
  libshm_policy_ops ops;
  const PolicyParams* params;
  int64_t values[kMaxPolicyParams];
  char name[128];
};
constexpr size_t kMaxBound = 32;

std::mutex registry_mutex;
const libshm_policy_ops* registered[kMaxRegistered];
size_t num_registered = 0;
// Written under registry_mutex before its table is first returned, then
// read-only: CreateBound reads it without the lock.
Bound bound[kMaxBound];
size_t num_bound = 0;

template <size_t I>
void* CreateBound(size_t capacity, uint64_t seed) noexcept {
  return bound[I].params->create(capacity, seed, bound[I].values);
}

template <size_t... I>
constexpr auto MakeBoundCreates(std::index_sequence<I...>) {
  return std::array<void* (*)(size_t, uint64_t), sizeof...(I)>{&CreateBound<I>...};
}
constexpr auto kBoundCreate = MakeBoundCreates(std::make_index_sequence<kMaxBound>());

}  // namespace

const PolicyParams* FindPolicyParams(const libshm_policy_ops* ops) {
  if (ops == nullptr) return nullptr;
  for (const PolicyParams* p : kBuiltinParams) {
    if (p->ops == ops) return p;
  }
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (size_t i = 0; i < num_bound; i++) {
    if (&bound[i].ops == ops) return bound[i].params;
  }
  return nullptr;
}

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

void SetError(char* error, size_t error_len, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

void SetError(char* error, size_t error_len, const char* format, ...) {
  if (error == nullptr || error_len == 0) return;
  va_list ap;
  va_start(ap, format);
  vsnprintf(error, error_len, format, ap);
  va_end(ap);
}

// Parses "key=value,key=value" (`spec`, non-empty) against `p` into
// `values` (defaults for keys not given) and appends the canonical form
// (",key=value" in declaration order, for the keys given) to `name`.
bool ParseParams(const char* policy, std::string_view spec, const PolicyParams& p, int64_t* values,
                 char* name, size_t name_len, char* error, size_t error_len) {
  bool given[kMaxPolicyParams] = {};
  for (size_t i = 0; i < p.count; i++) values[i] = p.params[i].def;
  while (true) {
    std::string_view pair = spec.substr(0, spec.find(','));
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (eq == std::string_view::npos || key.empty()) {
      SetError(error, error_len, "policy %s: expected key=value, got '%.*s'", policy,
               static_cast<int>(pair.size()), pair.data());
      return false;
    }
    size_t i = 0;
    while (i < p.count && key != p.params[i].key) i++;
    if (i == p.count) {
      char known[128] = "";
      for (size_t k = 0; k < p.count; k++) {
        size_t used = strlen(known);
        snprintf(known + used, sizeof(known) - used, "%s%s", k == 0 ? "" : ", ", p.params[k].key);
      }
      SetError(error, error_len, "policy %s has no parameter '%.*s' (it takes: %s)", policy,
               static_cast<int>(key.size()), key.data(), known);
      return false;
    }
    const PolicyParam& param = p.params[i];
    if (given[i]) {
      SetError(error, error_len, "policy %s: parameter %s given twice", policy, param.key);
      return false;
    }
    given[i] = true;
    std::string_view text = pair.substr(eq + 1);
    char digits[24];
    bool numeric =
        !text.empty() && text != "-" &&
        text.find_first_not_of("0123456789", text[0] == '-' ? 1 : 0) == std::string_view::npos;
    long long v = 0;
    bool in_range = false;
    if (numeric && text.size() < sizeof(digits)) {
      memcpy(digits, text.data(), text.size());
      digits[text.size()] = '\0';
      errno = 0;
      v = strtoll(digits, nullptr, 10);
      in_range = errno == 0 && v >= param.min && v <= param.max;
    }
    if (!numeric) {
      SetError(error, error_len, "policy %s: %s=%.*s is not a whole number", policy, param.key,
               static_cast<int>(text.size()), text.data());
      return false;
    }
    if (!in_range) {
      SetError(error, error_len, "policy %s: %s=%.*s is out of range [%lld, %lld]", policy,
               param.key, static_cast<int>(text.size()), text.data(),
               static_cast<long long>(param.min), static_cast<long long>(param.max));
      return false;
    }
    values[i] = v;
    if (spec.size() == pair.size()) break;
    spec.remove_prefix(pair.size() + 1);
  }
  for (size_t i = 0; i < p.count; i++) {
    if (!given[i]) continue;
    size_t used = strlen(name);
    int n = snprintf(name + used, name_len - used, "%s%s=%lld", name[used - 1] == ':' ? "" : ",",
                     p.params[i].key, static_cast<long long>(values[i]));
    if (n < 0 || static_cast<size_t>(n) >= name_len - used) {
      SetError(error, error_len, "policy %s: parameters too long", policy);
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" const libshm_policy_ops* libshm_policy_resolve(const char* spec, char* error,
                                                          size_t error_len) {
  if (error != nullptr && error_len != 0) error[0] = '\0';
  if (spec == nullptr) {
    SetError(error, error_len, "no policy name");
    return nullptr;
  }
  const char* colon = strchr(spec, ':');
  if (colon == nullptr) {  // a plain name, of any length (a registered one may be long)
    std::lock_guard<std::mutex> lock(registry_mutex);
    const libshm_policy_ops* ops = FindLocked(spec);
    if (ops == nullptr) SetError(error, error_len, "unknown policy '%s'", spec);
    return ops;
  }
  size_t base_len = static_cast<size_t>(colon - spec);
  char base[32];
  if (base_len >= sizeof(base)) {
    SetError(error, error_len, "unknown policy '%s'", spec);
    return nullptr;
  }
  memcpy(base, spec, base_len);
  base[base_len] = '\0';
  std::lock_guard<std::mutex> lock(registry_mutex);
  const libshm_policy_ops* ops = FindLocked(base);
  if (ops == nullptr) {
    SetError(error, error_len, "unknown policy '%s'", base);
    return nullptr;
  }
  const PolicyParams* params = nullptr;
  for (const PolicyParams* p : kBuiltinParams) {
    if (p->ops == ops) params = p;
  }
  if (params == nullptr) {
    SetError(error, error_len, "policy %s takes no parameters", base);
    return nullptr;
  }
  if (colon[1] == '\0') {
    SetError(error, error_len, "policy %s: expected key=value after ':'", base);
    return nullptr;
  }
  int64_t values[kMaxPolicyParams];
  char name[sizeof(Bound::name)];
  snprintf(name, sizeof(name), "%s:", base);
  if (!ParseParams(base, colon + 1, *params, values, name, sizeof(name), error, error_len)) {
    return nullptr;
  }
  for (size_t i = 0; i < num_bound; i++) {
    if (strcmp(bound[i].name, name) == 0) return &bound[i].ops;
  }
  if (num_bound == kMaxBound) {
    SetError(error, error_len, "%s: too many distinct policy settings in one process (at most %zu)",
             name, kMaxBound);
    return nullptr;
  }
  Bound& b = bound[num_bound];
  b.params = params;
  memcpy(b.values, values, sizeof(values));
  memcpy(b.name, name, sizeof(name));
  b.ops = *ops;
  b.ops.name = b.name;
  b.ops.create = kBoundCreate[num_bound];
  num_bound++;
  return &b.ops;
}

extern "C" const libshm_policy_ops* libshm_policy_find(const char* name) {
  return libshm_policy_resolve(name, nullptr, 0);
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
      ops->choose_victims == nullptr || ops->remove == nullptr ||
      strpbrk(ops->name, ":,=") != nullptr) {  // those spell parameters
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
