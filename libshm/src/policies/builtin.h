// SPDX-License-Identifier: MIT
// Declarations of the built-in policies listed in builtin.def.
#ifndef LIBSHM_SRC_POLICIES_BUILTIN_H_
#define LIBSHM_SRC_POLICIES_BUILTIN_H_

#include "libshm/policy.h"
#include "policies/params.h"

namespace libshm::internal {
#define LIBSHM_POLICY(id) extern const libshm_policy_ops kPolicy##id;
#define LIBSHM_POLICY_PARAMS(id) extern const PolicyParams kParams##id;
#include "policies/builtin.def"
#undef LIBSHM_POLICY_PARAMS
#undef LIBSHM_POLICY
}  // namespace libshm::internal

#endif  // LIBSHM_SRC_POLICIES_BUILTIN_H_
