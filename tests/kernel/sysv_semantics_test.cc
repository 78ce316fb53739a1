// SPDX-License-Identifier: MIT
// What the kernel does with System V shared memory on this machine: shmget
// size and key rules, permissions as another uid, shmat flags and addresses,
// shmdt, shm_nattch and IPC_RMID, IPC_SET, SHM_LOCK, and what /proc/PID/maps
// shows for an attachment. Nothing of libshm runs here: these are the answers
// issue 11's side-by-side tests hold libshm to (docs/named_kernel_facts.md).
// Every test runs in a private IPC namespace (needs root), so keys, limits
// and leftovers never touch the machine's own segments.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <fstream>
#include <string>

#include "kernel_probe.h"

namespace libshm::test {
namespace {

constexpr key_t kKey = 0x1234abcd;

class SysV : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "needs root: a private IPC namespace and uid changes";
    ASSERT_EQ(unshare(CLONE_NEWIPC), 0) << strerror(errno);
  }

  static void WriteSysctl(const char* name, const std::string& value) {
    std::ofstream out(std::string("/proc/sys/kernel/") + name);
    out << value;
    out.close();
    ASSERT_TRUE(out) << name;
  }
  static std::string ReadSysctl(const char* name) {
    std::ifstream in(std::string("/proc/sys/kernel/") + name);
    std::string v;
    in >> v;
    return v;
  }
  static shmid_ds Stat(int id) {
    shmid_ds ds{};
    EXPECT_EQ(shmctl(id, IPC_STAT, &ds), 0) << strerror(errno);
    return ds;
  }
  static int Create(key_t key, size_t size, int mode = 0600) {
    int id = shmget(key, size, IPC_CREAT | mode);
    EXPECT_GE(id, 0) << strerror(errno);
    return id;
  }
  // An address range of `pages` pages that is free right now.
  static char* FreeRange(size_t pages) {
    void* p = mmap(nullptr, pages * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(p, MAP_FAILED);
    munmap(p, pages * kPage);
    return static_cast<char*>(p);
  }
};

// ---- shmget -------------------------------------------------------------

TEST_F(SysV, SizeZeroAndDefaultLimits) {
  EXPECT_EQ(Err(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600)), EINVAL);
  // A fresh namespace's defaults: SHMMAX = SHMALL = ULONG_MAX - 2^24, SHMMNI 4096.
  EXPECT_EQ(ReadSysctl("shmmax"), "18446744073692774399");
  EXPECT_EQ(ReadSysctl("shmall"), "18446744073692774399");
  EXPECT_EQ(ReadSysctl("shmmni"), "4096");
  EXPECT_EQ(Err(shmget(IPC_PRIVATE, SIZE_MAX, IPC_CREAT | 0600)), EINVAL);
  // shm_segsz is the size asked for, not rounded; the mapping is whole pages.
  int id = Create(IPC_PRIVATE, 1);
  EXPECT_EQ(Stat(id).shm_segsz, 1u);
  int id2 = Create(IPC_PRIVATE, 5000);
  EXPECT_EQ(Stat(id2).shm_segsz, 5000u);
  char* p = static_cast<char*>(shmat(id2, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  p[8191] = 1;  // the tail of the last page is usable
  unsigned long lo = 0, hi = 0;
  ASSERT_EQ(sscanf(MapsLine(p).c_str(), "%lx-%lx", &lo, &hi), 2);
  EXPECT_EQ(hi - lo, 2 * kPage);
}

TEST_F(SysV, SizeAboveShmmaxIsEinvalAboveShmallIsEnospc) {
  WriteSysctl("shmmax", "1048576");
  EXPECT_EQ(Err(shmget(IPC_PRIVATE, 1048577, IPC_CREAT | 0600)), EINVAL);
  EXPECT_GE(shmget(IPC_PRIVATE, 1048576, IPC_CREAT | 0600), 0);
  WriteSysctl("shmall", "300");  // pages, for the whole namespace (256 in use)
  EXPECT_EQ(Err(shmget(IPC_PRIVATE, 45 * kPage, IPC_CREAT | 0600)), ENOSPC);
  EXPECT_GE(shmget(IPC_PRIVATE, 44 * kPage, IPC_CREAT | 0600), 0);
  WriteSysctl("shmmni", "2");  // segments in the namespace
  EXPECT_EQ(Err(shmget(IPC_PRIVATE, kPage, IPC_CREAT | 0600)), ENOSPC);
}

TEST_F(SysV, KeyRules) {
  int id = Create(kKey, 2 * kPage);
  EXPECT_EQ(shmget(kKey, 0, 0), id);  // size 0 = any size for an existing key
  EXPECT_EQ(shmget(kKey, kPage, 0), id);
  EXPECT_EQ(shmget(kKey, 2 * kPage, IPC_CREAT | 0600), id);
  EXPECT_EQ(Err(shmget(kKey, 2 * kPage + 1, 0)), EINVAL);
  EXPECT_EQ(Err(shmget(kKey, 3 * kPage, IPC_CREAT | 0600)), EINVAL);
  EXPECT_EQ(Err(shmget(kKey, kPage, IPC_CREAT | IPC_EXCL | 0600)), EEXIST);
  // IPC_EXCL is checked before the size.
  EXPECT_EQ(Err(shmget(kKey, 3 * kPage, IPC_CREAT | IPC_EXCL | 0600)), EEXIST);
  EXPECT_EQ(Err(shmget(kKey + 1, kPage, 0)), ENOENT);
  // A missing key with size 0 and IPC_CREAT: the size rule (EINVAL).
  EXPECT_EQ(Err(shmget(kKey + 1, 0, IPC_CREAT | 0600)), EINVAL);
  // IPC_PRIVATE always creates, even with IPC_EXCL.
  int a = Create(IPC_PRIVATE, kPage), b = Create(IPC_PRIVATE, kPage);
  EXPECT_NE(a, b);
  EXPECT_GE(shmget(IPC_PRIVATE, kPage, IPC_CREAT | IPC_EXCL | 0600), 0);
  EXPECT_EQ(Stat(a).shm_perm.__key, IPC_PRIVATE);
  EXPECT_EQ(Stat(id).shm_perm.__key, kKey);
  // The mode is the low 9 bits of shmflg; umask does not apply.
  umask(077);
  int m = Create(kKey + 2, kPage, 0666);
  EXPECT_EQ(Stat(m).shm_perm.mode & 0777, 0666u);
}

TEST_F(SysV, PermissionsAsAnotherUid) {
  int id = Create(kKey, kPage, 0600);
  // shmget with no mode bits asks for no access: it finds a 0600 segment of
  // another uid. Access is refused later, at shmat and IPC_STAT.
  EXPECT_EQ(AsNobody([&] { return shmget(kKey, 0, 0) == id ? 0 : 100 + errno; }), 0);
  EXPECT_EQ(AsNobody([&] { return Err(shmget(kKey, 0, 0600)); }), EACCES);
  EXPECT_EQ(AsNobody([&] { return Err(shmget(kKey, 0, 0400)); }), EACCES);
  // The size check comes before the permission check.
  EXPECT_EQ(AsNobody([&] { return Err(shmget(kKey, 2 * kPage, 0600)); }), EINVAL);
  EXPECT_EQ(AsNobody([&] { return shmat(id, nullptr, 0) == (void*)-1 ? errno : 0; }), EACCES);
  EXPECT_EQ(AsNobody([&] { return shmat(id, nullptr, SHM_RDONLY) == (void*)-1 ? errno : 0; }),
            EACCES);
  EXPECT_EQ(AsNobody([&] {
              shmid_ds ds;
              return Err(shmctl(id, IPC_STAT, &ds));
            }),
            EACCES);
  EXPECT_EQ(AsNobody([&] { return Err(shmctl(id, IPC_RMID, nullptr)); }), EPERM);
  EXPECT_EQ(AsNobody([&] {
              shmid_ds ds{};
              ds.shm_perm.mode = 0666;
              return Err(shmctl(id, IPC_SET, &ds));
            }),
            EPERM);
  // 0644: read-only attach allowed, read-write refused.
  shmid_ds ds = Stat(id);
  ds.shm_perm.mode = 0644;
  ASSERT_EQ(shmctl(id, IPC_SET, &ds), 0);
  EXPECT_EQ(AsNobody([&] { return shmat(id, nullptr, SHM_RDONLY) == (void*)-1 ? errno : 0; }), 0);
  EXPECT_EQ(AsNobody([&] { return shmat(id, nullptr, 0) == (void*)-1 ? errno : 0; }), EACCES);
  EXPECT_EQ(AsNobody([&] {
              shmid_ds d;
              return Err(shmctl(id, IPC_STAT, &d));
            }),
            0);
}

// ---- shmat / shmdt --------------------------------------------------------

TEST_F(SysV, ReadOnlyAttachWriteIsSigsegv) {
  int id = Create(IPC_PRIVATE, kPage);
  EXPECT_EQ(ChildResult([&] {
              char* p = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
              if (p == reinterpret_cast<char*>(-1)) return 2;
              if (p[0] != 0) return 3;  // reading works
              p[0] = 1;
              return 4;
            }),
            1000 + SIGSEGV);
  // mprotect cannot add write to a read-only attachment.
  char* p = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  EXPECT_EQ(Err(mprotect(p, kPage, PROT_READ | PROT_WRITE)), EACCES);
}

TEST_F(SysV, AttachAddressRules) {
  EXPECT_EQ(SHMLBA, 4096);
  int id = Create(IPC_PRIVATE, 2 * kPage, 0666);
  char* base = FreeRange(8);
  // SHM_RND rounds down to SHMLBA.
  void* p = shmat(id, base + kPage + 100, SHM_RND);
  EXPECT_EQ(p, base + kPage);
  ASSERT_EQ(shmdt(p), 0);
  // Unaligned without SHM_RND: EINVAL.
  EXPECT_EQ(shmat(id, base + 100, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  // SHM_RND of an address below SHMLBA rounds it to 0, and the attach is
  // then MAP_FIXED at address 0: root (CAP_SYS_RAWIO passes mmap_min_addr)
  // gets the segment at NULL; any other uid gets EPERM. Not "the kernel picks".
  p = shmat(id, reinterpret_cast<void*>(100), SHM_RND);
  EXPECT_EQ(p, nullptr);
  ASSERT_EQ(shmdt(p), 0);
  EXPECT_EQ(AsNobody([&] {
              return shmat(id, reinterpret_cast<void*>(100), SHM_RND) == (void*)-1 ? errno : 0;
            }),
            EPERM);
  // ... and with SHM_REMAP that rounding to 0 is refused.
  EXPECT_EQ(shmat(id, reinterpret_cast<void*>(100), SHM_RND | SHM_REMAP),
            reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  // An address in use without SHM_REMAP: EINVAL; with it, the attach replaces.
  char* used = static_cast<char*>(mmap(base, 4 * kPage, PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
  ASSERT_EQ(used, base);
  used[kPage] = 42;
  EXPECT_EQ(shmat(id, base + kPage, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(shmat(id, base + 3 * kPage, 0), reinterpret_cast<void*>(-1));  // overlaps the end
  EXPECT_EQ(errno, EINVAL);
  p = shmat(id, base + kPage, SHM_REMAP);
  EXPECT_EQ(p, base + kPage);
  EXPECT_EQ(base[kPage], 0);  // the segment's page, not the old one
  EXPECT_EQ(Stat(id).shm_nattch, 1u);
  // SHM_REMAP with no address: EINVAL.
  EXPECT_EQ(shmat(id, nullptr, SHM_REMAP), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  // Unknown id.
  EXPECT_EQ(shmat(id + 1000000, nullptr, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(shmat(-1, nullptr, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(SysV, DetachRules) {
  int id = Create(IPC_PRIVATE, 2 * kPage);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  EXPECT_EQ(Err(shmdt(p + kPage)), EINVAL);  // inside the attachment
  EXPECT_EQ(Err(shmdt(p + 1)), EINVAL);      // unaligned
  char* other = FreeRange(1);
  EXPECT_EQ(Err(shmdt(other)), EINVAL);  // nothing there
  void* anon = mmap(nullptr, kPage, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  EXPECT_EQ(Err(shmdt(anon)), EINVAL);  // a mapping, but not SysV
  EXPECT_EQ(shmdt(p), 0);
  EXPECT_EQ(Err(shmdt(p)), EINVAL);  // twice
  // munmap of the first page: nattch stays 1 (the rest is still attached)
  // and shmdt at the original address detaches the rest.
  p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_EQ(munmap(p, kPage), 0);
  EXPECT_EQ(Stat(id).shm_nattch, 1u);
  EXPECT_EQ(shmdt(p), 0);
  EXPECT_EQ(Stat(id).shm_nattch, 0u);
  EXPECT_EQ(MapsLine(p + kPage), "");
  // shm_nattch counts VMAs, not attach calls: unmapping the middle page of a
  // 3-page attachment leaves two pieces and shm_nattch 2. shmdt at the
  // original address detaches every piece of that attachment (to its size).
  int id3 = Create(IPC_PRIVATE, 3 * kPage);
  p = static_cast<char*>(shmat(id3, nullptr, 0));
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  EXPECT_EQ(Stat(id3).shm_nattch, 2u);
  EXPECT_EQ(Err(shmdt(p + 2 * kPage)), EINVAL);  // a piece's own start is no attach address
  EXPECT_EQ(shmdt(p), 0);
  EXPECT_EQ(Stat(id3).shm_nattch, 0u);
  EXPECT_EQ(MapsLine(p + 2 * kPage), "");
  // munmap of the whole attachment detaches it.
  p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_EQ(munmap(p, 2 * kPage), 0);
  EXPECT_EQ(Stat(id).shm_nattch, 0u);
  // mremap moving an attachment keeps it attached (shmdt at the new address).
  p = static_cast<char*>(shmat(id, nullptr, 0));
  char* dst = FreeRange(2);
  char* q = static_cast<char*>(mremap(p, 2 * kPage, 2 * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, dst));
  ASSERT_EQ(q, dst);
  EXPECT_EQ(Stat(id).shm_nattch, 1u);
  EXPECT_EQ(shmdt(q), 0);
  EXPECT_EQ(Stat(id).shm_nattch, 0u);
}

// ---- shm_nattch, pids, IPC_RMID --------------------------------------------

TEST_F(SysV, NattchFollowsForkDetachAndExit) {
  int id = Create(kKey, kPage);
  shmid_ds ds = Stat(id);
  EXPECT_EQ(ds.shm_nattch, 0u);
  EXPECT_EQ(ds.shm_cpid, getpid());
  EXPECT_EQ(ds.shm_lpid, 0);
  EXPECT_EQ(ds.shm_atime, 0);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  ds = Stat(id);
  EXPECT_EQ(ds.shm_nattch, 1u);
  EXPECT_EQ(ds.shm_lpid, getpid());
  EXPECT_NE(ds.shm_atime, 0);
  char* p2 = static_cast<char*>(shmat(id, nullptr, 0));  // same process, twice
  EXPECT_EQ(Stat(id).shm_nattch, 2u);
  ASSERT_EQ(shmdt(p2), 0);
  EXPECT_EQ(Stat(id).shm_nattch, 1u);
  EXPECT_NE(Stat(id).shm_dtime, 0);
  // A fork child inherits the attachment: 2 while it lives. The fork itself
  // does not change shm_lpid (the vma is opened in the parent's context...
  // measured below), the child's exit detaches and sets shm_lpid to the child.
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t child = fork();
  if (child == 0) {
    shmid_ds d{};
    shmctl(id, IPC_STAT, &d);
    char c = static_cast<char>(d.shm_nattch);
    if (write(pipefd[1], &c, 1) != 1) _exit(2);
    char lp = d.shm_lpid == getppid() ? 1 : 0;
    if (write(pipefd[1], &lp, 1) != 1) _exit(2);
    _exit(0);
  }
  char nattch = 0, lpid_is_parent = 0;
  ASSERT_EQ(read(pipefd[0], &nattch, 1), 1);
  ASSERT_EQ(read(pipefd[0], &lpid_is_parent, 1), 1);
  int st = 0;
  ASSERT_EQ(waitpid(child, &st, 0), child);
  EXPECT_EQ(nattch, 2);
  EXPECT_EQ(lpid_is_parent, 1);
  ds = Stat(id);
  EXPECT_EQ(ds.shm_nattch, 1u);
  EXPECT_EQ(ds.shm_lpid, child);
  // exec detaches too: a child that execs sleep is no longer attached.
  child = fork();
  if (child == 0) {
    execl("/bin/sleep", "sleep", "5", static_cast<char*>(nullptr));
    _exit(127);
  }
  int attached = 2;
  for (int i = 0; i < 500 && attached != 1; i++) {
    usleep(10000);
    attached = static_cast<int>(Stat(id).shm_nattch);
  }
  EXPECT_EQ(attached, 1);
  kill(child, SIGKILL);
  waitpid(child, &st, 0);
}

TEST_F(SysV, RemoveWhileAttached) {
  int id = Create(kKey, kPage);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  p[0] = 7;
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
  shmid_ds ds = Stat(id);  // still there while attached
  EXPECT_EQ(ds.shm_perm.__key, IPC_PRIVATE);
  EXPECT_TRUE(ds.shm_perm.mode & SHM_DEST);
  EXPECT_EQ(ds.shm_nattch, 1u);
  EXPECT_EQ(shmctl(id, IPC_RMID, nullptr), 0);  // a second RMID is accepted
  // The key is free at once: a new segment under it is a different one.
  EXPECT_EQ(Err(shmget(kKey, 0, 0)), ENOENT);
  int id2 = Create(kKey, kPage);
  EXPECT_NE(id2, id);
  // Linux still attaches a removed segment by id (see shmat(2) NOTES).
  char* q = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(q, reinterpret_cast<char*>(-1));
  EXPECT_EQ(q[0], 7);
  EXPECT_EQ(Stat(id).shm_nattch, 2u);
  // IPC_SET on a removed segment works, and keeps SHM_DEST.
  ds = Stat(id);
  ds.shm_perm.mode = 0640;
  EXPECT_EQ(shmctl(id, IPC_SET, &ds), 0);
  EXPECT_EQ(Stat(id).shm_perm.mode, 0640u | SHM_DEST);
  ASSERT_EQ(shmdt(q), 0);
  ASSERT_EQ(shmdt(p), 0);
  // The last detach destroys it: the id is gone.
  shmid_ds gone;
  EXPECT_EQ(Err(shmctl(id, IPC_STAT, &gone)), EINVAL);
  EXPECT_EQ(shmat(id, nullptr, 0), reinterpret_cast<void*>(-1));
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(SysV, UnattachedSegmentKeepsItsDataUntilRemoved) {
  int id = Create(kKey, 4 * kPage);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  memset(p, 0x5a, 4 * kPage);
  ASSERT_EQ(shmdt(p), 0);
  // Nobody attached, and the data lives on.
  EXPECT_EQ(ChildResult([&] {
              char* q = static_cast<char*>(shmat(shmget(kKey, 0, 0), nullptr, SHM_RDONLY));
              if (q == reinterpret_cast<char*>(-1)) return 2;
              for (size_t i = 0; i < 4 * kPage; i++)
                if (q[i] != 0x5a) return 3;
              return 0;
            }),
            0);
  // RMID with nothing attached destroys at once.
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
  shmid_ds ds;
  EXPECT_EQ(Err(shmctl(id, IPC_STAT, &ds)), EINVAL);
}

// ---- IPC_SET, SHM_LOCK -----------------------------------------------------

TEST_F(SysV, IpcSetByOwnerAndCreator) {
  // A segment made by nobody: nobody may change its mode and give it away,
  // and, being its creator (cuid), may still change it after that.
  int id = -1;
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  EXPECT_EQ(AsNobody([&] {
              int i = shmget(IPC_PRIVATE, kPage, IPC_CREAT | 0600);
              if (i < 0) return 2;
              if (write(pipefd[1], &i, sizeof(i)) != sizeof(i)) return 3;
              shmid_ds ds{};
              if (shmctl(i, IPC_STAT, &ds) != 0) return 4;
              ds.shm_perm.mode = 0640;
              ds.shm_perm.uid = 0;  // give it to root
              if (shmctl(i, IPC_SET, &ds) != 0) return 10 + errno;
              ds.shm_perm.mode = 0600;  // still the creator
              if (shmctl(i, IPC_SET, &ds) != 0) return 100 + errno;
              return 0;
            }),
            0);
  ASSERT_EQ(read(pipefd[0], &id, sizeof(id)), static_cast<ssize_t>(sizeof(id)));
  shmid_ds ds = Stat(id);
  EXPECT_EQ(ds.shm_perm.uid, 0u);
  EXPECT_EQ(ds.shm_perm.cuid, kNobody);
  EXPECT_EQ(ds.shm_perm.mode & 0777, 0600u);
  // IPC_SET takes only the low 9 bits of the mode; other bits are ignored.
  ds.shm_perm.mode = 0777 | SHM_DEST | SHM_LOCKED;
  ASSERT_EQ(shmctl(id, IPC_SET, &ds), 0);
  EXPECT_EQ(Stat(id).shm_perm.mode, 0777u);
}

TEST_F(SysV, LockNeedsOwnershipAndMemlockLimit) {
  int root_seg = Create(IPC_PRIVATE, 64 * kPage, 0666);
  EXPECT_EQ(AsNobody([&] { return Err(shmctl(root_seg, SHM_LOCK, nullptr)); }), EPERM);
  EXPECT_EQ(AsNobody([&] { return Err(shmctl(root_seg, SHM_UNLOCK, nullptr)); }), EPERM);
  ASSERT_EQ(shmctl(root_seg, SHM_LOCK, nullptr), 0);  // CAP_IPC_LOCK
  EXPECT_TRUE(Stat(root_seg).shm_perm.mode & SHM_LOCKED);
  ASSERT_EQ(shmctl(root_seg, SHM_UNLOCK, nullptr), 0);
  EXPECT_FALSE(Stat(root_seg).shm_perm.mode & SHM_LOCKED);
  // The owner without CAP_IPC_LOCK: EPERM with RLIMIT_MEMLOCK 0, ENOMEM when
  // the segment is larger than the limit, success within it.
  EXPECT_EQ(AsNobody([&] {
              int i = shmget(IPC_PRIVATE, 64 * kPage, IPC_CREAT | 0600);
              if (i < 0) return 2;
              rlimit zero{0, 0};
              rlimit small{16 * kPage, 16 * kPage};
              rlimit big{1024 * kPage, 1024 * kPage};
              // Raise first (a hard limit can only be lowered without privilege).
              if (setrlimit(RLIMIT_MEMLOCK, &small) != 0) return 3;
              if (int e = Err(shmctl(i, SHM_LOCK, nullptr)); e != ENOMEM) return 10 + e;
              (void)big;
              if (setrlimit(RLIMIT_MEMLOCK, &zero) != 0) return 4;
              if (int e = Err(shmctl(i, SHM_LOCK, nullptr)); e != EPERM) return 40 + e;
              // SHM_UNLOCK needs no limit.
              if (int e = Err(shmctl(i, SHM_UNLOCK, nullptr)); e != 0) return 70 + e;
              return 0;
            }),
            0);
  EXPECT_EQ(AsNobody([&] {
              int i = shmget(IPC_PRIVATE, 64 * kPage, IPC_CREAT | 0600);
              rlimit big{1024 * kPage, 1024 * kPage};
              if (i < 0 || setrlimit(RLIMIT_MEMLOCK, &big) != 0) return 2;
              if (int e = Err(shmctl(i, SHM_LOCK, nullptr)); e != 0) return 10 + e;
              shmid_ds ds{};
              shmctl(i, IPC_STAT, &ds);
              return (ds.shm_perm.mode & SHM_LOCKED) ? 0 : 3;
            }),
            0);
}

// ---- what a process sees ---------------------------------------------------

TEST_F(SysV, ProcMapsShowsSysvKeyAndIdAsInode) {
  int id = Create(kKey, 2 * kPage);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  std::string line = MapsLine(p);
  // Under libshm an attachment is a mapping of a memfd (fact 1): its path
  // is the memfd's label, with key and id, and its inode the memfd's
  // (docs/named.md "Differences from the kernel").
  const std::string path = UnderLibshm()
                               ? "/memfd:SYSV1234abcd." + std::to_string(id) + " (deleted)"
                               : "/SYSV1234abcd (deleted)";
  EXPECT_EQ(MapsPath(line), path) << line;
  EXPECT_NE(line.find(" rw-s 00000000 "), std::string::npos) << line;
  std::string devino = MapsDevIno(line);
  if (!UnderLibshm()) {
    EXPECT_EQ(devino.substr(devino.find(' ') + 1), std::to_string(id)) << line;
  }
  // The device is the kernel's internal tmpfs, the one memfds live on.
  int mfd = static_cast<int>(syscall(SYS_memfd_create, "probe", 0));
  ASSERT_GE(mfd, 0);
  ASSERT_EQ(ftruncate(mfd, kPage), 0);
  void* m = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, mfd, 0);
  std::string mline = MapsLine(m);
  EXPECT_EQ(devino.substr(0, devino.find(' ')),
            MapsDevIno(mline).substr(0, MapsDevIno(mline).find(' ')))
      << line << "\n"
      << mline;
  // A read-only attach: r--s. IPC_PRIVATE: key 00000000.
  int priv = Create(IPC_PRIVATE, kPage);
  char* r = static_cast<char*>(shmat(priv, nullptr, SHM_RDONLY));
  EXPECT_EQ(MapsPath(MapsLine(r)),
            UnderLibshm() ? "/memfd:SYSV00000000." + std::to_string(priv) + " (deleted)"
                          : "/SYSV00000000 (deleted)");
  EXPECT_NE(MapsLine(r).find(" r--s "), std::string::npos);
  // After IPC_RMID the name keeps the original key.
  ASSERT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
  EXPECT_EQ(MapsPath(MapsLine(p)), path);
}

TEST_F(SysV, ProcSysvipcShmHasRssAndSwapColumns) {
  std::ifstream in("/proc/sysvipc/shm");
  std::string header;
  ASSERT_TRUE(std::getline(in, header));
  for (const char* col : {"key", "shmid", "perms", "size", "cpid", "lpid", "nattch", "uid", "gid",
                          "cuid", "cgid", "atime", "dtime", "ctime", "rss", "swap"})
    EXPECT_NE(header.find(col), std::string::npos) << col << " in: " << header;
}

// The kernel refuses userfaultfd on a SysV attachment: its vma is not a shmem
// vma (shm_vm_ops wraps shmem's), so libshm cannot manage a kernel segment
// in place; it must give the program a memfd mapping instead.
TEST_F(SysV, UserfaultfdCannotRegisterAnAttachment) {
  if (UnderLibshm()) GTEST_SKIP() << "a managed attachment is registered already (libshm's uffd)";
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (uffd < 0) GTEST_SKIP() << "userfaultfd: " << strerror(errno);
  uffdio_api api{};
  api.api = UFFD_API;
  ASSERT_EQ(ioctl(uffd, UFFDIO_API, &api), 0);
  int id = Create(IPC_PRIVATE, kPage);
  char* p = static_cast<char*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  uffdio_register reg{};
  reg.range.start = reinterpret_cast<uintptr_t>(p);
  reg.range.len = kPage;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  EXPECT_EQ(Err(ioctl(uffd, UFFDIO_REGISTER, &reg)), EINVAL);
  // The same kernel registers a memfd mapping.
  int mfd = static_cast<int>(syscall(SYS_memfd_create, "probe", 0));
  ASSERT_EQ(ftruncate(mfd, kPage), 0);
  void* m = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  reg.range.start = reinterpret_cast<uintptr_t>(m);
  reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP;
  EXPECT_EQ(ioctl(uffd, UFFDIO_REGISTER, &reg), 0) << strerror(errno);
}

// Exec releases the old mm before the new program runs: once the execed
// program has written to a pipe, the segment it had attached is detached
// (shm_nattch exact, no waiting) and an ioctl on a uffd of the old mm answers
// ESRCH. So a helper that checks its mappers' uffds before IPC_STAT can be as
// exact as the kernel about exec.
TEST_F(SysV, ExecDetachesAndEndsTheOldMmBeforeTheNewProgramRuns) {
  int id = Create(IPC_PRIVATE, kPage);
  int sv[2], out[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  ASSERT_EQ(pipe(out), 0);
  pid_t child = fork();
  if (child == 0) {
    int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    uffdio_api api{};
    api.api = UFFD_API;
    if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0) _exit(2);
    void* page = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uffdio_register reg{};
    reg.range.start = reinterpret_cast<uintptr_t>(page);
    reg.range.len = kPage;
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) _exit(3);
    if (shmat(id, nullptr, 0) == reinterpret_cast<void*>(-1)) _exit(4);
    uintptr_t addr = reinterpret_cast<uintptr_t>(page);
    char cbuf[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{&addr, sizeof(addr)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof(cbuf);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &uffd, sizeof(int));
    if (sendmsg(sv[1], &msg, 0) != sizeof(addr)) _exit(5);
    char go = 0;
    if (read(sv[1], &go, 1) != 1) _exit(6);
    dup2(out[1], 1);
    execl("/bin/echo", "echo", "ran", static_cast<char*>(nullptr));
    _exit(127);
  }
  uintptr_t addr = 0;
  char cbuf[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{&addr, sizeof(addr)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof(cbuf);
  ASSERT_EQ(recvmsg(sv[0], &msg, 0), static_cast<ssize_t>(sizeof(addr)));
  int uffd = -1;
  memcpy(&uffd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
  uffdio_zeropage zp{};
  zp.range.start = addr;
  zp.range.len = kPage;
  EXPECT_EQ(Err(ioctl(uffd, UFFDIO_ZEROPAGE, &zp)), 0);  // the old mm is alive
  EXPECT_EQ(Stat(id).shm_nattch, 1u);
  ASSERT_EQ(write(sv[0], "g", 1), 1);
  char buf[8] = {};
  ASSERT_GT(read(out[0], buf, sizeof(buf)), 0);  // the new program has run
  EXPECT_EQ(Stat(id).shm_nattch, 0u);
  zp = {};
  zp.range.start = addr;
  zp.range.len = kPage;
  EXPECT_EQ(Err(ioctl(uffd, UFFDIO_ZEROPAGE, &zp)), ESRCH);
  int st = 0;
  waitpid(child, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
}

}  // namespace
}  // namespace libshm::test
