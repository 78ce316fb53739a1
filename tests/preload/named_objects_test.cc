// SPDX-License-Identifier: MIT
// Program objects under eviction (issue 11, docs/named.md): POSIX shm
// objects and memfds the program makes, managed by the shim like anonymous
// regions. The kernel-semantics suites run under shmrun check the calls
// side by side with the kernel (tests/kernel/under_shmrun.sh); these check
// what only a managed object has: its pages evicted, read back by another
// process by name or by fd, across resize, pins and hand-back.
//
// The binary does not link libshm: it re-runs itself under shmrun (a
// session, where objects are managed), and reaches the shim's libshm_ctl
// through the dynamic linker.
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

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

class NamedObjects : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = "/libshm_named_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    shm_unlink(name_.c_str());
  }
  void TearDown() override { shm_unlink(name_.c_str()); }
  std::string name_;
};

char* MapFd(int fd, size_t len, int prot = PROT_READ | PROT_WRITE, int flags = MAP_SHARED,
            off_t off = 0) {
  void* p = mmap(nullptr, len, prot, flags, fd, off);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

void Fill(char* p, uint64_t first, uint64_t n, uint64_t version) {
  for (uint64_t i = 0; i < n; i++) FillPage(p + i * kPage, first + i, version);
}

// The first page of [first, first + n) that does not hold its pattern, or -1.
long FirstBad(const char* p, uint64_t first, uint64_t n, uint64_t version) {
  for (uint64_t i = 0; i < n; i++) {
    if (!CheckPage(p + i * kPage, first + i, version)) return static_cast<long>(first + i);
  }
  return -1;
}

// Makes object `name` of `pages` pages, each written with `version`, and
// unmaps it: *fd is left open.
void MakeWrittenObject(const std::string& name, uint64_t pages, uint64_t version, int* fd,
                       mode_t mode = 0600) {
  *fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, mode);
  ASSERT_GE(*fd, 0) << strerror(errno);
  ASSERT_EQ(ftruncate(*fd, static_cast<off_t>(pages * kPage)), 0) << strerror(errno);
  char* p = MapFd(*fd, pages * kPage);
  ASSERT_NE(p, nullptr) << strerror(errno);
  Fill(p, 0, pages, version);
  ASSERT_EQ(munmap(p, pages * kPage), 0);
}

// One fd over a unix socket (SCM_RIGHTS), as multiprocessing passes one.
bool SendFd(int sock, int fd) {
  char c = 'f';
  iovec iov = {&c, 1};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof(ctl);
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  return sendmsg(sock, &msg, 0) == 1;
}

// The fd SendFd sent, or -1.
int RecvFd(int sock) {
  char c;
  iovec iov = {&c, 1};
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof(ctl);
  if (recvmsg(sock, &msg, 0) != 1 || CMSG_FIRSTHDR(&msg) == nullptr) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
  return fd;
}

// An object larger than the limit, written and let go by every process,
// is evicted while nobody maps it, and a new process reads every byte back
// by name.
TEST_F(NamedObjects, AnObjectNobodyMapsIsEvictedAndReadBackByName) {
  const uint64_t pages = 4 * kLimit / kPage;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, pages, 1, &fd));
  ASSERT_EQ(close(fd), 0);
  EXPECT_GT(Stat("swap_outs"), pages / 2) << "an object 4x the limit must be evicted";
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit);
  EXPECT_GE(Stat("shm_objects"), 1u);
  int status = ForkAndWait([&] {
    int f = shm_open(name_.c_str(), O_RDWR, 0);
    if (f < 0) return 2;
    struct stat st;
    if (fstat(f, &st) != 0 || st.st_size != static_cast<off_t>(pages * kPage)) return 3;
    char* q = MapFd(f, pages * kPage);
    if (q == nullptr) return 4;
    return FirstBad(q, 0, pages, 1) == -1 ? 0 : 5;
  });
  EXPECT_EQ(status, 0) << DescribeChild(
      status, {{2, "shm_open"}, {3, "size"}, {4, "mmap"}, {5, "a page lost its data"}});
  EXPECT_GT(Stat("swap_ins"), 0u);
}

// The 1998 proposal's race, for a POSIX object: written, partly swapped,
// unmapped everywhere; swapoff brings it back and closes the swap file; a
// new process opens it by name and finds every byte.
TEST_F(NamedObjects, SwapoffFindsAnObjectNobodyMaps) {
  const uint64_t pages = kLimit / kPage / 2;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, pages, 7, &fd));
  ASSERT_EQ(close(fd), 0);
  EvictAll();
  ASSERT_GE(Stat("swapped_bytes"), pages * kPage) << "the object must be in swap first";
  uint64_t one = 1;
  ASSERT_EQ(libshm_ctl("swap.off", nullptr, nullptr, &one, sizeof(one)), 0);
  EXPECT_EQ(Stat("swapped_bytes"), 0u);
  EXPECT_EQ(Stat("swap_off"), 1u);
  int status = ForkAndWait([&] {
    int f = shm_open(name_.c_str(), O_RDONLY, 0);
    char* q = f < 0 ? nullptr : MapFd(f, pages * kPage, PROT_READ);
    if (q == nullptr) return 2;
    return FirstBad(q, 0, pages, 7) == -1 ? 0 : 3;
  });
  EXPECT_EQ(status, 0) << DescribeChild(status, {{2, "open/mmap"}, {3, "a page lost its data"}});
}

