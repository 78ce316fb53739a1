// SPDX-License-Identifier: MIT
// Hostile review of the trust model (docs/security.md): each TEST is one
// finding of an adversarial read of the protocol, written to fail while the
// finding stood (each did) and to pass once it was fixed. Same tools as
// hostile_client_test (security_util.h).
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "security_util.h"
#include "sys/uffd_uapi.h"

namespace libshm::test {
namespace {

constexpr size_t kVictimPages = 256;

int UserModeUffd() {
  return static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY));
}

int Memfd(size_t pages) {
  int fd = memfd_create("libshm", MFD_ALLOW_SEALING);
  if (fd >= 0 && ftruncate(fd, static_cast<off_t>(pages * kPage)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int Create(Raw& r, int memfd, uint64_t bytes, uint64_t* handle, uint32_t flags = 0) {
  Request req;
  req.op = Op::kCreate;
  req.a = bytes;
  req.flags = flags;
  Reply reply;
  int rc = r.Call(req, memfd, nullptr, &reply);
  *handle = reply.a;
  return rc;
}

// The helper's resident memory in KiB (-1 if it cannot be read).
long RssKb(pid_t pid) {
  std::ifstream st("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(st, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1L;
}

// Raises the helper's RLIMIT_NOFILE where one may (each region holds a
// memfd; production hosts commonly allow 524,288 or more) and returns how
// many regions an attack may make: up to `want`, leaving 4,000 fds spare.
uint64_t RegionsTheHelperCanHold(pid_t helper, uint64_t want) {
  struct rlimit fds = {want + 4000, want + 4000};
  if (prlimit(helper, RLIMIT_NOFILE, &fds, nullptr) != 0) {
    EXPECT_EQ(prlimit(helper, RLIMIT_NOFILE, nullptr, &fds), 0);
  }
  EXPECT_GT(fds.rlim_max, 6000u) << "the helper's RLIMIT_NOFILE is too small for the attack";
  if (fds.rlim_max <= 6000) return 0;  // the caller stops
  return std::min<uint64_t>(want, fds.rlim_max - 4000);
}

// As a member on `r`: `n` one-page regions (sparse), each registered over a
// page of its own anonymous memory. Returns how many were made (it stops at
// the first refusal), or UINT64_MAX if the memory cannot be had.
uint64_t MakeOnePageRegions(Raw& r, uint64_t n) {
  void* p = mmap(nullptr, n * kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return UINT64_MAX;
  auto base = reinterpret_cast<uintptr_t>(p);
  uint64_t made = 0;
  for (; made < n; made++) {
    int memfd = Memfd(1);
    uint64_t h = 0;
    if (memfd < 0 || Create(r, memfd, kPage, &h, internal::kCreateNoReserve) != 0) break;
    close(memfd);
    if (r.Call(Op::kRegister, h, base + made * kPage, kPage, 0) != 0) break;
  }
  return made;
}

int HelloWith(Raw& r, Op op, int fd, uint32_t flags = 0) {
  Request req;
  req.op = op;
  req.flags = flags;
  return r.Call(req, fd);
}

// The st_ino of the mapping that starts at `addr` in this process.
uint64_t InoOfMappingAt(const void* addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    unsigned long start, end, offset, ino;
    if (sscanf(line.c_str(), "%lx-%lx %*s %lx %*x:%*x %lu", &start, &end, &offset, &ino) == 4 &&
        start == reinterpret_cast<uintptr_t>(addr)) {
      return ino;
    }
  }
  return 0;
}

class Review : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: the attacks switch uids";
    setenv("LIBSHM_LIMIT", "4M", 1);
    address_ = StartHelper(0, &helper_);
    ASSERT_FALSE(address_.empty());
    setenv("LIBSHM_SESSION", address_.c_str(), 1);
    void* p = nullptr;
    ASSERT_EQ(libshm_map(nullptr, kVictimPages * kPage, PROT_READ | PROT_WRITE, 0, &p), 0);
    victim_ = static_cast<char*>(p);
    for (size_t i = 0; i < kVictimPages; i++) FillPage(victim_ + i * kPage, i, 1);
    EvictAll();
  }

  void ExpectVictimIntact() {
    EvictAll();
    for (size_t i = 0; i < kVictimPages; i++) {
      ASSERT_TRUE(CheckPage(victim_ + i * kPage, i, 1)) << "victim page " << i << " changed";
    }
  }

  std::string address_;
  pid_t helper_ = -1;
  char* victim_ = nullptr;
};

// Makes /proc/self/maps hold a line whose 512-byte fgets() chunk (the
// helper's parser: requests.cc HandleHelloRestrictedChild, proc_maps.cc
// FindMapsEntry) reads as "start-end rw-p 0 00:00 <ino> /memfd:libshm":
// a regular file in /tmp whose path is padded so that its tail starts at
// byte 511 of the line. Returns 0 or a step code.
int ForgeMapsLine(uintptr_t start, uintptr_t end, uint64_t ino, std::string* cleanup) {
  std::string base = "/tmp/rv-" + std::to_string(getpid());
  std::string pad1(200, 'a');
  char fake[160];
  snprintf(fake, sizeof(fake), "%lx-%lx rw-p 00000000 00:00 %llu ",
           static_cast<unsigned long>(start), static_cast<unsigned long>(end),
           static_cast<unsigned long long>(ino));
  std::string d1 = base + "/" + pad1;
  std::string d2 = d1 + "/b";
  std::string d3 = d2 + "/" + fake;
  std::string file = d3 + "/memfd:libshm";
  if (mkdir(base.c_str(), 0700) != 0 || mkdir(d1.c_str(), 0700) != 0 ||
      mkdir(d2.c_str(), 0700) != 0 || mkdir(d3.c_str(), 0700) != 0) {
    return 20;
  }
  *cleanup = base;
  int fd = open(file.c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0 || ftruncate(fd, kPage) != 0) return 21;
  void* m = mmap(nullptr, kPage, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return 22;
  // Where the path starts in our line (the kernel pads the columns).
  std::ifstream maps("/proc/self/maps");
  std::string line;
  size_t at = std::string::npos;
  while (std::getline(maps, line)) {
    if (line.find(base) != std::string::npos) {
      at = line.find(base);
      break;
    }
  }
  if (at == std::string::npos) return 23;
  // The path is resolved when maps is read: rename the padding directory so
  // that "<fake>/memfd:libshm" starts at byte 511.
  size_t before = at + d1.size() + 1;  // up to and including the '/' after pad1
  size_t pad2 = 511 - before - 1;      // and the '/' after pad2
  if (pad2 == 0 || pad2 > 255) return 24;
  std::string d2new = d1 + "/" + std::string(pad2, 'b');
  if (rename(d2.c_str(), d2new.c_str()) != 0) return 25;
  // Check what a 512-byte fgets sees.
  FILE* f = fopen("/proc/self/maps", "re");
  char chunk[512];
  bool forged = false;
  while (fgets(chunk, sizeof(chunk), f) != nullptr) {
    if (strncmp(chunk, fake, strlen(fake)) == 0) forged = true;
  }
  fclose(f);
  return forged ? 0 : 26;
}

// FINDING 1 (critical, (a) + (c)). The helper parses /proc/<pid>/maps with
// fgets(line, 512): a longer line (a file with a long path, which any user
// can make) is read as several "lines", and the tail of one is whatever the
// path says. A member of uid 65534 forges a line that names the victim's
// memfd inode over its own anonymous memory and says kHelloRestrictedChild:
// the helper registers the victim's region there, serves the victim's
// swapped pages into the attacker's memory, hands it the victim's memfd
// (kInodeFd), and a write there leaves the victim's page dirty with a hole
// behind it: eviction reads zeros and the victim's data is gone.
TEST_F(Review, AForgedMapsLineGivesAMemberNothing) {
  uint64_t ino = InoOfMappingAt(victim_);
  ASSERT_NE(ino, 0u);
  std::map<int, std::string> steps = {
      {1, "unmapping the inherited victim"},
      {2, "anonymous memory"},
      {3, "a user-mode-only uffd"},
      {4, "kHelloRestrictedChild"},
      {11, "ATTACK WORKED: the member read the victim's swapped page through its own anon memory"},
      {12, "ATTACK WORKED: kInodeFd gave the member the victim's memfd"},
      {13,
       "ATTACK WORKED: the member read the victim's swapped page through its own anon memory, "
       "and kInodeFd gave it the victim's memfd (read-write)"},
      {20, "mkdir"},
      {21, "create"},
      {22, "mmap"},
      {23, "maps"},
      {24, "pad"},
      {25, "rename"},
      {26, "the forged line is not at a chunk boundary"}};
  int status = AsMember(kNobody, [&] {
    if (munmap(victim_, kVictimPages * kPage) != 0) return 1;
    void* anon =
        mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (anon == MAP_FAILED) return 2;
    auto a = reinterpret_cast<uintptr_t>(anon);
    std::string cleanup;
    int rc = ForgeMapsLine(a, a + 4 * kPage, ino, &cleanup);
    if (rc != 0) return rc;
    int uffd = UserModeUffd();
    if (uffd < 0) return 3;
    Raw r(address_);
    if (HelloWith(r, Op::kHelloRestrictedChild, uffd) != 0) return 4;
    // Page 0: read. If the helper registered the victim here, it fills it
    // from the victim's swap slot.
    bool leaked = CheckPage(anon, 0, 1);
    // Page 1: written. The helper marks the victim's page 1 dirty.
    memset(static_cast<char*>(anon) + kPage, 0x5a, kPage);
    Request req;
    req.op = Op::kInodeFd;
    req.a = a;
    int memfd = -1;
    bool got_memfd = false;
    if (r.Call(req, -1, &memfd) == 0 && memfd >= 0) {
      struct stat st;
      got_memfd = fstat(memfd, &st) == 0 && st.st_ino == ino;
    }
    std::string rm = "rm -rf " + cleanup;
    if (system(rm.c_str()) != 0) {
    }
    return leaked || got_memfd ? 10 + (leaked ? 1 : 0) + (got_memfd ? 2 : 0) : 0;
  });
  EXPECT_EQ(DescribeChild(status, steps), "ok");
  ExpectVictimIntact();
}

// FINDING 2 (high, (c)). kHelloRestrictedChild releases a fork pin whoever
// sends it: the pin of the sender's parent, or else the OLDEST pin
// (requests.cc HandleHelloRestrictedChild, `size_t pick = 0`). A member
// that is not the child (here a sibling running as uid 65534) says it
// first; the parent exits at once as restricted-mode parents may, its
// regions are collected (swap extent released), and the real child finds
// nothing: it reads zeros where its parent's data was.
TEST(ReviewSession, OnlyTheForkedChildReleasesItsParentsPin) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the attacker switches uids";
  unsetenv("LIBSHM_SESSION");
  pid_t helper = -1;
  std::string address = StartHelper(0, &helper);
  ASSERT_FALSE(address.empty());
  volatile uint64_t* w = SharedWord();  // [0] ready [1] attacked [2] go [3] child done [4] result
  constexpr size_t kPages = 64;
  Raw owner(address);  // the session's owner (shmrun): keeps the helper up throughout
  ASSERT_EQ(owner.Call(Op::kHello), 0);
  pid_t parent = fork();
  if (parent == 0) {
    Raw r(address);
    int uffd = UserModeUffd();
    if (uffd < 0 || HelloWith(r, Op::kHello, uffd, internal::kHelloRestricted) != 0) _exit(1);
    int memfd = Memfd(kPages);
    uint64_t h = 0;
    if (Create(r, memfd, kPages * kPage, &h) != 0) _exit(2);
    auto* p = static_cast<char*>(
        mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0));
    if (p == MAP_FAILED) _exit(3);
    if (r.Call(Op::kRegister, h, reinterpret_cast<uintptr_t>(p), kPages * kPage, 0) != 0) _exit(4);
    for (size_t i = 0; i < kPages; i++) FillPage(p + i * kPage, i, 1);
    Request ctl;
    ctl.op = Op::kCtl;
    snprintf(ctl.text, sizeof(ctl.text), "evict.run");
    ctl.a = 1;
    ctl.b = 0;
    if (r.Call(ctl) != 0) _exit(5);
    // The attacker: a member of the tree that dropped privilege.
    pid_t attacker = fork();
    if (attacker == 0) {
      if (!BecomeUid(kNobody)) _exit(99);
      while (w[0] == 0) usleep(1000);
      if (getenv("REVIEW_CONTROL") == nullptr) {  // REVIEW_CONTROL=1: no attack, the test passes
        Raw a(address);
        int u = UserModeUffd();
        HelloWith(a, Op::kHelloRestrictedChild, u);
      }
      w[1] = 1;
      _exit(0);
    }
    // What the library does before fork in restricted mode.
    if (r.Call(Op::kForkPending) != 0) _exit(6);
    pid_t child = fork();
    if (child == 0) {
      while (w[2] == 0) usleep(1000);
      Raw c(address);
      int u = UserModeUffd();
      int rc = HelloWith(c, Op::kHelloRestrictedChild, u);
      uint64_t bad = 0;
      int check = ChildCheckPages(p, 0, kPages, 1, 1, &bad);
      w[4] = rc != 0 ? 1000 - rc : check != 0 ? 2000 + bad : 1;
      w[3] = 1;
      _exit(0);
    }
    w[0] = 1;
    while (w[1] == 0) usleep(1000);
    int st;
    waitpid(attacker, &st, 0);
    _exit(0);  // a parent that exits right after fork
  }
  int st;
  waitpid(parent, &st, 0);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << DescribeChild(st);
  usleep(1500 * 1000);  // the helper reaps the parent
  w[2] = 1;
  for (int i = 0; i < 20000 && w[3] == 0; i++) usleep(1000);
  ASSERT_EQ(w[3], 1u) << "the child did not finish";
  EXPECT_EQ(w[4], 1u) << (w[4] < 2000 ? "the child's hello failed: " + std::to_string(w[4] - 1000)
                                      : "the child lost its parent's data: first bad page " +
                                            std::to_string(w[4] - 2000));
  SignalProcess(helper, SIGKILL);
  waitpid(helper, &st, 0);
}

// FINDING 3 (high, (b)). kCreate accepts up to 2^36 - 1 pages and the helper
// allocates one byte of page state per page (inode.h states_) after only
// the swap extent is checked; a MAP_NORESERVE (sparse) extent costs nothing.
// A member of uid 65534 sends one memfd of 256 TiB (sparse, free to make):
// std::vector throws bad_alloc in the engine thread and shmd dies, which
// kills every client of the session (their watchdogs). Below that, each
// create pins up to pages bytes of helper memory: 4 x 1 TiB = 1 GiB here.
TEST(ReviewSession, HugeCreatesNeitherKillNorBloatTheHelper) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the attacker switches uids";
  unsetenv("LIBSHM_SESSION");
  // A swap dir whose filesystem takes a sparse file of any size (tmpfs); on
  // ext4 the same attack is capped at 2^32 pages: 4 GiB of helper memory per
  // create.
  setenv("LIBSHM_SWAP_DIR", "/dev/shm", 1);
  pid_t helper = -1;
  std::string address = StartHelper(0, &helper);
  unsetenv("LIBSHM_SWAP_DIR");
  ASSERT_FALSE(address.empty());
  Raw owner(address);  // a live member the attacker descends from
  ASSERT_EQ(owner.Call(Op::kHello), 0);
  auto rss_kb = [&] { return RssKb(helper); };
  long before = rss_kb();
  volatile uint64_t* w = SharedWord();
  pid_t attacker = fork();
  if (attacker == 0) {
    if (!BecomeUid(kNobody)) _exit(99);
    Raw r(address);
    if (r.Call(Op::kHello) != 0) _exit(1);
    for (int i = 0; i < 4; i++) {
      int fd = memfd_create("libshm", MFD_ALLOW_SEALING);
      if (ftruncate(fd, off_t{1} << 40) != 0) _exit(2);  // 2^28 pages
      uint64_t h;
      if (Create(r, fd, uint64_t{1} << 40, &h, internal::kCreateNoReserve) != 0) _exit(3);
      close(fd);
    }
    w[0] = 1;
    while (w[1] == 0) usleep(1000);
    int fd = memfd_create("libshm", MFD_ALLOW_SEALING);
    const uint64_t bytes = ((uint64_t{1} << 36) - 1) * kPage;
    if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) _exit(4);
    uint64_t h;
    int rc = Create(r, fd, bytes, &h, internal::kCreateNoReserve);
    w[2] = static_cast<uint64_t>(-rc);
    w[3] = 1;
    _exit(0);
  }
  for (int i = 0; i < 30000 && w[0] == 0; i++) usleep(1000);
  long after = rss_kb();
  EXPECT_LT(after - before, 64 * 1024)
      << "helper RSS grew by " << (after - before) / 1024 << " MiB from four creates of one member";
  w[1] = 1;
  for (int i = 0; i < 30000 && w[3] == 0; i++) usleep(1000);
  usleep(300 * 1000);
  int status;
  waitpid(attacker, &status, 0);
  EXPECT_TRUE(HelperAlive(helper)) << "one kCreate killed the helper (the create answered "
                                   << -static_cast<int64_t>(w[2]) << ")";
  if (HelperAlive(helper)) SignalProcess(helper, SIGKILL);
  waitpid(helper, &status, 0);
}

