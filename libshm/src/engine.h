// SPDX-License-Identifier: MIT
// Engine: the pager. It owns the registry of inodes, the clients (every
// process that maps a managed region, with its uffd and its VMAs), the swap
// file, the policy and the counters, and runs the one loop that serves them:
// epoll over the listening socket, every client's socket, uffd and pidfd.
//
// Single-threaded by design: faults, events, eviction and writeback all run
// on the engine thread, so the eviction sequence (WP in every mapper, pread,
// write the slot, punch, wake) can never interleave with a fill of the same
// page, and no page needs a lock. The engine runs as the helper process shmd
// or, for tests, as a thread of the client process (same code).
//
// Split over files by concern: engine.cc (loop, clients, requests),
// fault_handler.cc (page faults and uffd events), evictor.cc (eviction,
// writeback, msync), ctl.cc (ctl names and stats).
#ifndef LIBSHM_SRC_ENGINE_H_
#define LIBSHM_SRC_ENGINE_H_

#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "inode.h"
#include "libshm/libshm.h"
#include "peer.h"
#include "policy_adapter.h"
#include "protocol.h"
#include "stats.h"
#include "swap_file.h"
#include "trace_log.h"

namespace libshm::internal {

// One mapping of an inode (or the doorbell page) in one client, [start, end).
struct Vma {
  uintptr_t start = 0;
  uintptr_t end = 0;
  Inode* inode = nullptr;  // nullptr: the doorbell
  uint64_t pgoff = 0;      // inode page mapped at `start`
};

// A System V segment (docs/named.md): a program object with the kernel's
// shm_perm, sizes, times and pids, named in one IPC namespace by key and id.
// Its mode carries SHM_DEST once removed (key freed, id still attachable
// until the last detach) and SHM_LOCKED while locked.
struct Segment {
  uint64_t ns = 0;  // st_ino of the IPC namespace
  int key = 0;      // 0 (IPC_PRIVATE) once removed
  int id = 0;       // the placeholder's id in that namespace
  Inode* inode = nullptr;
  uint32_t uid = 0, gid = 0, cuid = 0, cgid = 0;
  uint32_t mode = 0;
  uint64_t segsz = 0;
  int64_t atime = 0, dtime = 0, ctime = 0;
  pid_t cpid = 0, lpid = 0;
};

struct CutTail {
  uintptr_t addr;
  uint32_t seq;
  uint64_t ino;
  uint64_t p0, p1;
};
constexpr size_t kMaxCutTails = 64;

struct Client {
  uint64_t id = 0;
  pid_t pid = 0;  // 0 until known (a fork child before its first fault)
  uid_t uid = 0;  // from SO_PEERCRED (a fork record: its parent's)
  int uffd = -1;
  int sock = -1;
  int pidfd = -1;
  // The helper's own uid or root: may change the session (ctl writes) and
  // see every region's counters. Others are members of the tree that
  // dropped privilege: they act only on what they hold.
  bool trusted = false;
  bool greeted = false;                  // said its one hello
  uint64_t accepted_ns = 0;              // a connection must say hello soon
  bool owner = false;                    // a connection without uffd (shmrun): keeps the session
  bool observer = false;                 // shmstat: does not keep the session alive
  bool restricted = false;               // UFFD_USER_MODE_ONLY, no EVENT_FORK
  bool dead = false;                     // reaped at the end of the loop iteration
  std::vector<Vma> vmas;                 // sorted by start, disjoint
  std::deque<uffd_msg> deferred_faults;  // read while draining events
  // Tails of mappings cut off by an UNMAP (an mremap shrink) that mremap may
  // grow back in place without an event: page range [p0, p1) of an inode.
  std::vector<CutTail> cut_tails;
  // Inodes this connection holds (created, or asked for by kInodeFd) but has
  // not registered yet: the only inodes a request can name.
  std::unordered_map<uint64_t, Inode*> handles;
  uint64_t next_handle = 1;
  // Sequential-fault detector for fill-ahead: the page a scan would fault
  // next and how far ahead to fill (doubles on each hit).
  uint64_t seq_inode = 0, seq_next = 0, seq_window = 1;
};

struct CallerCreds;
// The ids of the process connection `c` belongs to, now, if it still lives
// (program_objects.cc: a pid read in /proc may have been reused).
int ReadCallerCredsOf(const Client& c, CallerCreds* who);

class Engine {
 public:
  explicit Engine(const Options& opts);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Takes ownership of `listen_fd`. Returns 0 or -errno.
  int Init(int listen_fd);
  // The process that started the helper (shmd's parent before it detached):
  // until a member has said hello, the session waits for it as long as it
  // lives, and no longer. `pidfd` (taken) is a pidfd of `pid`, or -1 if it
  // is already gone. Without a starter (an engine on a thread of the
  // program) the session begins with its first connection.
  void SetStarter(pid_t pid, int pidfd);
  // Serves until the last client is gone (or Stop). Returns 0 or -errno.
  int Run();
  // One turn of the loop, waiting at most `max_wait_ms` (-1: the loop's own
  // idle wait). Returns 1 to go on, 0 when the session is over, or -errno.
  // (Run is this in a loop; a fuzzer drives it one turn at a time.)
  int RunOnce(int max_wait_ms);
  // Thread-safe: makes Run return soon.
  void Stop();
  // Final stats for the session-end report.
  libshm_stats_t Snapshot() const;

