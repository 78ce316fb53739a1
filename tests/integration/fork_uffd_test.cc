// SPDX-License-Identifier: MIT
// Issue 15: a forked child holds its own userfaultfd (DESIGN.md invariant 1:
// if the helper dies, the child's faults then block instead of zero-filling)
// and is a full member of the session. A child that never got its uffd back
// still has its memory served (through the fork event's uffd, which only the
// helper holds), so only a check in the child sees the difference.
//
// The child reports through its exit status, one code per step (a gtest
// assertion in a child never reaches the parent).
#include <gtest/gtest.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#include <map>
#include <string>

#include "test_util.h"

namespace libshm::test {
namespace {

constexpr uint64_t kPages = 512;     // 2M under a 1M limit
constexpr uint64_t kNewPages = 384;  // mapped by the child

enum Step {
  kHoldsUffd = 10,
  kUffdIsItsOwn,
  kUnregister,
  kInheritedRead,
  kEvict,
  kInheritedWrite,
  kSameHelper,
  kMapInChild,
  kNewRegionServed,
};

const std::map<int, std::string> kSteps = {
    {kHoldsUffd, "1: the child holds a userfaultfd right after fork"},
    {kUffdIsItsOwn,
     "2: that userfaultfd is for the child's own memory (UFFDIO_REGISTER of a "
     "page only the child maps)"},
    {kUnregister, "2b: UFFDIO_UNREGISTER of that page"},
    {kInheritedRead, "3: the inherited region, evicted before fork, reads back"},
    {kEvict, "4: evict.run from the child"},
    {kInheritedWrite, "5: the child's writes to the inherited region survive eviction"},
    {kSameHelper, "6: libshm_ctl session.helper_pid is the parent's helper"},
    {kMapInChild, "7: libshm_map in the child"},
    {kNewRegionServed, "8: the child's own region is served after eviction"},
};

uint64_t HelperPid() {
  uint64_t pid = 0;
  size_t len = sizeof(pid);
  if (libshm_ctl("session.helper_pid", &pid, &len, nullptr, 0) != 0) return 0;
  return pid;
}

// True if `uffd` is a userfaultfd of this process's mm: it can register a
// page that only this process maps (a uffd of another mm finds no mapping
// there). The page is unregistered and unmapped again.
int CheckUffdIsOurs(int uffd) {
  void* page = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return kUffdIsItsOwn;
  uffdio_register reg = {};
  reg.range.start = reinterpret_cast<uintptr_t>(page);
  reg.range.len = kPage;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) {
    munmap(page, kPage);
    return kUffdIsItsOwn;
  }
  int rc = ioctl(uffd, UFFDIO_UNREGISTER, &reg.range) == 0 ? 0 : kUnregister;
  munmap(page, kPage);
  return rc;
}

TEST(ForkUffd, ChildHoldsItsOwnUffdAndIsAFullMember) {
  setenv("LIBSHM_LIMIT", "1M", 1);
  setenv("LIBSHM_SAMPLE_RATE", "0", 1);
  char* r;
  ASSERT_EQ(
      libshm_map(nullptr, kPages * kPage, PROT_READ | PROT_WRITE, 0, reinterpret_cast<void**>(&r)),
      0);
  for (uint64_t p = 0; p < kPages; p++) FillPage(r + p * kPage, p, 1);
  EvictAll();
  uint64_t helper = HelperPid();
  ASSERT_NE(helper, 0u);
  ASSERT_GE(HeldUffd(), 0) << "the parent holds its own uffd";

  int status = ForkAndWaitWithDeadline(
      [&]() -> int {
        // Before any libshm call: a call could open a new uffd of its own.
        int uffd = HeldUffd();
        if (uffd < 0) return kHoldsUffd;
        if (int rc = CheckUffdIsOurs(uffd)) return rc;
        if (int rc = ChildCheckPages(r, 0, kPages, 1, kInheritedRead)) return rc;
        if (int rc = ChildEvictAll(kEvict)) return rc;
        for (uint64_t p = 0; p < kPages; p += 2) FillPage(r + p * kPage, p, 2);
        if (int rc = ChildEvictAll(kEvict)) return rc;
        for (uint64_t p = 0; p < kPages; p++) {
          if (!CheckPage(r + p * kPage, p, p % 2 == 0 ? 2 : 1)) return kInheritedWrite;
        }
        if (HelperPid() != helper) return kSameHelper;
        char* mine;
        if (libshm_map(nullptr, kNewPages * kPage, PROT_READ | PROT_WRITE, 0,
                       reinterpret_cast<void**>(&mine)) != 0) {
          return kMapInChild;
        }
        for (uint64_t p = 0; p < kNewPages; p++) FillPage(mine + p * kPage, p, 3);
        if (int rc = ChildEvictAll(kEvict)) return rc;
        if (int rc = ChildCheckPages(mine, 0, kNewPages, 3, kNewRegionServed)) return rc;
        return 0;
      },
      8000);
  ASSERT_TRUE(status != kChildTimedOut && WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "forked child " << DescribeChild(status, kSteps);
  // The child's writes are the parent's too.
  for (uint64_t p = 0; p < kPages; p++) {
    ASSERT_TRUE(CheckPage(r + p * kPage, p, p % 2 == 0 ? 2 : 1)) << "page " << p;
  }
}

}  // namespace
}  // namespace libshm::test
