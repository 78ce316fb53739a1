// SPDX-License-Identifier: MIT
// System V segments under eviction (issue 11, docs/named.md): segments with
// a key made under shmrun are program objects the helper manages. The
// kernel-semantics suite run under shmrun checks the calls side by side with
// the kernel (tests/kernel/under_shmrun.sh); these check what only a managed
// segment has: its pages evicted while nobody attaches it and read back by
// id in a new process, swapoff finding it (the 1998 proposal's race),
// shm_nattch kept by the helper through fork, exit, exec and shmdt, removal
// while attached under eviction, and the kernel placeholder that keeps a
// managed id from ever being a native one.
//
// Keys are made from the pid, in the machine's own IPC namespace (the one a
// program uses); every segment is removed in TearDown. The binary re-runs
// itself under shmrun and reaches the shim's libshm_ctl by dlsym.
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "test_util.h"
#include "under_shmrun.h"

// The shim's libshm_ctl (tests/support/test_util.h calls it by name).
extern "C" int libshm_ctl(const char* name, void* oldp, size_t* oldlenp, const void* newp,
                          size_t newlen) {
  using Fn = int (*)(const char*, void*, size_t*, const void*, size_t);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "libshm_ctl"));
  return real != nullptr ? real(name, oldp, oldlenp, newp, newlen) : -ENOSYS;
}

