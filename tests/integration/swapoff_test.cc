// SPDX-License-Identifier: MIT
// Issue 11 item 3 for anonymous regions: swapoff (ctl swap.off) and moving
// the swap file (ctl swap.dir) while programs run (docs/named.md "Segments
// nobody maps, and swapoff", docs/design.md "Swapoff and swap moves").
//
// Every test starts its own helper (shmd) with its swap in a fresh directory
// of /var/tmp, so that "the swap file is gone" can be checked: no fd of the
// helper names a file in that directory. Every test checks the stats that
// prove eviction happened (swap_outs, swap_ins) and every byte of its data.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <string>
#include <vector>

#include "security_util.h"

namespace libshm::test {
namespace {

// Number of fds of process `pid` that name a file in `dir`.
int FdsIn(pid_t pid, const std::string& dir) {
  std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(fds.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[PATH_MAX];
    ssize_t len = readlink((fds + "/" + e->d_name).c_str(), target, sizeof(target) - 1);
    if (len <= 0) continue;
    target[len] = '\0';
    n += strncmp(target, (dir + "/").c_str(), dir.size() + 1) == 0;
  }
  closedir(d);
  return n;
}

std::string MakeDir() {
  char tmpl[] = "/var/tmp/libshm-swapoff-XXXXXX";
  return mkdtemp(tmpl) != nullptr ? tmpl : "";
}

int SwapOffCtl(uint64_t* restored = nullptr) {
  uint64_t one = 1, out = 0;
  size_t len = sizeof(out);
  int rc = libshm_ctl("swap.off", &out, &len, &one, sizeof(one));
  if (restored != nullptr) *restored = out;
  return rc;
}

int SetSwapDir(const std::string& dir) {
  return libshm_ctl("swap.dir", nullptr, nullptr, dir.c_str(), dir.size() + 1);
}

std::string SwapDir() {
  char buf[256];
  size_t len = sizeof(buf);
  if (libshm_ctl("swap.dir", buf, &len, nullptr, 0) != 0) return "?";
  return buf;
}

class SwapOps : public ::testing::Test {
 protected:
  // A helper of its own (a child of this process), swap in a new directory.
  void Start(const char* limit) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (the helper's /proc/PID/fd, uid switches)";
    dir_ = MakeDir();
    ASSERT_FALSE(dir_.empty());
    setenv("LIBSHM_LIMIT", limit, 1);
    setenv("LIBSHM_SAMPLE_RATE", "0", 1);
    setenv("LIBSHM_SWAP_DIR", dir_.c_str(), 1);
    address_ = StartHelper(0, &helper_);
    ASSERT_FALSE(address_.empty());
    setenv("LIBSHM_SESSION", address_.c_str(), 1);
  }
  void TearDown() override {
    for (const std::string& d : {dir_, dir2_}) {
      if (!d.empty()) rmdir(d.c_str());
    }
  }

  char* Map(uint64_t pages) {
    void* p = nullptr;
    EXPECT_EQ(libshm_map(nullptr, pages * kPage, PROT_READ | PROT_WRITE, 0, &p), 0);
    return static_cast<char*>(p);
  }

  // A region of `pages` pages, each written (version 1) and evicted to the
  // swap file; nullptr (a failure recorded) if it cannot be had.
  char* MapWrittenAndEvicted(uint64_t pages) {
    char* a = Map(pages);
    if (a == nullptr) return nullptr;
    for (uint64_t p = 0; p < pages; p++) FillPage(a + p * kPage, p, 1);
    EvictAll();
    EXPECT_GE(Stat("swap_outs"), pages) << "the region was not evicted";
    return Stat("swap_outs") >= pages ? a : nullptr;
  }

