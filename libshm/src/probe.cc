// SPDX-License-Identifier: MIT
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys/syscalls.h"
#include "uffd.h"

namespace libshm::internal {
namespace {

// Registers a one-page memfd mapping with `mode` on a fresh uffd of the kind
// `open_flags` asks for; true if the kernel accepts it.
bool RegisterWorks(int open_flags, uint64_t mode) {
  int uffd = sys::Userfaultfd(O_CLOEXEC | O_NONBLOCK | open_flags);
  if (uffd < 0) return false;
  bool ok = false;
  if (UffdApi(uffd, 0, nullptr) == 0) {
    int memfd = sys::MemfdCreate("libshm-probe", MFD_CLOEXEC);
    if (memfd >= 0 && sys::Ftruncate(memfd, kPageSize) == 0) {
      long addr = sys::Mmap(nullptr, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
      if (!sys::IsErr(addr)) {
        ok = UffdRegister(uffd, static_cast<uintptr_t>(addr), kPageSize, mode, nullptr) == 0;
        sys::Munmap(reinterpret_cast<void*>(addr), kPageSize);
      }
    }
    if (memfd >= 0) sys::Close(memfd);
  }
  sys::Close(uffd);
  return ok;
}

KernelFeatures DoProbe() {
  KernelFeatures k;
  int fd = sys::Userfaultfd(O_CLOEXEC | O_NONBLOCK);
  k.uffd_syscall = fd >= 0;
  if (fd < 0) k.open_errno = -fd;
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev >= 0) {
    int from_dev = UffdFromDevice(dev);
    k.dev_userfaultfd = from_dev >= 0;
    if (fd < 0) {
      fd = from_dev;
    } else if (from_dev >= 0) {
      close(from_dev);
    }
    close(dev);
  }
  int umo = sys::Userfaultfd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  k.user_mode_only = umo >= 0;
  int best = fd >= 0 ? fd : umo;
  if (best >= 0) {
    uint64_t features = 0;
    if (UffdApi(best, 0, &features) == 0) k.features = features;
  }
  if (fd >= 0) {
    // UFFDIO_API may be called once per uffd: probe EVENT_FORK on a new one.
    // It needs CAP_SYS_PTRACE however the uffd was opened (the device too).
    int f2 = k.uffd_syscall ? sys::Userfaultfd(O_CLOEXEC | O_NONBLOCK) : -1;
    if (f2 < 0 && k.dev_userfaultfd) {
      int dev2 = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
      if (dev2 >= 0) {
        f2 = UffdFromDevice(dev2);
        close(dev2);
      }
    }
    if (f2 >= 0) {
      k.event_fork = UffdApi(f2, kFullFeatures, nullptr) == 0;
      sys::Close(f2);
    } else {
      k.event_fork = (k.features & UFFD_FEATURE_EVENT_FORK) != 0;
    }
    sys::Close(fd);
  }
  if (umo >= 0) sys::Close(umo);
  int flags = k.uffd_syscall ? 0 : UFFD_USER_MODE_ONLY;
  k.shmem_wp = RegisterWorks(flags, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP);
  k.shmem_minor = RegisterWorks(flags, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR);
  if ((k.uffd_syscall || k.dev_userfaultfd) && k.event_fork && k.shmem_wp) {
    k.mode = RunMode::kFull;
  } else if (k.user_mode_only && k.shmem_wp) {
    k.mode = RunMode::kRestricted;
  }
  return k;
}

}  // namespace

const char* RunModeName(RunMode m) {
  switch (m) {
    case RunMode::kFull:
      return "full";
    case RunMode::kRestricted:
      return "restricted";
    case RunMode::kUnavailable:
      return "unavailable";
  }
  return "?";
}

const KernelFeatures& ProbeKernel() {
  static const KernelFeatures k = DoProbe();
  return k;
}

void PrintProbe(const KernelFeatures& k, int fd) {
  auto yes = [](bool b) { return b ? "yes" : "no"; };
  dprintf(fd, "libshm kernel probe (uid %d)\n", static_cast<int>(getuid()));
  dprintf(fd, "  %-36s %s%s%s\n", "userfaultfd(0) (kernel-mode faults)", yes(k.uffd_syscall),
          k.uffd_syscall ? "" : " - ", k.uffd_syscall ? "" : strerror(k.open_errno));
  dprintf(fd, "  %-36s %s\n", "/dev/userfaultfd", yes(k.dev_userfaultfd));
  dprintf(fd, "  %-36s %s\n", "UFFD_USER_MODE_ONLY", yes(k.user_mode_only));
  dprintf(fd, "  %-36s %s\n", "UFFD_FEATURE_EVENT_FORK", yes(k.event_fork));
  dprintf(fd, "  %-36s %s\n", "write-protect on memfd (shmem)", yes(k.shmem_wp));
  dprintf(fd, "  %-36s %s\n", "MINOR faults on memfd (sampling)", yes(k.shmem_minor));
  dprintf(fd, "  %-36s 0x%llx\n", "UFFDIO_API features",
          static_cast<unsigned long long>(k.features));
  dprintf(fd, "mode: %s\n", RunModeName(k.mode));
  switch (k.mode) {
    case RunMode::kFull:
      dprintf(fd,
              "  full: kernel accesses (read(2) into a region, futexes, O_DIRECT) are served;\n"
              "  forked children are followed by EVENT_FORK.\n");
      break;
    case RunMode::kRestricted:
      dprintf(
          fd,
          "  restricted (no privilege): a kernel access to an evicted or clean page\n"
          "  (read(2)/recv(2) into it, write(2) from an evicted page, O_DIRECT) fails with\n"
          "  EFAULT; forked children re-register in a pthread_atfork handler, so raw\n"
          "  clone() children are not served. Run the session as root (shmrun) for full mode.\n");
      break;
    case RunMode::kUnavailable:
      dprintf(fd, "  unavailable: managed mappings fall back to native shared memory.\n");
      break;
  }
}

}  // namespace libshm::internal
