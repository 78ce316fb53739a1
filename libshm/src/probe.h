// SPDX-License-Identifier: MIT
// KernelFeatures: what userfaultfd can do for this process on this kernel,
// probed once at start (CRIU kerndat style), never guessed from headers.
#ifndef LIBSHM_SRC_PROBE_H_
#define LIBSHM_SRC_PROBE_H_

#include <stdint.h>

namespace libshm::internal {

enum class RunMode { kFull, kRestricted, kUnavailable };
const char* RunModeName(RunMode m);

struct KernelFeatures {
  bool uffd_syscall = false;     // userfaultfd(0) works (kernel-mode faults)
  bool dev_userfaultfd = false;  // /dev/userfaultfd opens
  bool user_mode_only = false;   // UFFD_USER_MODE_ONLY works
  bool event_fork = false;       // EVENT_FORK accepted on a full uffd
  bool shmem_wp = false;         // write-protect on a memfd mapping registers
  bool shmem_minor = false;      // MINOR mode on a memfd mapping registers
  uint64_t features = 0;         // UFFDIO_API features (best uffd we could open)
  int open_errno = 0;            // why the full uffd failed, if it did
  RunMode mode = RunMode::kUnavailable;
};

// Probes (cheap: a few syscalls). Thread-safe; the first result is cached.
const KernelFeatures& ProbeKernel();

// Prints the feature table, the mode and what the restricted mode costs.
void PrintProbe(const KernelFeatures& k, int fd);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_PROBE_H_
