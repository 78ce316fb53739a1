// SPDX-License-Identifier: MIT
// What glibc's shm_open/shm_unlink and the kernel's tmpfs (/dev/shm) do on this
// machine: names, O_CREAT|O_EXCL, sizes and SIGBUS past EOF, mmap offsets,
// unlink while mapped, fstat, fchmod, permissions as another uid, sealing,
// and userfaultfd on a /dev/shm mapping. Nothing of libshm runs here: these are
// the answers issue 11's side-by-side tests hold libshm to
// (docs/named_kernel_facts.md). shm_open is glibc (a path under /dev/shm,
// opened O_NOFOLLOW|O_CLOEXEC); its name checks are glibc's, its errors
// after that the kernel's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include <string>

#include "kernel_probe.h"

namespace libshm::test {
namespace {

class PosixShm : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = "/libshm_kfacts_" + std::to_string(getpid());
    shm_unlink(name_.c_str());
  }
  void TearDown() override { shm_unlink(name_.c_str()); }
  int Open(int flags, mode_t mode = 0600) { return shm_open(name_.c_str(), flags, mode); }
  std::string name_;
};

// Result of touching one byte in a child: 0, or 1000 + the signal.
int Touch(volatile char* p, bool write) {
  return ChildResult([=] {
    if (write) {
      p[0] = 1;
    } else {
      (void)p[0];
    }
    return 0;
  });
}

TEST_F(PosixShm, NameRules) {
  // Leading slashes are optional and collapse: "x", "/x" and "//x" are one object.
  std::string bare = name_.substr(1);
  int a = Open(O_RDWR | O_CREAT | O_EXCL);
  ASSERT_GE(a, 0) << strerror(errno);
  int b = shm_open(bare.c_str(), O_RDWR, 0);
  int c = shm_open(("/" + name_).c_str(), O_RDWR, 0);
  ASSERT_GE(b, 0);
  ASSERT_GE(c, 0);
  struct stat sa, sb, sc;
  fstat(a, &sa);
  fstat(b, &sb);
  fstat(c, &sc);
  EXPECT_EQ(sa.st_ino, sb.st_ino);
  EXPECT_EQ(sa.st_ino, sc.st_ino);
  // glibc refuses an empty name, "." and "..", and any other slash: EINVAL.
  for (const char* bad : {"", "/", "//", "/.", "/..", "/a/b", "/a/"})
    EXPECT_EQ(Err(shm_open(bad, O_RDWR | O_CREAT, 0600)), EINVAL) << "'" << bad << "'";
  // ... but shm_unlink of such a name says ENOENT (glibc maps it), not EINVAL.
  EXPECT_EQ(Err(shm_unlink("/a/b")), ENOENT);
  EXPECT_EQ(Err(shm_unlink("/")), ENOENT);
  // Length: up to NAME_MAX (255) after the slash works; 256..259 are the
  // kernel's ENAMETOOLONG; from 260 glibc's own buffer refuses it with EINVAL.
  auto try_len = [](size_t n) {
    std::string s = "/" + std::string(n, 'k');
    int fd = shm_open(s.c_str(), O_RDWR | O_CREAT, 0600);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0) {
      close(fd);
      shm_unlink(s.c_str());
    }
    return e;
  };
  EXPECT_EQ(try_len(255), 0);
  EXPECT_EQ(try_len(256), ENAMETOOLONG);
  int first_einval = 0;
  for (size_t n = 256; n < 300 && !first_einval; n++)
    if (try_len(n) == EINVAL) first_einval = static_cast<int>(n);
  EXPECT_EQ(try_len(259), ENAMETOOLONG);
  EXPECT_EQ(first_einval, 260) << "names of 256.." << first_einval - 1 << " are ENAMETOOLONG";
}