// The session's cap on pages (kMaxSessionPages, 2^38 pages: 1 PiB) bounds
// what page tables all of a session's regions may ask the helper for, however
// they are split: four creates just under 2^36 pages fit, a fifth is refused
// with ENOMEM (as the kernel refuses a mapping it cannot account for), and
// the pages count again once a region is gone.
TEST(ReviewSession, HugeCreatesStopAtTheSessionsPageCap) {
  unsetenv("LIBSHM_SESSION");
  setenv("LIBSHM_SWAP_DIR", "/dev/shm", 1);  // sparse swap extents of any size
  pid_t helper = -1;
  std::string address = StartHelper(0, &helper);
  unsetenv("LIBSHM_SWAP_DIR");
  ASSERT_FALSE(address.empty());
  Raw r(address);
  ASSERT_EQ(r.Call(Op::kHello), 0);
  const uint64_t bytes = ((uint64_t{1} << 36) - 1) * kPage;
  auto create = [&](uint64_t* h) {
    int fd = memfd_create("libshm", MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) return -errno;
    int rc = Create(r, fd, bytes, h, internal::kCreateNoReserve);
    close(fd);
    return rc;
  };
  uint64_t handles[4];
  for (uint64_t& h : handles) ASSERT_EQ(create(&h), 0) << "a create below the cap was refused";
  uint64_t extra = 0;
  EXPECT_EQ(create(&extra), -ENOMEM) << "a fifth 256 TiB region took the session past 1 PiB";
  ASSERT_EQ(r.Call(Op::kRelease, handles[0]), 0);
  int rc = -ENOMEM;
  for (int i = 0; i < 100 && rc == -ENOMEM; i++) {
    usleep(20 * 1000);  // the helper collects the released inode between requests
    rc = create(&extra);
  }
  EXPECT_EQ(rc, 0) << "a released region's pages still count against the cap";
  EXPECT_TRUE(HelperAlive(helper));
  SignalProcess(helper, SIGKILL);
  int status;
  waitpid(helper, &status, 0);
}