// Moving the swap file (ctl swap.dir) carries the slots of an object
// nobody maps: a new process reads every byte from the new file.
TEST_F(NamedObjects, ASwapMoveCarriesAnObjectNobodyMaps) {
  const uint64_t pages = 2 * kLimit / kPage;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, pages, 27, &fd));
  ASSERT_EQ(close(fd), 0);
  EvictAll();
  ASSERT_GE(Stat("swapped_bytes"), pages * kPage / 2);
  char dir[] = "/var/tmp/libshm-named-move.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  ASSERT_EQ(libshm_ctl("swap.dir", nullptr, nullptr, dir, strlen(dir) + 1), 0);
  int status = ForkAndWait([&] {
    int f = shm_open(name_.c_str(), O_RDWR, 0);
    char* q = f < 0 ? nullptr : MapFd(f, pages * kPage);
    if (q == nullptr) return 2;
    return FirstBad(q, 0, pages, 27) == -1 ? 0 : 3;
  });
  EXPECT_EQ(status, 0) << DescribeChild(status, {{2, "open/mmap"}, {3, "a page lost its data"}});
  rmdir(dir);  // the swap file in it is unlinked already
}

// ftruncate over swapped pages: growth keeps every page (the extent moves
// with its data) and the new pages read zeros; a shrink to a partial page
// zeroes that page's tail as the kernel does, and regrown pages are zeros.
TEST_F(NamedObjects, ResizeOverSwappedPagesKeepsDataAndZeroesWhatTheKernelZeroes) {
  const uint64_t pages = 3 * kLimit / kPage;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, pages, 3, &fd));
  char* p = nullptr;
  EvictAll();
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(2 * pages * kPage)), 0);
  p = MapFd(fd, 2 * pages * kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(FirstBad(p, 0, pages, 3), -1) << "growth lost a swapped page";
  std::vector<char> zeros(kPage, 0);
  for (uint64_t i = pages; i < 2 * pages; i += 97) {
    ASSERT_EQ(memcmp(p + i * kPage, zeros.data(), kPage), 0) << "new page " << i;
  }
  ASSERT_EQ(munmap(p, 2 * pages * kPage), 0);
  EvictAll();
  // Shrink to a page and 100 bytes, over swapped pages, then grow back.
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(kPage + 100)), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kPage + 100));
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(4 * kPage)), 0);
  p = MapFd(fd, 4 * kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(CheckPage(p, 0, 3));
  std::vector<char> page1(kPage);
  FillPage(page1.data(), 1, 3);
  EXPECT_EQ(memcmp(p + kPage, page1.data(), 100), 0) << "the kept part of the partial page";
  EXPECT_EQ(memcmp(p + kPage + 100, zeros.data(), kPage - 100), 0) << "its tail: zeros";
  EXPECT_EQ(memcmp(p + 2 * kPage, zeros.data(), kPage), 0) << "a regrown page: zeros";
  close(fd);
}

// A private or a read-only mapping cannot be registered: the object is
// pinned (brought back, kept), so neither reads an evicted page as zeros
// while other objects are evicted around it.
TEST_F(NamedObjects, PrivateAndReadOnlyMappersPinTheObject) {
  const uint64_t pages = kLimit / kPage / 4;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, pages, 5, &fd, 0644));
  EvictAll();
  int ro = shm_open(name_.c_str(), O_RDONLY, 0);
  ASSERT_GE(ro, 0);
  char* r = MapFd(ro, pages * kPage, PROT_READ);
  ASSERT_NE(r, nullptr) << strerror(errno);
  char* priv = MapFd(fd, pages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE);
  ASSERT_NE(priv, nullptr) << strerror(errno);
  EXPECT_EQ(Stat("pinned_objects"), 1u);
  // Pressure: an anonymous region twice the limit, written through.
  char* other = static_cast<char*>(
      mmap(nullptr, 2 * kLimit, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(other, MAP_FAILED);
  Fill(other, 0, 2 * kLimit / kPage, 9);
  EvictAll();
  EXPECT_EQ(FirstBad(r, 0, pages, 5), -1) << "a read-only mapper read an evicted page";
  EXPECT_EQ(FirstBad(priv, 0, pages, 5), -1) << "a private mapper read an evicted page";
  EXPECT_EQ(FirstBad(other, 0, 2 * kLimit / kPage, 9), -1);
  close(ro);
  close(fd);
}

// PyTorch's DataLoader: a worker makes an object, writes a byte through
// the fd, maps it, fills it, unlinks it, unmaps it and passes the fd on; the
// receiver maps it. In flight it is held by nothing the helper sees, and
// stays managed (evicted, read back) rather than being handed back.
TEST_F(NamedObjects, AnFdPassedOnAfterItsSenderUnmappedStaysManaged) {
  const uint64_t pages = 2 * kLimit / kPage;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
  int status = ForkAndWait([&] {
    int f = shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    if (f < 0 || ftruncate(f, static_cast<off_t>(pages * kPage)) != 0) return 2;
    if (write(f, "", 1) != 1) return 3;  // as torch does, through the fd
    char* q = MapFd(f, pages * kPage);
    if (q == nullptr) return 4;
    Fill(q, 0, pages, 11);
    if (shm_unlink(name_.c_str()) != 0 || munmap(q, pages * kPage) != 0) return 5;
    return SendFd(sv[1], f) ? 0 : 6;
  });
  ASSERT_EQ(status, 0) << DescribeChild(
      status, {{2, "create"}, {3, "write"}, {4, "mmap"}, {5, "unlink/munmap"}, {6, "sendmsg"}});
  int fd = RecvFd(sv[0]);
  ASSERT_GE(fd, 0);
  char* p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr);
  EvictAll();
  EXPECT_EQ(FirstBad(p, 0, pages, 11), -1);
  EXPECT_EQ(Stat("handed_back"), 0u) << "the object in flight was handed back";
  EXPECT_EQ(Stat("pinned_objects"), 0u);
  EXPECT_GT(Stat("swap_ins"), 0u) << "the receiver's mapping was not managed";
  close(fd);
  close(sv[0]);
  close(sv[1]);
}

