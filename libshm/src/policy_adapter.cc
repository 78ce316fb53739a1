// SPDX-License-Identifier: MIT
#include "policy_adapter.h"

#include <errno.h>

namespace libshm::internal {

int Policy::Init(const libshm_policy_ops* ops, size_t capacity, uint64_t seed) {
  void* self = ops->create(capacity, seed);
  if (self == nullptr) return -ENOMEM;
  Reset();
  ops_ = ops;
  self_ = self;
  return 0;
}

void Policy::Reset() {
  if (ops_ != nullptr) ops_->destroy(self_);
  ops_ = nullptr;
  self_ = nullptr;
}

}  // namespace libshm::internal
