// SPDX-License-Identifier: MIT
// Pages kept in memory (Engine methods; see engine.h): pins and SHM_LOCK.
// A pinned object (a mapper libshm cannot register, a write seal:
// docs/named.md "Pins") and a locked System V segment (SHM_LOCK:
// docs/named.md "SHM_LOCK") are never evicted, and the session's limit
// still holds.
//
// What such an inode keeps counts against the limit: every page of a
// locked segment, and what a pinned object holds or has in swap (its
// untouched pages stay holes: a native mapper of a sparse object must not
// cost its whole size; what such a mapper fills in later is outside the
// count, docs/named.md "Pins"). A segment may be locked only if, with what
// the kept ones keep already, one fill cluster (LIBSHM_CLUSTER pages) of the
// limit is left to everything else (a pin needs only room for what it
// brings back): a fault elsewhere makes room for its
// cluster by eviction, and with nothing left to evict it would be served
// above the limit (stress-ng --shm-sysv, which locks as it goes, went one
// cluster over). Otherwise ENOMEM, the kernel's answer for a mapping it
// cannot account for or a lock past RLIMIT_MEMLOCK, and nothing changes.
//
// A pin brings every swapped page back; a lock brings every page in at
// once, untouched ones allocated as zeros (the kernel allocates a locked
// segment's pages as they are touched; a page that filled in later could
// not be made room for). A kept inode's pages are out of the policy (the
// evictor and the sampler pass it by); unlocked, each resident page goes
// back in, or it would never be chosen again.
#include <errno.h>
#include <fcntl.h>

#include "engine.h"
#include "log.h"
#include "uffd.h"

namespace libshm::internal {

uint64_t Engine::KeptPages(const Inode& inode, bool locking) const {
  // A locked segment has every page in memory. A pinned object has what it
  // holds or has in swap: its untouched pages stay holes until something
  // fills them (a native mapper of a sparse object must not cost its
  // whole size).
  return locking || inode.locked ? inode.pages()
                                 : inode.pages() - inode.CountState(PageState::kEmpty);
}

bool Engine::RoomToKeep(const Inode& inode, bool locking) const {
  uint64_t kept = KeptPages(inode, locking);
  for (const auto& [seq, other] : inodes_) {
    if (other.get() != &inode && other->Unevictable()) kept += KeptPages(*other, false);
  }
  return kept <= limit_pages_ && limit_pages_ - kept >= opts_.cluster;
}

void Engine::ForgetKeptPages(Inode& inode) {
  for (uint64_t p = 0; p < inode.pages(); p++) policy_.Remove(Key(inode, p));
}

int Engine::BringIn(Inode& inode, bool untouched_too) {
  auto outside = [&] {
    return inode.CountState(PageState::kSwapped) +
           (untouched_too ? inode.CountState(PageState::kEmpty) : 0);
  };
  uint64_t need = outside();
  if (need > 0) {
    MakeRoom(need);
    need = outside();  // the room may have been made with its own pages
  }
  // (Nothing to bring in fits whatever is resident.)
  if (need > 0 && resident_pages_ + need > limit_pages_) return -ENOMEM;
  int rc = RestorePages(inode, 0, inode.pages());
  if (rc != 0 || !untouched_too) return rc;
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
  // Only what it brings back must fit, not the room rule of a lock: pins
  // come and go with programs' seals and private mappers, and objects whose
  // last holder is gone stay pinned until the hold probe frees them (a
  // program that seals memfds in a loop, as stress-ng --seal does, was
  // refused ENOMEM by the room its closed memfds still took).
  if (!inode.locked) {
    int rc = BringIn(inode, false);
    if (rc != 0) return rc;
  }
  inode.pinned = true;
  ForgetKeptPages(inode);
  LIBSHM_LOG_DEBUG("region %u pinned: a mapper that cannot be registered", inode.seq());
  return 0;
}

int Engine::LockPages(Inode& inode) {
  if (inode.locked) return 0;
  if (!RoomToKeep(inode, true)) return -ENOMEM;
  int rc = BringIn(inode, true);
  if (rc != 0) return rc;
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