namespace libshm::test {
namespace {

constexpr size_t kLimit = 8 << 20;  // main() runs the tests under this limit
char* const kFailed = reinterpret_cast<char*>(-1);

class SysvSegments : public ::testing::Test {
 protected:
  void SetUp() override { key_ = FreshKey(); }
  void TearDown() override {
    for (int id : made_) shmctl(id, IPC_RMID, nullptr);
  }
  int Create(size_t bytes, int mode = 0600) {
    int id = shmget(key_, bytes, IPC_CREAT | IPC_EXCL | mode);
    EXPECT_GE(id, 0) << strerror(errno);
    if (id >= 0) made_.push_back(id);
    return id;
  }
  static shmid_ds StatOf(int id) {
    shmid_ds ds{};
    EXPECT_EQ(shmctl(id, IPC_STAT, &ds), 0) << strerror(errno);
    return ds;
  }
  // A key no other process makes: the whole pid (22 bits, pid_max's
  // ceiling), a serial within the process, and a range of its own
  // (0x1xxxxxxx). Twelve bits of pid collided in CI with a process 4096
  // pids away, whose segment was native.
  static key_t FreshKey() {
    static int serial = 0;
    return static_cast<key_t>(0x10000000 | ((getpid() & 0x3fffff) << 6) | (serial++ & 0x3f));
  }
  key_t key_ = 0;
  std::vector<int> made_;
};

void Fill(char* p, uint64_t first, uint64_t n, uint64_t version) {
  for (uint64_t i = 0; i < n; i++) FillPage(p + i * kPage, first + i, version);
}

long FirstBad(const char* p, uint64_t first, uint64_t n, uint64_t version) {
  for (uint64_t i = 0; i < n; i++) {
    if (!CheckPage(p + i * kPage, first + i, version)) return static_cast<long>(first + i);
  }
  return -1;
}

// The kernel's own answer about an id, past the shim (the placeholder).
int RawStat(int id, shmid_ds* ds) { return syscall(SYS_shmctl, id, IPC_STAT, ds) == 0 ? 0 : errno; }

// A managed segment is a program object: its attachment is a memfd mapping
// (/memfd:SYSVkey.id), and the kernel's segment of the same id is a
// one-byte placeholder with the same key and mode.
TEST_F(SysvSegments, AKeyedSegmentIsManagedAndItsIdIsAKernelPlaceholder) {
  const uint64_t before = Stat("objects_made");
  int id = Create(3 * kPage, 0640);
  ASSERT_GE(id, 0);
  EXPECT_EQ(Stat("objects_made"), before + 1);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, kFailed) << strerror(errno);
  char want[64];
  snprintf(want, sizeof(want), "/memfd:SYSV%08x.%d (deleted)", static_cast<unsigned>(key_), id);
  std::string maps;
  {
    FILE* f = fopen("/proc/self/maps", "re");
    char line[512];
    while (f != nullptr && fgets(line, sizeof(line), f) != nullptr) maps += line;
    if (f != nullptr) fclose(f);
  }
  EXPECT_NE(maps.find(want), std::string::npos) << maps;
  shmid_ds raw{};
  ASSERT_EQ(RawStat(id, &raw), 0);
  EXPECT_EQ(raw.shm_segsz, 1u);
  EXPECT_EQ(raw.shm_perm.__key, key_);
  EXPECT_EQ(raw.shm_perm.mode & 0777, 0640u);
  EXPECT_EQ(raw.shm_nattch, 1u);  // the shim keeps it attached with the segment
  shmid_ds ds = StatOf(id);
  EXPECT_EQ(ds.shm_segsz, 3 * kPage);
  EXPECT_EQ(ds.shm_nattch, 1u);
  // A size the placeholder would take but the segment would not: EINVAL.
  EXPECT_EQ(shmget(key_, 4 * kPage, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  ASSERT_EQ(shmdt(p), 0);
  ASSERT_EQ(RawStat(id, &raw), 0);
  EXPECT_EQ(raw.shm_nattch, 0u);
}

// A segment larger than the limit, written and detached by every process,
// is evicted while nobody attaches it; a new process attaches it by id (and
// finds it by key) and reads every byte back.
TEST_F(SysvSegments, ASegmentNobodyAttachesIsEvictedAndReadBackById) {
  const uint64_t pages = 4 * kLimit / kPage;
  int id = Create(pages * kPage);
  ASSERT_GE(id, 0);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, kFailed) << strerror(errno);
  Fill(p, 0, pages, 1);
  ASSERT_EQ(shmdt(p), 0);
  EXPECT_EQ(StatOf(id).shm_nattch, 0u);
  EXPECT_GT(Stat("swap_outs"), pages / 2) << "a segment 4x the limit must be evicted";
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit);
  const uint64_t swap_ins = Stat("swap_ins");
  int status = ForkAndWait([&] {
    if (shmget(key_, 0, 0) != id) return 2;
    char* q = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
    if (q == kFailed) return 3;
    return FirstBad(q, 0, pages, 1) == -1 ? 0 : 4;
  });
  EXPECT_EQ(status, 0) << DescribeChild(
      status, {{2, "shmget by key"}, {3, "shmat by id"}, {4, "a page lost its data"}});
  EXPECT_GT(Stat("swap_ins"), swap_ins);
  EXPECT_EQ(StatOf(id).shm_nattch, 0u);
}

// The 1998 proposal's race: a segment written, partly swapped out and then
// detached by every process; swapoff must still find every swapped page
// (it walks inodes, not mappers), bring it back and close the swap file; a
// new process attaches by id and finds every byte.
TEST_F(SysvSegments, SwapoffFindsAPartlySwappedSegmentNobodyAttaches) {
  const uint64_t pages = kLimit / kPage / 2;
  int id = Create(pages * kPage);
  ASSERT_GE(id, 0);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, kFailed) << strerror(errno);
  Fill(p, 0, pages, 7);
  // A second process has it attached too, and detaches.
  int status = ForkAndWait([&] {
    char* q = static_cast<char*>(shmat(id, nullptr, 0));
    if (q == kFailed) return 2;
    if (FirstBad(q, 0, pages, 7) != -1) return 3;
    return shmdt(q) == 0 ? 0 : 4;
  });
  ASSERT_EQ(status, 0) << DescribeChild(status, {{2, "shmat"}, {3, "data"}, {4, "shmdt"}});
  EvictAll();
  // A quarter of it comes back (read, and some read ahead), the rest stays
  // in swap: partly swapped.
  EXPECT_EQ(FirstBad(p, 0, pages / 4, 7), -1);
  ASSERT_EQ(shmdt(p), 0);
  EXPECT_EQ(StatOf(id).shm_nattch, 0u);
  ASSERT_GT(Stat("swapped_bytes"), 0u) << "part of the segment must be in swap";
  ASSERT_LT(Stat("swapped_bytes"), pages * kPage) << "part of the segment must be in memory";
  uint64_t one = 1;
  ASSERT_EQ(libshm_ctl("swap.off", nullptr, nullptr, &one, sizeof(one)), 0);
  EXPECT_EQ(Stat("swapped_bytes"), 0u);
  EXPECT_EQ(Stat("swap_off"), 1u);
  status = ForkAndWait([&] {
    char* q = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
    if (q == kFailed) return 2;
    return FirstBad(q, 0, pages, 7) == -1 ? 0 : 3;
  });
  EXPECT_EQ(status, 0) << DescribeChild(status, {{2, "shmat by id"}, {3, "a page lost its data"}});
}

