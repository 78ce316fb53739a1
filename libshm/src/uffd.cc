// SPDX-License-Identifier: MIT
#include "uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "sys/syscalls.h"

namespace libshm::internal {

UffdOutcome Classify(int rc) {
  switch (rc) {
    case 0:
      return UffdOutcome::kOk;
    case -EEXIST:
      return UffdOutcome::kRace;
    case -EAGAIN:
      return UffdOutcome::kRetry;
    case -ESRCH:
      return UffdOutcome::kGone;
    case -ENOENT:
      return UffdOutcome::kNoEnt;
    default:
      return UffdOutcome::kFail;
  }
}

int OpenUffd(bool allow_user_mode_only, bool* user_mode_only) {
  *user_mode_only = false;
  int fd = sys::Userfaultfd(O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0) return fd;
  int dev = static_cast<int>(sys::Syscall(
      SYS_openat, AT_FDCWD, reinterpret_cast<long>("/dev/userfaultfd"), O_RDWR | O_CLOEXEC));
  if (dev >= 0) {
    fd = UffdFromDevice(dev);
    sys::Close(dev);
    if (fd >= 0) return fd;
  }
  if (!allow_user_mode_only) return fd;
  fd = sys::Userfaultfd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd >= 0) *user_mode_only = true;
  return fd;
}

int UffdFromDevice(int devfd) {
  return sys::Ioctl(devfd, USERFAULTFD_IOC_NEW, reinterpret_cast<void*>(O_CLOEXEC | O_NONBLOCK));
}

int UffdApi(int uffd, uint64_t features, uint64_t* got_features) {
  struct uffdio_api api = {};
  api.api = UFFD_API;
  api.features = features;
  int rc = sys::Ioctl(uffd, UFFDIO_API, &api);
  if (rc == 0 && got_features != nullptr) *got_features = api.features;
  return rc;
}

int UffdRegister(int uffd, uintptr_t start, size_t len, uint64_t mode, uint64_t* ioctls) {
  struct uffdio_register reg = {};
  reg.range.start = start;
  reg.range.len = len;
  reg.mode = mode;
  int rc = sys::Ioctl(uffd, UFFDIO_REGISTER, &reg);
  if (rc == 0 && ioctls != nullptr) *ioctls = reg.ioctls;
  return rc;
}

int UffdUnregister(int uffd, uintptr_t start, size_t len) {
  struct uffdio_range range = {start, len};
  return sys::Ioctl(uffd, UFFDIO_UNREGISTER, &range);
}

int UffdCopy(int uffd, uintptr_t dst, const void* src, size_t len, bool write_protect,
             int64_t* copied) {
  struct uffdio_copy copy = {};
  copy.dst = dst;
  copy.src = reinterpret_cast<uintptr_t>(src);
  copy.len = len;
  copy.mode = write_protect ? UFFDIO_COPY_MODE_WP : 0;
  int rc = sys::Ioctl(uffd, UFFDIO_COPY, &copy);
  if (copied != nullptr) *copied = copy.copy;
  return rc;
}

int UffdZeropage(int uffd, uintptr_t dst, size_t len) {
  struct uffdio_zeropage zp = {};
  zp.range.start = dst;
  zp.range.len = len;
  return sys::Ioctl(uffd, UFFDIO_ZEROPAGE, &zp);
}

int UffdWriteProtect(int uffd, uintptr_t start, size_t len, bool protect) {
  struct uffdio_writeprotect wp = {};
  wp.range.start = start;
  wp.range.len = len;
  wp.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
  return sys::Ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
}

bool MmChanging(int uffd, uintptr_t start, size_t len) {
  return UffdWriteProtect(uffd, start, len, true) == -EAGAIN;
}

int UffdPoison(int uffd, uintptr_t start, size_t len) {
  struct uffdio_poison p = {};
  p.range = {start, len};
  return sys::Ioctl(uffd, UFFDIO_POISON, &p);
}

int UffdWake(int uffd, uintptr_t start, size_t len) {
  struct uffdio_range range = {start, len};
  return sys::Ioctl(uffd, UFFDIO_WAKE, &range);
}

}  // namespace libshm::internal
