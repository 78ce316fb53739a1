// SPDX-License-Identifier: MIT
// SHM_LOCK and SHM_UNLOCK of a managed System V segment (Engine methods; see
// engine.h, docs/named.md "SHM_LOCK"): a locked segment's pages are never
// evicted, and the session's limit still holds.
//
// The kernel allocates a locked segment's pages as they are touched and
// never reclaims them. Here a page that fills in after the lock could not
// be made room for by evicting it, so the lock takes the whole segment at
// once: every page, written or not, is brought in (swapped pages from swap,
// untouched ones allocated as zeros) and counted against the limit, after
// other pages are evicted to make room. A segment that cannot fit beside
// what is locked or pinned already, with one fill cluster (LIBSHM_CLUSTER
// pages) of the limit left to everything else, is refused with ENOMEM, the
// kernel's answer for a lock past RLIMIT_MEMLOCK, and nothing changes.
//
// A locked inode's pages are out of the policy (the evictor and sampler pass
// it by, as they pass a pinned one); unlocked, each resident page goes back
// in, or it would never be chosen again.
#include <errno.h>
#include <fcntl.h>

#include "engine.h"
#include "log.h"
#include "uffd.h"

namespace libshm::internal {

int Engine::LockPages(Inode& inode) {
  if (inode.locked) return 0;
  // What stays in memory whatever happens (locked and pinned inodes), this
  // one with it, must leave one fill cluster of the limit to the rest: a
  // fault elsewhere makes room for its cluster by eviction, and with nothing
  // left to evict it would be served above the limit (stress-ng
  // --shm-sysv, which locks as it goes, went one cluster over).
  uint64_t kept = inode.pages();
  for (const auto& [seq, other] : inodes_) {
    if (other.get() != &inode && other->Unevictable()) kept += other->pages();
  }
  if (kept > limit_pages_ || limit_pages_ - kept < opts_.cluster) return -ENOMEM;
  auto count_outside = [&] {
    return inode.CountState(PageState::kEmpty) + inode.CountState(PageState::kSwapped);
  };
  uint64_t need = count_outside();
  if (need > 0) {
    MakeRoom(need);
    need = count_outside();  // the room may have been made with its own pages
  }
  if (resident_pages_ + need > limit_pages_) return -ENOMEM;
  int rc = RestorePages(inode, 0, inode.pages());
  if (rc != 0) return rc;
  // The untouched pages: allocated in the memfd (zeros). Each mapper keeps
  // its write-protect markers, so a first write is still seen (a WP fault).
  // (A walk of every page: NextIn cannot look for empty ones, and the lock
  // is about to touch every page anyway.)
  for (uint64_t a = 0; a < inode.pages();) {
    if (inode.state(a) != PageState::kEmpty) {
      a++;
      continue;
    }
    uint64_t b = a + 1;
    while (b < inode.pages() && inode.state(b) == PageState::kEmpty) b++;
    if (fallocate(inode.memfd(), 0, static_cast<off_t>(a * kPageSize),
                  static_cast<off_t>((b - a) * kPageSize)) != 0) {
      return -errno;  // what was filled stays filled, evictable
    }
    AccountFilledAhead(inode, a, b - a, PageState::kEmpty, false);
    a = b;
  }
  for (uint64_t p = 0; p < inode.pages(); p++) policy_.Remove(Key(inode, p));
  inode.locked = true;
  LIBSHM_LOG_DEBUG("region %u locked: %llu pages resident", inode.seq(),
                   static_cast<unsigned long long>(inode.pages()));
  return 0;
}

void Engine::UnlockPages(Inode& inode) {
  if (!inode.locked) return;
  inode.locked = false;
  if (inode.pinned) return;  // its pages stay for the pin
  // Removed first: a page discarded and filled again while locked went
  // back into the policy by its fault.
  for (uint64_t p = 0; p < inode.pages(); p++) {
    PageState s = inode.state(p);
    if (!IsResident(s)) continue;
    policy_.Remove(Key(inode, p));
    policy_.Miss(Key(inode, p), s == PageState::kDirty);
  }
}

}  // namespace libshm::internal
