// SPDX-License-Identifier: MIT
// Pages kept in memory (Engine methods; see engine.h): pins and SHM_LOCK.
// A pinned object (a mapper libshm cannot register, a write seal:
// docs/named.md "Pins") and a locked System V segment (SHM_LOCK:
// docs/named.md "SHM_LOCK") are never evicted, and the session's limit
// still holds.
//
// Every page of such an inode counts against the limit from the start,
// whether it is in memory yet or not: a page that fills in later could not
// be made room for by evicting it. So an inode may be kept only if, with
// every page of it and of those kept already, one fill cluster
// (LIBSHM_CLUSTER pages) of the limit is left to everything else: a fault
// elsewhere makes room for its cluster by eviction, and with nothing left
// to evict it would be served above the limit (stress-ng --shm-sysv, which
// locks as it goes, went one cluster over). Otherwise ENOMEM, the kernel's
// answer for a mapping it cannot account for or a lock past
// RLIMIT_MEMLOCK, and nothing changes.
//
// A pin or a lock brings every page in at once, swapped ones from swap and
// untouched ones allocated as zeros (the kernel allocates a locked
// segment's pages as they are touched, and a native mapper of a pinned
// object would fill them where the helper never counts them). A kept
// inode's pages are out of the policy (the evictor and the sampler pass it
// by); unlocked, each resident page goes back in, or it would never be
// chosen again.
#include <errno.h>
#include <fcntl.h>

#include "engine.h"
#include "log.h"
#include "uffd.h"

namespace libshm::internal {

bool Engine::RoomToKeep(const Inode& inode) const {
  uint64_t kept = inode.pages();
  for (const auto& [seq, other] : inodes_) {
    if (other.get() != &inode && other->Unevictable()) kept += other->pages();
  }
  return kept <= limit_pages_ && limit_pages_ - kept >= opts_.cluster;
}

void Engine::ForgetKeptPages(Inode& inode) {
  for (uint64_t p = 0; p < inode.pages(); p++) policy_.Remove(Key(inode, p));
}

int Engine::BringInEveryPage(Inode& inode) {
  auto outside = [&] {
    return inode.CountState(PageState::kEmpty) + inode.CountState(PageState::kSwapped);
  };
  uint64_t need = outside();
  if (need > 0) {
    MakeRoom(need);
    need = outside();  // the room may have been made with its own pages
  }
  if (resident_pages_ + need > limit_pages_) return -ENOMEM;
  int rc = RestorePages(inode, 0, inode.pages());
  if (rc != 0) return rc;
  // The untouched pages: allocated in the memfd (zeros). Each mapper keeps
  // its write-protect markers, so a first write is still seen (a WP fault).
  // (A walk of every page: NextIn cannot look for empty ones, and every
  // page is about to be touched anyway.)
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
  return 0;
}

int Engine::Pin(Inode& inode) {
  if (inode.pinned) return 0;
  if (!inode.locked) {
    if (!RoomToKeep(inode)) return -ENOMEM;
    int rc = BringInEveryPage(inode);
    if (rc != 0) return rc;
  }
  inode.pinned = true;
  ForgetKeptPages(inode);
  LIBSHM_LOG_DEBUG("region %u pinned: a mapper that cannot be registered", inode.seq());
  return 0;
}

int Engine::LockPages(Inode& inode) {
  if (inode.locked) return 0;
  if (!inode.pinned) {
    if (!RoomToKeep(inode)) return -ENOMEM;
    int rc = BringInEveryPage(inode);
    if (rc != 0) return rc;
  }
  inode.locked = true;
  ForgetKeptPages(inode);
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