// An unlinked object that only an fd holds stays managed as long as the
// fd is open (the kernel keeps it; so does the helper: its hold probe sees
// the fd), and is freed, with its swap, once nothing holds it.
TEST_F(NamedObjects, AnUnlinkedObjectLivesWhileAnFdHoldsItAndIsFreedAfter) {
  const uint64_t pages = kLimit / kPage / 2;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, pages, 13, &fd));
  char* p = nullptr;
  EvictAll();
  ASSERT_EQ(shm_unlink(name_.c_str()), 0);
  ASSERT_GE(Stat("swapped_bytes"), pages * kPage);
  sleep(2);  // two turns of the helper's housekeeping
  EXPECT_EQ(Stat("program_objects"), 1u) << "an object an fd holds was let go";
  EXPECT_EQ(Stat("objects_freed"), 0u);
  EXPECT_EQ(Stat("handed_back"), 0u);
  uint64_t ins = Stat("swap_ins");
  p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(FirstBad(p, 0, pages, 13), -1);
  EXPECT_GE(Stat("swap_ins"), ins + pages) << "the mapping is managed: read from swap";
  ASSERT_EQ(munmap(p, pages * kPage), 0);
  ASSERT_EQ(close(fd), 0);
  for (int i = 0; i < 50 && Stat("objects_freed") == 0; i++) usleep(100 * 1000);
  EXPECT_EQ(Stat("objects_freed"), 1u);
  EXPECT_EQ(Stat("program_objects"), 0u);
  EXPECT_EQ(Stat("swapped_bytes"), 0u);
  EXPECT_EQ(Stat("swap_reserved_bytes"), 0u) << "its extent was not given back";
  EXPECT_EQ(Stat("handed_back"), 0u) << "nothing held it: no pages to give back";
}

// Where the helper cannot tell who holds an object (the probe is off: test
// hook, as on a kernel without leases), an object nothing it sees holds is
// handed back to the kernel whole after its grace period: its swapped pages
// go into the memfd, and a later mapping reads them.
TEST_F(NamedObjects, WithoutTheHoldProbeAnObjectIsHandedBackWhole) {
  ASSERT_NE(getenv("LIBSHM_TEST_NO_HOLD_PROBE"), nullptr) << "main() sets it for this test";
  const uint64_t pages = kLimit / kPage / 2;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, pages, 13, &fd));
  char* p = nullptr;
  EvictAll();
  ASSERT_EQ(shm_unlink(name_.c_str()), 0);
  uint64_t swapped = Stat("swapped_bytes");
  ASSERT_GE(swapped, pages * kPage);
  // main() sets the grace to 1 s; the helper looks once a second.
  for (int i = 0; i < 50 && Stat("handed_back") == 0; i++) usleep(100 * 1000);
  ASSERT_EQ(Stat("handed_back"), 1u);
  EXPECT_EQ(Stat("swapped_bytes"), swapped - pages * kPage);
  p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(FirstBad(p, 0, pages, 13), -1);
  close(fd);
}

// File I/O on an object whose pages are in swap: the kernel alone would
// read zeros, and a pwrite would leave the rest of its page zeros. The shim
// does such I/O through a mapping, so both see and keep the data.
TEST_F(NamedObjects, FileIoOnSwappedPagesSeesAndKeepsTheirData) {
  const uint64_t pages = 3 * kLimit / kPage;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, pages, 21, &fd));
  char* p = nullptr;
  EvictAll();
  ASSERT_GE(Stat("swapped_bytes"), pages * kPage);
  std::vector<char> page(kPage), want(kPage);
  ASSERT_EQ(pread(fd, page.data(), kPage, 5 * kPage), static_cast<ssize_t>(kPage));
  EXPECT_TRUE(CheckPage(page.data(), 5, 21)) << "pread of a swapped page";
  ASSERT_EQ(pwrite(fd, "0123456789", 10, 7 * kPage + 50), 10);
  ASSERT_EQ(lseek(fd, 9 * kPage, SEEK_SET), static_cast<off_t>(9 * kPage));
  ASSERT_EQ(read(fd, page.data(), kPage), static_cast<ssize_t>(kPage));
  EXPECT_TRUE(CheckPage(page.data(), 9, 21)) << "read of a swapped page";
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), static_cast<off_t>(10 * kPage)) << "read moves the offset";
  ASSERT_EQ(write(fd, "abc", 3), 3);
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), static_cast<off_t>(10 * kPage + 3));
  EvictAll();
  p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr);
  FillPage(want.data(), 7, 21);
  memcpy(want.data() + 50, "0123456789", 10);
  EXPECT_EQ(memcmp(p + 7 * kPage, want.data(), kPage), 0) << "pwrite into a swapped page";
  FillPage(want.data(), 10, 21);
  memcpy(want.data(), "abc", 3);
  EXPECT_EQ(memcmp(p + 10 * kPage, want.data(), kPage), 0) << "write into a swapped page";
  EXPECT_EQ(FirstBad(p + 11 * kPage, 11, pages - 11, 21), -1);
  // Past the end: pread says 0, pwrite grows the object as the kernel does.
  EXPECT_EQ(pread(fd, page.data(), kPage, static_cast<off_t>(pages * kPage)), 0);
  ASSERT_EQ(pwrite(fd, "z", 1, static_cast<off_t>(pages * kPage + 10)), 1);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(pages * kPage + 11));
  close(fd);
}

