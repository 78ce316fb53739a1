// SPDX-License-Identifier: MIT
// SwapFile: the session's swap file and its extent allocator.
//
// The file is created unlinked (O_TMPFILE, mode 0600) in a disk-backed
// directory, so it disappears with the helper however the helper ends. Each
// inode gets one contiguous extent, reserved with fallocate when the inode is
// created: a region that cannot be backed fails then with ENOMEM, and
// eviction can never fail for lack of space (DESIGN.md invariant 4). Page i
// of an inode lives at slot base + i for the inode's life.
//
// Not thread-safe: owned by the engine thread.
#ifndef LIBSHM_SRC_SWAP_FILE_H_
#define LIBSHM_SRC_SWAP_FILE_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <map>
#include <string>

namespace libshm::internal {

// Whether `dir` can hold a swap file: an existing, writable directory in
// which a file can be made. Returns 0, or -errno with the reason written to
// `why` ("not writable: Permission denied"). Creates and drops a file there.
int ProbeSwapDir(const char* dir, char* why, size_t len);

struct Extent {
  uint64_t base = 0;   // first slot (page number in the file)
  uint64_t pages = 0;  // length in pages
};

class SwapFile {
 public:
  SwapFile() = default;
  ~SwapFile();
  SwapFile(const SwapFile&) = delete;
  SwapFile& operator=(const SwapFile&) = delete;

  // Creates the file in `dir`. `max_bytes` caps its size (0: no cap).
  // `dir_was_set` says the user chose the directory (tmpfs then only warns).
  // Returns 0 or -errno.
  int Open(const char* dir, uint64_t max_bytes, bool dir_was_set);

  // Reserves `pages` contiguous slots and, if `allocate`, their disk blocks.
  // -ENOMEM when the cap or the file system cannot hold them. Without
  // `allocate` (MAP_NORESERVE) the slots are sparse: blocks are taken when a
  // page is written back, which may then fail with ENOSPC.
  int Reserve(uint64_t pages, Extent* out, bool allocate = true);
  // Returns an extent: its blocks are freed (punched) and the slots reused.
  void Release(const Extent& e);

  ssize_t ReadPages(uint64_t slot, void* buf, uint64_t pages) const;
  ssize_t WritePages(uint64_t slot, const void* buf, uint64_t pages) const;
  // Makes written pages durable (MS_SYNC); counts the flushes that succeeded.
  int Sync();

  // Closes the file (swapoff, or the old file after a move): its blocks go
  // back to the file system at once (it was never linked). Every extent is
  // forgotten; Open may be called again.
  void Close();
  // Takes `other`'s file, directory and extents and gives it ours (a swap
  // move switches files in one step). The sync count stays with this object.
  void Exchange(SwapFile& other);

  bool is_open() const { return fd_ >= 0; }
  // The directory given to Open; "" when closed.
  const char* dir() const { return fd_ >= 0 ? dir_.c_str() : ""; }
  uint64_t syncs() const { return syncs_; }
  uint64_t reserved_pages() const { return reserved_pages_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string dir_;
  uint64_t max_pages_ = 0;  // 0: no cap
  uint64_t end_pages_ = 0;  // file length in slots
  uint64_t reserved_pages_ = 0;
  uint64_t syncs_ = 0;                 // successful fdatasync calls (stats: swap_syncs)
  std::map<uint64_t, uint64_t> free_;  // base -> pages, coalesced
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_SWAP_FILE_H_
