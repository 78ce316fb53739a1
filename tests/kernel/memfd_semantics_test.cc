// SPDX-License-Identifier: MIT
// What memfd_create and file seals do on this kernel: names, flags, the mode
// and seals a new memfd starts with (MFD_ALLOW_SEALING, MFD_NOEXEC_SEAL,
// MFD_EXEC), and what F_SEAL_SHRINK/GROW/WRITE/FUTURE_WRITE/EXEC refuse:
// ftruncate, write, fallocate, hole punching (eviction's tool), mmap and
// mprotect. Nothing of libshm runs here: these are the answers issue 11's
// side-by-side tests hold libshm to (docs/named_kernel_facts.md).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <setjmp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <fstream>
#include <string>
#include <thread>

#include "kernel_probe.h"

// Newer than the machine's 6.1 headers.
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

namespace libshm::test {
namespace {

int Memfd(const char* name, unsigned flags) {
  // glibc's memfd_create (the system call itself), so that a run under
  // shmrun goes through the shim: plain memfds are managed there.
  return memfd_create(name, flags);
}

int Punch(int fd, off_t off, off_t len) {
  return Err(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len));
}

// A sealable memfd of `pages` pages, each page's first byte = 'a' + page.
int Sealable(size_t pages) {
  int fd = Memfd("sealed", MFD_ALLOW_SEALING | MFD_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(ftruncate(fd, pages * kPage), 0);
  for (size_t i = 0; i < pages; i++) {
    char c = static_cast<char>('a' + i);
    EXPECT_EQ(pwrite(fd, &c, 1, i * kPage), 1);
  }
  return fd;
}

TEST(Memfd, KernelVersionAndSysctl) {
  utsname u;
  ASSERT_EQ(uname(&u), 0);
  RecordProperty("kernel", u.release);
  std::ifstream in("/proc/sys/vm/memfd_noexec");
  ASSERT_TRUE(in) << "vm.memfd_noexec (6.3+) is missing on " << u.release;
  int v = -1;
  in >> v;
  // 0: memfds are executable unless MFD_NOEXEC_SEAL is asked for.
  EXPECT_EQ(v, 0) << "the facts below assume vm.memfd_noexec=0";
}

TEST(Memfd, NamesAndFlags) {
  EXPECT_GE(Memfd("", 0), 0);
  EXPECT_GE(Memfd("a/b", 0), 0);  // any bytes: the name is only a label
  EXPECT_GE(Memfd("../x", 0), 0);
  EXPECT_GE(Memfd(std::string(249, 'n').c_str(), 0), 0);  // NAME_MAX - strlen("memfd:")
  EXPECT_EQ(Err(Memfd(std::string(250, 'n').c_str(), 0)), EINVAL);
  EXPECT_EQ(Err(Memfd("x", 0x40)), EINVAL);  // unknown flag
  EXPECT_EQ(Err(Memfd("x", MFD_EXEC | MFD_NOEXEC_SEAL)), EINVAL);
  int fd = Memfd("label", MFD_CLOEXEC);
  EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_EQ(fcntl(Memfd("label", 0), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_nlink, 0u);  // never had a name in any directory
  EXPECT_EQ(st.st_uid, geteuid());
  // /proc/PID/maps: "/memfd:<name> (deleted)".
  ASSERT_EQ(ftruncate(fd, kPage), 0);
  void* p = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd, 0);
  EXPECT_EQ(MapsPath(MapsLine(p)), "/memfd:label (deleted)");
  // /proc/self/fd/N reopens the same inode with a new open file description.
  int again = open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDWR);
  ASSERT_GE(again, 0);
  struct stat st2;
  fstat(again, &st2);
  EXPECT_EQ(st.st_ino, st2.st_ino);
}

TEST(Memfd, ModeAndInitialSeals) {
  struct Case {
    unsigned flags;
    mode_t mode;
    int seals;
    int add_grow;  // errno of F_ADD_SEALS(F_SEAL_GROW)
  };
  // With vm.memfd_noexec=0: no exec flag = MFD_EXEC (0777). MFD_NOEXEC_SEAL
  // gives 0666 and F_SEAL_EXEC, and sealing is then allowed without
  // MFD_ALLOW_SEALING (F_SEAL_SEAL is not set).
  const Case cases[] = {
      {0, 0777, F_SEAL_SEAL, EPERM},
      {MFD_ALLOW_SEALING, 0777, 0, 0},
      {MFD_EXEC, 0777, F_SEAL_SEAL, EPERM},
      {MFD_EXEC | MFD_ALLOW_SEALING, 0777, 0, 0},
      {MFD_NOEXEC_SEAL, 0666, F_SEAL_EXEC, 0},
      {MFD_NOEXEC_SEAL | MFD_ALLOW_SEALING, 0666, F_SEAL_EXEC, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flags);
    int fd = Memfd("m", c.flags);
    ASSERT_GE(fd, 0);
    struct stat st;
    fstat(fd, &st);
    EXPECT_EQ(st.st_mode, S_IFREG | c.mode);
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), c.seals);
    EXPECT_EQ(Err(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW)), c.add_grow);
  }
  // F_SEAL_EXEC: the exec bits cannot come back; other mode changes can.
  int fd = Memfd("noexec", MFD_NOEXEC_SEAL);
  EXPECT_EQ(Err(fchmod(fd, 0777)), EPERM);
  EXPECT_EQ(Err(fchmod(fd, 0600)), 0);
  EXPECT_EQ(Err(fchmod(fd, 0700)), EPERM);
  // umask does not apply to a memfd's mode.
  mode_t old = umask(077);
  int u = Memfd("umask", 0);
  umask(old);
  struct stat st;
  fstat(u, &st);
  EXPECT_EQ(st.st_mode & 0777, 0777u);
}