// The vector calls (readv, writev, preadv, pwritev, preadv2, pwritev2) go
// through registered mappings as read and write do: swapped pages are seen
// and kept. The calls that copy between files in the kernel (sendfile,
// splice, copy_file_range) would read a swapped page as a hole, or hide its
// slot under a write: they pin the object first, then are the kernel's.
TEST_F(NamedObjects, VectorAndKernelCopyIoOnSwappedPagesSeesAndKeepsTheirData) {
  const uint64_t pages = 3 * kLimit / kPage;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, pages, 22, &fd));
  EvictAll();
  ASSERT_GE(Stat("swapped_bytes"), pages * kPage);
  std::vector<char> a(kPage), b(2 * kPage);
  struct iovec iov[2] = {{a.data(), kPage}, {b.data(), 2 * kPage}};
  ASSERT_EQ(preadv(fd, iov, 2, 4 * kPage), static_cast<ssize_t>(3 * kPage));
  EXPECT_TRUE(CheckPage(a.data(), 4, 22)) << "preadv of a swapped page";
  EXPECT_TRUE(CheckPage(b.data(), 5, 22));
  EXPECT_TRUE(CheckPage(b.data() + kPage, 6, 22));
  ASSERT_EQ(lseek(fd, 8 * kPage, SEEK_SET), static_cast<off_t>(8 * kPage));
  ASSERT_EQ(readv(fd, iov, 2), static_cast<ssize_t>(3 * kPage));
  EXPECT_TRUE(CheckPage(a.data(), 8, 22)) << "readv of a swapped page";
  EXPECT_TRUE(CheckPage(b.data() + kPage, 10, 22));
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), static_cast<off_t>(11 * kPage)) << "readv moves the offset";
  ASSERT_EQ(preadv2(fd, iov, 1, 12 * kPage, 0), static_cast<ssize_t>(kPage));
  EXPECT_TRUE(CheckPage(a.data(), 12, 22)) << "preadv2 of a swapped page";
  char x[] = "xyz", y[] = "0123";
  struct iovec w[2] = {{x, 3}, {y, 4}};
  ASSERT_EQ(pwritev(fd, w, 2, 13 * kPage + 100), 7);
  ASSERT_EQ(lseek(fd, 14 * kPage + 5, SEEK_SET), static_cast<off_t>(14 * kPage + 5));
  ASSERT_EQ(writev(fd, w, 2), 7);
  ASSERT_EQ(pwritev2(fd, w, 1, 15 * kPage, 0), 3);
  EvictAll();
  char* p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr);
  std::vector<char> want(kPage);
  FillPage(want.data(), 13, 22);
  memcpy(want.data() + 100, "xyz0123", 7);
  EXPECT_EQ(memcmp(p + 13 * kPage, want.data(), kPage), 0) << "pwritev into a swapped page";
  FillPage(want.data(), 14, 22);
  memcpy(want.data() + 5, "xyz0123", 7);
  EXPECT_EQ(memcmp(p + 14 * kPage, want.data(), kPage), 0) << "writev into a swapped page";
  FillPage(want.data(), 15, 22);
  memcpy(want.data(), "xyz", 3);
  EXPECT_EQ(memcmp(p + 15 * kPage, want.data(), kPage), 0) << "pwritev2 into a swapped page";
  ASSERT_EQ(munmap(p, pages * kPage), 0);
  // Copies in the kernel: each pins the object it reads or writes, which
  // must fit (ENOMEM: this one is 3x the limit), then is the kernel's.
  off_t big_off = 0;
  EXPECT_EQ(sendfile(fd, fd, &big_off, kPage), -1);
  EXPECT_EQ(errno, ENOMEM);
  close(fd);
  shm_unlink(name_.c_str());
  const uint64_t small = kLimit / kPage / 4;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, small, 22, &fd));
  EvictAll();
  ASSERT_GE(Stat("swapped_bytes"), small * kPage);
  const uint64_t pinned = Stat("pinned_objects");
  char path[] = "/tmp/libshm-named-copy.XXXXXX";
  int file = mkstemp(path);
  ASSERT_GE(file, 0);
  unlink(path);
  off_t in_off = 20 * kPage;
  ASSERT_EQ(sendfile(file, fd, &in_off, kPage), static_cast<ssize_t>(kPage)) << strerror(errno);
  EXPECT_EQ(Stat("pinned_objects"), pinned + 1);
  EXPECT_EQ(in_off, static_cast<off_t>(21 * kPage));
  ASSERT_EQ(pread(file, a.data(), kPage, 0), static_cast<ssize_t>(kPage));
  EXPECT_TRUE(CheckPage(a.data(), 20, 22)) << "sendfile from a swapped page";
  // Within one file system only (EXDEV to /tmp): into another memfd, which
  // is managed and pinned too.
  int copy = memfd_create("libshm-named-copy", MFD_CLOEXEC);
  ASSERT_GE(copy, 0);
  loff_t from = 21 * kPage, to = 0;
  ASSERT_EQ(copy_file_range(fd, &from, copy, &to, kPage, 0), static_cast<ssize_t>(kPage))
      << strerror(errno);
  EXPECT_EQ(Stat("pinned_objects"), pinned + 2);
  ASSERT_EQ(pread(copy, a.data(), kPage, 0), static_cast<ssize_t>(kPage));
  EXPECT_TRUE(CheckPage(a.data(), 21, 22)) << "copy_file_range from a swapped page";
  close(copy);
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  loff_t splice_off = 22 * kPage;
  ASSERT_EQ(splice(fd, &splice_off, pipefd[1], nullptr, kPage, 0), static_cast<ssize_t>(kPage));
  ASSERT_EQ(read(pipefd[0], a.data(), kPage), static_cast<ssize_t>(kPage));
  EXPECT_TRUE(CheckPage(a.data(), 22, 22)) << "splice from a swapped page";
  const uint64_t outs = Stat("swap_outs");
  EvictAll();
  EXPECT_EQ(Stat("swap_outs"), outs) << "a pinned object was evicted";
  close(pipefd[0]);
  close(pipefd[1]);
  close(file);
  close(fd);
}

