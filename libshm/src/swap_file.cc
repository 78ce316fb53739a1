// SPDX-License-Identifier: MIT
#include "swap_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <utility>

#include "log.h"
#include "sys/syscalls.h"
#include "uffd.h"

namespace libshm::internal {

SwapFile::~SwapFile() {
  if (fd_ >= 0) close(fd_);
}

namespace {

// An unlinked file in `dir`: the fd, or -errno.
int OpenUnlinked(const char* dir) {
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
    // File systems without O_TMPFILE: create and unlink at once.
    char path[4096];
    snprintf(path, sizeof(path), "%s/libshm-swap-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) unlink(path);
  }
  return fd >= 0 ? fd : -errno;
}

}  // namespace

int ProbeSwapDir(const char* dir, char* why, size_t len) {
  struct stat st;
  int err = 0;
  const char* what = "";
  if (stat(dir, &st) != 0) {
    err = errno;
  } else if (!S_ISDIR(st.st_mode)) {
    err = ENOTDIR;
  } else if (access(dir, W_OK | X_OK) != 0) {
    err = errno;
    what = "not writable: ";
  } else {
    // Root passes access() where no file can be made (/proc, /sys).
    int fd = OpenUnlinked(dir);
    if (fd >= 0) {
      close(fd);
      return 0;
    }
    err = -fd;
    what = "cannot create a file there: ";
  }
  snprintf(why, len, "%s%s", what, strerror(err));
  return -err;
}

int SwapFile::Open(const char* dir, uint64_t max_bytes, bool dir_was_set) {
  max_pages_ = max_bytes / kPageSize;
  int fd = OpenUnlinked(dir);
  if (fd < 0) return fd;
  struct statfs fs;
  if (fstatfs(fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)) {
    if (!dir_was_set) {
      close(fd);
      LIBSHM_LOG_ERROR("swap directory %s is in memory (tmpfs); set LIBSHM_SWAP_DIR to a disk",
                       dir);
      return -EINVAL;
    }
    LIBSHM_LOG_WARN("swap directory %s is in memory (tmpfs): eviction will not free memory", dir);
  }
  fd_ = fd;
  dir_ = dir;
  return 0;
}

void SwapFile::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  dir_.clear();
  end_pages_ = 0;
  reserved_pages_ = 0;
  free_.clear();
}

void SwapFile::Exchange(SwapFile& other) {
  std::swap(fd_, other.fd_);
  std::swap(dir_, other.dir_);
  std::swap(max_pages_, other.max_pages_);
  std::swap(end_pages_, other.end_pages_);
  std::swap(reserved_pages_, other.reserved_pages_);
  std::swap(free_, other.free_);
}

int SwapFile::Reserve(uint64_t pages, Extent* out, bool allocate) {
  if (pages == 0) return -EINVAL;
  // First fit among released extents, else grow the file.
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < pages) continue;
    uint64_t base = it->first;
    uint64_t rest = it->second - pages;
    free_.erase(it);
    if (rest != 0) free_.emplace(base + pages, rest);
    // Released extents were punched: reserve their blocks again.
    int rc = !allocate ? 0
                       : sys::Fallocate(fd_, 0, static_cast<off_t>(base * kPageSize),
                                        static_cast<off_t>(pages * kPageSize));
    if (rc != 0) {
      Release({base, pages});
      reserved_pages_ += pages;  // Release subtracts it again
      return rc == -ENOSPC || rc == -EFBIG || rc == -EDQUOT ? -ENOMEM : rc;
    }
    reserved_pages_ += pages;
    *out = {base, pages};
    return 0;
  }
  uint64_t base = end_pages_;
  if (max_pages_ != 0 && base + pages > max_pages_) return -ENOMEM;
  int rc = allocate ? sys::Fallocate(fd_, 0, static_cast<off_t>(base * kPageSize),
                                     static_cast<off_t>(pages * kPageSize))
                    : sys::Ftruncate(fd_, static_cast<off_t>((base + pages) * kPageSize));
  if (rc != 0) {
    // A partial reservation may have extended the file: give the blocks back.
    sys::Fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                   static_cast<off_t>(base * kPageSize), static_cast<off_t>(pages * kPageSize));
    sys::Ftruncate(fd_, static_cast<off_t>(end_pages_ * kPageSize));
    return rc == -ENOSPC || rc == -EFBIG || rc == -EDQUOT ? -ENOMEM : rc;
  }
  end_pages_ = base + pages;
  reserved_pages_ += pages;
  *out = {base, pages};
  return 0;
}

void SwapFile::Release(const Extent& e) {
  if (e.pages == 0) return;
  sys::Fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                 static_cast<off_t>(e.base * kPageSize), static_cast<off_t>(e.pages * kPageSize));
  reserved_pages_ -= e.pages;
  uint64_t base = e.base, pages = e.pages;
  auto next = free_.lower_bound(base);
  if (next != free_.end() && next->first == base + pages) {
    pages += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == base) {
      base = prev->first;
      pages += prev->second;
      free_.erase(prev);
    }
  }
  if (base + pages == end_pages_) {
    // Free space at the end goes back to the file system, so a later,
    // larger extent can still fit under the cap.
    end_pages_ = base;
    sys::Ftruncate(fd_, static_cast<off_t>(end_pages_ * kPageSize));
    return;
  }
  free_.emplace(base, pages);
}

ssize_t SwapFile::ReadPages(uint64_t slot, void* buf, uint64_t pages) const {
  return sys::Pread(fd_, buf, pages * kPageSize, static_cast<off_t>(slot * kPageSize));
}

ssize_t SwapFile::WritePages(uint64_t slot, const void* buf, uint64_t pages) const {
  return sys::Pwrite(fd_, buf, pages * kPageSize, static_cast<off_t>(slot * kPageSize));
}

int SwapFile::Sync() {
  int rc = sys::Fdatasync(fd_);
  if (rc == 0) syncs_++;
  return rc;
}

}  // namespace libshm::internal
