# SPDX-License-Identifier: MIT
"""The planted defects run.py applies, one at a time (issue 15).

Each mutant names one file, one or more exact edits (an original snippet that
must occur exactly once in that file, and its replacement), one line saying
what the defect is, and `expect`: a regex (Python, re.search) over ctest
test names, the tests meant to catch it. run.py runs those and its default
fast set (unit, integration, security, preload Shim), so a mutant is caught
by whatever fails among them.

Groups:
  issue     the defects listed in issue 15, planted as the issue says
  security  the request layer and the helper's lifecycle (docs/security.md)
  extra     more defects in code added since (chosen for this list)

A replacement keeps the build warning-free under -Wall -Wextra -Werror: a
check that is switched off keeps referring to what it used (`&& false`,
`(void)x`), or the build fails instead of the tests.
"""

import dataclasses

# The tests of the policy lab (tests/policy): not in the default set.
POLICY_TESTS = r"^(Traces/|AllPolicies/|TraceTest\.|WorkloadTest\.|ShmsimCli\.|LiveFifo\.|PolicyRegistry\.|ClockReference\.|PolicyParams)"


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    group: str
    file: str
    edits: tuple  # ((original, replacement), ...)
    what: str
    expect: str


MUTANTS = [
    # ---- issue 15's list -------------------------------------------------
    Mutant(
        "swap-slot-shift", "issue", "libshm/src/inode.h",
        (("uint64_t slot(uint64_t page) const { return extent_.base + page; }",
          "uint64_t slot(uint64_t page) const { return extent_.base + page + 1; }"),),
        "every page's swap slot shifted by one page (Inode::slot)",
        r"^SwapSlots\."),
    Mutant(
        "cluster-fill-past-end", "issue", "libshm/src/fault_handler.cc",
        (("uint64_t end = std::min(first + opts_.cluster, vma_end);",
          "uint64_t end = std::min(first + opts_.cluster, vma_end) + 1;"),),
        "a zero cluster fill goes one page past its end, past the mapping's end in its last cluster (FillCluster)",
        r"^Layouts/FillBounds\.ClusterFill"),
    Mutant(
        "fill-ahead-past-end", "issue", "libshm/src/fault_handler.cc",
        (("while (n + 1 < c.seq_window && page + 1 + n < vma_end && inode.state(page + 1 + n) == state) {",
          "while (n + 1 < c.seq_window && page + 1 + n < vma_end + 1 && inode.state(page + 1 + n) == state) {"),),
        "fill-ahead (zeros and swap readahead) goes one page past the mapping's end (FillAhead count_ahead)",
        r"^Layouts/FillBounds\.(FillAhead|SwapReadahead)"),
    Mutant(
        "clock-insert-unreferenced", "issue", "libshm/src/policies/clock.cc",
        (("ring_[slot] = {page, true, insert_ref_};", "ring_[slot] = {page, true, false};"),),
        "CLOCK inserts a new page with its reference bit clear instead of set",
        r"^Traces/LirsTraceTest\.ClockMatchesReference/|^ClockReference\."),
    Mutant(
        "fork-child-no-uffd", "issue", "libshm/src/client.cc",
        (("      if (rc == 0 && fd < 0) rc = -EPROTO;\n      if (rc == 0) {\n        uffd_ = fd;",
          "      if (rc == 0 && fd < 0) rc = -EPROTO;\n      if (rc == 0) close(fd);\n      if (false) {\n        uffd_ = fd;"),),
        "a fork child drops the uffd kHelloChild sends it (uffd_ stays -1)",
        r"^ForkUffd\.|^Fork\."),
    Mutant(
        "evict-without-protect", "issue", "libshm/src/evictor.cc",
        (("      rc = ProtectEverywhere(inode, p0, p1);\n      if (rc == 0) rc = WriteBack(inode, p0, p1);",
          "      rc = WriteBack(inode, p0, p1);"),),
        "eviction writes dirty pages back without write-protecting them first (EvictPages)",
        r"^EvictRace\.|^Integrity\."),
    Mutant(
        "raw-remove-clean-from-slot", "issue", "libshm/src/fault_handler.cc",
        (("      int rc = UffdCopy(c.uffd, addr, zero_page_, kPageSize, !write, nullptr);",
          "      const void* fill = zero_page_;\n"
          "      if (state == PageState::kClean && ReadSwap(inode, page, 1) == static_cast<ssize_t>(kPageSize)) {\n"
          "        fill = io_buffer_.data();\n"
          "      }\n"
          "      int rc = UffdCopy(c.uffd, addr, fill, kPageSize, !write, nullptr);"),),
        "a clean resident page found punched (raw MADV_REMOVE) is refilled from its slot, not zeros",
        r"^KernelAndLibshm/AfterRawRemove\."),
    Mutant(
        "read-fault-writable", "issue", "libshm/src/fault_handler.cc",
        ((": UffdCopy(c.uffd, addr, src, kPageSize, !write, nullptr);",
          ": UffdCopy(c.uffd, addr, src, kPageSize, false, nullptr);"),),
        "a read fault is restored writable (UFFDIO_COPY without MODE_WP): the next write is unseen",
        r"^Msync\.|^Integrity\.|^KernelAndLibshm/"),
    Mutant(
        "evict-dirty-without-writeback", "issue", "libshm/src/evictor.cc",
        (("      if (rc == 0) rc = WriteBack(inode, p0, p1);",
          "      for (uint64_t p = p0; rc == 0 && p < p1; p++) {\n"
          "        if (inode.state(p) == PageState::kDirty) inode.set_state(p, PageState::kClean);\n"
          "      }"),),
        "dirty pages are evicted without writeback (marked clean, never written to their slots)",
        r"^Integrity\.|^EngineThread\."),
    Mutant(
        "msync-no-writeback", "issue", "libshm/src/evictor.cc",
        (("      if (rc == 0) rc = WriteBack(*seg.inode, a, b);\n", ""),),
        "msync protects the dirty range but never writes it back",
        r"^Msync\."),
    Mutant(
        "msync-no-fdatasync", "issue", "libshm/src/evictor.cc",
        (("    int rc = swap_.Sync();", "    int rc = 0;"),),
        "msync(MS_SYNC) writes back but never calls fdatasync on the swap file",
        r"^Msync\."),
    Mutant(
        "eexist-not-woken", "issue", "libshm/src/fault_handler.cc",
        (("      if (rc == -EEXIST) {\n        stats_.eexist++;\n        UffdWake(c.uffd, addr, kPageSize);\n      } else if (rc == 0) {",
          "      if (rc == -EEXIST) {\n        stats_.eexist++;\n      } else if (rc == 0) {"),),
        "EEXIST from UFFDIO_COPY (another mapper filled the page) is not followed by a wake",
        r"^Fork\.|^Integrity\."),
    Mutant(
        "fork-event-ignored", "issue", "libshm/src/fault_handler.cc",
        (("      OnFork(c, static_cast<int>(msg.arg.fork.ufd));", "      stats_.forks++;"),),
        "UFFD_EVENT_FORK is read and dropped: the child is never added (its uffd is never served)",
        r"^Fork\.|^ForkUffd\."),
    # ---- security (docs/security.md) ------------------------------------
    Mutant(
        "admits-every-uid", "security", "libshm/src/engine.cc",
        (("  *trusted = peer.uid == me;\n  if (*trusted) return true;",
          "  *trusted = peer.uid == me;\n  return true;"),),
        "Admits() admits every uid at accept",
        r"^Hostile\.|^HostileSession\.|^Shmrun\.SessionAdmits"),
    Mutant(
        "descends-no-reread", "security", "libshm/src/peer.cc",
        (("  for (int i = 0; i < n; i++) {\n    if (ParentOf(chain[i]) != chain[i + 1]) return false;\n  }\n  return is_member(chain[n]);",
          "  return true;"),),
        "DescendsFromMember skips the second read of the chain and the final liveness check",
        r"^Hostile\.|^HostileSession\.|^Shmrun\.SessionAdmits"),
    Mutant(
        "descends-pid1-member", "security", "libshm/src/peer.cc",
        (("    if (is_member(parent)) {", "    if (is_member(parent) || parent == 1) {"),
         ("  return is_member(chain[n]);", "  return chain[n] == 1 || is_member(chain[n]);")),
        "DescendsFromMember accepts pid 1 as a member (every orphan descends from it)",
        r"^Hostile\.|^HostileSession\.|^Shmrun\.SessionAdmits"),
    Mutant(
        "register-any-inode", "security", "libshm/src/requests.cc",
        (("int Engine::HandleRegister(Client& c, const Request& req) {\n  auto it = c.handles.find(req.a);",
          "int Engine::HandleRegister(Client& c, const Request& req) {\n"
          "  auto any = inodes_.find(static_cast<uint32_t>(req.a));\n"
          "  if (!c.handles.contains(req.a) && any != inodes_.end() && c.uffd >= 0) {\n"
          "    return RegisterRange(c, any->second.get(), req.b, req.c, req.d);\n"
          "  }\n"
          "  auto it = c.handles.find(req.a);"),),
        "kRegister accepts any inode of the session by number, not only a handle of the connection",
        r"^Hostile\."),
    Mutant(
        "register-old-overflow-check", "security", "libshm/src/requests.cc",
        (("      pgoff > bound || pages > bound - pgoff) {",
          "      pgoff + pages > bound) {"),),
        "RegisterRange's bound check is the old `pgoff + pages > inode->pages()` (wraps)",
        r"^Hostile\.Overflowing"),
    Mutant(
        "register-overlap-unchecked", "security", "libshm/src/requests.cc",
        (("  if ((next != c.vmas.end() && next->start < start + len) ||\n"
          "      (next != c.vmas.begin() && std::prev(next)->end > start)) {\n"
          "    return -EEXIST;\n  }",
          "  (void)next;"),),
        "RegisterRange no longer refuses a range overlapping one the connection registered",
        r"^Hostile\."),
    Mutant(
        "create-duplicate-inode", "security", "libshm/src/requests.cc",
        (("  if (inode_by_ino_.count(st.st_ino) != 0) {\n    close(fd);\n    return -EEXIST;\n  }\n", ""),),
        "kCreate of a memfd that is already an inode of the session is accepted (no EEXIST)",
        r"^Hostile\.CreateOf"),
    Mutant(
        "hello-twice", "security", "libshm/src/requests.cc",
        (("  return greeted ? !IsHello(op) : IsHello(op) || op == Op::kUffdDevice;",
          "  return greeted ? true : IsHello(op) || op == Op::kUffdDevice;"),),
        "a connection may say hello twice (AllowedNow)",
        r"^Hostile\.Protocol"),
    Mutant(
        "hello-child-any-pid", "security", "libshm/src/requests.cc",
        (("    if (x.get() == &c || x->dead || x->sock >= 0 || x->pid != c.pid || x->uffd < 0) continue;",
          "    if (x.get() == &c || x->dead || x->sock >= 0 || x->uffd < 0) continue;"),),
        "kHelloChild is matched with any live fork record, whatever its pid",
        r"^Hostile\.Stranger|^ForkUffd\.|^Fork\."),
    Mutant(
        "ctl-write-untrusted", "security", "libshm/src/ctl.cc",
        (("  if (writing && !c.trusted) return -EPERM;", "  (void)c;"),),
        "ctl writes (evict.policy, evict.run) are allowed for untrusted members",
        r"^Hostile\.Member|^Ctl\."),
    Mutant(
        "regioninfo-untrusted", "security", "libshm/src/requests.cc",
        (("      rc = c.trusted ? HandleRegionInfo(req, &reply) : -EACCES;",
          "      rc = HandleRegionInfo(req, &reply);"),),
        "kRegionInfo (every region's counters) is answered for untrusted members",
        r"^Hostile\.Member|^Shmstat\."),
    Mutant(
        "hello-timeout-disabled", "security", "libshm/src/engine.cc",
        (("    if (!c.greeted && c.uffd < 0 && now - c.accepted_ns > HelloTimeoutNs()) {",
          "    if (!c.greeted && c.uffd < 0 && now - c.accepted_ns > HelloTimeoutNs() && false) {"),),
        "a connection that never says hello is never closed (Housekeeping)",
        r"^HostileSession\."),
    Mutant(
        "fork-esrch-probe-removed", "security", "libshm/src/engine.cc",
        (("    if (c.pid == 0 && c.uffd >= 0 && !c.vmas.empty()) {\n"
          "      const Vma& v = c.vmas.front();\n"
          "      if (UffdWriteProtect(c.uffd, v.start, kPageSize, v.inode != nullptr) == -ESRCH) {\n"
          "        MarkDead(c, \"gone before its first fault\");\n"
          "      }\n"
          "    }\n", ""),),
        "a fork record whose pid is unknown is never probed (ESRCH): a child gone before its first fault stays",
        r"^Lifecycle\."),
    Mutant(
        "sigterm-not-ignored", "security", "libshm/src/helper/shmd_main.cc",
        (("  signal(SIGTERM, SIG_IGN);\n", ""),),
        "shmd does not ignore SIGTERM",
        r"^Lifecycle\."),
    Mutant(
        "fork-pin-not-taken", "security", "libshm/src/requests.cc",
        (("  if (fork_pins_.size() >= kMaxForkPins) return -EAGAIN;",
          "  if (fork_pins_.size() >= kMaxForkPins || c.restricted) return 0;"),),
        "restricted mode: kForkPending answers 0 but takes no pin on the parent's regions",
        r"^Restricted\."),
    Mutant(
        "extend-does-nothing", "security", "libshm/src/requests.cc",
        (("  if (want > have) {\n    int rc = RegisterRange(c, inode, end, (want - have) * kPageSize, end_page);",
          "  if (want > have && false) {\n    int rc = RegisterRange(c, inode, end, (want - have) * kPageSize, end_page);"),),
        "kExtend (mremap growth through the shim) registers nothing and answers success",
        r"^Shim\.Mremap|^KernelAndLibshm/Remap\.|^Hostile\.Overflowing"),
    Mutant(
        "adopt-regrown-tails-noop", "security", "libshm/src/fault_handler.cc",
        (("void Engine::AdoptRegrownTails(Inode& inode, uint64_t p0, uint64_t p1) {\n",
          "void Engine::AdoptRegrownTails(Inode& inode, uint64_t p0, uint64_t p1) {\n  if (p0 <= p1) return;\n"),),
        "AdoptRegrownTails does nothing: a tail regrown by a raw mremap is evicted unprotected",
        r"^KernelAndLibshm/Remap\.|^Shim\.Mremap"),
    Mutant(
        "msync-enomem-first", "security", "libshm/src/evictor.cc",
        (("  int partial = covered < end ? -ENOMEM : 0;",
          "  if (covered < end) return -ENOMEM;\n  int partial = 0;"),),
        "msync over a partly managed range returns ENOMEM before writing the managed part back",
        r"^Shim\.Msync|^Msync\."),
    # ---- more, in code added since --------------------------------------
    Mutant(
        "extend-past-inode", "extra", "libshm/src/requests.cc",
        (("  want = std::min(want, limit);", "  (void)limit;"),),
        "kExtend asks to register past the inode's end (RegisterRange must refuse it)",
        r"^Hostile\.Overflowing|^Shim\.Mremap|^KernelAndLibshm/Remap\."),
    Mutant(
        "range-wrap-unchecked", "extra", "libshm/src/evictor.cc",
        (("  if (rounded > UINTPTR_MAX - addr) return false;\n", ""),),
        "PageRangeEnd no longer refuses an msync or discard range whose end wraps",
        r"^Hostile\.|^Msync\."),
    Mutant(
        "fd-with-any-op", "extra", "libshm/src/requests.cc",
        (("        (fd != -1 && !TakesFd(req.op)) || !AllowedNow(req.op, c.greeted)) {",
          "        (fd != -1 && !TakesFd(req.op) && false) || !AllowedNow(req.op, c.greeted)) {"),),
        "an fd attached to a request that takes none is accepted (and leaks)",
        r"^Hostile\.Protocol"),
    Mutant(
        "request-before-hello", "extra", "libshm/src/requests.cc",
        (("  return greeted ? !IsHello(op) : IsHello(op) || op == Op::kUffdDevice;",
          "  return greeted ? !IsHello(op) : true;"),),
        "any request is served before hello",
        r"^Hostile\.Protocol"),
    Mutant(
        "create-not-sealed", "extra", "libshm/src/requests.cc",
        (("  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) {\n    close(fd);\n    return -EINVAL;\n  }\n", ""),),
        "kCreate does not seal the memfd against shrinking under its page table",
        r"^Hostile\.CreateOf"),
    Mutant(
        "swap-read-error-zeros", "extra", "libshm/src/fault_handler.cc",
        (("        if (c.pid > 0 && fault_tid_ > 0) {\n"
          "          syscall(SYS_tgkill, c.pid, fault_tid_, SIGBUS);\n"
          "        }\n"
          "        return true;\n"
          "      }\n"
          "      src = io_buffer_.data();",
          "        memset(io_buffer_.data(), 0, kPageSize);\n"
          "      }\n"
          "      src = io_buffer_.data();"),),
        "a failed swap read serves zeros instead of SIGBUS to the faulting thread",
        r"^Lifecycle\.FailedSwapRead"),
    Mutant(
        "swap-dir-unchecked", "extra", "libshm/src/client.cc",
        (("  int bad = CheckSwapDir(opts_.swap_dir);\n  if (bad != 0) return bad;\n", ""),),
        "the client no longer checks LIBSHM_SWAP_DIR before starting a helper",
        r"^Options\.|^Shim\.BadSwapDir"),
    Mutant(
        "discard-keeps-swapped", "extra", "libshm/src/evictor.cc",
        (("      ForgetPage(*v.inode, p);\n      v.inode->set_state(p, PageState::kEmpty);",
          "      ForgetPage(*v.inode, p);\n"
          "      if (v.inode->state(p) != PageState::kSwapped) v.inode->set_state(p, PageState::kEmpty);"),),
        "libshm_madvise(MADV_REMOVE) (kDiscard) leaves swapped pages to be read back from their slots",
        r"^KernelAndLibshm/|^Shim\.MsyncAndMadvise"),
    Mutant(
        "host-thread-signals-open", "extra", "libshm/src/host_thread.h",
        (("  sigfillset(&all);", "  sigemptyset(&all);"),),
        "threads libshm starts in a host process (watchdog, engine thread) block no signal",
        r"HostSignals"),
    Mutant(
        "fork-uffd-closed", "extra", "libshm/src/fault_handler.cc",
        (("      OnFork(c, static_cast<int>(msg.arg.fork.ufd));",
          "      close(static_cast<int>(msg.arg.fork.ufd));"),),
        "the child's uffd from UFFD_EVENT_FORK is closed: the child's faults are no longer served",
        r"^Fork\.|^ForkUffd\."),
    Mutant(
        "create-ignores-reserve", "extra", "libshm/src/requests.cc",
        (("  if (!RestoreReserveFd()) {\n    close(fd);",
          "  if (!RestoreReserveFd() && false) {\n    close(fd);"),),
        "a new region is accepted while the helper's reserve fds are missing",
        r"^Lifecycle\.FullDescriptor"),
    Mutant(
        "adopted-pages-not-dirty", "extra", "libshm/src/fault_handler.cc",
        (("       p = inode.NextIn(p + 1, last, mask)) {\n    inode.set_state(p, PageState::kDirty);",
          "       p = inode.NextIn(p + 1, last, mask)) {\n    if (mask != 0) continue;\n    inode.set_state(p, PageState::kDirty);"),),
        "a mapping adopted from /proc maps (raw mremap growth) keeps its resident pages clean",
        r"^KernelAndLibshm/Remap\.|^Shim\.Mremap"),
    Mutant(
        "cluster-fill-bound-off-by-one", "extra", "libshm/src/fault_handler.cc",
        (("uint64_t end = std::min(first + opts_.cluster, vma_end);",
          "uint64_t end = std::min(first + opts_.cluster, vma_end + 1);"),),
        "FillCluster's bound is the mapping's end plus one: past it when the mapping ends inside a cluster",
        r"^Layouts/FillBounds\.ClusterFill"),
    Mutant(
        "oversized-packet-accepted", "extra", "libshm/src/protocol.cc",
        (("  if ((msg.msg_flags & MSG_TRUNC) != 0) n = static_cast<ssize_t>(len) + 1;\n", ""),),
        "a packet larger than a request is cut to fit and answered",
        r"^Hostile\.Protocol"),
    Mutant(
        "blocking-uffd-accepted", "extra", "libshm/src/requests.cc",
        (("  if (!MakeNonblocking(fd)) {\n    close(fd);\n    return -EINVAL;\n  }\n  uint64_t got = 0;",
          "  uint64_t got = 0;"),),
        "kHello keeps a uffd sent without O_NONBLOCK as it is (one read blocks the helper)",
        r"^Hostile\.Blocking"),
    Mutant(
        "fork-pin-any-token", "extra", "libshm/src/requests.cc",
        (("  for (size_t i = 0; token != 0 && i < fork_pins_.size(); i++) {\n"
          "    if (fork_pins_[i].token != token) continue;",
          "  for (size_t i = 0; i < fork_pins_.size(); i++) {\n    (void)token;"),),
        "any restricted child's hello releases the oldest fork pin, whatever its token",
        r"^Restricted\.|^ReviewSession\.OnlyTheForkedChild"),
    Mutant(
        "connections-per-member-unlimited", "extra", "libshm/src/engine.cc",
        (("    if (!trusted && ConnectionsOf(peer.pid) >= kMaxConnectionsPerMember) {",
          "    if (!trusted && ConnectionsOf(peer.pid) >= kMaxConnectionsPerMember && false) {"),),
        "a member of another uid may open any number of connections",
        r"^Review\.OneMembers"),
    Mutant(
        "session-pages-uncapped", "extra", "libshm/src/requests.cc",
        (("  if (virtual_pages_ + pages <= kMaxSessionPages) {",
          "  if (virtual_pages_ + pages <= kMaxSessionPages || true) {"),),
        "kCreate no longer caps a session's pages (1 PiB): page tables of huge sparse regions",
        r"^ReviewSession\.Huge"),
    Mutant(
        "maps-match-ino-only", "extra", "libshm/src/inode.h",
        (("bool IsMappedBy(dev_t dev, uint64_t ino) const { return dev == dev_ && ino == ino_; }",
          "bool IsMappedBy(dev_t dev, uint64_t ino) const { return (void)dev, ino == ino_; }"),),
        "a /proc maps entry is matched to a region by inode number alone, not device and inode",
        r"^Review\.AForgedMapsLine|^Restricted\.|^InodeTest\."),
    # Native shared memory (issue 10).
    Mutant(
        "native-sum-wraps", "extra", "libshm/src/requests.cc",
        (("*sum = *sum > UINT64_MAX - v ? UINT64_MAX : *sum + v;", "*sum += v;"),),
        "a client's native shared memory figures are summed with wrap-around (kNative)",
        r"^Hostile\.AbsurdNative"),
    Mutant(
        "native-impossible-figure", "extra", "libshm/src/requests.cc",
        (("bytes % kPageSize != 0 || bytes / kPageSize < mappings ||",
          "bytes % kPageSize != 0 ||"),),
        "kNative counts mappings of less than a page each",
        r"^Hostile\.AbsurdNative"),
    Mutant(
        "native-counts-attempts", "extra", "preload/interpose.cc",
        (("  if (p != MAP_FAILED) {\n    counted_native", "  if (true) {\n    counted_native"),),
        "the shim counts a native mapping the kernel refused (MAP_HUGETLB without huge pages)",
        r"^Shim\.Hugetlb"),
    # (Was native-not-sent-on-join: since the watchdog thread sends pending
    # counts on its first look, the report at join is redundant, and removing
    # it changed nothing observable: the mutation run of d6beeb7 missed it.)
    Mutant(
        "native-watchdog-never-sends", "extra", "libshm/src/client.cc",
        (("        SendNativeLocked(sock_, &native_owed_);\n      }\n      mu_.unlock();",
          "        (void)0;\n      }\n      mu_.unlock();"),),
        "the watchdog thread never sends native counts: a connected process's wait for its next "
        "request or its exit",
        r"^Shim\.Burst"),
    # Sparse regions (found while closing issue 15's gaps).
    # (Was skip-untouched-skips-everything: Inode::SkipUntouched is gone,
    # every walk uses NextIn, whose chunk skipping next-in-skips-held-chunks
    # plants a defect in.)
    Mutant(
        "next-in-skips-held-chunks", "extra", "libshm/src/inode.h",
        (("      if (c != nullptr && c->Holds(mask)) {", "      if (c != nullptr && false) {"),),
        "NextIn steps over every chunk: msync, MADV_REMOVE, swapoff and collection skip every "
        "page",
        r"^InodeChunks\.|^SparseRegion\.|^SwapOps\."),
    # (Was discard-walks-every-page: MADV_REMOVE setting every page of its
    # range. Caught in run 3, when it allocated page state for untouched
    # chunks; since set_state leaves a chunk that does not exist alone for
    # kEmpty, it only costs time (2^29 cheap steps for the 2 TiB region of
    # Review.OnePagePerChunkDoesNotMakeEveryPageOfTheRegionCost, well within
    # that test's deadline), which no test asserts: run 6 missed it, and it
    # was retired as equivalent in behaviour. Time belongs to bench/.)
    # Descriptors of the host program (host_fd.h) and the exec family (exec.cc).
    Mutant(
        "watchdog-trusts-lost-pidfd", "extra", "libshm/src/client.cc",
        (("    if (pidfd.fd >= 0 && p[0].revents != 0 && !IsOurPidfdOfExited(pidfd, helper)) {",
          "    if (pidfd.fd >= 0 && p[0].revents != 0 && !IsOurPidfdOfExited(pidfd, helper) && false) {"),),
        "the watchdog takes an event on a pidfd number the program closed or reused for the "
        "helper's death (and kills the process)",
        r"^Shim\.ChildrenThatClose"),
    Mutant(
        "lost-connection-used", "extra", "libshm/src/client.cc",
        (("  if (sock_id_.StillOurs()) return true;", "  if (true) return true;"),),
        "requests go to libshm's socket number after the program closed it and reused the number",
        r"^Shim\.AClosedAndReused"),
    Mutant(
        "execvpe-not-given-the-session", "extra", "preload/exec.cc",
        (("  return WithSessionEnv(envp, [&](char* const* env) { return real_execvpe(file, argv, env); });",
          "  return real_execvpe(file, argv, envp);"),),
        "execvpe passes a scrubbed environment as it is: the new program leaves the session",
        r"^Shmrun\.EveryExec"),
    # swapoff and swap moves (issue 11 item 3).
    Mutant(
        "swapoff-clean-stays-clean", "extra", "libshm/src/swap_ops.cc",
        (("         p = inode.NextIn(p + 1, inode.pages(), clean)) {\n      inode.set_state(p, PageState::kDirty);",
          "         p = inode.NextIn(p + 1, inode.pages(), clean)) {\n      continue;\n      inode.set_state(p, PageState::kDirty);"),),
        "swapoff leaves clean pages clean although their slot is gone: once swap is on "
        "again they are evicted without a write and read back wrong",
        r"^SwapOps\.SwapDirAfterSwapoff"),
    Mutant(
        "swap-move-copies-swapped-only", "extra", "libshm/src/swap_ops.cc",
        (("  return s == PageState::kSwapped || s == PageState::kClean || s == PageState::kSampled;",
          "  return s == PageState::kSwapped || (s == PageState::kClean && false) ||\n"
          "         (s == PageState::kSampled && false);"),),
        "a swap move copies only swapped slots: a clean page's copy is lost, and its next "
        "clean eviction reads back the new file's zeros",
        r"^SwapOps\.SwapMoves"),
    Mutant(
        "swapoff-ignores-limit", "extra", "libshm/src/swap_ops.cc",
        (("  if (need > limit || swapped * kPageSize > avail) {",
          "  if ((need > limit && false) || swapped * kPageSize > avail) {"),),
        "swapoff does not check the limit: a region 6x the limit is brought back",
        r"^SwapOps\.SwapoffThatDoesNotFit|^Shmstat\.Swapoff"),
    Mutant(
        "swapoff-skips-unmapped", "extra", "libshm/src/swap_ops.cc",
        (("    Inode& inode = *up;\n    uint64_t before = inode.swap_ins;",
          "    Inode& inode = *up;\n    if (inode.mappings == 0) continue;\n    uint64_t before = inode.swap_ins;"),),
        "swapoff restores only regions someone maps (the 1998 SysV bug): a partly swapped "
        "region nobody maps loses its swapped pages with the file",
        r"^SwapOps\.SwapoffFindsARegionNobodyMaps"),
    Mutant(
        "reclaim-due-after-swapoff", "extra", "libshm/src/evictor.cc",
        (("  if (EvictionSuspended()) {\n    background_reclaim_ = false;\n    return false;\n  }",
          "  if (EvictionSuspended() && false) {\n    background_reclaim_ = false;\n    return false;\n  }"),),
        "background reclaim stays due after swapoff: the loop waits 0 ms and the idle "
        "helper spins a CPU above the high watermark",
        r"^SwapOps\.SwapoffBringsEverythingBack"),
    # A fault that meets EAGAIN long (found under PyTorch's DataLoader).
    Mutant(
        "fault-dropped-after-eagain", "extra", "libshm/src/fault_handler.cc",
        (("    FillAhead(c, inode, addr, page, state, write);\n    return true;\n  }\n"
          "  // Still EAGAIN (an event of another thread is in flight): the fault\n"
          "  // stays pending in the kernel and is tried again on a later turn.\n  return c.dead;",
          "    FillAhead(c, inode, addr, page, state, write);\n    return true;\n  }\n"
          "  return true;"),),
        "a fault whose fill meets EAGAIN for a while is dropped: its thread never wakes",
        r"^Lifecycle\.AFaultThatMeetsEagainLong"),
    # Found by PyTorch's DataLoader in CI, and by the work on issue 11 after it.
    Mutant(
        "register-eagain-is-final", "extra", "libshm/src/client.cc",
        (("  int rc = CallLocked(req, reply, -1, nullptr);\n  if (rc != -EAGAIN) return rc;",
          "  int rc = CallLocked(req, reply, -1, nullptr);\n  if (rc != -EAGAIN || true) return rc;"),),
        "a registration refused while another thread's unmap is in flight is not asked "
        "again: mmap (and write into an object) fails with EAGAIN",
        r"^MmChanging\."),
    Mutant(
        "lock-keeps-nothing", "extra", "libshm/src/kept_pages.cc",
        (("  inode.locked = true;\n  ForgetKeptPages(inode);",
          "  (void)0;\n  ForgetKeptPages(inode);"),),
        "SHM_LOCK brings the pages in but does not keep them: the next eviction takes them",
        r"^SysvSegments\.ALocked"),
    Mutant(
        "evict-batch-one-round", "extra", "libshm/src/evictor.cc",
        (("    if (evicted > 0 || named == 0 || passed_by < named) return evicted;",
          "    if (evicted > 0 || named == 0 || passed_by <= named) return evicted;"),),
        "a batch of nothing but pages to pass by ends direct reclaim: faults are served "
        "above the limit",
        r"^NamedObjects\.PagesOfAPinnedObject"),
    Mutant(
        "background-reclaim-spins", "extra", "libshm/src/evictor.cc",
        (("    if (MonotonicNs() < reclaim_idle_until_ns_) return false;",
          "    if (MonotonicNs() < reclaim_idle_until_ns_ && false) return false;"),),
        "background reclaim that evicts nothing is tried again at once: the idle helper "
        "spins a CPU",
        r"^SysvSegments\.ALockAboveTheHighWatermark"),
    Mutant(
        "seal-without-pin", "extra", "preload/seals.cc",
        (("  if (cmd == F_ADD_SEALS && SealNeedsPin(fd, reinterpret_cast<uintptr_t>(arg))) {",
          "  if (cmd == F_ADD_SEALS && SealNeedsPin(fd, reinterpret_cast<uintptr_t>(arg)) && false) {"),),
        "a write seal is applied without the pin: swapped pages can never come back",
        r"^NamedObjects\.ASealable"),
]