// File I/O through every descriptor of an object, not only the one
// shm_open gave: a dup, dup2 or F_DUPFD copy, one received by SCM_RIGHTS
// (with nothing mapped), one inherited across exec. Each reads the swapped
// pages' data and writes into them without hiding the rest of the page.
TEST_F(NamedObjects, FileIoThroughCopiedReceivedAndInheritedDescriptorsSeesSwappedPages) {
  const uint64_t pages = 2 * kLimit / kPage;
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, pages, 24, &fd));
  EvictAll();
  ASSERT_GE(Stat("swapped_bytes"), pages * kPage);
  std::vector<char> page(kPage);
  auto read_page = [&](int from, uint64_t at) {
    return pread(from, page.data(), kPage, static_cast<off_t>(at * kPage)) ==
               static_cast<ssize_t>(kPage) &&
           CheckPage(page.data(), at, 24);
  };
  int copy = dup(fd);
  ASSERT_GE(copy, 0);
  EXPECT_TRUE(read_page(copy, 3)) << "dup";
  ASSERT_EQ(dup2(fd, 200), 200);
  EXPECT_TRUE(read_page(200, 4)) << "dup2";
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 300);
  ASSERT_GE(high, 300);
  EXPECT_TRUE(read_page(high, 5)) << "F_DUPFD_CLOEXEC";
  ASSERT_EQ(pwrite(copy, "dup!", 4, 6 * kPage + 8), 4);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  {
    char byte = 'f';
    struct iovec iov = {&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr m = {};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    ASSERT_EQ(sendmsg(sv[0], &m, 0), 1);
  }
  int status = ForkAndWait([&] {
    char byte;
    struct iovec iov = {&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr m = {};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof(control);
    close(fd);
    close(copy);
    close(200);
    close(high);
    if (recvmsg(sv[1], &m, 0) != 1) return 2;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (c == nullptr || c->cmsg_type != SCM_RIGHTS) return 2;
    int got;
    memcpy(&got, CMSG_DATA(c), sizeof(int));
    if (!read_page(got, 7)) return 3;
    return pwrite(got, "rcv!", 4, 8 * kPage + 8) == 4 ? 0 : 4;
  });
  EXPECT_EQ(status, 0) << DescribeChild(
      status, {{2, "recvmsg"}, {3, "read through a received descriptor"}, {4, "pwrite"}});
  // Inherited across exec: the new program reads page 9 and writes page 10.
  status = ForkAndWait([&] {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return 2;
    self[n] = '\0';
    std::string arg = std::to_string(copy);
    execl(self, self, "--inherited-object-io", arg.c_str(), static_cast<char*>(nullptr));
    return 2;
  });
  EXPECT_EQ(status, 0) << DescribeChild(
      status, {{2, "exec"}, {3, "read through an inherited descriptor"}, {4, "pwrite"}});
  EvictAll();
  char* p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr);
  std::vector<char> want(kPage);
  for (uint64_t at : {6, 8, 10}) {
    FillPage(want.data(), at, 24);
    memcpy(want.data() + 8, at == 6 ? "dup!" : at == 8 ? "rcv!" : "exe!", 4);
    EXPECT_EQ(memcmp(p + at * kPage, want.data(), kPage), 0) << "a write into swapped page " << at;
  }
  EXPECT_EQ(FirstBad(p + 11 * kPage, 11, pages - 11, 24), -1);
  close(sv[0]);
  close(sv[1]);
  close(high);
  close(200);
  close(copy);
  close(fd);
}

// A number that named an object and now names another file (dup2 over
// it, as a program that reuses descriptors does; PostgreSQL's signalfd got
// one) reads and writes that file, not the object: "unexpected EOF on
// signalfd" in PostgreSQL's log was the shim's.
TEST_F(NamedObjects, AReusedDescriptorIsNoLongerTheObject) {
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, 4, 23, &fd));
  char* p = MapFd(fd, 4 * kPage);  // the shim has seen fd name an object
  ASSERT_NE(p, nullptr);
  int efd = eventfd(5, EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  ASSERT_EQ(dup2(efd, fd), fd);
  uint64_t v = 0;
  ASSERT_EQ(read(fd, &v, sizeof(v)), static_cast<ssize_t>(sizeof(v))) << strerror(errno);
  EXPECT_EQ(v, 5u);
  v = 7;
  ASSERT_EQ(write(fd, &v, sizeof(v)), static_cast<ssize_t>(sizeof(v)));
  ASSERT_EQ(read(efd, &v, sizeof(v)), static_cast<ssize_t>(sizeof(v)));
  EXPECT_EQ(v, 7u);
  EXPECT_TRUE(CheckPage(p + 3 * kPage, 3, 23));
  close(efd);
  close(fd);
}

