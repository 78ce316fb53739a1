// SPDX-License-Identifier: MIT
// MakePolicyOps<P>: builds the C table of libshm_policy_ops from a C++ class,
// so each policy file holds only its algorithm. P provides
//   P(size_t capacity, uint64_t seed);
//   void Miss(uint64_t page, bool write);
//   size_t ChooseVictims(uint64_t* out, size_t max);
//   void Remove(uint64_t page);
// and optionally Reference(page, write), SetDirty(page, dirty), Tick(now_ns)
// and NextUse(page, position); absent ones become NULL in the table, which
// tells the caller not to bother producing that information. A policy with
// parameters (params.h) is constructed as P(capacity, seed, params) and
// gets its defaults here.
//
// Every entry point is noexcept (the runtime calls them from its fault
// thread). Policies allocate everything for `capacity` pages at create time;
// a later allocation failure can only come from a caller exceeding that
// capacity and ends the process, as any allocation failure in a noexcept
// path does.
#ifndef LIBSHM_SRC_POLICIES_MAKE_OPS_H_
#define LIBSHM_SRC_POLICIES_MAKE_OPS_H_

#include <cstddef>
#include <cstdint>
#include <new>

#include "libshm/policy.h"
#include "policies/params.h"

namespace libshm::internal {

template <class P>
constexpr libshm_policy_ops MakePolicyOps(const char* name, const char* description,
                                          uint32_t access_info, bool live) {
  libshm_policy_ops ops{};
  ops.abi_version = LIBSHM_POLICY_ABI_VERSION;
  ops.name = name;
  ops.description = description;
  ops.access_info = access_info;
  ops.live = live ? 1 : 0;
  ops.create = [](size_t capacity, uint64_t seed) noexcept -> void* {
    try {
      if constexpr (requires { P::kParams; }) {
        return new P(capacity == 0 ? 1 : capacity, seed, kDefaultParams<P>.data());
      } else {
        return new P(capacity == 0 ? 1 : capacity, seed);
      }
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
  };
  ops.destroy = [](void* self) noexcept { delete static_cast<P*>(self); };
  ops.miss = [](void* self, libshm_page_key_t page, int write) noexcept {
    static_cast<P*>(self)->Miss(page, write != 0);
  };
  ops.choose_victims = [](void* self, libshm_page_key_t* out, size_t max) noexcept {
    return static_cast<P*>(self)->ChooseVictims(out, max);
  };
  ops.remove = [](void* self, libshm_page_key_t page) noexcept {
    static_cast<P*>(self)->Remove(page);
  };
  if constexpr (requires(P & p) { p.Reference(uint64_t{}, bool{}); }) {
    ops.reference = [](void* self, libshm_page_key_t page, int write) noexcept {
      static_cast<P*>(self)->Reference(page, write != 0);
    };
  }
  if constexpr (requires(P & p) { p.SetDirty(uint64_t{}, bool{}); }) {
    ops.set_dirty = [](void* self, libshm_page_key_t page, int dirty) noexcept {
      static_cast<P*>(self)->SetDirty(page, dirty != 0);
    };
  }
  if constexpr (requires(P & p) { p.Tick(uint64_t{}); }) {
    ops.tick = [](void* self, uint64_t now_ns) noexcept { static_cast<P*>(self)->Tick(now_ns); };
  }
  if constexpr (requires(P & p) { p.NextUse(uint64_t{}, uint64_t{}); }) {
    ops.next_use = [](void* self, libshm_page_key_t page, uint64_t position) noexcept {
      static_cast<P*>(self)->NextUse(page, position);
    };
  }
  return ops;
}

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_POLICIES_MAKE_OPS_H_
