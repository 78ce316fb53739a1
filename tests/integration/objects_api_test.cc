// SPDX-License-Identifier: MIT
// The C API of program objects (libshm_shm_open, libshm_shm_unlink,
// libshm_ftruncate, libshm_map_fd; issue 11): a program linked with libshm
// makes POSIX shared memory the helper manages, without the shim. Errors as
// shm_open(3); the object evicted whether or not anyone maps it, and found
// by name from another process of the session.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "libshm/libshm.h"
#include "test_util.h"

namespace libshm::test {
namespace {

class ObjectsApi : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("LIBSHM_LIMIT", "4M", 1);
    name_ = "/libshm_api_" + std::to_string(getpid());
  }
  std::string name_;
};

TEST_F(ObjectsApi, NamesFollowShmOpen) {
  int fd = -1;
  EXPECT_EQ(libshm_shm_open("", O_RDWR | O_CREAT, 0600, &fd), -EINVAL);
  EXPECT_EQ(libshm_shm_open("/a/b", O_RDWR | O_CREAT, 0600, &fd), -EINVAL);
  EXPECT_EQ(libshm_shm_open("/..", O_RDWR | O_CREAT, 0600, &fd), -EINVAL);
  EXPECT_EQ(libshm_shm_open(("/" + std::string(256, 'n')).c_str(), O_RDWR | O_CREAT, 0600, &fd),
            -ENAMETOOLONG);
  EXPECT_EQ(libshm_shm_open(("/" + std::string(300, 'n')).c_str(), O_RDWR | O_CREAT, 0600, &fd),
            -EINVAL);
  EXPECT_EQ(libshm_shm_open(name_.c_str(), O_WRONLY | O_CREAT, 0600, &fd), -EINVAL);
  EXPECT_EQ(libshm_shm_open(name_.c_str(), O_RDWR, 0, &fd), -ENOENT);
  EXPECT_EQ(libshm_shm_unlink(name_.c_str()), -ENOENT);
  EXPECT_EQ(libshm_shm_unlink("/a/b"), -ENOENT);  // glibc's shm_unlink says ENOENT
  ASSERT_EQ(libshm_shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0640, &fd), 0);
  EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_uid, geteuid());
  int again = -1;
  EXPECT_EQ(libshm_shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &again), -EEXIST);
  ASSERT_EQ(libshm_shm_open(("//" + name_.substr(1)).c_str(), O_RDONLY, 0, &again), 0);
  struct stat st2;
  ASSERT_EQ(fstat(again, &st2), 0);
  EXPECT_EQ(st.st_ino, st2.st_ino) << "\"/x\" and \"//x\" name one object";
  EXPECT_EQ(fcntl(again, F_GETFL) & O_ACCMODE, O_RDONLY);
  EXPECT_EQ(libshm_ftruncate(again, 4096), -EINVAL) << "read-only fd, as ftruncate(2)";
  int native = memfd_create("not-managed", MFD_CLOEXEC);
  ASSERT_GE(native, 0);
  void* p = nullptr;
  EXPECT_EQ(libshm_map_fd(nullptr, 4096, PROT_READ, 0, native, 0, &p), -ENOENT);
  EXPECT_EQ(libshm_ftruncate(native, 4096), -ENOENT);
  EXPECT_EQ(libshm_map_fd(nullptr, 4096, PROT_READ, 0, fd, 100, &p), -EINVAL);
  EXPECT_EQ(libshm_map_fd(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0, &p), -EINVAL);
  ASSERT_EQ(libshm_shm_unlink(name_.c_str()), 0);
  EXPECT_EQ(libshm_shm_unlink(name_.c_str()), -ENOENT);
  close(native);
  close(again);
  close(fd);
}

// An object 4x the limit, written through a mapping and let go: evicted
// while nobody maps it, read back by name in a child.
TEST_F(ObjectsApi, AnObjectIsEvictedAndReadBackByName) {
  const uint64_t pages = 4 * (4 << 20) / kPage;
  int fd = -1;
  ASSERT_EQ(libshm_shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &fd), 0);
  ASSERT_EQ(libshm_ftruncate(fd, static_cast<off_t>(pages * kPage)), 0);
  void* p = nullptr;
  ASSERT_EQ(libshm_map_fd(nullptr, pages * kPage, PROT_READ | PROT_WRITE, 0, fd, 0, &p), 0);
  EXPECT_EQ(libshm_is_managed(p), 1);
  for (uint64_t i = 0; i < pages; i++) FillPage(static_cast<char*>(p) + i * kPage, i, 4);
  ASSERT_EQ(libshm_unmap(p, pages * kPage), 0);
  close(fd);
  EXPECT_GT(Stat("swap_outs"), pages / 2);
  EXPECT_LE(Stat("peak_resident_bytes"), uint64_t{4} << 20);
  int status = ForkAndWait([&] {
    int f = -1;
    void* q = nullptr;
    if (libshm_shm_open(name_.c_str(), O_RDWR, 0, &f) != 0) return 2;
    // A window from page 8 on: offsets map the same pages.
    if (libshm_map_fd(nullptr, (pages - 8) * kPage, PROT_READ, 0, f, 8 * kPage, &q) != 0) return 3;
    for (uint64_t i = 8; i < pages; i++) {
      if (!CheckPage(static_cast<char*>(q) + (i - 8) * kPage, i, 4)) return 4;
    }
    return 0;
  });
  EXPECT_EQ(status, 0) << DescribeChild(status, {{2, "open"}, {3, "map"}, {4, "a page lost"}});
  EXPECT_EQ(libshm_shm_unlink(name_.c_str()), 0);
}

}  // namespace
}  // namespace libshm::test