TEST(Memfd, SealShrinkAndGrow) {
  int fd = Sealable(4);
  ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
  EXPECT_EQ(Err(ftruncate(fd, 2 * kPage)), EPERM);
  EXPECT_EQ(Err(ftruncate(fd, 6 * kPage)), 0);
  EXPECT_EQ(Punch(fd, 0, kPage), 0);  // a punched hole is no shrink
  int g = Sealable(4);
  ASSERT_EQ(fcntl(g, F_ADD_SEALS, F_SEAL_GROW), 0);
  EXPECT_EQ(Err(ftruncate(g, 5 * kPage)), EPERM);
  EXPECT_EQ(Err(ftruncate(g, 4 * kPage)), 0);   // same size is fine
  EXPECT_EQ(pwrite(g, "x", 1, 4 * kPage), -1);  // write past EOF
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(pwrite(g, "x", 1, 4 * kPage - 1), 1);  // inside
  EXPECT_EQ(Err(fallocate(g, 0, 0, 8 * kPage)), EPERM);
  EXPECT_EQ(Err(fallocate(g, 0, 0, 4 * kPage)), 0);
  EXPECT_EQ(Err(ftruncate(g, 2 * kPage)), 0);  // GROW alone lets it shrink
  // The seals are the inode's: another descriptor sees them.
  int again = open(("/proc/self/fd/" + std::to_string(g)).c_str(), O_RDWR);
  EXPECT_EQ(fcntl(again, F_GET_SEALS), F_SEAL_GROW);
}