 private:
  enum class Source : uint8_t { kListen = 1, kWakeup, kSocket, kUffd, kPidfd, kStarter };

  // engine.cc: the loop, accepting connections, client and inode lifetime
  void Watch(int fd, Source src, uint64_t client_id);
  void Unwatch(int fd);
  void Accept();
  // Whether a connecting peer may join (docs/security.md): the helper's own
  // uid or root, or a process that descends from a live member.
  bool Admits(const Peer& peer, bool* trusted);
  bool IsLiveMemberPid(pid_t pid);
  size_t ConnectionsOf(pid_t pid) const;
  // Once a second: closes connections that never said hello, and reaps fork
  // records whose process is gone before it ever faulted.
  void Housekeeping();
  bool KeepsSessionAlive() const;
  // Whether nothing keeps the session and it has begun (a member said hello,
  // or the starter is done: gone, or its connection ended); the helper then
  // leaves.
  bool SessionOver() const;
  void StarterDone(const char* why);
  int RegisterRange(Client& c, Inode* inode, uintptr_t start, size_t len, uint64_t pgoff);
  void MarkDead(Client& c, const char* why);
  void ReapDeadClients();
  void CollectInodes();
  void LearnPid(Client& c, pid_t tid);
  Client* FindClient(uint64_t id);
  void AddVma(Client& c, const Vma& v);
  // A few fds kept open so that, out of descriptors, the helper can still
  // accept (or shed) a connection and read a fork event: one is closed for
  // that call, and all are opened again when there is room. New regions,
  // the main consumer of fds, are refused while the pool is not full.
  // Release returns false if none was left; Restore true if the pool is full.
  bool ReleaseReserveFd();
  bool RestoreReserveFd();
  // Stops watching `fd` (the listening socket, a uffd whose fork event
  // cannot be read) while the fd table is full; Housekeeping resumes it.
  void PauseWatch(int fd);