TEST_F(PosixShm, CreateExclusiveMissingAndFlags) {
  int fd = Open(O_RDWR | O_CREAT | O_EXCL);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Err(Open(O_RDWR | O_CREAT | O_EXCL)), EEXIST);
  EXPECT_GE(Open(O_RDWR | O_CREAT), 0);                    // without O_EXCL: opens it
  EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);  // always close-on-exec
  EXPECT_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
  ASSERT_EQ(ftruncate(fd, 3 * kPage), 0);
  int t = Open(O_RDWR | O_TRUNC);  // O_TRUNC empties it
  ASSERT_GE(t, 0);
  struct stat st;
  fstat(fd, &st);
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(shm_unlink(name_.c_str()), 0);
  EXPECT_EQ(Err(Open(O_RDWR)), ENOENT);
  EXPECT_EQ(Err(shm_unlink(name_.c_str())), ENOENT);
  // shm_open follows no symlink in /dev/shm (O_NOFOLLOW): ELOOP.
  std::string link = "/dev/shm" + name_;
  ASSERT_EQ(symlink("/etc/hostname", link.c_str()), 0);
  EXPECT_EQ(Err(Open(O_RDONLY)), ELOOP);
  unlink(link.c_str());
}

TEST_F(PosixShm, SizeGrowShrinkAndSigbusPastEof) {
  int fd = Open(O_RDWR | O_CREAT | O_EXCL);
  ASSERT_GE(fd, 0);
  struct stat st;
  fstat(fd, &st);
  EXPECT_EQ(st.st_size, 0);  // a new object is empty
  // Mapping more than the object is allowed; touching past EOF is SIGBUS.
  char* p = static_cast<char*>(mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_EQ(Touch(p, false), 1000 + SIGBUS);
  // 1.5 pages: the partial last page is usable to its end; the next is SIGBUS.
  ASSERT_EQ(ftruncate(fd, kPage + kPage / 2), 0);
  EXPECT_EQ(Touch(p + 2 * kPage - 1, true), 0);
  EXPECT_EQ(Touch(p + 2 * kPage, false), 1000 + SIGBUS);
  // Growth is seen by a mapping made before it, and reads zeros.
  ASSERT_EQ(ftruncate(fd, 4 * kPage), 0);
  EXPECT_EQ(p[3 * kPage], 0);
  memset(p, 0x33, 4 * kPage);
  // Shrink: pages past the new end are gone (SIGBUS), the partial page's tail
  // is zeroed, and growing back reads zeros, not the old data.
  ASSERT_EQ(ftruncate(fd, kPage + 100), 0);
  EXPECT_EQ(Touch(p + 2 * kPage, false), 1000 + SIGBUS);
  EXPECT_EQ(p[kPage + 99], 0x33);
  EXPECT_EQ(p[kPage + 100], 0);
  ASSERT_EQ(ftruncate(fd, 4 * kPage), 0);
  EXPECT_EQ(p[3 * kPage], 0);
  fstat(fd, &st);
  EXPECT_EQ(st.st_size, static_cast<off_t>(4 * kPage));
  // ftruncate on a read-only descriptor: EINVAL (not EBADF).
  int ro = Open(O_RDONLY);
  EXPECT_EQ(Err(ftruncate(ro, kPage)), EINVAL);
}

TEST_F(PosixShm, MmapAtOffsetsAndAccessModes) {
  int fd = Open(O_RDWR | O_CREAT | O_EXCL);
  ASSERT_EQ(ftruncate(fd, 4 * kPage), 0);
  char* whole =
      static_cast<char*>(mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  for (int i = 0; i < 4; i++) whole[i * kPage] = static_cast<char>('a' + i);
  char* tail = static_cast<char*>(
      mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 2 * kPage));
  ASSERT_NE(tail, MAP_FAILED);
  EXPECT_EQ(tail[0], 'c');
  tail[kPage] = 'D';
  EXPECT_EQ(whole[3 * kPage], 'D');  // the same page cache
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd, 100), MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  // An offset past EOF maps; touching it is SIGBUS.
  char* past = static_cast<char*>(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd, 8 * kPage));
  ASSERT_NE(past, MAP_FAILED);
  EXPECT_EQ(Touch(past, false), 1000 + SIGBUS);
  // A read-only descriptor: shared writable mapping EACCES, private is fine,
  // and a shared read-only mapping cannot be mprotect'ed writable.
  int ro = Open(O_RDONLY);
  EXPECT_EQ(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), MAP_FAILED);
  EXPECT_EQ(errno, EACCES);
  char* priv = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0));
  ASSERT_NE(priv, MAP_FAILED);
  priv[0] = 'z';
  EXPECT_EQ(whole[0], 'a');
  char* rs = static_cast<char*>(mmap(nullptr, kPage, PROT_READ, MAP_SHARED, ro, 0));
  ASSERT_NE(rs, MAP_FAILED);
  EXPECT_EQ(Err(mprotect(rs, kPage, PROT_READ | PROT_WRITE)), EACCES);
}