TEST(Memfd, SealWrite) {
  int fd = Sealable(4);
  char* w = static_cast<char*>(mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(w, MAP_FAILED);
  // Refused while a shared writable mapping exists.
  EXPECT_EQ(Err(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)), EBUSY);
  ASSERT_EQ(munmap(w, 4 * kPage), 0);
  ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
  EXPECT_EQ(pwrite(fd, "x", 1, 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
  EXPECT_EQ(errno, EPERM);
  char* r = static_cast<char*>(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd, 0));
  ASSERT_NE(r, MAP_FAILED);
  EXPECT_EQ(r[0], 'a');
  EXPECT_EQ(Err(mprotect(r, kPage, PROT_READ | PROT_WRITE)), EACCES);
  char* priv = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  ASSERT_NE(priv, MAP_FAILED);
  priv[0] = 'P';  // copy-on-write is allowed
  EXPECT_EQ(r[0], 'a');
  // Hole punching is a write: refused. A write-sealed memfd cannot be evicted
  // by punching.
  EXPECT_EQ(Punch(fd, kPage, kPage), EPERM);
  // Allocation that changes no data is allowed; size changes are not WRITE's
  // business: without SHRINK/GROW, ftruncate still works, both ways.
  EXPECT_EQ(Err(fallocate(fd, 0, 0, 5 * kPage)), 0);
  EXPECT_EQ(Err(ftruncate(fd, 2 * kPage)), 0);
  EXPECT_EQ(Err(ftruncate(fd, 3 * kPage)), 0);
}

TEST(Memfd, SealFutureWrite) {
  int fd = Sealable(2);
  char* w = static_cast<char*>(mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(w, MAP_FAILED);
  // Accepted while a writable mapping exists, and that mapping keeps writing.
  ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), 0);
  w[0] = 'W';
  char c = 0;
  ASSERT_EQ(pread(fd, &c, 1, 0), 1);
  EXPECT_EQ(c, 'W');
  EXPECT_EQ(pwrite(fd, "x", 1, 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
  EXPECT_EQ(errno, EPERM);
  char* r = static_cast<char*>(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd, 0));
  ASSERT_NE(r, MAP_FAILED);
  EXPECT_EQ(Err(mprotect(r, kPage, PROT_READ | PROT_WRITE)), EACCES);
  EXPECT_NE(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), MAP_FAILED);
  EXPECT_EQ(Punch(fd, kPage, kPage), EPERM);
  // A fork child inherits the writable mapping, and it still writes.
  EXPECT_EQ(ChildResult([&] {
              w[1] = 'C';
              return 0;
            }),
            0);
  EXPECT_EQ(w[1], 'C');
}

TEST(Memfd, SealSealFreezesTheSet) {
  int fd = Sealable(1);
  ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL), 0);
  EXPECT_EQ(Err(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW)), EPERM);
  EXPECT_EQ(Err(fcntl(fd, F_ADD_SEALS, 0)), EPERM);
  EXPECT_EQ(Err(fcntl(fd, F_ADD_SEALS, 0x1000)), EINVAL);  // unknown seal on a live set
  EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_SEAL);
  // Adding seals needs a writable descriptor.
  int s = Sealable(1);
  int ro = open(("/proc/self/fd/" + std::to_string(s)).c_str(), O_RDONLY);
  ASSERT_GE(ro, 0);
  EXPECT_EQ(Err(fcntl(ro, F_ADD_SEALS, F_SEAL_GROW)), EPERM);
}

sigjmp_buf bus_jump;
void OnBus(int) { siglongjmp(bus_jump, 1); }