// An object grown behind the shim's back (a raw ftruncate) to more than
// the swap can hold (main() caps it with LIBSHM_SWAP_MAX for this test) has
// pages with no slot: it is pinned, never evicted into another region's
// slots, and every byte of it and of an evicted region stays.
TEST_F(NamedObjects, ARawGrowthWithoutSwapPinsTheObject) {
  ASSERT_NE(getenv("LIBSHM_SWAP_MAX"), nullptr) << "main() sets it for this test";
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, 4, 25, &fd));
  const uint64_t pages = 16 << 20 >> 12;  // 16 MiB: the cap is 12 MiB
  ASSERT_EQ(syscall(SYS_ftruncate, fd, static_cast<long>(pages * kPage)), 0);
  char* p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr) << strerror(errno);
  Fill(p + 4 * kPage, 4, pages - 4, 25);  // faults past the size the helper knew
  EXPECT_EQ(Stat("pinned_objects"), 1u);
  char* other = static_cast<char*>(
      mmap(nullptr, kLimit, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(other, MAP_FAILED);
  Fill(other, 0, kLimit / kPage, 26);
  EvictAll();
  EXPECT_EQ(FirstBad(p, 0, pages, 25), -1);
  EXPECT_EQ(FirstBad(other, 0, kLimit / kPage, 26), -1);
  close(fd);
}

// A mapping grown by mremap past the object's end, then the object grown:
// the grown part must be registered too, or a read through it of a page
// evicted meanwhile fills a zero page into the object for every mapper.
TEST_F(NamedObjects, AMappingGrownPastTheEndStaysManagedWhenTheObjectGrows) {
  int fd = -1;
  ASSERT_NO_FATAL_FAILURE(MakeWrittenObject(name_, 4, 29, &fd));
  char* a = MapFd(fd, 4 * kPage);
  ASSERT_NE(a, nullptr);
  a = static_cast<char*>(mremap(a, 4 * kPage, 8 * kPage, MREMAP_MAYMOVE));
  ASSERT_NE(a, MAP_FAILED) << strerror(errno);
  ASSERT_EQ(ftruncate(fd, 8 * kPage), 0);
  char* b = MapFd(fd, 8 * kPage);
  ASSERT_NE(b, nullptr);
  Fill(b + 4 * kPage, 4, 4, 29);
  EvictAll();
  EXPECT_EQ(FirstBad(a, 0, 8, 29), -1) << "read through the grown part";
  EXPECT_EQ(FirstBad(b, 0, 8, 29), -1) << "the object itself";
  close(fd);
}

// memfd_create'd memory is managed like a POSIX object (no name), and
// posix_fallocate sizes an object without putting it in memory.
TEST_F(NamedObjects, MemfdAndPosixFallocateAreManagedUnderTheLimit) {
  const uint64_t pages = 3 * kLimit / kPage;
  int fd = memfd_create("libshm-named-test", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(posix_fallocate(fd, 0, static_cast<off_t>(pages * kPage)), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(pages * kPage));
  EXPECT_LE(st.st_blocks * 512, static_cast<blkcnt_t>(kLimit)) << "fallocate filled memory";
  char* p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr);
  Fill(p, 0, pages, 17);
  EXPECT_EQ(FirstBad(p, 0, pages, 17), -1);
  EXPECT_GT(Stat("swap_outs"), 0u);
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit);
  EXPECT_GE(Stat("objects_made"), 1u);
  close(fd);
}

// A pinned object's pages that fill in after the pin (written through a
// registered mapping) go to the policy with their faults; when they are
// named as victims the evictor passes them by. A batch of nothing but such
// pages once made direct reclaim give up and serve faults above the limit.
TEST_F(NamedObjects, PagesOfAPinnedObjectNeverTakeTheSessionPastItsLimit) {
  const uint64_t pages = kLimit / kPage / 2;
  int fd = shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(pages * kPage)), 0);
  char* priv = MapFd(fd, pages * kPage, PROT_READ, MAP_PRIVATE);  // pins it, empty
  ASSERT_NE(priv, nullptr) << strerror(errno);
  char* p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr) << strerror(errno);
  Fill(p, 0, pages, 11);  // every page fills in after the pin
  const uint64_t other_pages = 2 * kLimit / kPage;
  char* other = static_cast<char*>(mmap(nullptr, other_pages * kPage, PROT_READ | PROT_WRITE,
                                        MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(other, MAP_FAILED);
  for (int round = 0; round < 3; round++) Fill(other, 0, other_pages, 12 + round);
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit);
  EXPECT_EQ(FirstBad(p, 0, pages, 11), -1);
  EXPECT_EQ(FirstBad(other, 0, other_pages, 14), -1);
  munmap(other, other_pages * kPage);
  munmap(p, pages * kPage);
  munmap(priv, pages * kPage);
  close(fd);
}