// shm_nattch counts registered pieces in live processes: a fork child's
// copy, its exit (shm_lpid the child's), a partial munmap that splits an
// attachment, exec, and shmdt of every piece.
TEST_F(SysvSegments, NattchThroughForkExitExecSplitAndShmdt) {
  int id = Create(3 * kPage);
  ASSERT_GE(id, 0);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, kFailed) << strerror(errno);
  p[0] = 1;
  EXPECT_EQ(StatOf(id).shm_lpid, getpid());
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t child = fork();
  if (child == 0) {
    shmid_ds d{};
    char n = shmctl(id, IPC_STAT, &d) == 0 ? static_cast<char>(d.shm_nattch) : -1;
    // Splitting the child's copy: three pieces less the middle one, 2 here.
    munmap(p + kPage, kPage);
    shmctl(id, IPC_STAT, &d);
    char split = static_cast<char>(d.shm_nattch);
    if (write(pipefd[1], &n, 1) != 1 || write(pipefd[1], &split, 1) != 1) _exit(2);
    _exit(0);
  }
  char n = 0, split = 0;
  ASSERT_EQ(read(pipefd[0], &n, 1), 1);
  ASSERT_EQ(read(pipefd[0], &split, 1), 1);
  int st = 0;
  ASSERT_EQ(waitpid(child, &st, 0), child);
  EXPECT_EQ(n, 2);
  EXPECT_EQ(split, 3);  // the parent's piece and the child's two
  shmid_ds ds = StatOf(id);
  EXPECT_EQ(ds.shm_nattch, 1u);
  EXPECT_EQ(ds.shm_lpid, child);
  // exec detaches: a child that execs sleep is counted out while it runs.
  child = fork();
  if (child == 0) {
    execl("/bin/sleep", "sleep", "5", static_cast<char*>(nullptr));
    _exit(127);
  }
  uint64_t attached = 2;
  for (int i = 0; i < 500 && attached != 1; i++) {
    usleep(10000);
    attached = StatOf(id).shm_nattch;
  }
  EXPECT_EQ(attached, 1u);
  kill(child, SIGKILL);
  waitpid(child, &st, 0);
  // shmdt at the attach address detaches every piece of the attachment.
  ASSERT_EQ(munmap(p + 2 * kPage, kPage), 0);
  EXPECT_EQ(StatOf(id).shm_nattch, 1u);
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  char* q = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(q, kFailed);
  ASSERT_EQ(munmap(q + kPage, kPage), 0);
  EXPECT_EQ(StatOf(id).shm_nattch, 3u);
  EXPECT_EQ(shmdt(q + 2 * kPage), -1);  // a piece's own start is no attach address
  EXPECT_EQ(errno, EINVAL);
  ASSERT_EQ(shmdt(q), 0);
  EXPECT_EQ(StatOf(id).shm_nattch, 1u);
  ASSERT_EQ(shmdt(p), 0);
  ds = StatOf(id);
  EXPECT_EQ(ds.shm_nattch, 0u);
  EXPECT_NE(ds.shm_dtime, 0);
  EXPECT_EQ(shmdt(p), -1);
  EXPECT_EQ(errno, EINVAL);
  // mremap moving an attachment keeps it attached: shmdt at the new address.
  p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, kFailed);
  char* dst =
      static_cast<char*>(mmap(nullptr, 3 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(dst, MAP_FAILED);
  char* moved =
      static_cast<char*>(mremap(p, 3 * kPage, 3 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, dst));
  ASSERT_EQ(moved, dst);
  EXPECT_EQ(moved[0], 1);
  EXPECT_EQ(StatOf(id).shm_nattch, 1u);
  ASSERT_EQ(shmdt(moved), 0);
  EXPECT_EQ(StatOf(id).shm_nattch, 0u);
}

// IPC_RMID while attached, under eviction: the key is free at once, the id
// still attaches (fact 8) and its pages, swapped meanwhile, are all there;
// the kernel keeps the placeholder's id taken until the last detach, and
// then the id is gone for libshm and the kernel alike.
TEST_F(SysvSegments, RemoveWhileAttachedThenAttachByIdUnderEviction) {
  const uint64_t pages = 2 * kLimit / kPage;
  int id = Create(pages * kPage);
  ASSERT_GE(id, 0);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, kFailed) << strerror(errno);
  Fill(p, 0, pages, 3);
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
  shmid_ds ds = StatOf(id);
  EXPECT_EQ(ds.shm_perm.__key, IPC_PRIVATE);
  EXPECT_TRUE(ds.shm_perm.mode & SHM_DEST);
  EXPECT_EQ(shmget(key_, 0, 0), -1);
  EXPECT_EQ(errno, ENOENT);
  shmid_ds raw{};
  ASSERT_EQ(RawStat(id, &raw), 0) << "the placeholder lives while attached";
  EXPECT_TRUE(raw.shm_perm.mode & SHM_DEST);
  EvictAll();
  int status = ForkAndWait([&] {
    char* q = static_cast<char*>(shmat(id, nullptr, 0));
    if (q == kFailed) return 2;
    if (FirstBad(q, 0, pages, 3) != -1) return 3;
    shmid_ds d{};
    // The parent's, the copy this child inherited, and this one.
    if (shmctl(id, IPC_STAT, &d) != 0 || d.shm_nattch != 3) return 4;
    return shmdt(q) == 0 ? 0 : 5;
  });
  EXPECT_EQ(status, 0) << DescribeChild(
      status, {{2, "shmat of a removed id"}, {3, "data"}, {4, "shm_nattch"}, {5, "shmdt"}});
  EXPECT_GT(Stat("swap_ins"), 0u);
  ASSERT_EQ(shmdt(p), 0);
  EXPECT_EQ(shmctl(id, IPC_STAT, &ds), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(shmat(id, nullptr, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(RawStat(id, &raw), EINVAL) << "the placeholder goes with the last detach";
  made_.clear();
}

// IPC_RMID with nothing attached destroys the segment at once, swapped
// pages and placeholder included.
TEST_F(SysvSegments, RemoveUnattachedFreesItsSwapAndPlaceholder) {
  const uint64_t pages = kLimit / kPage;
  int id = Create(pages * kPage);
  ASSERT_GE(id, 0);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, kFailed);
  Fill(p, 0, pages, 5);
  ASSERT_EQ(shmdt(p), 0);
  EvictAll();
  ASSERT_GT(Stat("swapped_bytes"), 0u);
  const uint64_t freed = Stat("objects_freed");
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
  shmid_ds raw{};
  EXPECT_EQ(RawStat(id, &raw), EINVAL);
  EXPECT_EQ(shmctl(id, IPC_STAT, &raw), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(Stat("objects_freed"), freed + 1);
  EXPECT_EQ(Stat("swapped_bytes"), 0u);
  made_.clear();
}

// IPC_PRIVATE segments are managed too (their kernel segment is a one-byte
// placeholder, each call a new one) and evicted like keyed ones;
// LIBSHM_NATIVE_PRIVATE_SYSV=1 leaves them to the kernel, and so does the
// default (2) in a process with DISPLAY set (an X client may hand one to the
// X server outside the session: MIT-SHM). main() answers
// --native-private-probe.
TEST_F(SysvSegments, IpcPrivateSegmentsAreManagedUnlessLeftNative) {
  const uint64_t pages = 2 * kLimit / kPage;
  const uint64_t made = Stat("objects_made");
  int id = shmget(IPC_PRIVATE, pages * kPage, IPC_CREAT | 0600);
  ASSERT_GE(id, 0) << strerror(errno);
  made_.push_back(id);
  int other = shmget(IPC_PRIVATE, kPage, 0600);  // IPC_CREAT is implied
  ASSERT_GE(other, 0) << strerror(errno);
  made_.push_back(other);
  EXPECT_NE(other, id);
  EXPECT_EQ(Stat("objects_made"), made + 2);
  shmid_ds raw{};
  ASSERT_EQ(RawStat(id, &raw), 0);
  EXPECT_EQ(raw.shm_segsz, 1u);
  EXPECT_EQ(raw.shm_perm.__key, IPC_PRIVATE);
  EXPECT_EQ(StatOf(id).shm_segsz, pages * kPage);
  EXPECT_EQ(StatOf(id).shm_perm.__key, IPC_PRIVATE);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, kFailed) << strerror(errno);
  const uint64_t outs = Stat("swap_outs");
  Fill(p, 0, pages, 4);
  ASSERT_EQ(shmdt(p), 0);
  EXPECT_GE(Stat("swap_outs"), outs + pages / 2) << "a segment 2x the limit must be evicted";
  int status = ForkAndWait([&] {
    char* q = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
    if (q == kFailed) return 2;
    return FirstBad(q, 0, pages, 4) == -1 ? 0 : 3;
  });
  EXPECT_EQ(status, 0) << DescribeChild(status, {{2, "shmat by id"}, {3, "a page lost its data"}});
  // The probe (main) reports where its IPC_PRIVATE segment went: exit 0
  // native (the kernel's segment has the size it asked), 5 managed.
  auto probe = [&](const char* mode, const char* display) {
    return ForkAndWait([&] {
      setenv("LIBSHM_NATIVE_PRIVATE_SYSV", mode, 1);
      if (display != nullptr) {
        setenv("DISPLAY", display, 1);
      } else {
        unsetenv("DISPLAY");
      }
      char self[PATH_MAX];
      ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
      if (n <= 0) return 2;
      self[n] = '\0';
      execl(self, self, "--native-private-probe", static_cast<char*>(nullptr));
      return 2;
    });
  };
  const std::map<int, std::string> steps = {
      {2, "exec of the probe"}, {3, "shmget"}, {4, "neither native nor managed"}, {5, "managed"}};
  status = probe("1", nullptr);
  EXPECT_EQ(status, 0) << "mode 1: " << DescribeChild(status, steps);
  status = probe("2", ":99");  // an X client may hand it to the X server
  EXPECT_EQ(status, 0) << "mode 2 with DISPLAY: " << DescribeChild(status, steps);
  status = probe("2", nullptr);
  EXPECT_EQ(status, 5 << 8) << "mode 2 without DISPLAY: " << DescribeChild(status, steps);
  status = probe("0", ":99");
  EXPECT_EQ(status, 5 << 8) << "mode 0 with DISPLAY: " << DescribeChild(status, steps);
}

// Whether this process may SHM_LOCK `bytes`: root may (CAP_IPC_LOCK);
// another user needs RLIMIT_MEMLOCK of at least that (raised to the hard
// limit if the soft one is lower).
bool MayLock(uint64_t bytes) {
  if (geteuid() == 0) return true;
  struct rlimit rl;
  if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) return false;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < bytes) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0) return false;
  }
  return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= bytes;
}