// A registered mapping that reaches past EOF: the kernel answers the access
// past EOF with SIGBUS itself and the uffd sees nothing; after the file
// grows, the same address raises a MISSING fault. So libshm can register a
// whole mapping however far it reaches, and the size rule stays the kernel's.
TEST(Memfd, PastEofIsSigbusBeforeUserfaultfd) {
  if (UnderLibshm()) GTEST_SKIP() << "a managed mapping is registered already (libshm's uffd)";
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (uffd < 0) GTEST_SKIP() << "userfaultfd: " << strerror(errno);
  uffdio_api api{};
  api.api = UFFD_API;
  ASSERT_EQ(ioctl(uffd, UFFDIO_API, &api), 0);
  int fd = Memfd("eof", 0);
  ASSERT_EQ(ftruncate(fd, kPage), 0);
  char* p = static_cast<char*>(mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uintptr_t>(p);
  reg.range.len = 2 * kPage;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP;
  ASSERT_EQ(ioctl(uffd, UFFDIO_REGISTER, &reg), 0) << strerror(errno);
  struct sigaction sa {
  }, old{};
  sa.sa_handler = OnBus;
  ASSERT_EQ(sigaction(SIGBUS, &sa, &old), 0);
  alarm(10);  // a fault queued on the uffd instead would hang here
  volatile bool bus = false;
  if (sigsetjmp(bus_jump, 1) == 0) {
    (void)*reinterpret_cast<volatile char*>(p + kPage);
  } else {
    bus = true;
  }
  alarm(0);
  sigaction(SIGBUS, &old, nullptr);
  EXPECT_TRUE(bus);
  pollfd pfd{uffd, POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 0), 0);  // no message
  ASSERT_EQ(ftruncate(fd, 2 * kPage), 0);
  std::thread toucher([&] { (void)*reinterpret_cast<volatile char*>(p + kPage); });
  ASSERT_EQ(poll(&pfd, 1, 5000), 1);
  uffd_msg msg{};
  ASSERT_EQ(read(uffd, &msg, sizeof(msg)), static_cast<ssize_t>(sizeof(msg)));
  EXPECT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
  EXPECT_EQ(msg.arg.pagefault.address, reinterpret_cast<uintptr_t>(p + kPage));
  uffdio_zeropage zp{};
  zp.range.start = reinterpret_cast<uintptr_t>(p + kPage);
  zp.range.len = kPage;
  EXPECT_EQ(ioctl(uffd, UFFDIO_ZEROPAGE, &zp), 0) << strerror(errno);
  toucher.join();
}

// userfaultfd registers only a VMA that could be written (VM_MAYWRITE): a
// shared mapping of an O_RDONLY descriptor, or of a memfd with a write seal,
// is refused with EPERM even for MISSING alone, while a PROT_READ mapping of
// an O_RDWR descriptor registers. A mapping libshm cannot register must not
// reach pages libshm evicts (it would read holes as zeros).
TEST(Memfd, UserfaultfdRefusesMappingsThatCannotBeWritten) {
  if (UnderLibshm()) GTEST_SKIP() << "a managed mapping is registered already (libshm's uffd)";
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (uffd < 0) GTEST_SKIP() << "userfaultfd: " << strerror(errno);
  uffdio_api api{};
  api.api = UFFD_API;
  ASSERT_EQ(ioctl(uffd, UFFDIO_API, &api), 0);
  auto reg = [&](void* p) {
    uffdio_register r{};
    r.range.start = reinterpret_cast<uintptr_t>(p);
    r.range.len = kPage;
    r.mode = UFFDIO_REGISTER_MODE_MISSING;
    return Err(ioctl(uffd, UFFDIO_REGISTER, &r));
  };
  int fd = Sealable(2);
  int ro = open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY);
  ASSERT_GE(ro, 0);
  EXPECT_EQ(reg(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, ro, 0)), EPERM);
  void* rw_read = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd, 0);
  EXPECT_EQ(reg(rw_read), 0);
  // A PROT_READ shared mapping of an O_RDWR descriptor could be mprotect'ed
  // writable, so it also blocks F_SEAL_WRITE.
  EXPECT_EQ(Err(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE)), EBUSY);
  ASSERT_EQ(munmap(rw_read, kPage), 0);
  ASSERT_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
  EXPECT_EQ(reg(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd, 0)), EPERM);
  // FUTURE_WRITE: a mapping made before the seal stays registrable, a new one is not.
  int f = Sealable(2);
  void* before = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
  ASSERT_EQ(fcntl(f, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), 0);
  EXPECT_EQ(reg(before), 0);
  EXPECT_EQ(reg(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, f, 0)), EPERM);
  // A private mapping of the read-only descriptor may write (copy-on-write): registrable.
  EXPECT_EQ(reg(mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE, ro, 0)), 0);
}

