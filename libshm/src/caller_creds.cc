// SPDX-License-Identifier: MIT
#include "caller_creds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>

namespace libshm::internal {
namespace {

constexpr int kCapDacOverride = 1;
constexpr int kCapDacReadSearch = 2;
constexpr int kCapFowner = 3;

}  // namespace

bool CallerCreds::InGroup(gid_t gid) const {
  return gid == egid || std::find(groups.begin(), groups.end(), gid) != groups.end();
}

int ReadCallerCreds(pid_t pid, CallerCreds* out) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/status", static_cast<int>(pid));
  FILE* f = fopen(path, "re");
  if (f == nullptr) return errno == ENOENT ? -ESRCH : -errno;
  *out = CallerCreds();
  // Whole lines, whatever their length: a Groups line of a process in many
  // groups passes 4 KiB, and a fixed buffer cut it inside a number, which
  // then counted as a group of the caller.
  char* line = nullptr;
  size_t cap = 0;
  int found = 0;
  while (getline(&line, &cap, f) >= 0) {
    unsigned long r, e;
    unsigned long long cap;
    if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2) {
      out->euid = static_cast<uid_t>(e);
      found |= 1;
    } else if (sscanf(line, "Gid: %lu %lu", &r, &e) == 2) {
      out->egid = static_cast<gid_t>(e);
      found |= 2;
    } else if (strncmp(line, "Groups:", 7) == 0) {
      char* p = line + 7;
      for (;;) {
        char* end;
        unsigned long g = strtoul(p, &end, 10);
        if (end == p) break;
        out->groups.push_back(static_cast<gid_t>(g));
        p = end;
      }
      found |= 4;
    } else if (sscanf(line, "CapEff: %llx", &cap) == 1) {
      out->cap_eff = cap;
      found |= 8;
    }
  }
  free(line);
  fclose(f);
  // CapEff counts capabilities in the caller's own user namespace: a
  // process that made one (clone or unshare with CLONE_NEWUSER, allowed to
  // any user) has them all there and none over the objects of anyone
  // outside it. Only a caller of the helper's own namespace has them here
  // (stricter than the kernel for a namespace that maps the object's
  // owner: that caller still has the owner's bits).
  struct stat mine, theirs;
  snprintf(path, sizeof(path), "/proc/%d/ns/user", static_cast<int>(pid));
  if (stat("/proc/self/ns/user", &mine) != 0 || stat(path, &theirs) != 0 ||
      mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev) {
    out->cap_eff = 0;
  }
  // A zombie's status has no ids worth trusting for a new open.
  return found == 15 ? 0 : -ESRCH;
}

int ReadCallerMemlock(pid_t pid, uint64_t* soft) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/limits", static_cast<int>(pid));
  FILE* f = fopen(path, "re");
  if (f == nullptr) return errno == ENOENT ? -ESRCH : -errno;
  // "Max locked memory         8388608              8388608              bytes"
  char line[256];
  int rc = -ESRCH;
  static const char kName[] = "Max locked memory";
  while (fgets(line, sizeof(line), f) != nullptr) {
    if (strncmp(line, kName, sizeof(kName) - 1) != 0) continue;
    char value[32];
    if (sscanf(line + sizeof(kName) - 1, "%31s", value) != 1) break;
    if (strcmp(value, "unlimited") == 0) {
      *soft = UINT64_MAX;
      rc = 0;
    } else {
      char* end;
      errno = 0;
      unsigned long long v = strtoull(value, &end, 10);
      if (errno == 0 && *end == '\0') {
        *soft = v;
        rc = 0;
      }
    }
    break;
  }
  fclose(f);
  return rc;
}

bool MayAccess(const CallerCreds& who, const struct stat& st, int want) {
  if (who.HasCap(kCapDacOverride)) return true;
  if (want == kMayRead && who.HasCap(kCapDacReadSearch)) return true;
  int bits;
  if (who.euid == st.st_uid) {
    bits = (st.st_mode >> 6) & 7;
  } else if (who.InGroup(st.st_gid)) {
    bits = (st.st_mode >> 3) & 7;
  } else {
    bits = st.st_mode & 7;
  }
  return (bits & want) == want;
}

bool MayUnlinkSticky(const CallerCreds& who, const struct stat& st) {
  return who.euid == st.st_uid || who.euid == 0 || who.HasCap(kCapFowner);
}

}  // namespace libshm::internal
