// SPDX-License-Identifier: MIT
// The LD_PRELOAD shim, seen from an unmodified program: this binary does not
// link libshm; CTest runs it with LD_PRELOAD=libshm_preload.so. It reaches
// libshm only through the symbols the shim exports (dlsym), as a curious
// program could.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kLimit = 4 << 20;

using IsManagedFn = int (*)(const void*);
using CtlFn = int (*)(const char*, void*, size_t*, const void*, size_t);

bool Managed(const void* p) {
  static auto fn = reinterpret_cast<IsManagedFn>(dlsym(RTLD_DEFAULT, "libshm_is_managed"));
  return fn != nullptr && fn(p) == 1;
}

uint64_t Stat(const char* name) {
  static auto ctl = reinterpret_cast<CtlFn>(dlsym(RTLD_DEFAULT, "libshm_ctl"));
  uint64_t v = 0;
  size_t len = sizeof(v);
  std::string full = std::string("stats.") + name;
  if (ctl == nullptr || ctl(full.c_str(), &v, &len, nullptr, 0) != 0) return UINT64_MAX;
  return v;
}

void EvictAll() {
  static auto ctl = reinterpret_cast<CtlFn>(dlsym(RTLD_DEFAULT, "libshm_ctl"));
  uint64_t zero = 0;
  ASSERT_NE(ctl, nullptr);
  ASSERT_EQ(ctl("evict.run", nullptr, nullptr, &zero, sizeof(zero)), 0);
}

void Fill(char* p, size_t len, uint64_t seed) {
  for (size_t i = 0; i < len; i += kPage) {
    uint64_t v = seed * 1000003 + i / kPage;
    memcpy(p + i, &v, sizeof(v));
  }
}

bool Check(const char* p, size_t len, uint64_t seed) {
  for (size_t i = 0; i < len; i += kPage) {
    uint64_t v;
    memcpy(&v, p + i, sizeof(v));
    if (v != seed * 1000003 + i / kPage) return false;
  }
  return true;
}

// Runs fn in a child (it must _exit) with a deadline; returns the wait status
// (SIGKILL if it ran past 60 s: a hang is a failure, not a CTest timeout).
template <typename F>
int ForkAndWaitStatus(F fn) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(60);
    fn();
    _exit(100);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

class Shim : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("LIBSHM_LIMIT", "4M", 1);
    setenv("LIBSHM_HELPER", LIBSHM_SHMD_PATH, 0);
    ASSERT_NE(dlsym(RTLD_DEFAULT, "libshm_is_managed"), nullptr)
        << "run this test with LD_PRELOAD=libshm_preload.so (CTest does)";
  }
};