TEST_F(PosixShm, UnlinkWhileMappedAndPersistenceWithoutMappers) {
  int fd = Open(O_RDWR | O_CREAT | O_EXCL);
  ASSERT_EQ(ftruncate(fd, kPage), 0);
  char* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  strcpy(p, "kept");
  // No fd and no mapping: the named object keeps its data.
  ASSERT_EQ(munmap(p, kPage), 0);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(ChildResult([&] {
              int f = shm_open(name_.c_str(), O_RDONLY, 0);
              char buf[8] = {0};
              return f >= 0 && pread(f, buf, 5, 0) == 5 && strcmp(buf, "kept") == 0 ? 0 : 2;
            }),
            0);
  fd = Open(O_RDWR);
  p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  std::string line = MapsLine(p);
  struct stat st, dir;
  ASSERT_EQ(fstat(fd, &st), 0);
  ASSERT_EQ(stat("/dev/shm", &dir), 0);
  if (!UnderLibshm()) {  // a managed object is a memfd: /memfd:NAME on the memfd device
    EXPECT_EQ(MapsPath(line), "/dev/shm" + name_) << line;
    EXPECT_EQ(st.st_dev, dir.st_dev);
  }
  // maps shows the object's device and inode.
  char devs[32];
  snprintf(devs, sizeof(devs), "%02x:%02x %lu", major(st.st_dev), minor(st.st_dev),
           static_cast<unsigned long>(st.st_ino));
  EXPECT_EQ(MapsDevIno(line), devs);
  ino_t old_ino = st.st_ino;
  // Unlink while mapped: the mapping and the fd go on; the name is free.
  ASSERT_EQ(shm_unlink(name_.c_str()), 0);
  EXPECT_STREQ(p, "kept");
  p[0] = 'K';
  char buf[8] = {0};
  EXPECT_EQ(pread(fd, buf, 4, 0), 4);
  EXPECT_STREQ(buf, "Kept");
  fstat(fd, &st);
  EXPECT_EQ(st.st_nlink, 0u);
  if (!UnderLibshm()) {
    EXPECT_EQ(MapsPath(MapsLine(p)), "/dev/shm" + name_ + " (deleted)");
  }
  EXPECT_EQ(Err(Open(O_RDWR)), ENOENT);
  int again = Open(O_RDWR | O_CREAT | O_EXCL);
  ASSERT_GE(again, 0);
  fstat(again, &st);
  EXPECT_NE(st.st_ino, old_ino);
  EXPECT_EQ(st.st_size, 0);
}

TEST_F(PosixShm, FstatFields) {
  mode_t old = umask(022);
  int fd = Open(O_RDWR | O_CREAT | O_EXCL, 0666);
  umask(old);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0644u);  // umask applies (unlike shmget)
  EXPECT_EQ(st.st_uid, geteuid());
  EXPECT_EQ(st.st_gid, getegid());
  if (!UnderLibshm()) {
    EXPECT_EQ(st.st_nlink, 1u);  // a memfd's is 0
  }
  EXPECT_EQ(st.st_blksize, static_cast<blksize_t>(kPage));
  ASSERT_EQ(ftruncate(fd, 16 * kPage), 0);
  fstat(fd, &st);
  EXPECT_EQ(st.st_size, static_cast<off_t>(16 * kPage));
  EXPECT_EQ(st.st_blocks, 0);  // sparse until touched
  ASSERT_EQ(pwrite(fd, "x", 1, 5 * kPage), 1);
  fstat(fd, &st);
  EXPECT_EQ(st.st_blocks, static_cast<blkcnt_t>(kPage / 512));  // 512-byte units
  // fchmod changes the mode; ctime moves.
  ASSERT_EQ(fchmod(fd, 0640), 0);
  fstat(fd, &st);
  EXPECT_EQ(st.st_mode, S_IFREG | 0640u);
  // fchmod can set the sticky/setgid bits of a shm file as the owner.
  ASSERT_EQ(fchmod(fd, 02640), 0);
  fstat(fd, &st);
  EXPECT_EQ(st.st_mode & 07777, 02640u);
}