  // requests.cc: decoding and checking every request of a connection; the
  // handlers below get only what the connection holds.
  void OnSocket(Client& c);
  void HandleRequest(Client& c, const Request& req, int fd);
  int HandleHello(Client& c, const Request& req, int fd, Reply* reply);
  int HandleHelloChild(Client& c, Reply* reply, int* reply_fd);
  int HandleHelloRestrictedChild(Client& c, uint64_t token, int fd);
  int HandleCreate(Client& c, const Request& req, int fd, Reply* reply);
  int HandleRegister(Client& c, const Request& req);
  int HandleRelease(Client& c, const Request& req);
  int HandleInodeFd(Client& c, const Request& req, Reply* reply, int* reply_fd,
                    bool* close_reply_fd);
  int HandleExtend(Client& c, const Request& req, Reply* reply);
  int HandleRegionInfo(const Request& req, Reply* reply);
  int HandleUffdDevice(Client& c, int* reply_fd);
  int HandleForkPending(Client& c, Reply* reply);
  // pre: req.a < LIBSHM_NATIVE_REASONS (an unknown reason closes the connection).
  int HandleNative(const Request& req);
  // Releases pin i's hold on `only` (all of it if empty); the pin goes when
  // it holds nothing.
  void ReleaseForkPin(size_t i, const std::vector<Inode*>& only = {});
  // Gives `c` a handle on `inode`. Returns the handle, 0 if out of room.
  uint64_t AddHandle(Client& c, Inode* inode);
  void DropHandles(Client& c);

  // program_objects.cc: POSIX shm objects and program memfds (docs/named.md)
  int HandleShmOpen(Client& c, const Request& req, int fd, Reply* reply, int* reply_fd);
  int HandleShmUnlink(Client& c, const Request& req);
  int HandleAdoptFd(Client& c, const Request& req, int fd, Reply* reply);
  int HandleResize(Client& c, const Request& req, int fd);
  // Registers an inode over memfd `fd` (taken, closed on failure) of `pages`
  // pages: a session number, its swap extent (sparse: MAP_NORESERVE), its
  // page table. -ENOMEM, or the swap file's refusal.
  int InstallInode(int fd, const struct stat& st, uint64_t pages, bool sparse, Inode** out);
  // A new program object over memfd `fd` (taken, closed on failure), of
  // st.st_size bytes. Returns 0 or -errno.
  int NewProgramInode(int fd, const struct stat& st, Inode** out);
  // The program object `fd` (the caller's) is, or nullptr; *st gets its fstat.
  Inode* FindProgramInode(int fd, struct stat* st);
  // Gives `inode` `pages` pages: growth reserves a new extent first (and
  // copies the slots that hold data: the extent stays one contiguous run);
  // a shrink forgets the pages past the end. Runs after the memfd has that
  // size (or before, for growth: ReserveGrowth). Returns 0 or -errno.
  int ReserveGrowth(Inode& inode, uint64_t pages, Extent* out);
  void ApplySize(Inode& inode, uint64_t pages, const Extent& grown);
  // The memfd's size changed with no kResize (a raw ftruncate): follow its
  // growth. True if the inode has more pages now.
  bool FollowSize(Inode& inode);
  // Writes the swapped and sampled pages of [p0, p1) back into the memfd
  // (dirty, resident, their mappers woken), as swapoff does for one object.
  // Returns 0 or -errno (what was written stays written).
  int RestorePages(Inode& inode, uint64_t p0, uint64_t p1);
  // kept_pages.cc: pages kept in memory. Pin brings every swapped page of
  // `inode` back and keeps it (Inode::pinned); SHM_LOCK brings every page
  // in (making room by eviction) and keeps it; both are -ENOMEM when the
  // inode cannot be kept under the limit (RoomToKeep). SHM_UNLOCK makes its
  // pages evictable again.
  int Pin(Inode& inode);
  int LockPages(Inode& inode);
  void UnlockPages(Inode& inode);
  // Whether what `inode` would keep (every page if `locking`, else what it
  // holds or has in swap), with what the kept inodes keep, leaves one fill
  // cluster of the limit to the rest.
  bool RoomToKeep(const Inode& inode, bool locking) const;
  uint64_t KeptPages(const Inode& inode, bool locking) const;
  // Takes a kept inode's pages out of the policy.
  void ForgetKeptPages(Inode& inode);
  // Every swapped page of `inode` resident, and every untouched one too if
  // `untouched_too` (allocated as zeros), room made by eviction; -ENOMEM if
  // it cannot fit.
  int BringIn(Inode& inode, bool untouched_too);
  // A program object's name for listings: "/NAME" if it has a POSIX name,
  // else its memfd label ("memfd:LABEL"), cut to `len`.
  void ObjectName(const Inode& inode, char* out, size_t len) const;