// FINDING 4 (medium, (b)). One member fills the helper's fd table with
// connections (each costs a socket and a pidfd; the cap is 65,536
// connections, far above any fd limit; no cap per process or uid). From then
// on every connection is shed, so every fork child of every other process
// of the session (ChildAfterFork: kHelloChild on a new connection) exits
// 127, forever (the connections said hello and are never timed out).
TEST_F(Review, OneMembersConnectionsCannotStarveOtherForks) {
  struct rlimit small = {256, 256};
  ASSERT_EQ(prlimit(helper_, RLIMIT_NOFILE, &small, nullptr), 0);
  volatile uint64_t* w = SharedWord();
  pid_t attacker = fork();
  if (attacker == 0) {
    if (!BecomeUid(kNobody)) _exit(99);
    std::vector<Raw*> conns;
    for (int i = 0; i < 400; i++) {
      auto* r = new Raw(address_);
      if (!r->connected() || r->Call(Op::kHello) != 0) {
        delete r;
        break;
      }
      conns.push_back(r);
    }
    w[1] = conns.size();
    w[0] = 1;
    while (w[2] == 0) usleep(1000);
    _exit(0);
  }
  while (w[0] == 0) usleep(1000);
  int st = ForkAndWaitWithDeadline([&] { return ChildCheckPages(victim_, 0, 8, 1, 4); }, 20000);
  EXPECT_EQ(DescribeChild(st), "ok") << "after one member opened " << w[1] << " connections";
  w[2] = 1;
  waitpid(attacker, &st, 0);
}

