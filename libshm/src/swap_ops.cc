// SPDX-License-Identifier: MIT
// Whole-swap operations (Engine methods; see engine.h): swapoff and moving
// the swap file to another directory, the ctl names swap.off and swap.dir
// (docs/named.md "Segments nobody maps, and swapoff", docs/design.md
// "Swapoff and swap moves").
//
// Both walk the inode registry: a region that nobody maps at the moment, or
// that is partly swapped, is an inode like any other. Both run on the engine
// thread from start to end, so no fault, eviction or writeback interleaves;
// faults raised meanwhile wait in their uffds and are served afterwards.
//
// Neither loses data if it stops half way: a slot stays valid until its page
// is in the memfd (swapoff), and the old file stays in use until every copy
// has been written (move).
//
// A refusal is told to whoever asked (the ctl reply's text, which shmstat
// prints) and logged at info level only: the programs of the session, whose
// stderr the helper shares, did not ask.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "config.h"
#include "engine.h"
#include "log.h"
#include "sys/syscalls.h"
#include "test_hooks.h"
#include "uffd.h"

namespace libshm::internal {
namespace {

// A number read from a one-line file, or false ("max" and missing files
// say there is no limit).
bool ReadNumberFile(const std::string& path, uint64_t* out) {
  FILE* f = fopen(path.c_str(), "re");
  if (f == nullptr) return false;
  unsigned long long v = 0;
  bool ok = fscanf(f, "%llu", &v) == 1;
  fclose(f);
  *out = v;
  return ok;
}

// Room left in the helper's memory cgroup (v2 memory.max - memory.current,
// or v1 limit_in_bytes - usage_in_bytes), or UINT64_MAX if it has no limit.
// The pages swapoff writes into the memfds are charged to the helper's
// cgroup, so they must fit there as well as in the machine.
uint64_t CgroupRoomBytes() {
  FILE* f = fopen("/proc/self/cgroup", "re");
  if (f == nullptr) return UINT64_MAX;
  char line[4096];
  uint64_t room = UINT64_MAX;
  while (fgets(line, sizeof(line), f) != nullptr) {
    line[strcspn(line, "\n")] = '\0';
    std::string l = line;
    std::string dir, max_file, cur_file;
    if (l.rfind("0::", 0) == 0) {
      dir = "/sys/fs/cgroup" + l.substr(3);
      max_file = "/memory.max";
      cur_file = "/memory.current";
    } else if (size_t at = l.find(":memory:"); at != std::string::npos) {
      dir = "/sys/fs/cgroup/memory" + l.substr(at + 8);
      max_file = "/memory.limit_in_bytes";
      cur_file = "/memory.usage_in_bytes";
    } else {
      continue;
    }
    uint64_t max = 0, cur = 0;
    if (ReadNumberFile(dir + max_file, &max) && ReadNumberFile(dir + cur_file, &cur)) {
      room = std::min(room, max > cur ? max - cur : 0);
    }
  }
  fclose(f);
  return room;
}

// Memory swapoff may fill: MemAvailable of /proc/meminfo, or less if the
// helper's memory cgroup has less room; UINT64_MAX if neither says (the
// limit still applies). Test hook, not an option:
// LIBSHM_TEST_MEM_AVAILABLE=BYTES stands in for it.
uint64_t MemAvailableBytes() {
  const char* fake = secure_getenv("LIBSHM_TEST_MEM_AVAILABLE");
  if (fake != nullptr) return strtoull(fake, nullptr, 10);
  uint64_t avail = UINT64_MAX;
  FILE* f = fopen("/proc/meminfo", "re");
  if (f != nullptr) {
    char line[256];
    unsigned long long kb;
    while (fgets(line, sizeof(line), f) != nullptr) {
      if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
        avail = kb * 1024;
        break;
      }
    }
    fclose(f);
  }
  return std::min(avail, CgroupRoomBytes());
}

std::string Human(uint64_t bytes) {
  char buf[32];
  FormatSize(bytes, buf, sizeof(buf));
  return buf;
}

// A page whose slot holds its data: swapped, clean (the copy is valid), or
// sampled (the slot is valid if it was clean; copying it anyway is harmless).
bool SlotHoldsData(PageState s) {
  return s == PageState::kSwapped || s == PageState::kClean || s == PageState::kSampled;
}

}  // namespace