  // sysv_segments.cc: System V segments (docs/named.md)
  int HandleShmGet(Client& c, const Request& req, Reply* reply);
  int HandleShmAt(Client& c, const Request& req, Reply* reply, int* reply_fd);
  int HandleShmCtl(Client& c, const Request& req, Reply* reply);
  // The segment `id` of the caller's IPC namespace, or nullptr. A removed
  // segment nobody attaches any more is destroyed first (and not found).
  // Returns 0, -ENOENT (not a managed id: the kernel's) or -EINVAL (a
  // managed id that is gone).
  int FindSegment(Client& c, int id, Segment** out);
  // shm_nattch: the registered pieces of the segment in live processes,
  // after the events of its mappers are read and the gone ones (a readable
  // pidfd, or a uffd whose mm is gone: exec, fact 13) are counted out.
  uint64_t Nattch(Segment& seg);
  uint64_t LiveNattch(const Inode& inode) const;
  // A registered piece of `inode` went (unmap, exit, exec) in process `pid`
  // (0: unknown): with `stamp`, shm_dtime and shm_lpid as the kernel's
  // shm_close; a removed segment dies with its last piece. A process that
  // is gone is stamped when it is found gone (MarkDead), not when it is
  // reaped: a later attach's shm_lpid must not be overwritten.
  void NoteDetach(Inode* inode, pid_t pid, bool stamp = true);
  void DestroySegment(Segment* seg);

  // fault_handler.cc
  // read(2) of a client's uffd that survives a full fd table (EMFILE is
  // turned into EAGAIN after one try with the reserve fd).
  ssize_t ReadUffd(Client& c, uffd_msg* msgs, size_t count);
  void OnUffdReadable(Client& c);
  // Reads every queued message; events are handled now, faults deferred.
  // Returns false if the client is gone.
  bool DrainEvents(Client& c);
  void HandleEvent(Client& c, const uffd_msg& msg);
  void HandleFault(Client& c, const uffd_msg& msg);
  void ProcessDeferred(Client& c);
  // Both return false if the fault must be tried again on a later turn.
  bool FillMissing(Client& c, uintptr_t addr, bool write);
  // A fault in a mapping of one of our inodes that we were not told about:
  // registers it from /proc/<pid>/maps. True if the fault can be retried.
  bool AdoptMapping(Client& c, uintptr_t addr);
  // Reads `n` swapped pages of `inode` from `page` into io_buffer_.
  // Returns bytes read or -errno.
  ssize_t ReadSwap(Inode& inode, uint64_t page, uint64_t n);
  // Before pages [p0, p1) of `inode` are evicted: adopts every cut tail over
  // them that a process has grown back (see Client::cut_tails).
  void AdoptRegrownTails(Inode& inode, uint64_t p0, uint64_t p1);
  bool ResolveWriteProtect(Client& c, uintptr_t addr);
  // After a fill of `page` at `addr`: if faults come in sequence, fills the
  // following pages that are in the same state (empty: zeros; swapped: one
  // read along the extent) so the scan does not fault on each page.
  void FillAhead(Client& c, Inode& inode, uintptr_t addr, uint64_t page, PageState state,
                 bool write);
  // Fills the empty pages of `page`'s aligned LIBSHM_CLUSTER-page cluster
  // (inside the mapping at `addr`) with zeros: writable and dirty after a
  // write fault, protected after a read fault.
  void FillCluster(Client& c, Inode& inode, uintptr_t addr, uint64_t page, bool write);
  // Books `n` pages from `first` filled without a fault of their own (from
  // `from`: kEmpty or kSwapped): state, counters, policy, trace.
  void AccountFilledAhead(Inode& inode, uint64_t first, uint64_t n, PageState from, bool write);
  void OnFork(Client& parent, int child_uffd);
  void OnRemap(Client& c, uintptr_t from, uintptr_t to, uint64_t len);
  void OnUnmap(Client& c, uintptr_t start, uintptr_t end);
  // Copies into `c`, retrying after draining events on EAGAIN. Returns the
  // final outcome code (0, -EEXIST, -ESRCH, ...).
  int CopyRetrying(Client& c, uintptr_t addr, const void* src, size_t len, bool wp);
  Vma* FindVma(Client& c, uintptr_t addr);
  // Whether a VMA of `c` overlaps [start, start + len).
  bool OverlapsVma(const Client& c, uintptr_t start, size_t len) const;