// Registers one page of `inode_at` (a mapping this connection holds) at
// `addr` through kInodeFd + kRegister. Returns kRegister's status.
int RegisterOnePageMore(Raw& r, uintptr_t inode_at, uintptr_t addr, uint64_t pgoff) {
  Request req;
  req.op = Op::kInodeFd;
  req.a = inode_at;
  Reply reply;
  int memfd = -1;
  int rc = r.Call(req, -1, &memfd, &reply);
  if (memfd >= 0) close(memfd);
  if (rc != 0) return rc;
  uint64_t handle = reply.a;
  rc = r.Call(Op::kRegister, handle, addr, kPage, pgoff);
  if (rc != 0) r.Call(Op::kRelease, handle);
  return rc;
}

long MaxMapCount() {
  std::ifstream f("/proc/sys/vm/max_map_count");
  long n = 0;
  f >> n;
  return n > 0 ? n : 65530;
}

// FINDING (medium). A connection could register any number of ranges: one
// page at a time over one mapping (kInodeFd gives a new handle on it each
// time), the kernel merges them into one VMA, but the helper kept an entry
// for each, in memory that grows without end and in lists that every
// eviction, wake, msync and fork walks. A connection now registers at most
// as many ranges as the kernel lets a process have VMAs (vm.max_map_count);
// past that kRegister fails with ENOMEM, as mmap(2) does.
TEST_F(Review, OneConnectionRegistersAtMostMaxMapCountRanges) {
  const long cap = MaxMapCount();
  const uint64_t pages = static_cast<uint64_t>(cap) + 64;
  volatile uint64_t* w = SharedWord();
  int status = AsMember(
      kNobody,
      [&] {
        int uffd = UserModeUffd();
        if (uffd < 0) return 1;
        Raw r(address_);
        if (HelloWith(r, Op::kHello, uffd, internal::kHelloRestricted) != 0) return 2;
        int memfd = Memfd(pages);
        if (memfd < 0) return 3;
        void* p = mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        if (p == MAP_FAILED) return 3;
        uint64_t h = 0;
        if (Create(r, memfd, pages * kPage, &h, internal::kCreateNoReserve) != 0) return 4;
        close(memfd);
        auto base = reinterpret_cast<uintptr_t>(p);
        if (r.Call(Op::kRegister, h, base, kPage, 0) != 0) return 5;
        uint64_t i = 1;
        int rc = 0;
        for (; i < pages; i++) {
          rc = RegisterOnePageMore(r, base, base + i * kPage, i);
          if (rc != 0) break;
        }
        w[0] = i;
        w[1] = static_cast<uint64_t>(-rc);
        if (i == pages) return 10;
        if (rc != -ENOMEM || i < 1000) return 6;
        // The connection goes on: what it holds still works.
        if (r.Call(Op::kStats) != 0) return 7;
        memset(p, 7, kPage);
        if (*static_cast<volatile char*>(p) != 7) return 8;
        return 0;
      },
      120000);
  EXPECT_EQ(DescribeChild(status, {{1, "a user-mode-only uffd"},
                                   {2, "hello"},
                                   {3, "memfd"},
                                   {4, "create"},
                                   {5, "the first registration"},
                                   {6, "a registration was refused early or not with ENOMEM"},
                                   {7, "the connection after its refusal"},
                                   {8, "the registered page"},
                                   {10,
                                    "ATTACK WORKED: the helper kept more registrations of one "
                                    "connection than a process may have VMAs"}}),
            "ok")
      << "registrations accepted: " << w[0] << " (vm.max_map_count " << cap << "), then "
      << -static_cast<int64_t>(w[1]);
  EXPECT_TRUE(HelperAlive(helper_));
  ExpectVictimIntact();
}

