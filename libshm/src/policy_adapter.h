// SPDX-License-Identifier: MIT
// Policy: the engine's handle on a libshm_policy_ops instance (jemalloc's
// ehooks idea: the engine calls methods, the optional hooks may be NULL).
#ifndef LIBSHM_SRC_POLICY_ADAPTER_H_
#define LIBSHM_SRC_POLICY_ADAPTER_H_

#include <stddef.h>

#include "libshm/policy.h"

namespace libshm::internal {

class Policy {
 public:
  Policy() = default;
  ~Policy() { Reset(); }
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;

  // Creates an instance of `ops`. Returns 0 or -ENOMEM.
  int Init(const libshm_policy_ops* ops, size_t capacity, uint64_t seed);
  void Reset();

  const char* name() const { return ops_ != nullptr ? ops_->name : "none"; }
  const libshm_policy_ops* ops() const { return ops_; }

  void Miss(libshm_page_key_t page, bool write) { ops_->miss(self_, page, write); }
  void Reference(libshm_page_key_t page, bool write) {
    if (ops_->reference != nullptr) ops_->reference(self_, page, write);
  }
  size_t ChooseVictims(libshm_page_key_t* out, size_t max) {
    return ops_->choose_victims(self_, out, max);
  }
  void Remove(libshm_page_key_t page) { ops_->remove(self_, page); }
  void SetDirty(libshm_page_key_t page, bool dirty) {
    if (ops_->set_dirty != nullptr) ops_->set_dirty(self_, page, dirty);
  }

 private:
  const libshm_policy_ops* ops_ = nullptr;
  void* self_ = nullptr;
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_POLICY_ADAPTER_H_