  // evictor.cc
  // Evicts until `pages` more fit under the limit (direct reclaim).
  void MakeRoom(uint64_t pages);
  // Background reclaim: from the high watermark down to the low one.
  // From crossing the high watermark (midway between LIBSHM_LOW_WATERMARK
  // and the limit) until resident memory is back at the low one.
  bool BackgroundEvictionDue();
  // Evicts up to `max` policy victims. Returns pages evicted; 0 if none could be.
  size_t EvictBatch(size_t max);
  // One round of it: `max` victims named (*named), those it may evict
  // evicted, the stale and kept ones passed by (*passed_by).
  size_t EvictOneBatch(size_t max, size_t* named, size_t* passed_by);
  // Evicts one inode's pages `pages` (sorted, resident). Returns how many.
  size_t EvictPages(Inode& inode, std::vector<uint64_t>& pages);
  // Write-protects [p0, p1) of `inode` in every mapper. Returns 0, or -EAGAIN
  // if some uffd has an unread event (caller backs off).
  int ProtectEverywhere(Inode& inode, uint64_t p0, uint64_t p1);
  void WakeEverywhere(Inode& inode, uint64_t p0, uint64_t p1);
  // Writes the dirty pages of [p0, p1) to their slots and marks them clean.
  // pre: those pages are write-protected everywhere. Returns 0 or -errno.
  int WriteBack(Inode& inode, uint64_t p0, uint64_t p1);
  int Msync(Client& c, uintptr_t addr, size_t len, int flags);
  int Discard(Client& c, uintptr_t addr, size_t len);
  void ForgetPage(Inode& inode, uint64_t page);

  // sampler.cc: reference sampling by soft eviction (DESIGN.md "Access
  // information for policies"). A sampled page is punched but its data kept
  // here; an access faults, the fault is the reference, the data goes back.
  struct Sample {
    std::unique_ptr<char[]> data;  // nullptr: the page was all zeros
    PageState before;              // kZero, kClean or kDirty
  };
  bool SamplingEnabled() const;
  // Arms up to the budget accrued since the last call. Cheap when disabled.
  void SampleTick();
  bool SamplePage(Inode& inode, uint64_t page);
  // A fault on a sampled page: give the data back, tell the policy.
  // Returns 0, or -EAGAIN (an event is pending: drain, then retry).
  int RestoreSample(Client& c, Inode& inode, uintptr_t addr, uint64_t page, bool write);
  // The evictor chose a sampled page: write it if dirty, free its data.
  void EvictSample(Inode& inode, uint64_t page);
  // msync of a sampled dirty page: write it, it stays sampled but clean.
  int WriteBackSample(Inode& inode, uint64_t page);
  void DropSample(Inode& inode, uint64_t page);

  // ctl.cc
  int Ctl(const Client& c, const Request& req, Reply* reply);
  int SetPolicy(const char* name);