// A sealable memfd (MFD_ALLOW_SEALING: Wayland, systemd) is managed like
// any other: evicted under the limit. A write seal (F_SEAL_WRITE, or
// F_SEAL_FUTURE_WRITE with a writable mapping left) forbids the punch that
// eviction is and the pwrite that brings a page back, so the shim pins the
// object first: every page back in memory, none evicted again, a page never
// written still reads zeros; the seals are the kernel's. A seal whose pin
// cannot fit under the limit is ENOMEM and leaves the memfd unsealed.
TEST_F(NamedObjects, ASealableMemfdIsManagedAndAWriteSealPinsItFirst) {
  const uint64_t pages = kLimit / kPage / 4;
  const uint64_t made = Stat("objects_made"), pinned = Stat("pinned_objects");
  int fd = memfd_create("libshm-sealed", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_EQ(Stat("objects_made"), made + 1) << "a sealable memfd is managed";
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(pages * kPage)), 0);
  char* p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr) << strerror(errno);
  Fill(p, 0, pages - 1, 6);  // the last page is never written
  ASSERT_EQ(munmap(p, pages * kPage), 0);
  const uint64_t swapped = Stat("swapped_bytes");
  EvictAll();
  ASSERT_GE(Stat("swapped_bytes"), swapped + (pages - 1) * kPage) << "it was not evicted";
  ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK), 0) << strerror(errno);
  EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_WRITE | F_SEAL_SHRINK);
  EXPECT_EQ(Stat("pinned_objects"), pinned + 1);
  EXPECT_LE(Stat("swapped_bytes"), swapped) << "the seal's pin brings every page back";
  EXPECT_EQ(pwrite(fd, "x", 1, 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(MapFd(fd, kPage), nullptr);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(ftruncate(fd, kPage), -1);
  EXPECT_EQ(errno, EPERM);
  const uint64_t outs = Stat("swap_outs");
  EvictAll();
  EXPECT_EQ(Stat("swap_outs"), outs) << "a page of the sealed memfd was evicted";
  char* r = MapFd(fd, pages * kPage, PROT_READ);
  ASSERT_NE(r, nullptr) << strerror(errno);
  EXPECT_EQ(FirstBad(r, 0, pages - 1, 6), -1);
  for (uint64_t i = 0; i < kPage; i++) ASSERT_EQ(r[(pages - 1) * kPage + i], 0) << i;
  char c = 0;
  ASSERT_EQ(pread(fd, &c, 1, kPage), 1);
  EXPECT_EQ(c, r[kPage]);
  // F_SEAL_FUTURE_WRITE: a writable mapping made before it still writes,
  // and its writes are kept.
  int fw = memfd_create("libshm-future", MFD_ALLOW_SEALING);
  ASSERT_GE(fw, 0);
  ASSERT_EQ(ftruncate(fw, static_cast<off_t>(pages * kPage)), 0);
  char* w = MapFd(fw, pages * kPage);
  ASSERT_NE(w, nullptr);
  Fill(w, 0, pages, 7);
  EvictAll();
  ASSERT_EQ(fcntl(fw, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), 0) << strerror(errno);
  Fill(w, 0, pages, 8);
  EvictAll();
  EXPECT_EQ(FirstBad(w, 0, pages, 8), -1);
  EXPECT_EQ(pwrite(fw, "x", 1, 0), -1);
  EXPECT_EQ(errno, EPERM);
  // Sealed through a copy the shim never saw (a raw dup): still pinned first.
  int raw = memfd_create("libshm-raw", MFD_ALLOW_SEALING);
  ASSERT_GE(raw, 0);
  ASSERT_EQ(ftruncate(raw, static_cast<off_t>(pages * kPage)), 0);
  char* rw = MapFd(raw, pages * kPage);
  ASSERT_NE(rw, nullptr);
  Fill(rw, 0, pages, 10);
  ASSERT_EQ(munmap(rw, pages * kPage), 0);
  EvictAll();
  int unseen = static_cast<int>(syscall(SYS_dup, raw));
  ASSERT_GE(unseen, 0);
  ASSERT_EQ(fcntl(unseen, F_ADD_SEALS, F_SEAL_WRITE), 0) << strerror(errno);
  char* rr = MapFd(raw, pages * kPage, PROT_READ);
  ASSERT_NE(rr, nullptr) << strerror(errno);
  EXPECT_EQ(FirstBad(rr, 0, pages, 10), -1) << "sealed through an unseen copy";
  close(unseen);
  close(raw);
  // Too big to pin: ENOMEM, not sealed, still managed and whole.
  const uint64_t big_pages = 2 * kLimit / kPage;
  int big = memfd_create("libshm-big", MFD_ALLOW_SEALING);
  ASSERT_GE(big, 0);
  ASSERT_EQ(ftruncate(big, static_cast<off_t>(big_pages * kPage)), 0);
  char* b = MapFd(big, big_pages * kPage);
  ASSERT_NE(b, nullptr);
  Fill(b, 0, big_pages, 9);
  ASSERT_EQ(munmap(b, big_pages * kPage), 0);
  EXPECT_EQ(fcntl(big, F_ADD_SEALS, F_SEAL_WRITE), -1);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(fcntl(big, F_GET_SEALS), 0);
  b = MapFd(big, big_pages * kPage, PROT_READ);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(FirstBad(b, 0, big_pages, 9), -1);
  EXPECT_LE(Stat("peak_resident_bytes"), kLimit);
  close(big);
  close(fw);
  close(fd);
}

// fallocate(PUNCH_HOLE | KEEP_SIZE) on an object's fd, as stress-ng --memfd
// does: the punched bytes read zeros afterwards, as the kernel makes them,
// whether the page was swapped out (its slot must not come back), resident,
// or partly punched (the rest of the page kept); the pages around are kept.
TEST_F(NamedObjects, PunchingAHoleReadsZerosOverSwappedAndResidentPages) {
  const uint64_t pages = 2 * kLimit / kPage;
  int fd = memfd_create("libshm-named-punch", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(pages * kPage)), 0);
  char* p = MapFd(fd, pages * kPage);
  ASSERT_NE(p, nullptr);
  Fill(p, 0, pages, 23);
  EvictAll();
  ASSERT_GE(Stat("swapped_bytes"), 16 * kPage) << "the object must be in swap first";
  ASSERT_TRUE(CheckPage(p + 40 * kPage, 40, 23));  // page 40 resident again
  const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  ASSERT_EQ(fallocate(fd, punch, static_cast<off_t>(kPage), static_cast<off_t>(8 * kPage)), 0)
      << strerror(errno);
  ASSERT_EQ(fallocate(fd, punch, static_cast<off_t>(20 * kPage + 100), 200), 0);
  ASSERT_EQ(fallocate(fd, punch, static_cast<off_t>(40 * kPage), static_cast<off_t>(kPage)), 0);
  // Page 30 read back (clean: its swap copy still valid), punched in part,
  // then evicted again: the punched bytes must not come back from that copy.
  ASSERT_TRUE(CheckPage(p + 30 * kPage, 30, 23));
  ASSERT_EQ(fallocate(fd, punch, static_cast<off_t>(30 * kPage + 1000), 50), 0);
  EvictAll();
  std::vector<char> page30(kPage);
  FillPage(page30.data(), 30, 23);
  memset(page30.data() + 1000, 0, 50);
  EXPECT_EQ(memcmp(p + 30 * kPage, page30.data(), kPage), 0) << "page 30: 50 bytes punched";
  std::vector<char> zeros(kPage, 0);
  for (uint64_t i = 1; i < 9; i++) {
    EXPECT_EQ(memcmp(p + i * kPage, zeros.data(), kPage), 0) << "swapped page " << i << " punched";
  }
  EXPECT_EQ(memcmp(p + 40 * kPage, zeros.data(), kPage), 0) << "resident page 40 punched";
  std::vector<char> page20(kPage);
  FillPage(page20.data(), 20, 23);
  memset(page20.data() + 100, 0, 200);
  EXPECT_EQ(memcmp(p + 20 * kPage, page20.data(), kPage), 0) << "page 20: 200 bytes punched";
  EXPECT_EQ(FirstBad(p, 0, 1, 23), -1);
  EXPECT_EQ(FirstBad(p + 9 * kPage, 9, 11, 23), -1);
  EXPECT_EQ(FirstBad(p + 21 * kPage, 21, 9, 23), -1);
  EXPECT_EQ(FirstBad(p + 31 * kPage, 31, 9, 23), -1);
  EXPECT_EQ(FirstBad(p + 41 * kPage, 41, pages - 41, 23), -1);
  // A new process reads the object through its own mapping: the same.
  int status = ForkAndWait([&] {
    char* q = MapFd(fd, pages * kPage, PROT_READ);
    if (q == nullptr) return 2;
    return memcmp(q + 2 * kPage, zeros.data(), kPage) == 0 &&
                   memcmp(q + 20 * kPage, page20.data(), kPage) == 0 &&
                   FirstBad(q + 9 * kPage, 9, 11, 23) == -1
               ? 0
               : 3;
  });
  EXPECT_EQ(status, 0) << DescribeChild(status, {{2, "mmap"}, {3, "wrong data"}});
  munmap(p, pages * kPage);
  close(fd);
}

}  // namespace
}  // namespace libshm::test