// SHM_LOCK (issue 11: "locked pages are never evicted"): every page of the
// segment comes into memory, the swapped half and the half never touched,
// and stays there through eviction of everything else; writes made while it
// is locked are seen and kept; SHM_UNLOCK makes its pages evictable again.
// The limit holds throughout (docs/named.md "SHM_LOCK").
TEST_F(SysvSegments, ALockedSegmentStaysInMemoryAndUnlockedIsEvictedAgain) {
  const uint64_t pages = kLimit / kPage / 4;
  if (!MayLock(pages * kPage)) GTEST_SKIP() << "RLIMIT_MEMLOCK is below 2 MB";
  int id = Create(pages * kPage);
  ASSERT_GE(id, 0);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, kFailed) << strerror(errno);
  const uint64_t swapped_before = Stat("swapped_bytes");
  Fill(p, 0, pages / 2, 1);  // the second half is never touched
  EvictAll();
  ASSERT_GE(Stat("swapped_bytes"), swapped_before + pages / 2 * kPage)
      << "the written half must be in swap before the lock";
  ASSERT_EQ(shmctl(id, SHM_LOCK, nullptr), 0) << strerror(errno);
  EXPECT_NE(StatOf(id).shm_perm.mode & SHM_LOCKED, 0u);
  EXPECT_LE(Stat("swapped_bytes"), swapped_before) << "the lock brings every page back";
  const uint64_t outs = Stat("swap_outs");
  EvictAll();
  EXPECT_EQ(Stat("swap_outs"), outs) << "a page of the locked segment was evicted";
  // Every page is in memory: reading none of them is a swap-in or a fill.
  const uint64_t ins = Stat("swap_ins"), fills = Stat("zero_fills");
  EXPECT_EQ(FirstBad(p, 0, pages / 2, 1), -1);
  for (uint64_t i = pages / 2; i < pages; i++) {
    ASSERT_EQ(p[i * kPage], 0) << "page " << i;
    ASSERT_EQ(p[i * kPage + kPage - 1], 0) << "page " << i;
  }
  EXPECT_EQ(Stat("swap_ins"), ins);
  EXPECT_EQ(Stat("zero_fills"), fills);
  // Written while locked, over both halves: each first write is seen.
  Fill(p, 0, pages, 2);
  EvictAll();
  EXPECT_EQ(Stat("swap_outs"), outs);
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit);
  ASSERT_EQ(shmctl(id, SHM_UNLOCK, nullptr), 0) << strerror(errno);
  EXPECT_EQ(StatOf(id).shm_perm.mode & SHM_LOCKED, 0u);
  EvictAll();
  EXPECT_GE(Stat("swap_outs"), outs + pages) << "unlocked, every written page is evictable";
  ASSERT_EQ(shmdt(p), 0);
  int status = ForkAndWait([&] {
    char* q = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
    if (q == kFailed) return 2;
    return FirstBad(q, 0, pages, 2) == -1 ? 0 : 3;
  });
  EXPECT_EQ(status, 0) << DescribeChild(
      status, {{2, "shmat"}, {3, "a write made while the segment was locked was lost"}});
}

