// SPDX-License-Identifier: MIT
// Policy parameters: a built-in policy whose behaviour has a legitimate
// choice (CLOCK's insertion bit, S3-FIFO's promotion threshold, LIRS's
// non-resident bound) declares it as a named integer with a default and a
// range, and the registry turns "name:key=value,..." into an instance with
// those values (registry.cc parses; nothing else does). A policy class P
// opts in with
//   static constexpr PolicyParam kParams[] = {{"key", default, min, max, "help"}};
//   P(size_t capacity, uint64_t seed, const int64_t* params);  // kParams order
// and its file defines `kParams<Id>` with MakePolicyParams<P>, listed in
// builtin.def. The plain name gets the defaults.
#ifndef LIBSHM_SRC_POLICIES_PARAMS_H_
#define LIBSHM_SRC_POLICIES_PARAMS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <new>

#include "libshm/policy.h"

namespace libshm::internal {

struct PolicyParam {
  const char* key;
  int64_t def;
  int64_t min;
  int64_t max;
  const char* help;  // one line
};

constexpr size_t kMaxPolicyParams = 4;

struct PolicyParams {
  const libshm_policy_ops* ops;  // the policy with the defaults
  const PolicyParam* params;
  size_t count;  // <= kMaxPolicyParams
  // Like ops->create, with one value per entry of `params`, each in range.
  void* (*create)(size_t capacity, uint64_t seed, const int64_t* values) noexcept;
};

template <class P>
constexpr auto DefaultParams() {
  std::array<int64_t, std::size(P::kParams)> values{};
  for (size_t i = 0; i < values.size(); i++) values[i] = P::kParams[i].def;
  return values;
}

template <class P>
inline constexpr auto kDefaultParams = DefaultParams<P>();

template <class P>
constexpr PolicyParams MakePolicyParams(const libshm_policy_ops* ops) {
  static_assert(std::size(P::kParams) <= kMaxPolicyParams);
  return {ops, P::kParams, std::size(P::kParams),
          [](size_t capacity, uint64_t seed, const int64_t* values) noexcept -> void* {
            try {
              return new P(capacity == 0 ? 1 : capacity, seed, values);
            } catch (const std::bad_alloc&) {
              return nullptr;
            }
          }};
}

// The parameters of `ops` (a built-in, or a name with parameters resolved
// by libshm_policy_resolve), or nullptr when it takes none.
const PolicyParams* FindPolicyParams(const libshm_policy_ops* ops);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_POLICIES_PARAMS_H_