// Runs the tests under shmrun (a session: objects are managed only there),
// with an 8 MiB limit, a 1 s grace for objects whose holders cannot be
// probed, and the probe off for the hand-back test.
int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--inherited-object-io") == 0) {
    // For FileIoThroughCopiedReceivedAndInheritedDescriptorsSeesSwappedPages:
    // page 9 of the object read, "exe!" written into page 10.
    int fd = atoi(argv[2]);
    std::vector<char> page(4096);
    if (pread(fd, page.data(), 4096, 9 * 4096) != 4096 ||
        !libshm::test::CheckPage(page.data(), 9, 24)) {
      return 3;
    }
    return pwrite(fd, "exe!", 4, 10 * 4096 + 8) == 4 ? 0 : 4;
  }
  if (getenv("LIBSHM_SESSION") == nullptr) {
    setenv("LIBSHM_TEST_ORPHAN_GRACE_US", "1000000", 1);
    // Under CTest each test runs alone: the hand-back test turns the hold
    // probe off, the growth-without-swap test caps the swap file.
    for (int i = 1; i < argc; i++) {
      if (strstr(argv[i], "--gtest_filter=") != argv[i]) continue;
      if (strstr(argv[i], "HandedBack") != nullptr) setenv("LIBSHM_TEST_NO_HOLD_PROBE", "1", 1);
      if (strstr(argv[i], "WithoutSwap") != nullptr) setenv("LIBSHM_SWAP_MAX", "12M", 1);
    }
  }
  int status;
  if (libshm::test::ReexecUnderShmrun(argc, argv, LIBSHM_SHMRUN_PATH, "8M", &status)) return status;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