  // swap_ops.cc: whole-swap operations (docs/named.md "Segments nobody
  // maps, and swapoff"). Both walk the inode registry, never mappers, so a
  // region nobody maps at the moment is found too. `why` gets one line for
  // whoever asked (the ctl reply's text) when they refuse.
  // swapoff: every swapped page back into its memfd (dirty, no slot), then
  // the swap file closed. -ENOMEM, with nothing changed, unless resident +
  // swapped fits under the limit and the swapped pages under MemAvailable.
  // *restored gets the bytes brought back.
  int SwapOff(uint64_t* restored, char* why, size_t len);
  // Moves the swap to a new file in `dir`, or turns it on again after
  // swapoff: every inode's extent reserved in the new file first (refused
  // with nothing changed: -ENOSPC, -EACCES, -ENOTDIR, -ENOENT), the slots
  // that hold data copied, then the switch; the old file is closed.
  int MoveSwap(const char* dir, char* why, size_t len);
  // Eviction needs a swap file: after swapoff it is suspended, so faults
  // are served above the limit rather than wait for room that cannot come.
  bool EvictionSuspended() const { return !swap_.is_open(); }

  // Policy keys: region number (28 bits, reused after the region is gone) and
  // page (36 bits).
  uint32_t Region(const Inode& inode) const { return inode.seq(); }
  libshm_page_key_t Key(const Inode& inode, uint64_t page) const {
    return (static_cast<uint64_t>(inode.seq()) << kPageBits) | page;
  }
  uint32_t AllocateSeq();

  // Handles per connection not yet registered: a client holds one briefly per
  // mapping it is making, so this only bounds what a hostile one can pin.
  static constexpr size_t kMaxHandles = 4096;
  // POSIX names per session: each holds an object and a descriptor.
  static constexpr size_t kMaxShmNames = 65536;
  // Program objects per session (named or not), and at most a quarter of
  // the helper's descriptors: each is a file the helper holds, and one the
  // program holds only by fd is kept while the probe says it is held.
  static constexpr size_t kMaxProgramObjects = 65536;
  size_t program_objects_ = 0;