// FINDING (high). The reference sampler picked each candidate region by
// walking the region map from its start (std::advance: O(regions)), up to
// 256 candidates on every turn of the engine loop while memory is near the
// limit, and a candidate page that is not resident does not use up the
// turn's budget. A member that holds tens of thousands of one-page regions
// it never touches (each a memfd and a create; registered anywhere in its
// own memory) made every turn walk millions of map nodes: every fault of
// every process of the session waited tens of milliseconds behind it. Here
// a program that pages 32 MiB through a 4 MiB limit never finished.
TEST_F(Review, AMembersManyRegionsDoNotStallEveryTurnOfTheLoop) {
  // As many as the helper has fds for (each region holds its memfd), up to
  // 40,000. Raise the hard RLIMIT_NOFILE where one may (production hosts
  // commonly allow 524,288 or more, and the stall grew with it).
  const uint64_t kRegions = RegionsTheHelperCanHold(helper_, 40000);
  ASSERT_GT(kRegions, 0u);
  volatile uint64_t* w = SharedWord();
  pid_t attacker = fork();
  if (attacker == 0) {
    if (!BecomeUid(kNobody)) _exit(99);
    int uffd = UserModeUffd();
    if (uffd < 0) _exit(1);
    Raw r(address_);
    if (HelloWith(r, Op::kHello, uffd, internal::kHelloRestricted) != 0) _exit(2);
    uint64_t made = MakeOnePageRegions(r, kRegions);
    if (made == UINT64_MAX) _exit(3);
    w[1] = made;
    w[0] = 1;
    while (w[2] == 0) usleep(1000);
    _exit(0);
  }
  for (int i = 0; i < 120000 && w[0] == 0; i++) usleep(1000);
  ASSERT_EQ(w[0], 1u) << "the attacker did not finish its regions";
  EXPECT_EQ(w[1], kRegions) << "regions the attacker made";
  // Pages 32 MiB through the 4 MiB limit, in an order that neither
  // fill-ahead nor readahead shortens: a fault, and a turn of the loop, per
  // page or so, with memory at the limit (the sampler at work).
  int status = ForkAndWaitWithDeadline(
      [] {
        constexpr uint64_t kPages = 8192, kStride = 67;
        void* p;
        if (libshm_map(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, 0, &p) != 0) return 1;
        char* base = static_cast<char*>(p);
        for (uint64_t i = 0, pg = 0; i < kPages; i++, pg = (pg + kStride) % kPages) {
          FillPage(base + pg * kPage, pg, 3);
        }
        for (int round = 0; round < 2; round++) {
          for (uint64_t i = 0, pg = 0; i < kPages; i++, pg = (pg + kStride) % kPages) {
            if (!CheckPage(base + pg * kPage, pg, 3)) return 2;
          }
        }
        return 0;
      },
      60000);
  EXPECT_EQ(DescribeChild(status, {{1, "map"}, {2, "a page lost its data"}}), "ok")
      << "with a member holding " << w[1] << " regions";
  w[2] = 1;
  waitpid(attacker, &status, 0);
  EXPECT_TRUE(HelperAlive(helper_));
}