int Engine::SwapOff(uint64_t* restored, char* why, size_t len) {
  *restored = 0;
  if (!swap_.is_open()) return 0;  // already off: nothing to do
  uint64_t swapped = 0;
  for (const auto& [seq, inode] : inodes_) swapped += inode->CountState(PageState::kSwapped);
  uint64_t need = (resident_pages_ + swapped) * kPageSize;
  uint64_t limit = limit_pages_ * kPageSize;
  uint64_t avail = MemAvailableBytes();
  // Resident pages are in memory already (not part of MemAvailable): only
  // the swapped ones must find room there.
  if (need > limit || swapped * kPageSize > avail) {
    if (need > limit) {
      snprintf(why, len,
               "swapoff refused: %s resident + %s swapped does not fit under the limit %s",
               Human(resident_pages_ * kPageSize).c_str(), Human(swapped * kPageSize).c_str(),
               Human(limit).c_str());
    } else {
      snprintf(why, len,
               "swapoff refused: %s swapped does not fit in the memory available %s "
               "(MemAvailable, or the helper's memory cgroup)",
               Human(swapped * kPageSize).c_str(), Human(avail).c_str());
    }
    LIBSHM_LOG_INFO("%s", why);
    return -ENOMEM;
  }
  // The evictor stops here: nothing on this thread evicts until we return
  // (no fault is served meanwhile), and once the file is closed
  // EvictionSuspended() keeps it stopped.
  for (auto& [seq, up] : inodes_) {
    Inode& inode = *up;
    uint64_t before = inode.swap_ins;
    int rc = RestorePages(inode, 0, inode.pages());
    *restored += (inode.swap_ins - before) * kPageSize;
    if (rc != 0) {
      // What was brought back stays (dirty, resident); the rest stays in
      // its slots and swap stays on.
      snprintf(why, len, "swapoff stopped at region %u: %s", inode.seq(), strerror(-rc));
      LIBSHM_LOG_ERROR("%s", why);
      return -EIO;
    }
  }
  peak_resident_pages_ = std::max(peak_resident_pages_, resident_pages_);
  // A clean page's only other copy was its slot: it is dirty now.
  const unsigned clean = Inode::Mask(PageState::kClean);
  for (auto& [seq, up] : inodes_) {
    Inode& inode = *up;
    for (uint64_t p = inode.NextIn(0, inode.pages(), clean); p < inode.pages();
         p = inode.NextIn(p + 1, inode.pages(), clean)) {
      inode.set_state(p, PageState::kDirty);
      policy_.SetDirty(Key(inode, p), true);
    }
    inode.set_extent({0, 0});
  }
  for (auto& [key, sample] : samples_) {
    if (sample.before == PageState::kClean) sample.before = PageState::kDirty;
  }
  char dir[kMaxStringOption];
  snprintf(dir, sizeof(dir), "%s", swap_.dir());
  swap_.Close();
  LIBSHM_LOG_INFO(
      "swapoff: %s brought back into memory, swap file in %s closed; eviction is "
      "suspended until swap.dir is set",
      Human(*restored).c_str(), dir);
  return 0;
}

int Engine::MoveSwap(const char* dir, char* why, size_t len) {
  char reason[256];
  int rc = ProbeSwapDir(dir, reason, sizeof(reason));
  if (rc != 0) {
    snprintf(why, len, "swap move to %s refused: %s", dir, reason);
    LIBSHM_LOG_INFO("%s", why);
    return rc;
  }
  SwapFile next;
  rc = next.Open(dir, opts_.swap_max, true);
  if (rc != 0) {
    snprintf(why, len, "swap move to %s refused: cannot create the swap file: %s", dir,
             strerror(-rc));
    LIBSHM_LOG_INFO("%s", why);
    return rc;
  }
  // 1. Every extent first, one per inode (this also compacts the file).
  std::vector<Extent> extents;
  extents.reserve(inodes_.size());
  for (const auto& [seq, inode] : inodes_) {
    Extent e;
    // (A program object of size 0 has no extent.)
    rc = inode->pages() == 0 ? 0 : next.Reserve(inode->pages(), &e, !inode->sparse_extent);
    if (rc != 0) {
      snprintf(why, len, "swap move to %s refused: cannot reserve %s of swap there (%s)", dir,
               Human(next.reserved_pages() * kPageSize + inode->pages() * kPageSize).c_str(),
               rc == -ENOMEM ? "no space, or LIBSHM_SWAP_MAX" : strerror(-rc));
      LIBSHM_LOG_INFO("%s", why);
      return rc == -ENOMEM ? -ENOSPC : rc;  // `next` closes: its file is gone
    }
    extents.push_back(e);
  }
  static const uint64_t pause_us = TestPauseUs("LIBSHM_TEST_PAUSE_SWAP_MOVE_US");
  SleepUs(pause_us);
  // 2. The slots that hold data, in runs along each extent.
  uint64_t copied = 0;
  if (swap_.is_open()) {
    const uint64_t chunk = io_buffer_.size() / kPageSize;
    size_t i = 0;
    for (const auto& [seq, up] : inodes_) {
      const Inode& inode = *up;
      const Extent& to = extents[i++];
      const unsigned holds = Inode::Mask(PageState::kSwapped) | Inode::Mask(PageState::kClean) |
                             Inode::Mask(PageState::kSampled);
      for (uint64_t a = inode.NextIn(0, inode.pages(), holds); a < inode.pages();
           a = inode.NextIn(a, inode.pages(), holds)) {
        uint64_t b = a + 1;
        while (b < inode.pages() && b - a < chunk && SlotHoldsData(inode.state(b))) b++;
        ssize_t want = static_cast<ssize_t>((b - a) * kPageSize);
        ssize_t r = swap_.ReadPages(inode.slot(a), io_buffer_.data(), b - a);
        ssize_t w = r == want ? next.WritePages(to.base + a, io_buffer_.data(), b - a) : -1;
        if (w != want) {
          snprintf(why, len, "swap move to %s refused: copying region %u: %s", dir, inode.seq(),
                   r != want ? "read error in the old file" : "write error in the new file");
          LIBSHM_LOG_ERROR("%s", why);
          return -EIO;
        }
        copied += b - a;
        a = b;
      }
    }
    // What msync made durable stays durable in the new file.
    if (copied != 0 && next.Sync() != 0) {
      snprintf(why, len, "swap move to %s refused: cannot flush the new file", dir);
      LIBSHM_LOG_ERROR("%s", why);
      return -EIO;
    }
  }
  // 3. The switch. The old file closes with `next`.
  bool was_off = !swap_.is_open();
  size_t i = 0;
  for (auto& [seq, inode] : inodes_) inode->set_extent(extents[i++]);
  swap_.Exchange(next);
  next.Close();
  snprintf(opts_.swap_dir, sizeof(opts_.swap_dir), "%s", dir);
  LIBSHM_LOG_INFO("swap %s %s (%s copied)%s", was_off ? "turned on in" : "moved to", dir,
                  Human(copied * kPageSize).c_str(), was_off ? "; eviction resumes" : "");
  return 0;
}

}  // namespace libshm::internal
