// SPDX-License-Identifier: MIT
// CallerCreds: who a connection's process is *now*, for the kernel's own
// permission rules on named objects (docs/named.md "Who may do what"). Read
// from /proc/<pid>/status at each request, never from the request: a process
// may have dropped privilege since it connected (an nginx worker that became
// nobody), and the kernel checks names at every open.
#ifndef LIBSHM_SRC_CALLER_CREDS_H_
#define LIBSHM_SRC_CALLER_CREDS_H_

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <vector>

namespace libshm::internal {

struct CallerCreds {
  uid_t euid = 0;
  gid_t egid = 0;
  std::vector<gid_t> groups;
  uint64_t cap_eff = 0;  // CapEff bits (linux/capability.h numbers)

  bool HasCap(int cap) const { return cap >= 0 && cap < 64 && (cap_eff >> cap & 1) != 0; }
  bool InGroup(gid_t gid) const;
};

// Reads pid's effective ids, groups and effective capabilities. Returns 0,
// or -errno (-ESRCH: gone).
int ReadCallerCreds(pid_t pid, CallerCreds* out);

// Reads pid's soft RLIMIT_MEMLOCK in bytes (UINT64_MAX: unlimited) from
// /proc/<pid>/limits, which anyone may read: prlimit(2) of another user's
// process needs CAP_SYS_RESOURCE, which a helper may lack (a container's
// bounding set). Returns 0, or -errno (-ESRCH: gone).
int ReadCallerMemlock(pid_t pid, uint64_t* soft);

// Access bits wanted of an object (as open(2) asks them).
constexpr int kMayRead = 4;
constexpr int kMayWrite = 2;

// The kernel's generic_permission for a regular file: owner, group or other
// bits by the caller's effective ids, and CAP_DAC_OVERRIDE (any access) or
// CAP_DAC_READ_SEARCH (read).
bool MayAccess(const CallerCreds& who, const struct stat& st, int want);

// Whether `who` may remove the name of an object owned by st_uid from a
// sticky directory owned by root (/dev/shm): the owner, root's uid, or
// CAP_FOWNER.
bool MayUnlinkSticky(const CallerCreds& who, const struct stat& st);

// Opens `path` (a /proc/self/fd link of a program object) with access mode
// `acc`, O_CLOEXEC, never waiting for a lease another process holds on the
// file: -EWOULDBLOCK then (program_objects.cc). Returns the fd or -errno.
int OpenWithoutWaiting(const char* path, int acc);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_CALLER_CREDS_H_