// FINDING (high). Before evicting pages of a region, the helper looks at
// every cut tail over them (a mapping's end unmapped, which mremap may grow
// back in place without an event) in the process's /proc/<pid>/maps, read
// line by line from its start: a member that cut 64 tails (the most a
// connection keeps) over its own region and made its maps long (60,000 VMAs
// of its own) cost the engine thread 64 reads of its whole maps for every
// run of pages evicted. Paging that region through the limit stalled the
// helper for everyone; it never finished.
TEST_F(Review, CutTailsAndALongMapsFileDoNotStallEviction) {
  int status = AsMember(
      kNobody,
      [&] {
        constexpr uint64_t kPages = 4096, kStride = 67;
        int uffd = UserModeUffd();
        if (uffd < 0) return 1;
        Raw r(address_);
        if (HelloWith(r, Op::kHello, uffd, internal::kHelloRestricted) != 0) return 2;
        int memfd = Memfd(kPages);
        if (memfd < 0) return 3;
        char* base = static_cast<char*>(
            mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0));
        if (base == MAP_FAILED) return 3;
        uint64_t h = 0;
        if (Create(r, memfd, kPages * kPage, &h, internal::kCreateNoReserve) != 0) return 4;
        auto b = reinterpret_cast<uintptr_t>(base);
        if (r.Call(Op::kRegister, h, b, kPages * kPage, 0) != 0) return 5;
        // 64 more mappings of the region, each cut to its first page.
        for (int i = 0; i < 64; i++) {
          void* a = mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
          if (a == MAP_FAILED) return 6;
          Request req;
          req.op = Op::kInodeFd;
          req.a = b;
          Reply reply;
          int fd = -1;
          if (r.Call(req, -1, &fd, &reply) != 0) return 6;
          close(fd);
          if (r.Call(Op::kRegister, reply.a, reinterpret_cast<uintptr_t>(a), kPages * kPage, 0) !=
              0) {
            return 6;
          }
          if (munmap(static_cast<char*>(a) + kPage, (kPages - 1) * kPage) != 0) return 6;
        }
        close(memfd);
        // A long maps file: 60,000 VMAs (every other page of a range read-only).
        constexpr size_t kFat = 30000;
        char* fat = static_cast<char*>(mmap(nullptr, 2 * kFat * kPage, PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
        if (fat == MAP_FAILED) return 7;
        for (size_t j = 0; j < kFat; j++) {
          if (mprotect(fat + 2 * j * kPage, kPage, PROT_READ) != 0) return 7;
        }
        // Page the region through the 4 MiB limit, in an order that makes
        // many runs of eviction.
        for (uint64_t i = 0, pg = 0; i < kPages; i++, pg = (pg + kStride) % kPages) {
          FillPage(base + pg * kPage, pg, 2);
        }
        for (uint64_t i = 0, pg = 0; i < kPages; i++, pg = (pg + kStride) % kPages) {
          if (!CheckPage(base + pg * kPage, pg, 2)) return 8;
        }
        return 0;
      },
      60000);
  EXPECT_EQ(DescribeChild(status, {{1, "a user-mode-only uffd"},
                                   {2, "hello"},
                                   {3, "memfd"},
                                   {4, "create"},
                                   {5, "register"},
                                   {6, "a cut mapping"},
                                   {7, "a long maps file"},
                                   {8, "a page lost its data"}}),
            "ok");
  EXPECT_TRUE(HelperAlive(helper_));
  ExpectVictimIntact();
}

// FINDING (high). kForkPending (restricted mode: hold my regions for the
// child I am forking) made its list of distinct regions with a linear search
// per mapping: O(regions^2) on the engine thread for each request, and kept
// a pointer per region per pin (4,096 pins, each 30 s). A member holding
// thousands of regions that sends kForkPending in a loop stalled every
// fault of the session behind each request, and could pin gigabytes.
TEST_F(Review, ForkPinsOfAMemberWithManyRegionsNeitherStallNorBloatTheHelper) {
  const uint64_t kRegions = RegionsTheHelperCanHold(helper_, 20000);
  ASSERT_GT(kRegions, 0u);
  auto rss_kb = [&] { return RssKb(helper_); };
  volatile uint64_t* w = SharedWord();
  pid_t attacker = fork();
  if (attacker == 0) {
    if (!BecomeUid(kNobody)) _exit(99);
    int uffd = UserModeUffd();
    if (uffd < 0) _exit(1);
    Raw r(address_);
    if (HelloWith(r, Op::kHello, uffd, internal::kHelloRestricted) != 0) _exit(2);
    uint64_t made = MakeOnePageRegions(r, kRegions);
    if (made == UINT64_MAX) _exit(3);
    w[1] = made;
    w[0] = 1;
    uint64_t pins = 0;
    while (w[2] == 0) pins += r.Call(Op::kForkPending) == 0;
    w[3] = pins;
    w[4] = 1;
    _exit(0);
  }
  for (int i = 0; i < 120000 && w[0] == 0; i++) usleep(1000);
  ASSERT_EQ(w[0], 1u) << "the attacker did not finish its regions";
  long before = rss_kb();
  int status = ForkAndWaitWithDeadline(
      [] {
        constexpr uint64_t kPages = 4096, kStride = 67;
        void* p;
        if (libshm_map(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, 0, &p) != 0) return 1;
        char* base = static_cast<char*>(p);
        for (uint64_t i = 0, pg = 0; i < kPages; i++, pg = (pg + kStride) % kPages) {
          FillPage(base + pg * kPage, pg, 3);
        }
        for (uint64_t i = 0, pg = 0; i < kPages; i++, pg = (pg + kStride) % kPages) {
          if (!CheckPage(base + pg * kPage, pg, 3)) return 2;
        }
        return 0;
      },
      60000);
  // Let the attacker go on pinning for a while longer (each pin lasts 30 s).
  for (int i = 0; i < 10; i++) usleep(1000000);
  long after = rss_kb();
  w[2] = 1;
  for (int i = 0; i < 60000 && w[4] == 0; i++) usleep(1000);
  EXPECT_EQ(DescribeChild(status, {{1, "map"}, {2, "a page lost its data"}}), "ok")
      << "while a member holding " << w[1] << " regions sent kForkPending in a loop";
  EXPECT_LT(after - before, 128 * 1024) << "the helper's RSS grew by " << (after - before) / 1024
                                        << " MiB for " << w[3] << " fork pins of one member";
  waitpid(attacker, &status, 0);
  EXPECT_TRUE(HelperAlive(helper_));
}

// FINDING (high). msync, MADV_REMOVE and a region's collection stepped over
// page-state chunks never allocated (Inode::SkipUntouched), but walked every
// page of every chunk that exists: 64 Ki pages for each page a member
// touched, one per chunk. A member that wrote one page in each 256 MiB of a
// 2 TiB region (through one-page windows, so its own page tables stay small)
// and msync'ed the region (registered over address space of its own) cost
// the engine thread 2^29 page visits per msync: it never answered.
TEST_F(Review, OnePagePerChunkDoesNotMakeEveryPageOfTheRegionCost) {
  constexpr uint64_t kChunk = 65536, kChunks = 8192, kPages = kChunk * kChunks;
  int status = AsMember(
      kNobody,
      [&] {
        int uffd = UserModeUffd();
        if (uffd < 0) return 1;
        Raw r(address_);
        if (HelloWith(r, Op::kHello, uffd, internal::kHelloRestricted) != 0) return 2;
        int memfd = memfd_create("libshm", MFD_ALLOW_SEALING);
        if (memfd < 0 || ftruncate(memfd, static_cast<off_t>(kPages * kPage)) != 0) return 3;
        char* anchor =
            static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0));
        if (anchor == MAP_FAILED) return 3;
        uint64_t h = 0;
        if (Create(r, memfd, kPages * kPage, &h, internal::kCreateNoReserve) != 0) return 4;
        auto a = reinterpret_cast<uintptr_t>(anchor);
        if (r.Call(Op::kRegister, h, a, kPage, 0) != 0) return 5;
        *static_cast<volatile char*>(anchor) = 1;
        // One page written in each chunk, through a one-page window.
        for (uint64_t k = 1; k < kChunks; k++) {
          void* w = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
                         static_cast<off_t>(k * kChunk * kPage));
          if (w == MAP_FAILED) return 6;
          if (RegisterOnePageMore(r, a, reinterpret_cast<uintptr_t>(w), k * kChunk) != 0) return 6;
          *static_cast<volatile char*>(w) = 1;
          if (munmap(w, kPage) != 0) return 6;
        }
        // The whole region registered over address space of its own.
        void* all = mmap(nullptr, kPages * kPage, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (all == MAP_FAILED) return 7;
        Request req;
        req.op = Op::kInodeFd;
        req.a = a;
        Reply reply;
        int fd = -1;
        if (r.Call(req, -1, &fd, &reply) != 0) return 7;
        close(fd);
        auto b = reinterpret_cast<uintptr_t>(all);
        if (r.Call(Op::kRegister, reply.a, b, kPages * kPage, 0) != 0) return 7;
        for (int i = 0; i < 3; i++) {
          if (r.Call(Op::kMsync, b, kPages * kPage, MS_SYNC) != 0) return 8;
        }
        if (r.Call(Op::kDiscard, b, kPages * kPage) != 0) return 9;
        if (*static_cast<volatile char*>(anchor) != 0) return 10;
        return 0;
      },
      60000);
  EXPECT_EQ(DescribeChild(status, {{1, "a user-mode-only uffd"},
                                   {2, "hello"},
                                   {3, "memfd"},
                                   {4, "create"},
                                   {5, "register"},
                                   {6, "a window"},
                                   {7, "the region over address space of its own"},
                                   {8, "msync"},
                                   {9, "discard"},
                                   {10, "a discarded page still holds data"}}),
            "ok");
  EXPECT_TRUE(HelperAlive(helper_));
  ExpectVictimIntact();
}

