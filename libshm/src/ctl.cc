// SPDX-License-Identifier: MIT
// The helper side of libshm_ctl and the stats snapshot (Engine methods).
// Names: version, epoch, opt.<option>, stats.<field>, stats.policy,
// kernel.mode, kernel.uffd.features, session.helper_pid, evict.policy (rw),
// evict.run (-w), swap.off (-w), swap.dir (rw).
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>

#include "engine.h"
#include "libshm/version.h"
#include "probe.h"
#include "uffd.h"

namespace libshm::internal {
namespace {

int SetString(Reply* r, const char* s) {
  r->type = ValueType::kString;
  snprintf(r->text, sizeof(r->text), "%s", s);
  return 0;
}

int SetNumber(Reply* r, uint64_t v) {
  r->type = ValueType::kNumber;
  r->a = v;
  return 0;
}

}  // namespace

libshm_stats_t Engine::Snapshot() const {
  libshm_stats_t s = stats_;
  s.regions = inodes_.size();
  s.clients = 0;
  for (const auto& [id, c] : clients_) s.clients += (!c->dead && c->uffd >= 0);
  s.limit_bytes = limit_pages_ * kPageSize;
  s.resident_bytes = resident_pages_ * kPageSize;
  s.peak_resident_bytes = peak_resident_pages_ * kPageSize;
  s.dirty_bytes = s.swapped_bytes = 0;
  s.shm_objects = shm_names_.size();
  s.program_objects = s.pinned_objects = 0;
  for (const auto& [id, inode] : inodes_) {
    s.program_objects += inode->program;
    s.pinned_objects += inode->pinned;
    s.dirty_bytes += inode->CountState(PageState::kDirty) * kPageSize;
    s.swapped_bytes += inode->CountState(PageState::kSwapped) * kPageSize;
  }
  // A sampled page is still dirty if it was before: only its copy moved.
  for (const auto& [key, sample] : samples_) {
    s.dirty_bytes += sample.before == PageState::kDirty ? kPageSize : 0;
  }
  s.swap_reserved_bytes = swap_.reserved_pages() * kPageSize;
  s.swap_syncs = swap_.syncs();
  s.swap_off = swap_.is_open() ? 0 : 1;
  s.fault_ns_p50 = fault_latency_.Percentile(50);
  s.fault_ns_p99 = fault_latency_.Percentile(99);
  fault_latency_.Log2Microseconds(s.fault_us_hist, LIBSHM_FAULT_HIST_BUCKETS);
  snprintf(s.policy, sizeof(s.policy), "%s", policy_.name());
  snprintf(s.mode, sizeof(s.mode), "%s", RunModeName(ProbeKernel().mode));
  return s;
}

int Engine::SetPolicy(const char* name) {
  const libshm_policy_ops* ops = libshm_policy_find(name);
  if (ops == nullptr) return -ENOENT;
  if (!ops->live) return -EINVAL;
  int rc = policy_.Init(ops, std::max<uint64_t>(high_pages_, 1), 1);  // keeps the old on failure
  if (rc != 0) return rc;
  // The new policy learns the resident set as if it had just faulted in.
  for (const auto& [id, inode] : inodes_) {
    for (uint64_t p = inode->NextIn(0, inode->pages(), Inode::kHeldMask); p < inode->pages();
         p = inode->NextIn(p + 1, inode->pages(), Inode::kHeldMask)) {
      PageState st = inode->state(p);
      if (IsHeld(st)) policy_.Miss(Key(*inode, p), st == PageState::kDirty);
    }
  }
  snprintf(opts_.policy, sizeof(opts_.policy), "%s", name);
  return 0;
}

int Engine::Ctl(const Client& c, const Request& req, Reply* reply) {
  const char* name = req.text;
  bool writing = req.a != 0;
  // Changing the session (its policy, an eviction run) is for the helper's
  // own uid; a member that dropped privilege may only read.
  if (writing && !c.trusted) return -EPERM;
  if (strcmp(name, "evict.policy") == 0) {
    if (writing) {
      int rc = SetPolicy(req.text2);
      if (rc != 0) return rc;
    }
    return SetString(reply, policy_.name());
  }
  if (strcmp(name, "evict.run") == 0) {
    if (!writing) return -EPERM;
    if (EvictionSuspended()) {
      snprintf(reply->text, sizeof(reply->text), "swap is off: nothing can be evicted");
      return -ENOSPC;
    }
    uint64_t target_pages = req.b / kPageSize;  // evict this much; 0: everything
    uint64_t goal =
        target_pages == 0 || target_pages > resident_pages_ ? 0 : resident_pages_ - target_pages;
    while (resident_pages_ > goal) {
      if (EvictBatch(opts_.evict_batch) == 0) break;
    }
    return SetNumber(reply, resident_pages_ * kPageSize);
  }
  if (strcmp(name, "swap.off") == 0) {
    if (!writing) return -EPERM;
    uint64_t restored = 0;
    int rc = SwapOff(&restored, reply->text, sizeof(reply->text));
    if (rc != 0) return rc;
    return SetNumber(reply, restored);
  }
  if (strcmp(name, "swap.dir") == 0) {
    if (writing) {
      // text2 comes from the wire: NUL-terminate it, and only absolute paths
      // (the helper's working directory is nobody's business).
      char dir[sizeof(req.text2)];
      memcpy(dir, req.text2, sizeof(dir));
      dir[sizeof(dir) - 1] = '\0';
      if (dir[0] != '/') {
        snprintf(reply->text, sizeof(reply->text), "swap.dir: not an absolute path: %.200s", dir);
        return -EINVAL;
      }
      int rc = MoveSwap(dir, reply->text, sizeof(reply->text));
      if (rc != 0) return rc;
    }
    return SetString(reply, swap_.dir());
  }
  if (writing) return -EPERM;
  if (strcmp(name, "version") == 0) return SetString(reply, LIBSHM_VERSION_STRING);
  if (strcmp(name, "session.helper_pid") == 0)
    return SetNumber(reply, static_cast<uint64_t>(getpid()));
  if (strcmp(name, "epoch") == 0) return SetNumber(reply, stats_.faults);
  if (strcmp(name, "kernel.mode") == 0) return SetString(reply, RunModeName(ProbeKernel().mode));
  if (strcmp(name, "kernel.uffd.features") == 0) return SetNumber(reply, ProbeKernel().features);
  if (strcmp(name, "stats.policy") == 0) return SetString(reply, policy_.name());
  if (strncmp(name, "stats.", 6) == 0) {
    uint64_t v;
    libshm_stats_t s = Snapshot();
    if (!StatByName(s, name + 6, &v)) return -ENOENT;
    return SetNumber(reply, v);
  }
  if (strncmp(name, "opt.", 4) == 0) {
    const char* field = name + 4;
#define OPTION_kSize(f) SetNumber(reply, opts_.f)
#define OPTION_kUint(f) SetNumber(reply, opts_.f)
#define OPTION_kBool(f) SetNumber(reply, opts_.f ? 1 : 0)
#define OPTION_kString(f) SetString(reply, opts_.f)
#define OPTION(field_, env, type, def, min, max, form, desc) \
  if (strcmp(field, #field_) == 0) return OPTION_##type(field_);
#include "options.def"
#undef OPTION
    return -ENOENT;
  }
  return -ENOENT;
}

}  // namespace libshm::internal
