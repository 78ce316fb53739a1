// SPDX-License-Identifier: MIT
// Thin wrappers over the userfaultfd ioctls. Each returns 0 or -errno and
// never touches errno. Results are classified in one place (Classify), as
// CRIU's uffd_recoverable_error does: EEXIST is a lost race (count it as
// success and wake the faulter), EAGAIN means a non-cooperative event is
// pending on that uffd (drain events, retry), ESRCH means the process behind
// the uffd has exited or exec'd.
#ifndef LIBSHM_SRC_UFFD_H_
#define LIBSHM_SRC_UFFD_H_

#include <stddef.h>
#include <stdint.h>

#include "sys/uffd_uapi.h"

namespace libshm::internal {

constexpr size_t kPageSize = 4096;
constexpr int kPageShift = 12;

// The events libshm needs in full mode, and in restricted mode (no FORK: EPERM
// for unprivileged callers).
constexpr uint64_t kFullFeatures = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
                                   UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP |
                                   UFFD_FEATURE_THREAD_ID;
constexpr uint64_t kRestrictedFeatures =
    kFullFeatures & ~static_cast<uint64_t>(UFFD_FEATURE_EVENT_FORK);
constexpr uint64_t kRegisterModes = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP;

enum class UffdOutcome { kOk, kRace, kRetry, kGone, kNoEnt, kFail };
UffdOutcome Classify(int rc);

// Opens a uffd (O_CLOEXEC|O_NONBLOCK: poll on a blocking uffd reports POLLERR).
// Full mode first, then /dev/userfaultfd, then UFFD_USER_MODE_ONLY if
// `allow_user_mode_only`. *user_mode_only tells which one it got.
int OpenUffd(bool allow_user_mode_only, bool* user_mode_only);
// USERFAULTFD_IOC_NEW on an open /dev/userfaultfd: a full uffd for the caller's mm.
int UffdFromDevice(int devfd);

int UffdApi(int uffd, uint64_t features, uint64_t* got_features);
int UffdRegister(int uffd, uintptr_t start, size_t len, uint64_t mode, uint64_t* ioctls);
int UffdUnregister(int uffd, uintptr_t start, size_t len);
// Copies `len` bytes; *copied gets what the kernel did (may be partial with EAGAIN).
int UffdCopy(int uffd, uintptr_t dst, const void* src, size_t len, bool write_protect,
             int64_t* copied);
int UffdZeropage(int uffd, uintptr_t dst, size_t len);
int UffdWriteProtect(int uffd, uintptr_t start, size_t len, bool protect);
int UffdWake(int uffd, uintptr_t start, size_t len);
// Whether a non-cooperative event of the uffd's process is in flight (the
// kernel's mmap_changing: from the start of a munmap, mremap, madvise or
// fork until its event is read and its thread runs again). Asks by
// write-protecting [start, start + len), which the caller has just mapped
// and not registered: the kernel checks mmap_changing first (EAGAIN), then
// finds no registered VMA there (ENOENT) and changes nothing. Protecting,
// never unprotecting: should the range be registered after all, an extra
// protection costs one write fault and loses no dirty bit.
bool MmChanging(int uffd, uintptr_t start, size_t len);
// Resolves faults on [start, start+len) with SIGBUS (a poison marker) for
// data that cannot be served. Returns 0 or -errno.
int UffdPoison(int uffd, uintptr_t start, size_t len);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_UFFD_H_