// A lock that fits, but leaves resident memory above the high watermark
// with nothing the evictor may choose: background reclaim finds nothing to
// do, and the helper must wait for work rather than spin on it.
TEST_F(SysvSegments, ALockAboveTheHighWatermarkLeavesTheHelperIdle) {
  const uint64_t pages = kLimit / kPage - 96;  // 96 pages > one fill cluster (64)
  if (!MayLock(pages * kPage)) GTEST_SKIP() << "RLIMIT_MEMLOCK is below the limit";
  int id = Create(pages * kPage);
  ASSERT_GE(id, 0);
  EvictAll();
  ASSERT_EQ(shmctl(id, SHM_LOCK, nullptr), 0) << strerror(errno);
  ASSERT_GT(Stat("resident_bytes") * 100, 95 * kLimit) << "not above the high watermark";
  uint64_t helper = 0;
  size_t len = sizeof(helper);
  ASSERT_EQ(libshm_ctl("session.helper_pid", &helper, &len, nullptr, 0), 0);
  long before = CpuTicks(static_cast<pid_t>(helper));
  usleep(1500 * 1000);
  long after = CpuTicks(static_cast<pid_t>(helper));
  ASSERT_GE(before, 0);
  EXPECT_LT(after - before, sysconf(_SC_CLK_TCK) / 3) << "the idle helper is using CPU";
  ASSERT_EQ(shmctl(id, SHM_UNLOCK, nullptr), 0);
}

