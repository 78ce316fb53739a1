// SPDX-License-Identifier: MIT
// The hostile-client suite (issue 9, docs/security.md). Each attack of the
// issue's list, as uid 65534 against a root session (a member of the tree
// that dropped privilege, or an outsider) and as the same uid against
// another client's region: the attack is refused, the victim's data is
// unchanged (every page checked, after eviction), and the helper goes on
// serving (a new region mapped, evicted and read back).
#include <dirent.h>
#include <grp.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>

#include "security_util.h"
#include "sys/uffd_uapi.h"

namespace libshm::test {
namespace {

constexpr size_t kVictimPages = 256;

class Hostile : public ::testing::Test {
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
    ASSERT_GE(Stat("swap_outs"), kVictimPages);
  }

  // Every page of the victim holds what it wrote, read back from swap.
  void ExpectVictimIntact() {
    EvictAll();
    for (size_t i = 0; i < kVictimPages; i++) {
      ASSERT_TRUE(CheckPage(victim_ + i * kPage, i, 1)) << "victim page " << i << " changed";
    }
  }

  // The helper still serves: a new region written, evicted, read back.
  void ExpectHelperServes() {
    ASSERT_EQ(kill(helper_, 0), 0) << "the helper is gone";
    void* p = nullptr;
    ASSERT_EQ(libshm_map(nullptr, 16 * kPage, PROT_READ | PROT_WRITE, 0, &p), 0);
    auto* q = static_cast<char*>(p);
    for (size_t i = 0; i < 16; i++) FillPage(q + i * kPage, i, 7);
    EvictAll();
    for (size_t i = 0; i < 16; i++) ASSERT_TRUE(CheckPage(q + i * kPage, i, 7)) << i;
    ASSERT_EQ(libshm_unmap(p, 16 * kPage), 0);
  }