  std::string address_;
  pid_t helper_ = -1;
  std::string dir_, dir2_;
};

// A ctl through a raw connection: its status; *out gets the number.
int RawCtl(Raw& r, const char* name, bool write, uint64_t value = 0, uint64_t* out = nullptr) {
  Request req;
  req.op = Op::kCtl;
  snprintf(req.text, sizeof(req.text), "%s", name);
  req.a = write ? 1 : 0;
  req.b = value;
  Reply reply;
  int rc = r.Call(req, -1, nullptr, &reply);
  if (out != nullptr) *out = reply.a;
  return rc;
}

// The bug the 1998 proposal named: a region partly swapped out and mapped by
// nobody at the moment (its inode alive because a connection holds a
// handle on it). Swapoff walks inodes, not mappers, so it finds it: its
// pages are back in the memfd, read with pread (which never fills a hole).
// Done on a raw connection of this process, with its own uffd, as the
// library would, so that it can hold the handle after unmapping.
TEST_F(SwapOps, SwapoffFindsARegionNobodyMaps) {
  Start("1M");
  constexpr uint64_t kPages = 128;
  Raw r(address_);
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  ASSERT_GE(uffd, 0) << strerror(errno);
  Request hello;
  hello.op = Op::kHello;
  ASSERT_EQ(r.Call(hello, uffd), 0);
  int memfd = memfd_create("libshm", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  ASSERT_GE(memfd, 0);
  ASSERT_EQ(ftruncate(memfd, kPages * kPage), 0);
  Request create;
  create.op = Op::kCreate;
  create.a = kPages * kPage;
  Reply reply;
  ASSERT_EQ(r.Call(create, memfd, nullptr, &reply), 0);
  uint64_t handle = reply.a;
  void* p = mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  ASSERT_NE(p, MAP_FAILED);
  close(memfd);
  char* a = static_cast<char*>(p);
  ASSERT_EQ(r.Call(Op::kRegister, handle, reinterpret_cast<uintptr_t>(a), kPages * kPage, 0), 0);
  for (uint64_t i = 0; i < kPages; i++) FillPage(a + i * kPage, i, 1);
  uint64_t half = kPages / 2 * kPage, v = 0;
  ASSERT_EQ(RawCtl(r, "evict.run", true, half), 0);  // partly swapped
  ASSERT_EQ(RawCtl(r, "stats.swap_outs", false, 0, &v), 0);
  ASSERT_GE(v, kPages / 2);
  int fd = -1;
  Request inode_fd;
  inode_fd.op = Op::kInodeFd;
  inode_fd.a = reinterpret_cast<uintptr_t>(a);
  ASSERT_EQ(r.Call(inode_fd, -1, &fd, &reply), 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(munmap(a, kPages * kPage), 0);  // mapped by nobody now; the handle keeps it
  ASSERT_EQ(RawCtl(r, "stats.regions", false, 0, &v), 0);
  ASSERT_EQ(v, 1u);
  uint64_t swapped = 0;
  ASSERT_EQ(RawCtl(r, "stats.swapped_bytes", false, 0, &swapped), 0);
  ASSERT_GE(swapped, half);
  ASSERT_LT(swapped, kPages * kPage);

  uint64_t restored = 0;
  ASSERT_EQ(RawCtl(r, "swap.off", true, 1, &restored), 0);
  EXPECT_EQ(restored, swapped);
  ASSERT_EQ(RawCtl(r, "stats.swapped_bytes", false, 0, &v), 0);
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(FdsIn(helper_, dir_), 0);
  std::vector<char> page(kPage);
  for (uint64_t i = 0; i < kPages; i++) {
    ASSERT_EQ(pread(fd, page.data(), kPage, static_cast<off_t>(i * kPage)),
              static_cast<ssize_t>(kPage));
    ASSERT_TRUE(CheckPage(page.data(), i, 1)) << "page " << i << " of the region nobody maps";
  }
  close(fd);
  close(uffd);
}

// A region 6x the limit, written and evicted: swapoff would need 6 MiB of
// memory under a 1 MiB limit. Refused with ENOMEM and a line saying why;
// swap stays on, its file stays, and every page reads back from it.
TEST_F(SwapOps, SwapoffThatDoesNotFitIsRefusedWithEnomemAndNothingChanges) {
  Start("1M");
  constexpr uint64_t kPages = 1536;  // 6 MiB
  char* a = Map(kPages);
  ASSERT_NE(a, nullptr);
  for (uint64_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 1);
  ASSERT_GE(Stat("swap_outs"), kPages - 256) << "most pages must have been evicted";
  uint64_t swapped = Stat("swapped_bytes");
  ASSERT_GT(swapped, 0u);
  ASSERT_EQ(FdsIn(helper_, dir_), 1) << "the swap file should be open in " << dir_;

  EXPECT_EQ(SwapOffCtl(), -ENOMEM);
  // The same through the raw protocol: the refusal carries its one line.
  Raw r(address_);
  Request hello;
  hello.op = Op::kHello;
  hello.flags = internal::kHelloObserver;
  ASSERT_EQ(r.Call(hello), 0);
  Request ctl;
  ctl.op = Op::kCtl;
  ctl.a = 1;
  ctl.b = 1;
  snprintf(ctl.text, sizeof(ctl.text), "swap.off");
  Reply reply;
  ASSERT_EQ(r.Call(ctl, -1, nullptr, &reply), -ENOMEM);
  EXPECT_NE(strstr(reply.text, "does not fit under the limit"), nullptr) << reply.text;

  EXPECT_EQ(Stat("swap_off"), 0u);
  EXPECT_EQ(Stat("swapped_bytes"), swapped) << "a refused swapoff must bring nothing back";
  EXPECT_EQ(Stat("swap_reserved_bytes"), kPages * kPage);
  EXPECT_EQ(SwapDir(), dir_);
  EXPECT_EQ(FdsIn(helper_, dir_), 1) << "the swap file must stay";
  uint64_t ins = Stat("swap_ins");
  for (uint64_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << p;
  EXPECT_GE(Stat("swap_ins"), ins + kPages - 256) << "the pages must have come back from swap";
  // Eviction still works.
  EvictAll();
  EXPECT_EQ(Stat("resident_bytes"), 0u);
}

// A swap read that fails (a disk error, made by a test hook that fails
// every swap read) stops swapoff with EIO and the reason; swap stays on with
// its file, and the pages stay in their slots.
TEST_F(SwapOps, SwapoffThatCannotReadStopsWithEioAndSwapStaysOn) {
  setenv("LIBSHM_TEST_FAIL_SWAP_READ", "1", 1);
  Start("4M");
  unsetenv("LIBSHM_TEST_FAIL_SWAP_READ");
  constexpr uint64_t kPages = 256;
  char* a = MapWrittenAndEvicted(kPages);
  ASSERT_NE(a, nullptr);
  Raw r(address_);
  Request hello;
  hello.op = Op::kHello;
  hello.flags = internal::kHelloObserver;
  ASSERT_EQ(r.Call(hello), 0);
  Reply reply;
  Request ctl;
  ctl.op = Op::kCtl;
  ctl.a = 1;
  ctl.b = 1;
  snprintf(ctl.text, sizeof(ctl.text), "swap.off");
  ASSERT_EQ(r.Call(ctl, -1, nullptr, &reply), -EIO);
  EXPECT_NE(strstr(reply.text, "swapoff stopped at region"), nullptr) << reply.text;
  EXPECT_EQ(Stat("swap_off"), 0u);
  EXPECT_EQ(Stat("swapped_bytes"), kPages * kPage);
  EXPECT_EQ(Stat("swap_reserved_bytes"), kPages * kPage);
  EXPECT_EQ(SwapDir(), dir_);
  EXPECT_EQ(FdsIn(helper_, dir_), 1);
}

// Under the limit but not in MemAvailable (a test hook stands in for it):
// refused the same way.
TEST_F(SwapOps, SwapoffThatDoesNotFitInMemAvailableIsRefused) {
  setenv("LIBSHM_TEST_MEM_AVAILABLE", "65536", 1);
  Start("8M");
  unsetenv("LIBSHM_TEST_MEM_AVAILABLE");
  constexpr uint64_t kPages = 256;
  char* a = MapWrittenAndEvicted(kPages);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(SwapOffCtl(), -ENOMEM);
  EXPECT_EQ(Stat("swap_off"), 0u);
  EXPECT_EQ(Stat("swapped_bytes"), kPages * kPage);
  for (uint64_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << p;
}

// A region that fits, written and partly evicted, mapped by this process and
// a forked child: swapoff brings every swapped page back (the reply says how
// many bytes), closes the swap file, and suspends eviction. Every byte reads
// back in both processes; writes of each are seen by the other; a second
// region beyond the limit is served (faults do not wait for room that
// cannot come); msync succeeds; evict.run says there is no swap.
TEST_F(SwapOps, SwapoffBringsEverythingBackForParentAndForkedChild) {
  Start("4M");
  constexpr uint64_t kPages = 512;  // 2 MiB
  char* a = Map(kPages);
  ASSERT_NE(a, nullptr);
  for (uint64_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 1);
  uint64_t half = kPages / 2 * kPage;
  ASSERT_EQ(libshm_ctl("evict.run", nullptr, nullptr, &half, sizeof(half)), 0);
  // Read back a few evicted pages: they are clean (a valid slot) after this.
  uint64_t outs = Stat("swap_outs");
  ASSERT_GE(outs, kPages / 2);
  uint64_t swapped = Stat("swapped_bytes");
  ASSERT_GE(swapped, half) << "half the region should be in swap";
  ASSERT_LT(swapped, kPages * kPage) << "and half resident (partly swapped)";
  for (uint64_t p = 0; p < kPages; p += 37) ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << p;
  swapped = Stat("swapped_bytes");
  uint64_t ins = Stat("swap_ins");

  SharedBarrier* barrier = SharedBarrier::Create(2);
  pid_t child = fork();
  if (child == 0) {
    barrier->Wait();  // 1: swapoff done
    int rc = ChildCheckPages(a, 0, kPages, 1, 10);
    if (rc != 0) _exit(rc);
    for (uint64_t p = 1; p < kPages; p += 2) FillPage(a + p * kPage, p, 2);
    barrier->Wait();  // 2: odd pages written
    barrier->Wait();  // 3: the parent wrote the even pages
    for (uint64_t p = 0; p < kPages; p++) {
      if (!CheckPage(a + p * kPage, p, p % 2 == 0 ? 3 : 2)) _exit(11);
    }
    _exit(0);
  }
  ASSERT_GT(child, 0);

  uint64_t restored = 0;
  ASSERT_EQ(SwapOffCtl(&restored), 0);
  EXPECT_EQ(restored, swapped) << "the reply says how much came back";
  EXPECT_EQ(Stat("swap_off"), 1u);
  EXPECT_EQ(Stat("swapped_bytes"), 0u);
  EXPECT_EQ(Stat("swap_reserved_bytes"), 0u);
  EXPECT_EQ(Stat("resident_bytes"), kPages * kPage);
  EXPECT_EQ(Stat("swap_ins"), ins + swapped / kPage);
  EXPECT_EQ(SwapDir(), "");
  EXPECT_EQ(FdsIn(helper_, dir_), 0) << "the swap file must be closed";
  EXPECT_EQ(SwapOffCtl(&restored), 0) << "a second swapoff has nothing to do";
  EXPECT_EQ(restored, 0u);

  for (uint64_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << p;
  barrier->Wait();  // 1
  barrier->Wait();  // 2
  for (uint64_t p = 1; p < kPages; p += 2) ASSERT_TRUE(CheckPage(a + p * kPage, p, 2)) << p;
  for (uint64_t p = 0; p < kPages; p += 2) FillPage(a + p * kPage, p, 3);
  barrier->Wait();  // 3
  int status = WaitWithDeadline(child, 30000);
  EXPECT_EQ(DescribeChild(status, {{10, "reading version 1 after swapoff"},
                                   {11, "reading the parent's and its own writes"}}),
            "ok");
  EXPECT_EQ(libshm_msync(a, kPages * kPage, MS_SYNC), 0) << "msync with no swap: nothing to do";

  // More than the limit: eviction is suspended, so the faults are served
  // above it. Nothing is evicted, nothing is lost.
  uint64_t evictions = Stat("evictions");
  constexpr uint64_t kMore = 1536;  // 6 MiB
  char* b = Map(kMore);
  ASSERT_NE(b, nullptr);
  for (uint64_t p = 0; p < kMore; p++) FillPage(b + p * kPage, p, 4);
  EXPECT_GT(Stat("resident_bytes"), Stat("limit_bytes"));
  EXPECT_EQ(Stat("evictions"), evictions);
  uint64_t zero = 0;
  EXPECT_EQ(libshm_ctl("evict.run", nullptr, nullptr, &zero, sizeof(zero)), -ENOSPC);
  // Above the high watermark with nothing to evict to, the idle helper does
  // not spin trying to reclaim.
  long before = CpuTicks(helper_);
  usleep(1500 * 1000);
  long after = CpuTicks(helper_);
  ASSERT_GE(before, 0);
  EXPECT_LT(after - before, sysconf(_SC_CLK_TCK) / 3) << "the idle helper is using CPU";
  for (uint64_t p = 0; p < kMore; p++) ASSERT_TRUE(CheckPage(b + p * kPage, p, 4)) << p;
  for (uint64_t p = 0; p < kPages; p++) {
    ASSERT_TRUE(CheckPage(a + p * kPage, p, p % 2 == 0 ? 3 : 2)) << p;
  }
}

// After swapoff, swap.dir turns swap on again in a new file: every region
// (one made after swapoff too, which had no extent) gets its extent, and
// eviction resumes into the new file and reads back.
TEST_F(SwapOps, SwapDirAfterSwapoffTurnsEvictionBackOn) {
  Start("2M");
  constexpr uint64_t kPages = 256;
  char* a = MapWrittenAndEvicted(kPages);
  ASSERT_NE(a, nullptr);
  // Some pages read back: clean, their only other copy in the old file. After
  // swapoff they must count as dirty, or the next eviction would drop them
  // without writing them to the new file.
  for (uint64_t p = 0; p < kPages; p += 5) ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << p;
  ASSERT_EQ(SwapOffCtl(), 0);
  ASSERT_EQ(FdsIn(helper_, dir_), 0);
  char* b = Map(kPages);  // made while swap is off
  ASSERT_NE(b, nullptr);
  for (uint64_t p = 0; p < kPages; p++) FillPage(b + p * kPage, p, 2);
  EXPECT_EQ(Stat("swap_reserved_bytes"), 0u);

  dir2_ = MakeDir();
  ASSERT_FALSE(dir2_.empty());
  uint64_t outs = Stat("swap_outs");
  ASSERT_EQ(SetSwapDir(dir2_), 0);
  EXPECT_EQ(SwapDir(), dir2_);
  EXPECT_EQ(Stat("swap_off"), 0u);
  EXPECT_EQ(Stat("swap_reserved_bytes"), 2 * kPages * kPage);
  EXPECT_EQ(FdsIn(helper_, dir2_), 1);
  EXPECT_EQ(FdsIn(helper_, dir_), 0);
  EvictAll();
  EXPECT_EQ(Stat("resident_bytes"), 0u);
  // (Counted from before the switch: background eviction starts at once.)
  EXPECT_GE(Stat("swap_outs"), outs + 2 * kPages) << "every dirty page written to the new file";
  uint64_t ins = Stat("swap_ins");
  for (uint64_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << p;
  for (uint64_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(b + p * kPage, p, 2)) << p;
  EXPECT_GE(Stat("swap_ins"), ins + 2 * kPages);
}

// The swap moves to another directory while another process faults pages
// in (and out) without pause: the move is held open (a test pause inside
// it) so that faults queue behind it. Every byte reads back in both
// processes, the old file is gone, and eviction goes on into the new file.
TEST_F(SwapOps, SwapMovesUnderConcurrentFaultsAndNothingIsLost) {
  setenv("LIBSHM_TEST_PAUSE_SWAP_MOVE_US", "300000", 1);
  Start("1M");
  unsetenv("LIBSHM_TEST_PAUSE_SWAP_MOVE_US");
  constexpr uint64_t kPages = 1024;  // 4x the limit
  char* a = MapWrittenAndEvicted(kPages);
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(Stat("swapped_bytes"), kPages * kPage);
  dir2_ = MakeDir();
  ASSERT_FALSE(dir2_.empty());

  volatile uint64_t* word = SharedWord();  // [0] passes done, [1] move done
  ASSERT_NE(word, nullptr);
  pid_t child = fork();
  if (child == 0) {
    // Read every page, over and over (4x the limit: every pass swaps in and
    // evicts), until a whole pass has run after the move.
    for (uint64_t pass = 0;; pass++) {
      bool after = word[1] != 0;
      for (uint64_t i = 0; i < kPages; i++) {
        uint64_t p = (i * 389 + pass * 7) % kPages;  // another order each pass
        if (!CheckPage(a + p * kPage, p, 1)) _exit(10);
      }
      word[0] = pass + 1;
      if (after) _exit(0);
    }
  }
  ASSERT_GT(child, 0);
  while (word[0] < 1) usleep(1000);
  uint64_t ins = Stat("swap_ins");
  ASSERT_EQ(SetSwapDir(dir2_), 0);
  word[1] = 1;
  EXPECT_EQ(SwapDir(), dir2_);
  EXPECT_EQ(FdsIn(helper_, dir_), 0) << "the old swap file must be gone";
  EXPECT_EQ(FdsIn(helper_, dir2_), 1);
  EXPECT_EQ(Stat("swap_reserved_bytes"), kPages * kPage);
  int status = WaitWithDeadline(child, 60000);
  EXPECT_EQ(DescribeChild(status, {{10, "a page read wrong"}}), "ok");
  EXPECT_GT(Stat("swap_ins"), ins) << "the child's faults were served from swap";
  for (uint64_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << p;
  // Eviction into the new file, and back.
  uint64_t outs = Stat("swap_outs");
  for (uint64_t p = 0; p < kPages; p++) FillPage(a + p * kPage, p, 2);
  EvictAll();
  EXPECT_GE(Stat("swap_outs"), outs + kPages) << "every page written to the new file";
  EXPECT_EQ(Stat("swapped_bytes"), kPages * kPage);
  for (uint64_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 2)) << p;
}

// A move to a directory that does not exist, to a file, to where no file
// can be made (/proc), to a relative path, or to a file system without room
// for the extents is refused with nothing changed: same directory, same
// extents, same file, every page intact.
TEST_F(SwapOps, SwapMoveToABadDirectoryIsRefusedWithNothingChanged) {
  Start("1M");
  constexpr uint64_t kPages = 512;
  char* a = MapWrittenAndEvicted(kPages);
  ASSERT_NE(a, nullptr);
  std::string file = dir_ + "/not-a-dir";
  int fd = open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(SetSwapDir(dir_ + "/no/such/dir"), -ENOENT);
  EXPECT_EQ(SetSwapDir(file), -ENOTDIR);
  EXPECT_LT(SetSwapDir("/proc"), 0);
  EXPECT_EQ(SetSwapDir("relative/dir"), -EINVAL);
  unlink(file.c_str());
  // A file system too small for the extents (a 256 KiB tmpfs; 2 MiB to
  // reserve): ENOSPC, and the new file is dropped with nothing changed.
  dir2_ = MakeDir();
  ASSERT_FALSE(dir2_.empty());
  if (mount("none", dir2_.c_str(), "tmpfs", 0, "size=256k") == 0) {
    int rc = SetSwapDir(dir2_);
    int left = FdsIn(helper_, dir2_);
    umount(dir2_.c_str());
    EXPECT_EQ(rc, -ENOSPC);
    EXPECT_EQ(left, 0) << "the new file must be dropped";
  } else {
    printf("no tmpfs mount here (%s): ENOSPC not tried\n", strerror(errno));
  }
  EXPECT_EQ(SwapDir(), dir_);
  EXPECT_EQ(Stat("swap_off"), 0u);
  EXPECT_EQ(Stat("swap_reserved_bytes"), kPages * kPage);
  EXPECT_EQ(Stat("swapped_bytes"), kPages * kPage);
  EXPECT_EQ(FdsIn(helper_, dir_), 1);
  for (uint64_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << p;
}

// A member of the tree that dropped privilege (uid 65534) may read swap.dir
// but not turn swap off or move it: EPERM, nothing changed.
TEST_F(SwapOps, UntrustedMemberGetsEperm) {
  Start("1M");
  constexpr uint64_t kPages = 512;
  char* a = MapWrittenAndEvicted(kPages);
  ASSERT_NE(a, nullptr);
  std::map<int, std::string> steps = {{1, "hello"},
                                      {2, "swap.off was not refused with EPERM"},
                                      {3, "swap.dir write was not refused with EPERM"},
                                      {4, "swap.dir read failed"}};
  std::string moved_to = "/tmp";
  int status = AsMember(kNobody, [&] {
    Raw r(address_);
    Request hello;
    hello.op = Op::kHello;
    hello.flags = internal::kHelloObserver;
    if (r.Call(hello) != 0) return 1;
    Request ctl;
    ctl.op = Op::kCtl;
    ctl.a = 1;
    ctl.b = 1;
    snprintf(ctl.text, sizeof(ctl.text), "swap.off");
    if (r.Call(ctl) != -EPERM) return 2;
    snprintf(ctl.text, sizeof(ctl.text), "swap.dir");
    snprintf(ctl.text2, sizeof(ctl.text2), "%s", moved_to.c_str());
    if (r.Call(ctl) != -EPERM) return 3;
    ctl.a = 0;
    if (r.Call(ctl) != 0) return 4;
    return 0;
  });
  EXPECT_EQ(DescribeChild(status, steps), "ok");
  EXPECT_EQ(Stat("swap_off"), 0u);
  EXPECT_EQ(SwapDir(), dir_);
  EXPECT_EQ(Stat("swapped_bytes"), kPages * kPage);
  EXPECT_EQ(FdsIn(helper_, dir_), 1);
  for (uint64_t p = 0; p < kPages; p++) ASSERT_TRUE(CheckPage(a + p * kPage, p, 1)) << p;
}

}  // namespace
}  // namespace libshm::test