// A lock that cannot fit under the limit, beside what is resident and locked
// already, is ENOMEM (the kernel's answer past RLIMIT_MEMLOCK), and leaves
// the segment unlocked and evictable.
TEST_F(SysvSegments, LockingMoreThanTheLimitHoldsIsEnomem) {
  int big = Create(2 * kLimit);
  ASSERT_GE(big, 0);
  EXPECT_EQ(shmctl(big, SHM_LOCK, nullptr), -1);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(StatOf(big).shm_perm.mode & SHM_LOCKED, 0u);
  // Two that fit one at a time but not together.
  if (!MayLock(kLimit * 3 / 5)) GTEST_SKIP() << "RLIMIT_MEMLOCK is below 5 MB";
  key_t first_key = key_;
  key_ = FreshKey();
  int a = Create(kLimit * 3 / 5);
  key_ = FreshKey();
  int b = Create(kLimit * 3 / 5);
  key_ = first_key;
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_EQ(shmctl(a, SHM_LOCK, nullptr), 0) << strerror(errno);
  EXPECT_EQ(shmctl(b, SHM_LOCK, nullptr), -1);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(StatOf(b).shm_perm.mode & SHM_LOCKED, 0u);
  ASSERT_EQ(shmctl(a, SHM_UNLOCK, nullptr), 0);
  ASSERT_EQ(shmctl(b, SHM_LOCK, nullptr), 0) << "room again once the first is unlocked";
  ASSERT_EQ(shmctl(b, SHM_UNLOCK, nullptr), 0);
  // The refused one was left evictable: written through, it goes to swap.
  const uint64_t pages = 2 * kLimit / kPage;
  // One that fits the limit, but leaves less than a fill cluster (64 pages)
  // to everything else.
  key_ = FreshKey();
  int tight = Create(kLimit - 32 * kPage);
  key_ = first_key;
  ASSERT_GE(tight, 0);
  EXPECT_EQ(shmctl(tight, SHM_LOCK, nullptr), -1);
  EXPECT_EQ(errno, ENOMEM);
  char* p = static_cast<char*>(shmat(big, nullptr, 0));
  ASSERT_NE(p, kFailed) << strerror(errno);
  const uint64_t outs = Stat("swap_outs");
  Fill(p, 0, pages, 3);
  EXPECT_GE(Stat("swap_outs"), outs + pages / 2);
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit);
  EXPECT_EQ(FirstBad(p, 0, pages, 3), -1);
  ASSERT_EQ(shmdt(p), 0);
}

