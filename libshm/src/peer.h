// SPDX-License-Identifier: MIT
// Peer: what the kernel says about the process at the other end of a
// session connection, and the one question the helper asks about it that no
// request field can answer: does it belong to the session's process tree?
//
// The helper believes only the kernel (DESIGN.md invariant 9,
// docs/security.md): SO_PEERCRED gives the uid and pid at connect time,
// SO_PEERPIDFD (or pidfd_open) pins that pid against reuse, and the parent
// links in /proc/<pid>/stat give the ancestry. Ancestry is read twice and
// must agree, and the member it reaches must still be alive (its pidfd), so
// a pid reused between two reads cannot pass.
//
// Thread-safe (no state).
#ifndef LIBSHM_SRC_PEER_H_
#define LIBSHM_SRC_PEER_H_

#include <sys/types.h>

#include <functional>

namespace libshm::internal {

struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  int pidfd = -1;  // owned by the caller; -1 if the kernel gave none
};

// Reads the peer of a connected unix socket. Returns 0 or -errno.
int ReadPeer(int sock, Peer* out);

// The parent of `pid` (from /proc/<pid>/stat), or -1 if it is gone.
pid_t ParentOf(pid_t pid);

// True if the process behind `pidfd` has exited (or the pidfd is invalid).
bool PidfdExited(int pidfd);

// True if an ancestor of `pid` (not `pid` itself) satisfies `is_member`,
// which must answer only for live, pinned processes. The chain is walked up
// to init, at most 64 links.
bool DescendsFromMember(pid_t pid, const std::function<bool(pid_t)>& is_member);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_PEER_H_