// A MAP_PRIVATE mapping of a memfd registers; a read of a hole raises a
// MISSING fault there, and UFFDIO_COPY answers it with a private page: the
// memfd's page cache stays a hole. (The kernel's own private mapping of a
// shared file follows other writers until its first write; a private copy
// made by UFFDIO_COPY would not, so libshm must fill the memfd instead.)
TEST(Memfd, PrivateMappingFaultIsFilledPrivately) {
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (uffd < 0) GTEST_SKIP() << "userfaultfd: " << strerror(errno);
  uffdio_api api{};
  api.api = UFFD_API;
  ASSERT_EQ(ioctl(uffd, UFFDIO_API, &api), 0);
  int fd = Memfd("private", 0);
  ASSERT_EQ(ftruncate(fd, kPage), 0);
  char* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uintptr_t>(p);
  reg.range.len = kPage;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  ASSERT_EQ(ioctl(uffd, UFFDIO_REGISTER, &reg), 0) << strerror(errno);
  EXPECT_TRUE(reg.ioctls & (1ull << _UFFDIO_COPY));
  volatile char seen = 0;
  std::thread reader([&] { seen = *reinterpret_cast<volatile char*>(p); });
  pollfd pfd{uffd, POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 5000), 1);
  uffd_msg msg{};
  ASSERT_EQ(read(uffd, &msg, sizeof(msg)), static_cast<ssize_t>(sizeof(msg)));
  EXPECT_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
  EXPECT_EQ(msg.arg.pagefault.flags, 0u);  // a read
  alignas(4096) static char page[kPage];
  page[0] = 'S';
  uffdio_copy copy{};
  copy.dst = reinterpret_cast<uintptr_t>(p);
  copy.src = reinterpret_cast<uintptr_t>(page);
  copy.len = kPage;
  EXPECT_EQ(Err(ioctl(uffd, UFFDIO_COPY, &copy)), 0);
  reader.join();
  EXPECT_EQ(seen, 'S');
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_blocks, 0);  // the memfd got nothing
  // Later writes to the memfd are not seen through that private page.
  ASSERT_EQ(pwrite(fd, "W", 1, 0), 1);
  EXPECT_EQ(p[0], 'S');
  // Whereas the kernel's own private mapping follows the memfd until written.
  char* q = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
  ASSERT_NE(q, MAP_FAILED);
  EXPECT_EQ(q[0], 'W');
  ASSERT_EQ(pwrite(fd, "X", 1, 0), 1);
  EXPECT_EQ(q[0], 'X');
  q[1] = 'q';  // the first write makes it private
  ASSERT_EQ(pwrite(fd, "Y", 1, 0), 1);
  EXPECT_EQ(q[0], 'X');
}

// A file of a memfd opened read-only, or O_PATH, cannot change its size:
// ftruncate says EINVAL (EBADF for O_PATH), fallocate and posix_fallocate
// EBADF (posix_fallocate returns the number). The shim's posix_fallocate
// of a managed object said EINVAL (review finding 10).
TEST(Memfd, ResizeThroughAFileThatCannotWrite) {
  int fd = Memfd("ro", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, kPage), 0);
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  int ro = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ro, 0);
  EXPECT_EQ(Err(ftruncate(ro, 2 * kPage)), EINVAL);
  EXPECT_EQ(Err(fallocate(ro, 0, 0, 2 * kPage)), EBADF);
  EXPECT_EQ(Err(fallocate(ro, FALLOC_FL_KEEP_SIZE, 0, 2 * kPage)), EBADF);
  EXPECT_EQ(posix_fallocate(ro, 0, 2 * kPage), EBADF);
  EXPECT_EQ(posix_fallocate(ro, 0, 0), EINVAL);  // the range is judged first
  int o_path = open(path.c_str(), O_PATH | O_CLOEXEC);
  ASSERT_GE(o_path, 0);
  EXPECT_EQ(Err(ftruncate(o_path, 2 * kPage)), EBADF);
  EXPECT_EQ(posix_fallocate(o_path, 0, 2 * kPage), EBADF);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kPage));
  close(o_path);
  close(ro);
  close(fd);
}

}  // namespace
}  // namespace libshm::test