  std::string address_;
  pid_t helper_ = -1;
  char* victim_ = nullptr;
};

// A full uffd for this process, borrowed from the root helper the way a
// member of another uid does (privilege separation). -1 if refused.
int BorrowUffd(Raw& r) {
  Request req;
  req.op = Op::kUffdDevice;
  int dev = -1;
  if (r.Call(req, -1, &dev) != 0 || dev < 0) return -1;
  int uffd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
  close(dev);
  return uffd;
}

int Hello(Raw& r, int uffd) {
  Request req;
  req.op = Op::kHello;
  return r.Call(req, uffd);
}

// A sealable memfd of `pages`, as the library makes them.
int Memfd(size_t pages, unsigned flags = MFD_ALLOW_SEALING) {
  int fd = memfd_create("libshm", flags);
  if (fd >= 0 && ftruncate(fd, static_cast<off_t>(pages * kPage)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int Create(Raw& r, int memfd, size_t bytes, uint64_t* handle) {
  Request req;
  req.op = Op::kCreate;
  req.a = bytes;
  Reply reply;
  int rc = r.Call(req, memfd, nullptr, &reply);
  *handle = reply.a;
  return rc;
}

// Items 6 and 7: a process of another uid that is not of the session's tree
// is refused at accept, whatever it sends: the session address is no secret
// and no key is asked for. It gets no /dev/userfaultfd either.
TEST_F(Hostile, OutsiderOfAnotherUidIsRefusedAtAccept) {
  const char* steps[] = {"", "connect", "kUffdDevice was answered", "kHello was answered",
                         "kStats was answered"};
  int rc = AsOutsider(kNobody, [&] {
    Raw a(address_);
    if (!a.connected()) return 1;
    Request req;
    req.op = Op::kUffdDevice;
    int dev = -1;
    if (!Refused(a.Call(req, -1, &dev)) || dev >= 0) return 2;
    Raw b(address_);
    if (!Refused(b.Call(Op::kHello))) return 3;
    Raw c(address_);
    if (!Refused(c.Call(Op::kStats))) return 4;
    return 0;
  });
  ASSERT_EQ(rc, 0) << (rc > 0 && rc < 5 ? steps[rc] : "did not finish");
  ExpectVictimIntact();
  ExpectHelperServes();
}

// Item 1 (and 8): a member of another uid names only what its connection
// holds. Guessed handles, another process's address, discard, region list,
// ctl writes: all refused, nothing of the victim touched.
TEST_F(Hostile, MemberOfAnotherUidReachesNothingItDoesNotHold) {
  uintptr_t target = reinterpret_cast<uintptr_t>(victim_);
  // The member is forked before it could inherit the victim? It inherits the
  // mapping; it unmaps it first, so the victim is another process's region.
  std::map<int, std::string> steps = {{1, "borrowing a uffd"},
                                      {2, "hello"},
                                      {3, "a guessed handle registered"},
                                      {4, "kInodeFd of another's region answered"},
                                      {5, "a guessed handle released"},
                                      {6, "region info answered"},
                                      {7, "evict.policy written"},
                                      {8, "evict.run written"},
                                      {9, "unmapping the inherited victim"}};
  int status = AsMember(kNobody, [&] {
    if (munmap(victim_, kVictimPages * kPage) != 0) return 9;
    Raw r(address_);
    int uffd = BorrowUffd(r);
    if (uffd < 0) return 1;
    if (Hello(r, uffd) != 0) return 2;
    void* own = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (uint64_t h = 0; h < 300; h++) {
      if (r.Call(Op::kRegister, h, reinterpret_cast<uintptr_t>(own), kPage, 0) != -EBADF) return 3;
      if (r.Call(Op::kRegister, h, target, kVictimPages * kPage, 0) != -EBADF) return 3;
    }
    if (r.Call(Op::kInodeFd, target) != -EINVAL) return 4;
    r.Call(Op::kDiscard, target, kVictimPages * kPage);  // its own mappings only: none there
    for (uint64_t h = 0; h < 300; h++) {
      if (r.Call(Op::kRelease, h) != -EBADF) return 5;
    }
    if (r.Call(Op::kRegionInfo, 0) != -EACCES) return 6;
    Request ctl;
    ctl.op = Op::kCtl;
    snprintf(ctl.text, sizeof(ctl.text), "evict.policy");
    ctl.a = 1;
    snprintf(ctl.text2, sizeof(ctl.text2), "fifo");
    if (r.Call(ctl) != -EPERM) return 7;
    snprintf(ctl.text, sizeof(ctl.text), "evict.run");
    if (r.Call(ctl) != -EPERM) return 8;
    return 0;
  });
  ASSERT_EQ(DescribeChild(status, steps), "ok");
  char policy[32];
  size_t len = sizeof(policy);
  ASSERT_EQ(libshm_ctl("evict.policy", policy, &len, nullptr, 0), 0);
  EXPECT_STREQ(policy, "clock");
  ExpectVictimIntact();
  ExpectHelperServes();
}

// A member may give a new SysV segment only the id of a placeholder it has
// just made itself for that key: naming a live native segment of another
// uid would shadow it for the whole session (every member's shmat of that
// id would reach the member's segment). The native id stays the kernel's.
TEST_F(Hostile, MemberCannotTakeANativeSegmentsIdForItsSegment) {
  const key_t theirs = static_cast<key_t>(0x5b000000 | (getpid() & 0xffff));
  int native = static_cast<int>(syscall(SYS_shmget, theirs, kPage, IPC_CREAT | IPC_EXCL | 0600));
  ASSERT_GE(native, 0) << strerror(errno);
  std::map<int, std::string> steps = {{1, "borrowing a uffd"},
                                      {2, "hello"},
                                      {3, "a segment made with a native segment's id"},
                                      {4, "shmat of the native id answered by the helper"},
                                      {5, "its own placeholder"},
                                      {6, "a segment made with its own placeholder refused"}};
  int status = AsMember(kNobody, [&] {
    Raw r(address_);
    int uffd = BorrowUffd(r);
    if (uffd < 0) return 1;
    if (Hello(r, uffd) != 0) return 2;
    Request get;
    get.op = Op::kShmGet;
    get.flags = internal::kShmGetCreate;
    get.a = static_cast<uint32_t>(theirs + 1);
    get.b = kPage;
    get.c = IPC_CREAT | 0666;
    get.d = static_cast<uint64_t>(native);
    if (r.Call(get) != -ENOENT) return 3;
    if (r.Call(Op::kShmAt, static_cast<uint64_t>(native)) != -ENOENT) return 4;
    int own = static_cast<int>(syscall(SYS_shmget, theirs + 1, 1, IPC_CREAT | IPC_EXCL | 0666));
    if (own < 0) return 5;
    get.d = static_cast<uint64_t>(own);
    int rc = r.Call(get);
    syscall(SYS_shmctl, own, IPC_RMID, nullptr);
    return rc == 0 ? 0 : 6;
  });
  syscall(SYS_shmctl, native, IPC_RMID, nullptr);
  ASSERT_EQ(DescribeChild(status, steps), "ok");
  ExpectVictimIntact();
  ExpectHelperServes();
}

// Same uid, another client's region: a second connection of the victim's
// own process holds nothing of it either (handles are per connection).
TEST_F(Hostile, SameUidConnectionReachesNoOtherConnectionsRegion) {
  Raw r(address_);
  ASSERT_EQ(r.Call(Op::kHello), 0);
  uintptr_t target = reinterpret_cast<uintptr_t>(victim_);
  for (uint64_t h = 0; h < 300; h++) {
    ASSERT_EQ(r.Call(Op::kRegister, h, target, kVictimPages * kPage, 0), -EBADF) << h;
    ASSERT_EQ(r.Call(Op::kRelease, h), -EBADF) << h;
  }
  EXPECT_EQ(r.Call(Op::kInodeFd, target), -EINVAL);
  EXPECT_EQ(r.Call(Op::kExtend, target, 2 * kVictimPages * kPage), -EINVAL);
  EXPECT_EQ(r.Call(Op::kDiscard, target, kVictimPages * kPage), 0);  // nothing of its own there
  ExpectVictimIntact();
  ExpectHelperServes();
}

// Item 2: offsets and lengths that overflow or pass the inode's end are
// refused before anything is indexed (this was a heap overflow in a root
// helper, and a SIGSEGV that killed every client).
TEST_F(Hostile, OverflowingOffsetsAndLengthsAreRefused) {
  int status = AsMember(kNobody, [&] {
    Raw r(address_);
    int uffd = BorrowUffd(r);
    if (uffd < 0 || Hello(r, uffd) != 0) return 1;
    int memfd = Memfd(4);
    uint64_t h = 0;
    if (Create(r, memfd, 4 * kPage, &h) != 0) return 2;
    void* m = mmap(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    auto addr = reinterpret_cast<uintptr_t>(m);
    struct {
      uint64_t start, len, pgoff;
    } lies[] = {
        {addr, kPage, UINT64_MAX},                  // pgoff + pages wraps
        {addr, kPage, 4},                           // one past the end
        {addr, 4 * kPage, 1},                       // runs past the end
        {addr, UINT64_MAX & ~(kPage - 1), 0},       // length wraps the address space
        {UINT64_MAX & ~(kPage - 1), 2 * kPage, 0},  // start + len wraps
        {addr, 0, 0},                               // empty
        {addr + 1, kPage, 0},                       // unaligned
        {addr, kPage + 1, 0},                       // unaligned length
        {addr, kPage, (UINT64_MAX / kPage) + 1},    // pgoff * page size overflows
    };
    for (const auto& l : lies) {
      if (r.Call(Op::kRegister, h, l.start, l.len, l.pgoff) != -EINVAL) return 3;
    }
    // The handle is still good for the truth.
    if (r.Call(Op::kRegister, h, addr, 4 * kPage, 0) != 0) return 4;
    // Growing past the inode registers nothing beyond it.
    Reply reply;
    Request ext;
    ext.op = Op::kExtend;
    ext.a = addr;
    ext.b = UINT64_MAX;
    if (r.Call(ext, -1, nullptr, &reply) != 0 || reply.a != 4 * kPage) return 5;
    if (r.Call(Op::kMsync, addr, UINT64_MAX - kPage, MS_SYNC) != -ENOMEM) return 6;
    return 0;
  });
  ASSERT_EQ(DescribeChild(status, {{1, "hello"},
                                   {2, "create"},
                                   {3, "a lie was accepted"},
                                   {4, "the truth was refused"},
                                   {5, "kExtend past the inode"},
                                   {6, "msync that wraps"}}),
            "ok");
  ExpectVictimIntact();
  ExpectHelperServes();
}

// Item 3: one memfd is one inode. A second kCreate of the same memfd (which
// replaced the inode under live mappings: a use-after-free), or of anything
// that is not a sealable memfd of the size claimed, is refused.
TEST_F(Hostile, CreateOfTheSameMemfdTwiceOrOfAnythingElseIsRefused) {
  Raw r(address_);
  ASSERT_EQ(r.Call(Op::kHello), 0);
  int memfd = Memfd(8);
  uint64_t h = 0;
  ASSERT_EQ(Create(r, memfd, 8 * kPage, &h), 0);
  EXPECT_EQ(Create(r, memfd, 8 * kPage, &h), -EEXIST);
  int dup_fd = dup(memfd);
  EXPECT_EQ(Create(r, dup_fd, 8 * kPage, &h), -EEXIST);
  EXPECT_EQ(Create(r, Memfd(2), 8 * kPage, &h), -EINVAL) << "smaller than claimed";
  EXPECT_EQ(Create(r, Memfd(2, 0), 2 * kPage, &h), -EINVAL) << "cannot be sealed";
  EXPECT_EQ(Create(r, Memfd(2), 0, &h), -EINVAL) << "empty";
  EXPECT_EQ(Create(r, Memfd(2), UINT64_MAX, &h), -EINVAL) << "size wraps";
  FILE* f = tmpfile();
  ASSERT_EQ(ftruncate(fileno(f), 8 * kPage), 0);
  EXPECT_EQ(Create(r, dup(fileno(f)), 8 * kPage, &h), -EINVAL) << "not shmem";
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  EXPECT_EQ(Create(r, pipefd[0], kPage, &h), -EINVAL) << "a pipe";
  Request no_fd;
  no_fd.op = Op::kCreate;
  no_fd.a = kPage;
  EXPECT_EQ(r.Call(no_fd), -EINVAL) << "no fd";
  // A memfd the helper accepted can no longer shrink under its page table.
  EXPECT_NE(ftruncate(memfd, kPage), 0);
  EXPECT_EQ(errno, EPERM);
  fclose(f);
  close(memfd);
  ExpectVictimIntact();
  ExpectHelperServes();
}

// Item 5: a connection says hello once; a second hello, a request before
// hello, an unknown op or an fd where none belongs closes that connection
// (and only it), and the helper does not spin afterwards.
TEST_F(Hostile, ProtocolBreachesCloseOnlyThatConnection) {
  {
    Raw r(address_);
    ASSERT_EQ(r.Call(Op::kHello), 0);
    EXPECT_TRUE(Refused(r.Call(Op::kHello))) << "second hello";
  }
  {
    Raw r(address_);
    EXPECT_TRUE(Refused(r.Call(Op::kStats))) << "a request before hello";
  }
  {
    Raw r(address_);
    ASSERT_EQ(r.Call(Op::kHello), 0);
    EXPECT_TRUE(Refused(r.Call(static_cast<Op>(999)))) << "unknown op";
  }
  {
    Raw r(address_);
    ASSERT_EQ(r.Call(Op::kHello), 0);
    Request req;
    req.op = Op::kStats;
    EXPECT_TRUE(Refused(r.Call(req, Memfd(1)))) << "an fd with kStats";
  }
  {
    Raw r(address_);
    Request req;
    req.op = Op::kHello;
    req.magic = 0x12345678;
    EXPECT_TRUE(Refused(r.Call(req))) << "bad magic";
  }
  {
    // An oversized packet (it was cut to fit and answered as a valid one).
    int s = ConnectSession(address_.c_str());
    ASSERT_GE(s, 0);
    char big[sizeof(Request) + 64] = {};
    Request hello;
    hello.op = Op::kHello;
    memcpy(big, &hello, sizeof(hello));
    ASSERT_EQ(send(s, big, sizeof(big), 0), static_cast<ssize_t>(sizeof(big)));
    char buf[8];
    EXPECT_LE(recv(s, buf, sizeof(buf), 0), 0) << "an oversized packet was answered";
    close(s);
  }
  {
    // A short packet.
    int s = ConnectSession(address_.c_str());
    ASSERT_GE(s, 0);
    char junk[7] = "abcdef";
    ASSERT_EQ(send(s, junk, sizeof(junk), 0), static_cast<ssize_t>(sizeof(junk)));
    char buf[8];
    EXPECT_LE(recv(s, buf, sizeof(buf), 0), 0);
    close(s);
  }
  // The helper is idle again: no stale epoll entry keeps it busy (it spun at
  // 40-80 % of a CPU for minutes after such a run).
  long before = CpuTicks(helper_);
  usleep(1500 * 1000);
  long after = CpuTicks(helper_);
  ASSERT_GE(before, 0);
  EXPECT_LT(after - before, sysconf(_SC_CLK_TCK) / 3) << "the idle helper is using CPU";
  ExpectVictimIntact();
  ExpectHelperServes();
}

// One page table entry per address: a range that overlaps one the
// connection registered (its head, its tail, inside it, around it, the same
// range) is refused with EEXIST, and the first registration still serves.
TEST_F(Hostile, RegisterOverlappingARegisteredRangeIsRefused) {
  int status = AsMember(
      kNobody,
      [&] {
        Raw r(address_);
        int uffd = BorrowUffd(r);
        if (uffd < 0 || Hello(r, uffd) != 0) return 1;
        int first_fd = Memfd(16);
        int second_fd = Memfd(16);
        uint64_t first = 0, second = 0;
        if (Create(r, first_fd, 16 * kPage, &first) != 0) return 2;
        if (Create(r, second_fd, 16 * kPage, &second) != 0) return 2;
        void* m = mmap(nullptr, 16 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, first_fd, 0);
        if (m == MAP_FAILED) return 2;
        auto* base = static_cast<char*>(m);
        auto addr = reinterpret_cast<uintptr_t>(m);
        // The first: pages [4, 12).
        if (r.Call(Op::kRegister, first, addr + 4 * kPage, 8 * kPage, 4) != 0) return 3;
        for (size_t i = 4; i < 12; i++) FillPage(base + i * kPage, i, 3);
        struct {
          uint64_t first_page, pages;
          int code;
        } overlaps[] = {
            {2, 4, 4},   // over its head
            {10, 4, 5},  // over its tail
            {6, 2, 6},   // inside it
            {0, 16, 7},  // around it
            {4, 8, 8},   // the same range
            {11, 1, 9},  // its last page only
        };
        for (const auto& o : overlaps) {
          if (r.Call(Op::kRegister, second, addr + o.first_page * kPage, o.pages * kPage,
                     o.first_page) != -EEXIST) {
            return o.code;
          }
        }
        // The first still serves what it holds, and the handle refused
        // everywhere is good where nothing is registered.
        if (ChildCheckPages(base, 4, 8, 3, 10) != 0) return 10;
        if (r.Call(Op::kRegister, second, addr + 12 * kPage, 4 * kPage, 12) != 0) return 11;
        if (ChildCheckPages(base, 4, 8, 3, 10) != 0) return 10;
        return 0;
      },
      20000);
  ASSERT_EQ(DescribeChild(status, {{1, "hello"},
                                   {2, "create or mmap"},
                                   {3, "the first registration"},
                                   {4, "a range over the first's head was registered"},
                                   {5, "a range over the first's tail was registered"},
                                   {6, "a range inside the first was registered"},
                                   {7, "a range around the first was registered"},
                                   {8, "the first's own range was registered again"},
                                   {9, "the first's last page was registered again"},
                                   {10, "the first's pages no longer hold what was written"},
                                   {11, "a range next to the first was refused"}}),
            "ok");
  ExpectVictimIntact();
  ExpectHelperServes();
}

// Found by the fuzzer (docs/fuzzing.md): a uffd sent without O_NONBLOCK
// (the engine reads every uffd from its one thread: a blocking read stopped
// it for every client), and ranges that wrap around the address space.
TEST_F(Hostile, BlockingUffdAndWrappingRangesDoNotStopTheHelper) {
  // Forked now, while the helper serves: once it is stopped, a fork of this
  // process (a client: its fork event waits for the helper) would hang too.
  // It asks for an answer on another connection when told to.
  volatile uint64_t* go = SharedWord();
  ASSERT_NE(go, nullptr);
  pid_t probe = fork();
  if (probe == 0) {
    for (int ms = 0; go[0] == 0; ms += 2) {
      if (ms > 60000) _exit(3);
      usleep(2000);
    }
    Raw other(address_);
    if (!other.connected()) _exit(1);
    Request hello;
    hello.op = Op::kHello;
    hello.flags = internal::kHelloObserver;
    _exit(other.Call(hello) == 0 ? 0 : 2);
  }
  ASSERT_GT(probe, 0);
  // Short deadlines: each step is one request, answered in milliseconds; a
  // helper stopped in a read of the blocking uffd never answers.
  int status = AsMember(
      kNobody,
      [&] {
        Raw r(address_);
        Request req;
        req.op = Op::kUffdDevice;
        int dev = -1;
        if (r.Call(req, -1, &dev) != 0 || dev < 0) return 1;
        int uffd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);  // blocking
        if (uffd < 0 || Hello(r, uffd) != 0) return 2;
        if (r.Call(Op::kDiscard, 0x10000, UINT64_MAX) != -EINVAL) return 3;
        if (r.Call(Op::kDiscard, UINT64_MAX & ~(kPage - 1), 2 * kPage) != -EINVAL) return 4;
        if (r.Call(Op::kMsync, UINT64_MAX & ~(kPage - 1), 2 * kPage, MS_SYNC) != -ENOMEM) return 5;
        return 0;
      },
      5000);
  go[0] = 1;
  int answered = WaitWithDeadline(probe, 3000);
  if (answered == kChildTimedOut || status == kChildTimedOut) {
    // A stopped helper would stop this process too on its way out (the
    // library says goodbye and waits): it is ours to end.
    SignalProcess(helper_, SIGKILL);
  }
  ASSERT_EQ(DescribeChild(answered, {{1, "connecting"}, {2, "a hello refused"}}), "ok")
      << "a blocking uffd stopped the helper: another connection's hello got no answer";
  ASSERT_NE(status, kChildTimedOut)
      << "a blocking uffd stopped the helper: the member's own requests got no answer";
  ASSERT_EQ(DescribeChild(status, {{1, "borrowing the device"},
                                   {2, "hello with a blocking uffd"},
                                   {3, "discard of a length that wraps"},
                                   {4, "discard at the top of the address space"},
                                   {5, "msync at the top of the address space"}}),
            "ok");
  ExpectVictimIntact();
  ExpectHelperServes();
}

// Item 4: kHelloChild is matched with the connection's own pid (from the
// kernel), never a pid the request names: a stranger racing real forks never
// gets a child's uffd, and every child joins.
TEST_F(Hostile, StrangerNeverTakesAForkChildsUffd) {
  volatile uint64_t* stolen = SharedWord();
  volatile uint64_t* stop = SharedWord();
  pid_t thief = fork();
  if (thief == 0) {
    if (!BecomeUid(kNobody)) _exit(99);
    while (*stop == 0) {
      Raw r(address_);
      Request req;
      req.op = Op::kHelloChild;
      int fd = -1;
      if (r.Call(req, -1, &fd) == 0 || fd >= 0) *stolen = *stolen + 1;
      if (fd >= 0) close(fd);
    }
    _exit(0);
  }
  int bad = 0;
  for (int i = 0; i < 40; i++) {
    int status = ForkAndWaitWithDeadline(
        [&] {
          if (HeldUffd() < 0) return 1;
          return ChildCheckPages(victim_, 0, kVictimPages, 1, 2);
        },
        30000);
    bad += DescribeChild(status) != "ok";
  }
  *stop = 1;
  int status;
  waitpid(thief, &status, 0);
  EXPECT_EQ(*stolen, 0u) << "a stranger received a fork child's uffd";
  EXPECT_EQ(bad, 0) << "fork children that did not join";
  ExpectVictimIntact();
  ExpectHelperServes();
}

// Issue 10: the native shared memory a process reports (kNative) is a
// figure it makes up. A member of another uid sends absurd ones: each is
// refused (EINVAL) and counts nothing, sums stop at UINT64_MAX instead of
// wrapping, an unknown reason or a report before hello closes only that
// connection, and the helper goes on serving.
TEST_F(Hostile, AbsurdNativeFiguresCountNothingAndSumsDoNotWrap) {
  constexpr uint64_t kMax = internal::kMaxNativeMappingBytes;
  auto native = [](Raw& r, uint64_t reason, uint64_t bytes, uint64_t mappings, uint64_t d = 0,
                   uint32_t flags = 0) {
    Request req;
    req.op = Op::kNative;
    req.a = reason;
    req.b = bytes;
    req.c = mappings;
    req.d = d;
    req.flags = flags;
    return r.Call(req);
  };
  std::map<int, std::string> steps = {{1, "hello"},
                                      {2, "bytes not whole pages"},
                                      {3, "no mapping"},
                                      {4, "less than a page a mapping"},
                                      {5, "a mapping larger than any address space"},
                                      {6, "2^33 mappings in one report"},
                                      {7, "d or flags set"},
                                      {8, "a report that is possible"},
                                      {9, "an unknown reason did not close the connection"},
                                      {10, "reason 2^64-1 did not close the connection"},
                                      {11, "a report before hello did not close the connection"}};
  int status = AsMember(kNobody, [&] {
    Raw r(address_);
    Request hello;
    hello.op = Op::kHello;
    hello.flags = internal::kHelloObserver;
    if (r.Call(hello) != 0) return 1;
    if (native(r, LIBSHM_NATIVE_HUGETLB, UINT64_MAX, 1) != -EINVAL) return 2;
    if (native(r, LIBSHM_NATIVE_HUGETLB, 0, 0) != -EINVAL) return 3;
    if (native(r, LIBSHM_NATIVE_HUGETLB, kPage, 2) != -EINVAL) return 4;
    if (native(r, LIBSHM_NATIVE_HUGETLB, 2 * kMax, 1) != -EINVAL) return 5;
    if (native(r, LIBSHM_NATIVE_HUGETLB, UINT64_MAX & ~(kPage - 1), 1ull << 33) != -EINVAL) {
      return 6;
    }
    if (native(r, LIBSHM_NATIVE_HUGETLB, kPage, 1, 1) != -EINVAL ||
        native(r, LIBSHM_NATIVE_HUGETLB, kPage, 1, 0, 1) != -EINVAL) {
      return 7;
    }
    // 2^57 bytes at a time: the 128th report reaches 2^64; 200 of them.
    for (int i = 0; i < 200; i++) {
      if (native(r, LIBSHM_NATIVE_FLAGS, kMax, 1) != 0) return 8;
    }
    Raw bad(address_);
    if (bad.Call(hello) != 0 || !Refused(native(bad, LIBSHM_NATIVE_REASONS, kPage, 1))) return 9;
    Raw worse(address_);
    if (worse.Call(hello) != 0 || !Refused(native(worse, UINT64_MAX, kPage, 1))) return 10;
    Raw early(address_);
    if (!Refused(native(early, LIBSHM_NATIVE_HUGETLB, kPage, 1))) return 11;
    // The first connection is still served.
    return native(r, LIBSHM_NATIVE_ERROR, kPage, 1) == 0 ? 0 : 8;
  });
  ASSERT_EQ(DescribeChild(status, steps), "ok");
  EXPECT_EQ(Stat("native_shared_bytes.hugetlb"), 0u) << "an absurd figure was counted";
  EXPECT_EQ(Stat("native_shared_mappings.hugetlb"), 0u);
  EXPECT_EQ(Stat("native_shared_bytes.flags"), UINT64_MAX) << "the sum wrapped";
  EXPECT_EQ(Stat("native_shared_mappings.flags"), 200u);
  EXPECT_EQ(Stat("native_shared_bytes.error"), kPage);
  EXPECT_EQ(Stat("native_shared_mappings.error"), 1u);
  for (const char* reason : {"min_size", "no_session"}) {
    EXPECT_EQ(Stat((std::string("native_shared_bytes.") + reason).c_str()), 0u) << reason;
  }
  ExpectVictimIntact();
  ExpectHelperServes();
}

// Item 8: a helper that is not root serves its own uid only: not another
// uid, not even root (it could write into root's memory through root's uffd).
TEST(HostileSession, NonRootHelperServesOnlyItsOwnUid) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the test switches uids";
  pid_t helper = -1;
  std::string address = StartHelper(kNobody, &helper);
  ASSERT_FALSE(address.empty());
  Raw keep(address);  // nobody's own connection would be refused to root...
  EXPECT_TRUE(Refused(keep.Call(Op::kHello))) << "root was served by nobody's helper";
  int status = AsMember(kNobody, [&] {
    Raw own(address);
    return own.Call(Op::kHello) == 0 ? 0 : 1;
  });
  EXPECT_EQ(DescribeChild(status, {{1, "nobody refused by its own helper"}}), "ok");
  status = AsMember(2, [&] {
    Raw other(address);
    return Refused(other.Call(Op::kHello)) ? 0 : 1;
  });
  EXPECT_EQ(DescribeChild(status, {{1, "uid 2 served by nobody's helper"}}), "ok");
  SignalProcess(helper, SIGKILL);
  waitpid(helper, &status, 0);
}

// Item 6: connections that never say hello, or come from outside the tree,
// keep nothing alive: when the last process of the session is gone the
// helper leaves (it stayed, with its swap file, for an idle foreign
// connection).
TEST(HostileSession, IdleConnectionsDoNotKeepTheHelperAlive) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the test switches uids";
  setenv("LIBSHM_LIMIT", "4M", 1);
  pid_t helper = -1;
  std::string address = StartHelper(0, &helper);
  ASSERT_FALSE(address.empty());
  Raw idle(address);  // same uid, never says hello
  ASSERT_TRUE(idle.connected());
  volatile uint64_t* ready = SharedWord();
  volatile uint64_t* done = SharedWord();
  pid_t member = fork();
  if (member == 0) {
    setenv("LIBSHM_SESSION", address.c_str(), 1);
    void* p = nullptr;
    if (libshm_map(nullptr, 64 * kPage, PROT_READ | PROT_WRITE, 0, &p) != 0) _exit(1);
    memset(p, 1, 64 * kPage);
    *ready = 1;
    while (*done == 0) usleep(1000);
    _exit(0);
  }
  while (*ready == 0) usleep(1000);
  // An outsider's idle connection is refused outright.
  int rc = AsOutsider(kNobody, [&] {
    Raw r(address);
    return r.ClosedByHelper() ? 0 : 1;
  });
  EXPECT_EQ(rc, 0) << "an outsider's connection stayed open";
  *done = 1;
  int status;
  waitpid(member, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(ExitsWithin(helper, 20000)) << "the helper outlived its session";
  EXPECT_TRUE(idle.ClosedByHelper());
}

// A connection that never says hello is closed after the hello timeout (10
// s; 0.3 s here, by a test hook), while the member beside it is served.
TEST(HostileSession, AConnectionThatNeverSaysHelloIsClosedInTime) {
  setenv("LIBSHM_TEST_HELLO_TIMEOUT_US", "300000", 1);
  pid_t helper = -1;
  std::string address = StartHelper(0, &helper);
  unsetenv("LIBSHM_TEST_HELLO_TIMEOUT_US");
  ASSERT_FALSE(address.empty());
  Raw member(address);
  ASSERT_EQ(member.Call(Op::kHello), 0);
  Raw idle(address);  // same uid, never says hello
  ASSERT_TRUE(idle.connected());
  bool closed = false;
  for (int i = 0; i < 5 && !closed; i++) closed = idle.ClosedByHelper();  // 1 s each
  EXPECT_TRUE(closed) << "a connection that never said hello was still open after 5 s "
                         "(the hello timeout is 0.3 s here)";
  EXPECT_EQ(member.Call(Op::kStats), 0) << "the member beside it was dropped";
  SignalProcess(helper, SIGKILL);
  int status;
  waitpid(helper, &status, 0);
}

// Whether a thread of process `pid` is in nanosleep or clock_nanosleep now
// (/proc/PID/task/TID/syscall; root reads it).
bool Sleeping(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  bool sleeping = false;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    FILE* f = fopen((dir + "/" + e->d_name + "/syscall").c_str(), "r");
    if (f == nullptr) continue;
    long nr = -1;
    if (fscanf(f, "%ld", &nr) == 1 && (nr == SYS_nanosleep || nr == SYS_clock_nanosleep)) {
      sleeping = true;
    }
    fclose(f);
  }
  closedir(d);
  return sleeping;
}

// The ancestry check's second read (peer.cc): the parent links that
// proved a process of another uid descends from a member are read again,
// after the member was found. Here the intermediate parent exits between the
// two reads (the helper pauses there: LIBSHM_TEST_PAUSE_IN_ANCESTRY_CHECK_US),
// so the process is re-parented and the chain no longer holds: its pid could
// have been reused by anyone. The connection is refused.
TEST(HostileSession, ChainThatChangesDuringTheAncestryCheckIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the test switches uids";
  setenv("LIBSHM_LIMIT", "4M", 1);
  setenv("LIBSHM_TEST_PAUSE_IN_ANCESTRY_CHECK_US", "3000000", 1);  // the helper starts with it
  pid_t helper = -1;
  std::string address = StartHelper(0, &helper);
  unsetenv("LIBSHM_TEST_PAUSE_IN_ANCESTRY_CHECK_US");
  ASSERT_FALSE(address.empty());
  setenv("LIBSHM_SESSION", address.c_str(), 1);
  void* p = nullptr;
  ASSERT_EQ(libshm_map(nullptr, 4 * kPage, PROT_READ | PROT_WRITE, 0, &p), 0);  // a member
  memset(p, 1, 4 * kPage);
  volatile uint64_t* word = SharedWord();  // [0]: done flag, [1]: result
  pid_t parent = fork();
  if (parent == 0) {
    if (fork() == 0) {
      int rc = 99;
      if (BecomeUid(kNobody)) {
        Raw r(address);
        Request req;
        req.op = Op::kUffdDevice;  // what a member of another uid asks first
        int dev = -1;
        rc = !r.connected() ? 2 : Refused(r.Call(req, -1, &dev)) ? 0 : 1;
        if (dev >= 0) close(dev);
      }
      word[1] = static_cast<uint64_t>(rc);
      word[0] = 1;
      _exit(0);
    }
    for (;;) pause();  // until killed, in the helper's pause
  }
  ASSERT_GT(parent, 0);
  bool paused = false;
  for (int ms = 0; ms < 8000 && !(paused = Sleeping(helper)) && word[0] == 0; ms++) usleep(1000);
  SignalProcess(parent, SIGKILL);
  int status;
  waitpid(parent, &status, 0);
  ASSERT_TRUE(paused) << "the helper never paused in the ancestry check (child said " << word[1]
                      << ")";
  for (int ms = 0; ms < 10000 && word[0] == 0; ms += 2) usleep(2000);
  ASSERT_NE(word[0], 0u) << "the re-parented process did not finish";
  EXPECT_NE(word[1], 2u) << "could not connect";
  EXPECT_EQ(word[1], 0u) << "a process of uid 65534 whose parent exited during the ancestry check "
                            "was admitted (the chain was not read again)";
  // The helper leaves with its last client (killed, it would take this
  // process, a member, with it).
  EXPECT_EQ(libshm_unmap(p, 4 * kPage), 0);
}

}  // namespace
}  // namespace libshm::test