TEST_F(PosixShm, PermissionsAsAnotherUid) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to become uid 65534";
  int fd = Open(O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fchmod(fd, 0600), 0);
  const char* n = name_.c_str();
  EXPECT_EQ(AsNobody([&] { return Err(shm_open(n, O_RDWR, 0)); }), EACCES);
  EXPECT_EQ(AsNobody([&] { return Err(shm_open(n, O_RDONLY, 0)); }), EACCES);
  // O_EXCL on an existing name says EEXIST before any permission check.
  EXPECT_EQ(AsNobody([&] { return Err(shm_open(n, O_RDWR | O_CREAT | O_EXCL, 0600)); }), EEXIST);
  // /dev/shm is sticky (1777): only the owner (or root) may unlink. The
  // kernel says EPERM; glibc's shm_unlink turns EPERM into EACCES.
  EXPECT_EQ(AsNobody([&] { return Err(shm_unlink(n)); }), EACCES);
  if (!UnderLibshm()) {  // a managed name has no file in /dev/shm
    EXPECT_EQ(AsNobody([&] { return Err(unlink(("/dev/shm" + name_).c_str())); }), EPERM);
  }
  ASSERT_EQ(fchmod(fd, 0644), 0);
  EXPECT_EQ(AsNobody([&] { return Err(shm_open(n, O_RDONLY, 0)); }), 0);
  EXPECT_EQ(AsNobody([&] { return Err(shm_open(n, O_RDWR, 0)); }), EACCES);
  // Permission is checked at open: an fd passed to another uid works as opened.
  EXPECT_EQ(AsNobody([&] { return Err(ftruncate(fd, kPage)); }), 0);
  // nobody's fchmod of root's object: EPERM.
  EXPECT_EQ(AsNobody([&] { return Err(fchmod(fd, 0666)); }), EPERM);
}

// A /dev/shm file cannot be sealed: tmpfs files made by open() start with
// F_SEAL_SEAL. (libshm seals its own memfds against shrinking; it cannot seal
// a POSIX shm object.)
TEST_F(PosixShm, CannotBeSealedButCanBePunched) {
  int fd = Open(O_RDWR | O_CREAT | O_EXCL);
  ASSERT_EQ(ftruncate(fd, 2 * kPage), 0);
  EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL);
  EXPECT_EQ(Err(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK)), EPERM);
  ASSERT_EQ(pwrite(fd, "y", 1, kPage), 1);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kPage, kPage), 0);
  char c = 1;
  EXPECT_EQ(pread(fd, &c, 1, kPage), 1);
  EXPECT_EQ(c, 0);
}

TEST_F(PosixShm, UserfaultfdRegistersASharedMapping) {
  if (UnderLibshm()) GTEST_SKIP() << "a managed mapping is registered already (libshm's uffd)";
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (uffd < 0) GTEST_SKIP() << "userfaultfd: " << strerror(errno);
  uffdio_api api{};
  api.api = UFFD_API;
  ASSERT_EQ(ioctl(uffd, UFFDIO_API, &api), 0);
  int fd = Open(O_RDWR | O_CREAT | O_EXCL);
  ASSERT_EQ(ftruncate(fd, 2 * kPage), 0);
  void* p = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uintptr_t>(p);
  reg.range.len = 2 * kPage;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP;
  EXPECT_EQ(ioctl(uffd, UFFDIO_REGISTER, &reg), 0) << strerror(errno);
  EXPECT_TRUE(reg.ioctls & (1ull << _UFFDIO_COPY));
  EXPECT_TRUE(reg.ioctls & (1ull << _UFFDIO_WRITEPROTECT));
}

}  // namespace
}  // namespace libshm::test