// shmat's address rules on a managed segment (the kernel suite checks them
// on IPC_PRIVATE segments, which stay native): SHM_RND, an unaligned
// address, an address in use (EINVAL, not mmap's EEXIST), SHM_REMAP, and a
// read-only attach that faults on a write.
TEST_F(SysvSegments, AttachAddressRulesOnAManagedSegment) {
  int id = Create(2 * kPage, 0666);
  ASSERT_GE(id, 0);
  char* base =
      static_cast<char*>(mmap(nullptr, 8 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(base, MAP_FAILED);
  ASSERT_EQ(munmap(base, 8 * kPage), 0);
  void* p = shmat(id, base + kPage + 100, SHM_RND);
  EXPECT_EQ(p, base + kPage);
  ASSERT_EQ(shmdt(p), 0);
  EXPECT_EQ(shmat(id, base + 100, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  char* used = static_cast<char*>(mmap(base, 4 * kPage, PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  ASSERT_EQ(used, base);
  used[kPage] = 42;
  EXPECT_EQ(shmat(id, base + kPage, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(shmat(id, base + 3 * kPage, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  p = shmat(id, base + kPage, SHM_REMAP);
  ASSERT_EQ(p, base + kPage);
  EXPECT_EQ(base[kPage], 0);
  base[kPage] = 9;
  EXPECT_EQ(StatOf(id).shm_nattch, 1u);
  EXPECT_EQ(shmat(id, nullptr, SHM_REMAP), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  ASSERT_EQ(shmdt(p), 0);
  // SHM_RDONLY: the data reads, a write is SIGSEGV.
  int status = ForkAndWait([&] {
    char* q = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
    if (q == kFailed) return 2;
    if (q[0] != 9) return 3;
    q[0] = 1;
    return 4;
  });
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
      << DescribeChild(status, {{2, "shmat"}, {3, "data"}, {4, "the write went through"}});
  // ... and cannot be made writable (the kernel's file is read-only), while
  // a read-write attach can be made read-only and back.
  char* r = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
  ASSERT_NE(r, kFailed);
  EXPECT_EQ(mprotect(r, kPage, PROT_READ | PROT_WRITE), -1);
  EXPECT_EQ(errno, EACCES);
  EXPECT_EQ(mprotect(r, 2 * kPage, PROT_READ), 0);
  char* w = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(w, kFailed);
  EXPECT_EQ(mprotect(w, 2 * kPage, PROT_READ), 0);
  EXPECT_EQ(mprotect(w, 2 * kPage, PROT_READ | PROT_WRITE), 0);
  w[1] = 2;
  EXPECT_EQ(r[1], 2);
  ASSERT_EQ(shmdt(w), 0);
  ASSERT_EQ(shmdt(r), 0);
}

// starttime of /proc/PID/stat (0 if none).
uint64_t StartTime(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = fopen(path, "re");
  if (f == nullptr) return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char* p = strrchr(buf, ')');
  for (int field = 2; p != nullptr && field < 22; field++) p = strchr(p + 1, ' ');
  return p == nullptr ? 0 : strtoull(p + 1, nullptr, 10);
}

// A kernel segment made past the shim, as the shim makes a placeholder:
// one byte under `key`, its page marked with helper `pid` started at
// `start` (preload/sysv.cc PlaceholderMark). Returns its id.
int LeavePlaceholder(key_t key, pid_t pid, uint64_t start) {
  int id = static_cast<int>(syscall(SYS_shmget, key, 1, IPC_CREAT | IPC_EXCL | 0600));
  if (id < 0) return -1;
  void* p = reinterpret_cast<void*>(syscall(SYS_shmat, id, nullptr, 0));
  if (p == reinterpret_cast<void*>(-1)) return -1;
  struct {
    char magic[16];
    int64_t helper_pid;
    uint64_t helper_start;
  } mark = {"libshm-sysv-ph1", pid, start};
  memcpy(p, &mark, sizeof(mark));
  syscall(SYS_shmdt, p);
  return id;
}

// A session that ends without removing its segment (a crash) leaves its
// placeholder in the kernel, marked with a helper that is gone: the next
// session takes the key back, instead of meeting a one-byte segment (EINVAL
// for any larger size, where the kernel's segment would have lived on). A
// placeholder whose helper lives is another session's: it is left alone.
TEST_F(SysvSegments, APlaceholderLeftByAnEndedSessionIsTakenBack) {
  pid_t gone = fork();
  if (gone == 0) {
    pause();
    _exit(0);
  }
  const uint64_t start = StartTime(gone);
  ASSERT_NE(start, 0u);
  kill(gone, SIGKILL);
  waitpid(gone, nullptr, 0);
  int left = LeavePlaceholder(key_, gone, start);
  ASSERT_GE(left, 0) << strerror(errno);
  const uint64_t before = Stat("objects_made");
  int id = shmget(key_, 2 * kPage, IPC_CREAT | 0600);
  ASSERT_GE(id, 0) << strerror(errno);
  made_.push_back(id);
  EXPECT_EQ(Stat("objects_made"), before + 1);
  EXPECT_EQ(StatOf(id).shm_segsz, 2 * kPage);
  shmid_ds raw{};
  if (left != id) {
    EXPECT_EQ(RawStat(left, &raw), EINVAL) << "the orphan was removed";
  }

  // A live helper's (this test's own process stands in for one).
  const key_t other = key_ + 1;
  int live = LeavePlaceholder(other, getpid(), StartTime(getpid()));
  ASSERT_GE(live, 0) << strerror(errno);
  EXPECT_EQ(shmget(other, 2 * kPage, IPC_CREAT | 0600), -1);
  EXPECT_EQ(errno, EINVAL);  // the kernel's answer about a segment of 1 byte
  EXPECT_EQ(RawStat(live, &raw), 0) << "a live session's placeholder was removed";
  syscall(SYS_shmctl, live, IPC_RMID, nullptr);
}

// shmstat lists a segment as ipcs -m would: kind sysv, key and id, owner,
// mode (not the memfd's), size; a removed one says so.
TEST_F(SysvSegments, ShmstatListsSegmentsWithKeyIdOwnerAndMode) {
  int id = Create(5 * kPage, 0640);
  ASSERT_GE(id, 0);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, kFailed);
  auto run = [](const std::string& cmd) {
    std::string out;
    FILE* f = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while (f != nullptr && (n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
    if (f != nullptr) pclose(f);
    return out;
  };
  const std::string shmstat =
      std::string(LIBSHM_SHMSTAT_PATH) + " --session " + getenv("LIBSHM_SESSION") + " 2>&1";
  char want[96];
  snprintf(want, sizeof(want), "sysv key 0x%08x id %d uid %u mode 0640",
           static_cast<unsigned>(key_), id, static_cast<unsigned>(geteuid()));
  std::string table = run(shmstat);
  EXPECT_NE(table.find(want), std::string::npos) << table;
  std::string json = run(shmstat + " --json");
  snprintf(want, sizeof(want), "\"kind\": \"sysv\", \"name\": \"key 0x%08x id %d\"",
           static_cast<unsigned>(key_), id);
  EXPECT_NE(json.find(want), std::string::npos) << json;
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
  made_.clear();
  snprintf(want, sizeof(want), "sysv key 0x%08x id %d removed uid", static_cast<unsigned>(key_),
           id);
  table = run(shmstat);
  EXPECT_NE(table.find(want), std::string::npos) << table;
  ASSERT_EQ(shmdt(p), 0);
}

}  // namespace
}  // namespace libshm::test

// Runs the tests under shmrun (a session: segments are managed only there)
// with an 8 MiB limit.
int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--native-private-probe") == 0) {
    // For IpcPrivateSegmentsAreManagedUnlessLeftNative, with
    // LIBSHM_NATIVE_PRIVATE_SYSV=1 in a session.
    int id = shmget(IPC_PRIVATE, 16 * 4096, IPC_CREAT | 0600);
    if (id < 0) return 3;
    shmid_ds raw{};
    int rc = libshm::test::RawStat(id, &raw) != 0 ? 4
             : raw.shm_segsz == 16 * 4096         ? 0
             : raw.shm_segsz == 1                 ? 5
                                                  : 4;
    shmctl(id, IPC_RMID, nullptr);
    return rc;
  }
  // IPC_PRIVATE segments managed whatever DISPLAY says (the tests check them).
  if (getenv("LIBSHM_SESSION") == nullptr) setenv("LIBSHM_NATIVE_PRIVATE_SYSV", "0", 1);
  int status;
  if (libshm::test::ReexecUnderShmrun(argc, argv, LIBSHM_SHMRUN_PATH, "8M", &status)) return status;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