  Options opts_;
  int epfd_ = -1;
  static constexpr size_t kReserveFds = 8;
  std::vector<int> reserve_fds_;
  std::vector<int> paused_fds_;
  // Restricted mode: regions a parent holds for a child it is forking, until
  // the child says hello (kForkPending). They also keep the session alive.
  struct ForkPin {
    uint64_t token = 0;  // random; the parent and its new child hold it
    pid_t parent = 0;
    uint64_t created_ns = 0;
    std::vector<Inode*> inodes;
  };
  static constexpr size_t kMaxForkPins = 4096;
  // Regions held by all pins together (a pointer each: 32 MiB).
  static constexpr size_t kMaxPinnedInodes = size_t{1} << 22;
  size_t pinned_inodes_ = 0;
  static constexpr uint64_t kForkPinTimeoutNs = 30ull * 1000000000ull;
  std::vector<ForkPin> fork_pins_;
  uint64_t last_housekeeping_ns_ = 0;
  int listen_fd_ = -1;
  int wakeup_fd_ = -1;
  bool ever_connected_ = false;
  bool had_member_ = false;    // a connection said a hello that is not an observer's
  pid_t starter_pid_ = 0;      // 0: no starter (see SetStarter)
  int starter_pidfd_ = -1;     // watched until the starter is done
  bool starter_done_ = false;  // gone, or a connection of its ended
  bool stopping_ = false;
  uint64_t next_client_id_ = 1;
  uint32_t next_inode_seq_ = 1;
  std::vector<uint32_t> free_seqs_;  // numbers of regions that are gone
  uint64_t limit_pages_ = 0;
  uint64_t low_pages_ = 0;
  uint64_t high_pages_ = 0;
  bool background_reclaim_ = false;  // between crossing high and reaching low
  // A background batch that evicted nothing (every resident page locked or
  // pinned) is not tried again before this (MonotonicNs): the engine loop
  // would spin a CPU on it.
  uint64_t reclaim_idle_until_ns_ = 0;
  static constexpr uint64_t kReclaimIdleNs = 100'000'000;
  uint64_t resident_pages_ = 0;
  // Pages of every live inode. Bounded (1 PiB) so that the page tables' chunk
  // pointers of a session stay small (32 MiB at most) whatever its members ask.
  static constexpr uint64_t kMaxSessionPages = 1ull << 38;
  uint64_t virtual_pages_ = 0;
  // Registered ranges per client: at most as many as a process may have
  // VMAs (vm.max_map_count, read at Init). A connection could register one
  // page at a time over one mapping (the kernel merges them into one VMA),
  // and each kept an entry that evictions, wakes, msync and forks walk.
  size_t max_vmas_ = 65530;
  uint64_t events_handled_ = 0;
  bool collect_due_ = false;      // an inode lost a mapping or a holder since CollectInodes
  bool orphans_waiting_ = false;  // a program object nothing holds, in its grace period
  bool fault_requeued_ = false;   // a fault met EAGAIN too long and waits for a later turn
  // How long a program object nothing the helper sees holds, and whose hold
  // cannot be probed, stays managed before it is handed back
  // (Inode::orphan_since_ns): 10 s. Test hook, not an option:
  // LIBSHM_TEST_ORPHAN_GRACE_US.
  static uint64_t OrphanGraceNs();
  // Whether any open file of a program object exists besides the helper's
  // own memfd (ProgramHold in program_objects.cc).
  enum class Hold { kFree, kHeld, kUnknown };
  Hold ProgramHold(Inode& inode);
  pid_t fault_tid_ = 0;  // thread of the fault being served (UFFD_FEATURE_THREAD_ID)  //
                         // non-cooperative uffd events read so far
  uint64_t peak_resident_pages_ = 0;
  std::map<uint64_t, std::unique_ptr<Client>> clients_;
  std::map<uint32_t, std::unique_ptr<Inode>> inodes_;  // by seq
  std::unordered_map<uint64_t, Inode*> inode_by_ino_;  // memfd st_ino: one inode per memfd
  std::map<std::string, Inode*> shm_names_;            // POSIX names of program objects
  // System V segments by (namespace, id) and live keys by (namespace, key).
  std::map<std::pair<uint64_t, int>, std::unique_ptr<Segment>> segments_;
  std::map<std::pair<uint64_t, int>, Segment*> segment_keys_;
  // Each IPC namespace that has segments: an fd of it, which keeps its
  // inode number from naming a new namespace while its segments are here,
  // how many it has, and the ids of its segments that are gone, whose
  // placeholder may still be attached somewhere (EINVAL, never the
  // placeholder; bounded, the lowest dropped). All go with its last segment.
  struct IpcNamespace {
    int fd = -1;
    size_t segments = 0;
    std::set<int> tombstones;
  };
  std::map<uint64_t, IpcNamespace> ipc_namespaces_;
  static constexpr size_t kMaxSegments = 65536;
  // The segment Nattch is counting: NoteDetach leaves its destruction to
  // Nattch's caller (others die as usual).
  Segment* counting_ = nullptr;
  SwapFile swap_;
  Policy policy_;
  TraceLog trace_;
  libshm_stats_t stats_{};
  LatencyHistogram fault_latency_;
  std::vector<char> io_buffer_;  // page-aligned scratch for pread/pwrite
  std::unordered_map<libshm_page_key_t, Sample> samples_;
  uint64_t sample_budget_ns_ = 0;  // time of the last SampleTick
  double sample_credit_ = 0;       // samples earned but not yet armed
  uint64_t sample_rng_ = 0x9e3779b97f4a7c15ull;
  char* zero_page_ = nullptr;  // kMaxCluster pages of zeros
};

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_ENGINE_H_