TEST_F(Shim, Mmap64SharedAnonymousIsManagedAndEvictable) {
  const size_t size = 8 * kLimit;
  char* p = static_cast<char*>(
      mmap64(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_TRUE(Managed(p));
  Fill(p, size, 1);
  EXPECT_TRUE(Check(p, size, 1));
  EXPECT_GT(Stat("swap_outs"), 0u);
  EXPECT_EQ(munmap(p, size), 0);
  EXPECT_FALSE(Managed(p));
}

TEST_F(Shim, SharedAnonymousWithAnyFdIsManaged) {
  // The kernel ignores fd with MAP_ANONYMOUS; so does the shim (stress-ng uses fd 0).
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, 0, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_TRUE(Managed(p));
}

TEST_F(Shim, SharedDevZeroIsManagedPrivateIsNot) {
  int fd = open("/dev/zero", O_RDWR);
  ASSERT_GE(fd, 0);
  char* shared =
      static_cast<char*>(mmap(nullptr, 4 * kLimit, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(shared, MAP_FAILED);
  EXPECT_TRUE(Managed(shared));
  int status;
  Fill(shared, 4 * kLimit, 2);
  pid_t pid = fork();
  if (pid == 0) _exit(Check(shared, 4 * kLimit, 2) ? 0 : 1);  // shared with the child
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  void* priv = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ASSERT_NE(priv, MAP_FAILED);
  EXPECT_FALSE(Managed(priv));
  close(fd);
}

// execve through the shim (which may give a scrubbed environment the
// session back) fails exactly as the kernel's: same result, same errno, for
// a missing file, a directory, a file without the execute bit, a null envp
// and a scrubbed one.
TEST_F(Shim, FailedExecveIsTheKernelsFailure) {
  char dir[] = "/tmp/libshm-execve.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string plain = std::string(dir) + "/plain";
  int fd = open(plain.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  close(fd);
  std::string missing = std::string(dir) + "/missing";
  char arg0[] = "x";
  char* argv[] = {arg0, nullptr};
  char tz[] = "TZ=UTC";
  char* scrubbed[] = {tz, nullptr};
  for (const std::string& path : {missing, std::string(dir), plain}) {
    for (char** envp : {environ, scrubbed, static_cast<char**>(nullptr)}) {
      errno = 0;
      long kernel = syscall(SYS_execve, path.c_str(), argv, envp);
      int kernel_errno = errno;
      errno = 0;
      int shim = execve(path.c_str(), argv, envp);
      EXPECT_EQ(shim, kernel) << path;
      EXPECT_EQ(errno, kernel_errno)
          << path << ": " << strerror(errno) << " vs the kernel's " << strerror(kernel_errno);
    }
  }
  unlink(plain.c_str());
  rmdir(dir);
}

TEST_F(Shim, EverythingElsePassesThrough) {
  void* priv = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(priv, MAP_FAILED);
  EXPECT_FALSE(Managed(priv));
  char path[] = "/tmp/libshm-shim-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  ASSERT_EQ(ftruncate(fd, kPage), 0);
  void* file = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(file, MAP_FAILED);
  EXPECT_FALSE(Managed(file));
  close(fd);
}

TEST_F(Shim, OddLengthsRoundUpLikeTheKernel) {
  for (size_t len : {size_t{1}, kPage - 1, kPage + 1, 3 * kPage + 17}) {
    char* p = static_cast<char*>(
        mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(p, MAP_FAILED) << len;
    EXPECT_TRUE(Managed(p));
    size_t rounded = (len + kPage - 1) & ~(kPage - 1);
    p[rounded - 1] = 'z';  // the whole last page is usable, as with the kernel
    EXPECT_EQ(p[rounded - 1], 'z');
    EXPECT_EQ(munmap(p, len), 0) << len;
  }
}

TEST_F(Shim, MapFixedAndNoReplace) {
  char* area =
      static_cast<char*>(mmap(nullptr, 8 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(area, MAP_FAILED);
  char* p = static_cast<char*>(mmap(area + 2 * kPage, 4 * kPage, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  ASSERT_EQ(p, area + 2 * kPage);
  EXPECT_TRUE(Managed(p));
  p[0] = 1;
  errno = 0;
  void* q = mmap(area, 4 * kPage, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  EXPECT_EQ(q, MAP_FAILED);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(p[0], 1);
}

TEST_F(Shim, PopulateLockedNoreserveAndExec) {
  for (int extra : {MAP_POPULATE, MAP_LOCKED, MAP_NORESERVE}) {
    char* p = static_cast<char*>(mmap(nullptr, 16 * kPage, PROT_READ | PROT_WRITE,
                                      MAP_SHARED | MAP_ANONYMOUS | extra, -1, 0));
    ASSERT_NE(p, MAP_FAILED) << extra;
    EXPECT_TRUE(Managed(p)) << extra;
    p[5 * kPage] = 3;
    EXPECT_EQ(p[5 * kPage], 3);
  }
  void* x = mmap(nullptr, kPage, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(x, MAP_FAILED);
  EXPECT_TRUE(Managed(x));
}

#ifdef MAP_32BIT
// PHP 8.2's opcache maps its segment MAP_SHARED|MAP_ANONYMOUS|MAP_32BIT (it
// wants it near its code, for the JIT): it stayed native, silently (issue 10).
TEST_F(Shim, Map32bitIsManagedAndStaysBelow2GiB) {
  const size_t size = 8 * kLimit;
  char* p = static_cast<char*>(
      mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_32BIT, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_TRUE(Managed(p));
  EXPECT_LE(reinterpret_cast<uintptr_t>(p) + size, uintptr_t{1} << 31);
  uint64_t outs = Stat("swap_outs");
  Fill(p, size, 32);
  EvictAll();
  EXPECT_TRUE(Check(p, size, 32));
  EXPECT_GT(Stat("swap_outs"), outs);
  EXPECT_EQ(munmap(p, size), 0);
}

// With no room left where MAP_32BIT places mappings (the kernel uses
// [1 GiB, 2 GiB)), the shim answers as the kernel does: MAP_FAILED and
// ENOMEM, and counts nothing as native (the kernel refused the fallback too).
TEST_F(Shim, Map32bitWithNoRoomLeftFailsAsTheKernelDoes) {
  void* m = mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_TRUE(Managed(m));  // the session is there
  uint64_t error_mappings = Stat("native_shared_mappings.error");
  // Every gap of the window, from /proc/self/maps: each MAP_32BIT call
  // starts its search at a random point of the window's first 32 MiB, so
  // mapping until one call fails would leave room below that point.
  constexpr uintptr_t kLow = uintptr_t{1} << 30, kHigh = uintptr_t{1} << 31;
  std::vector<std::pair<uintptr_t, uintptr_t>> used;
  FILE* maps = fopen("/proc/self/maps", "r");
  ASSERT_NE(maps, nullptr);
  unsigned long start, end;
  char line[512];
  while (fgets(line, sizeof(line), maps) != nullptr) {
    if (sscanf(line, "%lx-%lx", &start, &end) == 2) used.emplace_back(start, end);
  }
  fclose(maps);
  std::vector<std::pair<void*, size_t>> held;
  uintptr_t at = kLow;
  used.emplace_back(kHigh, kHigh);
  for (const auto& [s, e] : used) {
    if (e <= at) continue;
    uintptr_t gap_end = s < kHigh ? s : kHigh;
    if (gap_end > at) {
      void* q = mmap(reinterpret_cast<void*>(at), gap_end - at, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
      ASSERT_NE(q, MAP_FAILED) << std::hex << at << "-" << gap_end;
      held.emplace_back(q, gap_end - at);
    }
    at = e;
    if (at >= kHigh) break;
  }
  long raw = syscall(SYS_mmap, nullptr, 4 * kPage, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  int raw_errno = raw == -1 ? errno : 0;
  errno = 0;
  void* p = mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_32BIT,
                 -1, 0);
  int shim_errno = errno;
  for (const auto& [at, len] : held) munmap(at, len);
  if (raw != -1) munmap(reinterpret_cast<void*>(raw), 4 * kPage);
  EXPECT_EQ(raw, -1) << "the window was not full";
  EXPECT_EQ(raw_errno, ENOMEM);
  EXPECT_EQ(p, MAP_FAILED);
  EXPECT_EQ(shim_errno, ENOMEM);
  if (p != MAP_FAILED) munmap(p, 4 * kPage);
  EXPECT_EQ(Stat("native_shared_mappings.error"), error_mappings);
  EXPECT_EQ(munmap(m, 4 * kPage), 0);
}
#endif

// Lets the kernel allocate one surplus huge page for a MAP_HUGETLB mapping
// while it lives (root only; /proc/sys/vm/nr_overcommit_hugepages is put
// back as it was). Without it, with no huge pages reserved, MAP_HUGETLB
// fails with ENOMEM here and only that outcome could be compared.
class OneSurplusHugePage {
 public:
  explicit OneSurplusHugePage(bool enable) {
    if (!enable || geteuid() != 0 || !Read(&old_) || old_ != 0) return;
    set_ = Write(1);
  }
  ~OneSurplusHugePage() {
    if (set_) Write(old_);
  }

 private:
  static constexpr const char* kPath = "/proc/sys/vm/nr_overcommit_hugepages";
  static bool Read(long* v) {
    FILE* f = fopen(kPath, "r");
    bool ok = f != nullptr && fscanf(f, "%ld", v) == 1;
    if (f != nullptr) fclose(f);
    return ok;
  }
  static bool Write(long v) {
    FILE* f = fopen(kPath, "w");
    bool ok = f != nullptr && fprintf(f, "%ld\n", v) > 0;
    if (f != nullptr) ok = fclose(f) == 0 && ok;
    return ok;
  }
  long old_ = 0;
  bool set_ = false;
};

// Side by side with the kernel: the shim gives MAP_HUGETLB the kernel's
// result and errno, and counts the mapping as native (reason hugetlb) only if
// the kernel made it (issue 10).
void HugetlbSideBySide(bool reserve) {
  OneSurplusHugePage surplus(reserve);
  long raw = syscall(SYS_mmap, nullptr, 2 << 20, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
  int raw_errno = raw == -1 ? errno : 0;
  if (raw != -1) munmap(reinterpret_cast<void*>(raw), 2 << 20);
  errno = 0;
  void* p = mmap(nullptr, 2 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB,
                 -1, 0);
  int shim_errno = errno;
  EXPECT_EQ(p == MAP_FAILED, raw == -1);
  if (p == MAP_FAILED) {
    EXPECT_EQ(shim_errno, raw_errno);
  } else {
    EXPECT_FALSE(Managed(p));
    static_cast<char*>(p)[0] = 1;  // it is memory
    EXPECT_EQ(munmap(p, 2 << 20), 0);
  }
  // A managed mapping makes the session that the count is reported to.
  void* m = mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_TRUE(Managed(m));
  EXPECT_EQ(Stat("native_shared_bytes.hugetlb"), p == MAP_FAILED ? 0u : 2u << 20);
  EXPECT_EQ(Stat("native_shared_mappings.hugetlb"), p == MAP_FAILED ? 0u : 1u);
  printf("MAP_HUGETLB of 2 MiB: %s\n", p == MAP_FAILED ? strerror(shim_errno) : "mapped");
}

TEST_F(Shim, HugetlbBehavesAsTheKernelDoesHere) { HugetlbSideBySide(false); }

TEST_F(Shim, HugetlbWithAHugePageIsCountedNative) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to allow a surplus huge page";
  HugetlbSideBySide(true);
}

TEST_F(Shim, ErrnoIsExact) {
  void* warm = mmap(nullptr, kPage, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(warm, MAP_FAILED);
  errno = 1234;
  void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(errno, 1234) << "a successful mmap changed errno";
  EXPECT_EQ(munmap(p, kPage), 0);
  EXPECT_EQ(errno, 1234);
  EXPECT_EQ(mmap(nullptr, 0, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0), MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(munmap(reinterpret_cast<void*>(1), kPage), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(msync(warm, kPage, MS_SYNC | MS_ASYNC), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(Shim, MremapOfAManagedRegionKeepsDataAndManagement) {
  char* p = static_cast<char*>(
      mmap(nullptr, 2 * kLimit, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  Fill(p, 2 * kLimit, 3);
  EvictAll();
  char* q = static_cast<char*>(mremap(p, 2 * kLimit, 4 * kLimit, MREMAP_MAYMOVE));
  ASSERT_NE(q, MAP_FAILED);
  EXPECT_TRUE(Managed(q));
  EXPECT_TRUE(Check(q, 2 * kLimit, 3));
  char* r = static_cast<char*>(mremap(q, 4 * kLimit, kLimit, 0));  // shrink
  ASSERT_EQ(r, q);
  EXPECT_TRUE(Check(r, kLimit, 3));
  EXPECT_FALSE(Managed(q + 2 * kLimit));
}

// munmap of the middle of a managed mapping splits it, and mremap onto part
// of another replaces that part: the shim's range list follows the kernel
// exactly, forgetting nothing else (issue 10).
TEST_F(Shim, MunmapAndMremapKeepTheManagedRangesExact) {
  char* m[3];
  for (int i = 0; i < 3; i++) {
    m[i] = static_cast<char*>(
        mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    ASSERT_NE(m[i], MAP_FAILED);
    Fill(m[i], 4 * kPage, 10 + i);
  }
  char *a = m[0], *b = m[1], *c = m[2];
  auto page_is = [](const char* p, uint64_t seed, size_t page) {
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v == seed * 1000003 + page;
  };
  ASSERT_EQ(munmap(b + kPage, kPage), 0);
  EXPECT_TRUE(Managed(b));
  EXPECT_FALSE(Managed(b + kPage));
  EXPECT_TRUE(Managed(b + 2 * kPage));
  EXPECT_TRUE(Managed(b + 3 * kPage));
  // The first two pages of a replace b's tail.
  char* q = static_cast<char*>(
      mremap(a, 2 * kPage, 2 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, b + 2 * kPage));
  ASSERT_EQ(q, b + 2 * kPage) << strerror(errno);
  EXPECT_FALSE(Managed(a));
  EXPECT_FALSE(Managed(a + kPage));
  EXPECT_TRUE(Managed(a + 2 * kPage));
  EXPECT_TRUE(Managed(q));
  EXPECT_TRUE(Managed(q + kPage));
  EvictAll();
  EXPECT_TRUE(page_is(b, 11, 0));
  EXPECT_TRUE(page_is(q, 10, 0));
  EXPECT_TRUE(page_is(q + kPage, 10, 1));
  EXPECT_TRUE(page_is(a + 2 * kPage, 10, 2));
  ASSERT_EQ(munmap(q, 2 * kPage), 0);
  EXPECT_FALSE(Managed(q));
  EXPECT_FALSE(Managed(q + kPage));
  EXPECT_TRUE(Managed(b));
  EXPECT_TRUE(Managed(a + 3 * kPage));
  for (size_t i = 0; i < 4; i++) EXPECT_TRUE(Managed(c + i * kPage)) << i;
  EXPECT_TRUE(Check(c, 4 * kPage, 12));
}

TEST_F(Shim, RemapFilePagesOfEvictedPagesKeepsTheirData) {
  // The kernel does remap_file_pages as a new mmap of the same file; for a
  // managed region that mapping must be registered too, or evicted pages
  // would read zeros (found with stress-ng --remap).
  const size_t n = 64;
  char* p = static_cast<char*>(
      mmap(nullptr, n * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  for (size_t i = 0; i < n; i++) memset(p + i * kPage, static_cast<int>(i + 1), kPage);
  EvictAll();
  for (size_t i = 0; i < n; i++) {  // reverse the pages
    ASSERT_EQ(remap_file_pages(p + i * kPage, kPage, 0, n - 1 - i, 0), 0) << strerror(errno);
  }
  for (size_t i = 0; i < n; i++) ASSERT_EQ(p[i * kPage], static_cast<char>(n - i)) << i;
  // The remapped pages are still tracked: written, evicted, read back.
  p[0] = 'w';
  EvictAll();
  EXPECT_EQ(p[0], 'w');
  EXPECT_EQ(p[kPage], static_cast<char>(n - 1));
  errno = 0;
  EXPECT_EQ(remap_file_pages(p, kPage, PROT_READ, 0, 0), -1);  // prot must be 0
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(remap_file_pages(p, kPage, 0, n, 0), -1);  // past the end of the region
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(Shim, MsyncAndMadviseRemoveKeepTheirMeaning) {
  char* p = static_cast<char*>(
      mmap(nullptr, 64 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  Fill(p, 64 * kPage, 4);
  ASSERT_EQ(msync(p, 64 * kPage, MS_SYNC), 0);
  EXPECT_EQ(Stat("dirty_bytes"), 0u);
  EvictAll();
  ASSERT_EQ(madvise(p, 8 * kPage, MADV_REMOVE), 0);
  for (size_t i = 0; i < 8 * kPage; i++) ASSERT_EQ(p[i], 0) << i;
  for (size_t i = 8 * kPage; i < 64 * kPage; i += kPage) {
    uint64_t v;
    memcpy(&v, p + i, sizeof(v));
    ASSERT_EQ(v, 4 * 1000003 + i / kPage);
  }
}

// A forked child that closes every descriptor it inherited (Python's
// subprocess between fork and exec with preexec_fn, daemons, closefrom)
// closes libshm's too, and reuses their numbers for files and pipes of its
// own. libshm must act only on descriptors that are still its own: its
// watchdog took a closed or reused one for the helper's death and killed the
// child (8 of 100 subprocess.run(preexec_fn=...) children), and a native
// mapping's wake-up was written into whatever file got the number. Each
// child here makes native mappings (so that the watchdog polls again soon),
// fills the freed numbers with a file and readable pipes, makes another,
// waits, and checks its memory and that its file is still empty.
TEST_F(Shim, ChildrenThatCloseAndReuseEveryInheritedDescriptorLive) {
  const size_t n = 64 * kPage;
  char* p = static_cast<char*>(
      mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_TRUE(Managed(p));
  Fill(p, n, 3);
  constexpr int kChildren = 8;
  pid_t kids[kChildren];
  for (pid_t& kid : kids) {
    kid = fork();
    ASSERT_GE(kid, 0);
    if (kid != 0) continue;
    alarm(30);
    char path[64];
    snprintf(path, sizeof(path), "/tmp/libshm-reused-fd-%d", static_cast<int>(getpid()));
    // MAP_SYNC without MAP_SHARED_VALIDATE: native and counted. The first
    // mapping's counts are sent at once; the second's wait for the report
    // interval, so the watchdog polls its descriptors again within ~100 ms,
    // after they were closed and their numbers reused below.
    for (int j = 0; j < 2; j++) {
      if (mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_SYNC, -1,
               0) == MAP_FAILED) {
        _exit(4);
      }
      if (j == 0) usleep(30 * 1000);
    }
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0) _exit(1);
    int file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (file < 0) _exit(2);
    for (int j = 0; j < 8; j++) {
      int fds[2];
      if (pipe(fds) != 0 || write(fds[1], "x", 1) != 1) _exit(3);
    }
    for (int j = 0; j < 4; j++) {  // more numbers naming the same file
      if (dup(file) < 0) _exit(2);
    }
    // A third native mapping: its wake-up must not go into the child's file.
    if (mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_SYNC, -1,
             0) == MAP_FAILED) {
      _exit(4);
    }
    usleep(400 * 1000);  // the watchdog polls its numbers again, and sends
    struct stat st;
    if (fstat(file, &st) != 0 || st.st_size != 0) _exit(5);
    unlink(path);
    _exit(Check(p, n, 3) ? 0 : 6);
  }
  for (int i = 0; i < kChildren; i++) {
    int status = 0;
    ASSERT_EQ(waitpid(kids[i], &status, 0), kids[i]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "child " << i << ": "
        << (WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status)) +
                                      " (libshm took a descriptor the child closed or reused "
                                      "for the helper's death)"
            : WEXITSTATUS(status) == 5
                ? std::string("libshm wrote into the child's own file (a reused number)")
                : "exit " + std::to_string(WEXITSTATUS(status)));
  }
  EXPECT_TRUE(Check(p, n, 3));
}

// The program closes libshm's connection and reuses its number for a
// socket of its own. A later mmap must not send a request into the
// program's socket (nor read its data as a reply): it falls back to native
// memory, and the regions made before keep working.
TEST_F(Shim, AClosedAndReusedConnectionIsNeverWrittenTo) {
  int status = ForkAndWaitStatus([] {
    const size_t n = 64 * kPage;
    char* p = static_cast<char*>(
        mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED || !Managed(p)) _exit(1);
    Fill(p, n, 4);
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0) _exit(2);
    // Pairs of the program's own sockets take the freed numbers, with data
    // waiting in each direction.
    int ends[16][2];
    for (auto& e : ends) {
      if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, e) != 0) _exit(3);
      if (write(e[0], "program", 7) != 7 || write(e[1], "program", 7) != 7) _exit(3);
    }
    char* q = static_cast<char*>(
        mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (q == MAP_FAILED) _exit(4);
    if (Managed(q)) _exit(5);  // no connection: it cannot be managed
    Fill(q, n, 5);
    // Every socket still holds exactly the program's one message.
    for (auto& e : ends) {
      for (int side : {0, 1}) {
        char buf[64];
        if (recv(e[side], buf, sizeof(buf), MSG_DONTWAIT) != 7) _exit(6);
        if (recv(e[side], buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EAGAIN) _exit(7);
      }
    }
    if (msync(p, n, MS_SYNC) != 0) _exit(8);
    _exit(Check(p, n, 4) && Check(q, n, 5) ? 0 : 9);
  });
  ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1: setup; 4: mmap failed; 5: managed without a connection; 6: a program's message "
         "was read by libshm; 7: libshm wrote into a program's socket; 8: msync; 9: data";
}

TEST_F(Shim, DaemonKeepsTheDataOfItsCreator) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t creator = fork();
  if (creator == 0) {
    char* p = static_cast<char*>(
        mmap(nullptr, 4 * kLimit, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) _exit(2);
    Fill(p, 4 * kLimit, 5);
    // glibc's daemon() forks without calling the exported fork().
    if (daemon(1, 1) != 0) _exit(3);
    EvictAll();
    char ok = Check(p, 4 * kLimit, 5) ? 'y' : 'n';
    if (write(fds[1], &ok, 1) != 1) _exit(4);
    _exit(0);
  }
  close(fds[1]);
  int status;
  waitpid(creator, &status, 0);
  char ok = 0;
  ASSERT_EQ(read(fds[0], &ok, 1), 1) << "the daemon died";
  EXPECT_EQ(ok, 'y');
}

TEST_F(Shim, SystemChildrenOnlyExec) {
  char* p = static_cast<char*>(
      mmap(nullptr, 2 * kLimit, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  Fill(p, 2 * kLimit, 6);
  EXPECT_EQ(system("exit 7"), 7 << 8);
  EXPECT_TRUE(Check(p, 2 * kLimit, 6));
}

TEST_F(Shim, DlopenDeepbindPluginsStillGetManagedMemory) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizer's own dlopen, preloaded before the shim, refuses DEEPBIND.
  GTEST_SKIP() << "sanitizer runtimes reject RTLD_DEEPBIND (google/sanitizers#611)";
#endif
  void* h = dlopen(LIBSHM_DEEPBIND_PLUGIN, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  ASSERT_NE(h, nullptr) << dlerror();
  auto map = reinterpret_cast<void* (*)(size_t)>(dlsym(h, "plugin_map_shared"));
  ASSERT_NE(map, nullptr);
  void* p = map(kPage);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_TRUE(Managed(p)) << "the plugin's mmap bypassed the shim";
}

TEST_F(Shim, MinSizeLeavesSmallMappingsNative) {
  setenv("LIBSHM_MIN_SIZE", "64K", 1);
  void* small = mmap(nullptr, 8 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  void* big = mmap(nullptr, 32 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(small, MAP_FAILED);
  ASSERT_NE(big, MAP_FAILED);
  EXPECT_FALSE(Managed(small));
  EXPECT_TRUE(Managed(big));
}

// Issue 10: shared anonymous memory the shim leaves native is counted by
// reason, in bytes and mappings; what it never manages anyway (private or
// file-backed memory) is not. The small mapping is made before this process
// has a session: it is reported when the session starts.
TEST_F(Shim, NativeSharedMemoryIsCountedWithItsReason) {
  setenv("LIBSHM_MIN_SIZE", "64K", 1);
  setenv("LIBSHM_SWAP_MAX", "1M", 1);
  void* small = mmap(nullptr, 8 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(small, MAP_FAILED);
  EXPECT_FALSE(Managed(small));
  // MAP_SYNC without MAP_SHARED_VALIDATE: the kernel ignores it, libshm does
  // not manage it.
  void* sync = mmap(nullptr, 4 * kPage - 100, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS | MAP_SYNC, -1, 0);
  ASSERT_NE(sync, MAP_FAILED);
  EXPECT_FALSE(Managed(sync));
  void* big = mmap(nullptr, 32 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(big, MAP_FAILED);
  EXPECT_TRUE(Managed(big));
  // Made before the session: reported when it started.
  EXPECT_EQ(Stat("native_shared_bytes.min_size"), 8 * kPage);
  EXPECT_EQ(Stat("native_shared_bytes.flags"), 4 * kPage) << "rounded up to pages";
  // More than LIBSHM_SWAP_MAX: the helper refuses it, the kernel maps it.
  char* refused = static_cast<char*>(
      mmap(nullptr, 8 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(refused, MAP_FAILED);
  EXPECT_FALSE(Managed(refused));
  refused[(8 << 20) - 1] = 1;
  // Not shared anonymous memory: not counted.
  void* priv = mmap(nullptr, 8 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(priv, MAP_FAILED);
  // Nor what the kernel refused after libshm did (the kernel's errno).
  errno = 0;
  EXPECT_EQ(
      mmap(big, 32 * kPage, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
      MAP_FAILED);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(Stat("native_shared_bytes.min_size"), 8 * kPage);
  EXPECT_EQ(Stat("native_shared_mappings.min_size"), 1u);
  EXPECT_EQ(Stat("native_shared_bytes.flags"), 4 * kPage);
  EXPECT_EQ(Stat("native_shared_mappings.flags"), 1u);
  EXPECT_EQ(Stat("native_shared_bytes.error"), 8u << 20);
  EXPECT_EQ(Stat("native_shared_mappings.error"), 1u);
  EXPECT_EQ(Stat("native_shared_bytes.hugetlb"), 0u);
  EXPECT_EQ(Stat("native_shared_bytes.no_session"), 0u);
}

// A signal handler that maps shared memory the shim leaves native, landing
// while the same thread is inside the shim making a managed mapping (holding
// its lock, talking to the helper): it must not wait for that lock (the
// thread would deadlock on itself), and its mapping is still counted, sent
// with the next request.
volatile sig_atomic_t handler_runs = 0, handler_maps = 0;

void MapInHandler(int) {
  int saved = errno;
  void* p =
      mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_SYNC, -1, 0);
  handler_maps = handler_maps + (p != MAP_FAILED);
  handler_runs = handler_runs + 1;
  errno = saved;
}

TEST_F(Shim, NativeMappingInASignalHandlerInsideTheShimIsCountedWithoutDeadlock) {
  pid_t pid = fork();
  if (pid == 0) {
    struct sigaction sa = {};
    sa.sa_handler = MapInHandler;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, nullptr);
    struct itimerval every = {{0, 300}, {0, 300}};
    setitimer(ITIMER_REAL, &every, nullptr);
    int managed = 0;
    for (int i = 0; i < 20000 && handler_runs < 300; i++) {
      void* p = mmap(nullptr, 8 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) _exit(1);
      managed += Managed(p);
      munmap(p, 8 * kPage);
    }
    struct itimerval off = {};
    setitimer(ITIMER_REAL, &off, nullptr);
    if (managed == 0) _exit(2);
    if (handler_runs < 300) _exit(3);
    if (handler_maps != handler_runs) _exit(4);
    _exit(Stat("native_shared_mappings.flags") == static_cast<uint64_t>(handler_maps) &&
                  Stat("native_shared_bytes.flags") == handler_maps * kPage
              ? 0
              : 5);
  }
  ASSERT_GT(pid, 0) << "fork failed";  // kill(-1, ...) below would signal every process
  int status = 0;
  for (int ms = 0; ms < 60000 && waitpid(pid, &status, WNOHANG) == 0; ms += 10) usleep(10000);
  if (kill(pid, 0) == 0 && waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "deadlocked: a signal handler's mmap waited for the shim's lock";
  }
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  const char* why[] = {"ok",
                       "a managed mmap failed",
                       "nothing was managed",
                       "the timer did not fire",
                       "a handler mmap failed",
                       "counts differ"};
  EXPECT_EQ(WEXITSTATUS(status), 0) << why[WEXITSTATUS(status) < 6 ? WEXITSTATUS(status) : 0];
}

// The helper serving this process (it is started by a managed mapping), or 0.
pid_t HelperPid() {
  static auto ctl = reinterpret_cast<CtlFn>(dlsym(RTLD_DEFAULT, "libshm_ctl"));
  uint64_t v = 0;
  size_t len = sizeof(v);
  if (ctl == nullptr || ctl("session.helper_pid", &v, &len, nullptr, 0) != 0) return 0;
  return static_cast<pid_t>(v);
}

// Reads one byte from `fd` within `timeout_ms`; false if none came.
bool ByteWithin(int fd, int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  char c;
  return poll(&p, 1, timeout_ms) == 1 && read(fd, &c, 1) == 1;
}

// A native mapping is a pure kernel call, even while the helper cannot
// answer (stopped, or too busy): counting it must not wait for the helper.
// The child is connected (forked from a process with a managed region); it
// maps a region below LIBSHM_MIN_SIZE while the helper is SIGSTOPped.
TEST_F(Shim, NativeMappingDoesNotWaitForAStoppedHelper) {
  setenv("LIBSHM_MIN_SIZE", "64K", 1);
  void* m = mmap(nullptr, 32 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_TRUE(Managed(m));
  pid_t helper = HelperPid();
  ASSERT_GT(helper, 0);
  int go[2], done[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t pid = fork();
  if (pid == 0) {
    // Joined the session (fork returned here), so the stop can only stall
    // what this child does next.
    if (write(done[1], "r", 1) != 1) _exit(4);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(1);
    void* p = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || Managed(p)) _exit(2);
    if (write(done[1], "x", 1) != 1) _exit(3);
    _exit(0);
  }
  ASSERT_GT(pid, 0) << "fork failed";
  ASSERT_TRUE(ByteWithin(done[0], 30000)) << "the child did not start";
  ASSERT_EQ(libshm::test::SignalProcess(helper, SIGSTOP), 0);
  ASSERT_EQ(write(go[1], "x", 1), 1);
  bool returned = ByteWithin(done[0], 3000);
  libshm::test::SignalProcess(helper, SIGCONT);
  int status = libshm::test::WaitWithDeadline(pid, 30000);
  EXPECT_TRUE(returned) << "the native mmap waited for the stopped helper";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << libshm::test::DescribeChild(status);
}

// A burst of native mappings in a connected process reaches the session's
// stats while the process lives, though it makes no further request (a
// server that maps at start and then only serves).
TEST_F(Shim, BurstOfNativeMappingsIsReportedWhileTheProcessLives) {
  setenv("LIBSHM_MIN_SIZE", "64K", 1);
  void* m = mmap(nullptr, 32 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_TRUE(Managed(m));
  ASSERT_EQ(Stat("native_shared_mappings.min_size"), 0u);
  constexpr int kBurst = 5;
  int quit[2];
  ASSERT_EQ(pipe(quit), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(quit[1]);
    for (int i = 0; i < kBurst; i++) {
      if (mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) ==
          MAP_FAILED) {
        _exit(1);
      }
    }
    char c;
    while (read(quit[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  ASSERT_GT(pid, 0) << "fork failed";
  close(quit[0]);
  uint64_t seen = 0;
  for (int ms = 0; ms < 5000 && seen < kBurst; ms += 20) {
    usleep(20000);
    seen = Stat("native_shared_mappings.min_size");
  }
  uint64_t bytes = Stat("native_shared_bytes.min_size");
  bool alive = waitpid(pid, nullptr, WNOHANG) == 0;
  close(quit[1]);
  int status = libshm::test::WaitWithDeadline(pid, 30000);
  EXPECT_TRUE(alive) << "the child left before the count was seen";
  EXPECT_EQ(seen, static_cast<uint64_t>(kBurst)) << "seen while the mapping process lives";
  EXPECT_EQ(bytes, kBurst * kPage);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << libshm::test::DescribeChild(status);
}

// The same for a process that counted native memory before it had a
// connection: its later bursts wake the watchdog it got when it connected.
// A grandchild (in the same session, making no native mapping) watches.
TEST_F(Shim, BurstAfterJoiningIsReportedWhileTheProcessLives) {
  setenv("LIBSHM_MIN_SIZE", "64K", 1);
  constexpr uint64_t kBurst = 4;
  int status = libshm::test::ForkAndWaitWithDeadline(
      [] {
        auto small = [] {
          return mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        };
        if (small() == MAP_FAILED) return 1;  // before any connection
        void* m =
            mmap(nullptr, 32 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || !Managed(m)) return 2;
        int quit[2];
        if (pipe(quit) != 0) return 3;
        pid_t watcher = fork();
        if (watcher == 0) {
          close(quit[0]);
          uint64_t seen = 0;
          for (int ms = 0; ms < 5000 && seen < 1 + kBurst; ms += 20) {
            usleep(20000);
            seen = Stat("native_shared_mappings.min_size");
          }
          _exit(seen == 1 + kBurst ? 0 : 10 + static_cast<int>(seen < 10 ? seen : 9));
        }
        if (watcher < 0) return 4;
        for (uint64_t i = 0; i < kBurst; i++) {
          if (small() == MAP_FAILED) return 5;
        }
        int w = libshm::test::WaitWithDeadline(watcher, 30000);
        if (!WIFEXITED(w)) return 6;
        return WEXITSTATUS(w);
      },
      60000);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << libshm::test::DescribeChild(status) << " (1x: x mappings seen, of " << 1 + kBurst << ")";
}

// Runs fn in a child with stderr captured; returns (status, stderr).
std::pair<int, std::string> Capture(void (*fn)()) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    fn();
    _exit(0);
  }
  close(fds[1]);
  std::string err;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) err.append(buf, static_cast<size_t>(n));
  int status;
  waitpid(pid, &status, 0);
  return {status, err};
}

// A swap directory that cannot hold the swap file: one line that names the
// variable and the fix, for the process and its forked children together
// (it printed five, the last ones misleading, and each child repeated them).
TEST_F(Shim, BadSwapDirSaysSoInOneLineNamingTheFix) {
  for (const char* dir : {"/nonexistent/dir", "/proc", "/etc/hostname"}) {
    SCOPED_TRACE(dir);
    setenv("LIBSHM_SWAP_DIR", dir, 1);
    auto [status, err] = Capture([] {
      char* p = static_cast<char*>(
          mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
      if (p == MAP_FAILED || Managed(p)) _exit(1);
      p[0] = 1;
      pid_t pid = fork();
      if (pid == 0) {
        void* q = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        _exit(q != MAP_FAILED && p[0] == 1 ? 0 : 1);
      }
      int st;
      waitpid(pid, &st, 0);
      _exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 2);
    });
    unsetenv("LIBSHM_SWAP_DIR");
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_NE(err.find("LIBSHM_SWAP_DIR"), std::string::npos) << err;
    EXPECT_NE(err.find("stays native"), std::string::npos) << err;
  }
}

TEST_F(Shim, NoHelperFallsBackToNativeWithOneLine) {
  auto [status, err] = Capture([] {
    setenv("LIBSHM_HELPER", "/nonexistent/shmd", 1);
    char* p = static_cast<char*>(
        mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED || Managed(p)) _exit(1);
    p[0] = 1;
    pid_t pid = fork();  // still shared with children, natively
    if (pid == 0) _exit(p[0] == 1 ? 0 : 1);
    int st;
    waitpid(pid, &st, 0);
    void* q = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    _exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 && q != MAP_FAILED ? 0 : 2);
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << err;
  EXPECT_NE(err.find("libshm: "), std::string::npos) << err;
  // One line, naming the cause and the fix, for the process and its child.
  EXPECT_NE(err.find("stays native"), std::string::npos) << err;
  EXPECT_NE(err.find("LIBSHM_HELPER"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST_F(Shim, StrictFailsInsteadOfFallingBack) {
  auto [status, err] = Capture([] {
    setenv("LIBSHM_HELPER", "/nonexistent/shmd", 1);
    setenv("LIBSHM_STRICT", "1", 1);
    errno = 0;
    void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    _exit(p == MAP_FAILED && errno != 0 ? 0 : 1);
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << err;
}

// Python's mmap: flush(), resize(n/2), resize(n) — mremap shrink, then grow
// in place. The regrown part must be tracked like the rest: a first write
// there is dirty (survives eviction) and a fault there is served. Same
// steps on the kernel's own memory (LIBSHM_MIN_SIZE keeps it native) first.
TEST_F(Shim, MremapShrinkThenGrowTracksTheRegrownPart) {
  for (bool managed : {false, true}) {
    SCOPED_TRACE(managed ? "libshm" : "kernel");
    int status = ForkAndWaitStatus([managed] {
      if (!managed) setenv("LIBSHM_MIN_SIZE", "1G", 1);
      const size_t n = 128 * kPage;
      char* p = static_cast<char*>(
          mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
      if (p == MAP_FAILED || Managed(p) != managed) _exit(1);
      Fill(p, n, 1);
      if (msync(p, n, MS_SYNC) != 0) _exit(2);
      if (mremap(p, n, n / 2, 0) != p) _exit(3);
      if (mremap(p, n / 2, n, 0) != p) _exit(4);
      Fill(p + n / 2, n / 2, 2);  // first writes into the regrown part
      if (managed) EvictAll();
      // A forked child reads the regrown part back (through the swap file).
      pid_t pid = fork();
      if (pid == 0) _exit(Check(p + n / 2, n / 2, 2) && Check(p, n / 2, 1) ? 0 : 5);
      int st;
      waitpid(pid, &st, 0);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) _exit(6);
      _exit(Check(p + n / 2, n / 2, 2) ? 0 : 7);
    });
    ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

// The same shrink-then-grow on more regions than the helper remembers cut
// tails for (kMaxCutTails, 64): past that number the only thing that tracks
// a regrown part is the shim's growth report (kExtend). A first write into
// the regrown part must survive eviction in every region; a region whose
// growth went untracked reads back its pre-shrink data instead.
TEST_F(Shim, MremapGrowthOfManyShrunkRegionsIsTrackedInEach) {
  for (bool managed : {false, true}) {
    SCOPED_TRACE(managed ? "libshm" : "kernel");
    int status = ForkAndWaitStatus([managed] {
      if (!managed) setenv("LIBSHM_MIN_SIZE", "1G", 1);
      constexpr int kRegions = 80;  // more than kMaxCutTails
      const size_t n = 16 * kPage;
      char* regions[kRegions];
      for (auto& p : regions) {
        p = static_cast<char*>(
            mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
        if (p == MAP_FAILED || Managed(p) != managed) _exit(1);
        Fill(p, n, 1);
        if (msync(p, n, MS_SYNC) != 0) _exit(2);
      }
      for (char* p : regions) {
        if (mremap(p, n, n / 2, 0) != p) _exit(3);
      }
      for (char* p : regions) {
        if (mremap(p, n / 2, n, 0) != p) _exit(4);
        Fill(p + n / 2, n / 2, 2);  // first writes into the regrown part
      }
      if (managed) EvictAll();
      for (int i = 0; i < kRegions; i++) {
        if (!Check(regions[i], n / 2, 1)) _exit(5);
        // Exit status 10 + i names the first region whose write was lost.
        if (!Check(regions[i] + n / 2, n / 2, 2)) _exit(10 + i);
      }
      _exit(0);
    });
    ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << "1-4: setup failed; 5: a head lost data; >= 10: region (status - 10) read back "
           "its pre-shrink data in the regrown part (growth not tracked)";
  }
}

// MREMAP_DONTUNMAP: on this kernel (6.18) the kernel's own shared memory
// accepts it and leaves the old range mapped to the same pages. libshm
// refuses it with EINVAL, a documented difference (docs/design.md): the old
// range would stay mapped with its write-protect markers moved away, so
// writes through it would go untracked. Both keep the data.
TEST_F(Shim, MremapDontunmapIsRefusedOnManagedMemory) {
  for (bool managed : {false, true}) {
    SCOPED_TRACE(managed ? "libshm" : "kernel");
    int status = ForkAndWaitStatus([managed] {
      if (!managed) setenv("LIBSHM_MIN_SIZE", "1G", 1);
      const size_t n = 16 * kPage;
      char* p = static_cast<char*>(
          mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
      if (p == MAP_FAILED || Managed(p) != managed) _exit(1);
      Fill(p, n, 3);
      errno = 0;
      void* q = mremap(p, n, n, MREMAP_MAYMOVE | 4 /* MREMAP_DONTUNMAP */);
      if (managed) {
        if (q != MAP_FAILED || errno != EINVAL) _exit(2);
        EvictAll();
        _exit(Check(p, n, 3) ? 0 : 3);
      }
      if (q == MAP_FAILED) _exit(4);
      // Kernel: both ranges map the same pages.
      _exit(Check(static_cast<char*>(q), n, 3) && Check(p, n, 3) ? 0 : 5);
    });
    ASSERT_TRUE(WIFEXITED(status)) << "signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
}

// msync over a managed region and a native shared mapping beside it: 0, as
// the kernel answers, and the managed part is written back (it was not).
TEST_F(Shim, MsyncOverManagedAndNativeWritesTheManagedPartBack) {
  const size_t n = 16 * kPage;
  char* p = static_cast<char*>(
      mmap(nullptr, 2 * n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_TRUE(Managed(p));
  // Replace the second half with a native shared file mapping.
  FILE* f = tmpfile();
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(ftruncate(fileno(f), n), 0);
  ASSERT_EQ(mmap(p + n, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fileno(f), 0), p + n);
  ASSERT_FALSE(Managed(p + n));
  Fill(p, n, 9);
  Fill(p + n, n, 9);
  ASSERT_GT(Stat("dirty_bytes"), 0u);
  EXPECT_EQ(msync(p, 2 * n, MS_SYNC), 0) << strerror(errno);
  EXPECT_EQ(Stat("dirty_bytes"), 0u) << "the managed half was not written back";
  munmap(p, 2 * n);
  fclose(f);
}

}  // namespace