// FINDING (high). The engine read a client's uffd until a read came back
// short (OnUffdReadable) or empty (DrainEvents). A non-cooperative event
// blocks its thread only until the helper reads it, so a member with more
// threads than one read takes (64), each calling MADV_DONTNEED on a
// registered page in a loop (an EVENT_REMOVE each), kept every read full:
// the engine thread never left that uffd and served nobody else.
TEST_F(Review, AFloodOfUffdEventsDoesNotStarveOtherProcesses) {
  constexpr int kThreads = 160;
  volatile uint64_t* w = SharedWord();
  pid_t attacker = fork();
  if (attacker == 0) {
    if (!BecomeUid(kNobody)) _exit(99);
    int uffd = UserModeUffd();
    if (uffd < 0) _exit(1);
    Raw r(address_);
    if (HelloWith(r, Op::kHello, uffd, internal::kHelloRestricted) != 0) _exit(2);
    int memfd = Memfd(kThreads);
    if (memfd < 0) _exit(3);
    char* p = static_cast<char*>(
        mmap(nullptr, kThreads * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0));
    if (p == MAP_FAILED) _exit(3);
    uint64_t h = 0;
    if (Create(r, memfd, kThreads * kPage, &h, internal::kCreateNoReserve) != 0) _exit(4);
    if (r.Call(Op::kRegister, h, reinterpret_cast<uintptr_t>(p), kThreads * kPage, 0) != 0) {
      _exit(5);
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
      threads.emplace_back([&, t] {
        while (w[2] == 0) madvise(p + t * kPage, kPage, MADV_DONTNEED);
      });
    }
    w[0] = 1;
    for (auto& t : threads) t.join();
    _exit(0);
  }
  for (int i = 0; i < 30000 && w[0] == 0; i++) usleep(1000);
  ASSERT_EQ(w[0], 1u) << "the attacker did not start";
  usleep(200 * 1000);
  int status = ForkAndWaitWithDeadline(
      [] {
        constexpr uint64_t kPages = 1024 + 512, kStride = 67;
        void* p;
        if (libshm_map(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, 0, &p) != 0) return 1;
        char* base = static_cast<char*>(p);
        for (uint64_t i = 0, pg = 0; i < kPages; i++, pg = (pg + kStride) % kPages) {
          FillPage(base + pg * kPage, pg, 3);
        }
        for (uint64_t i = 0, pg = 0; i < kPages; i++, pg = (pg + kStride) % kPages) {
          if (!CheckPage(base + pg * kPage, pg, 3)) return 2;
        }
        return 0;
      },
      60000);
  w[2] = 1;
  EXPECT_EQ(DescribeChild(status, {{1, "map"}, {2, "a page lost its data"}}), "ok")
      << "while a member's " << kThreads << " threads raised uffd events in a loop";
  WaitWithDeadline(attacker, 30000);
  EXPECT_TRUE(HelperAlive(helper_));
}

}  // namespace
}  // namespace libshm::test
