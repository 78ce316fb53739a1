// SPDX-License-Identifier: MIT
// The client <-> helper wire protocol: fixed-size requests and replies over
// a SOCK_SEQPACKET unix socket, one packet each, file descriptors passed with
// SCM_RIGHTS. Every request gets exactly one reply, in order, so a client
// serializes its requests with a mutex and needs no matching.
//
// Both ends are built from the same tree and the helper is started by the
// library that talks to it, so there is no version negotiation beyond the
// magic in kHello.
#ifndef LIBSHM_SRC_PROTOCOL_H_
#define LIBSHM_SRC_PROTOCOL_H_

#include <stdint.h>

#include "libshm/libshm.h"

namespace libshm::internal {

constexpr uint32_t kProtocolMagic = 0x6c736850;  // "lshP", bumped with the layout

// Who a connection is and what it may name is decided by the helper from the
// kernel alone (docs/security.md): its peer credentials and pidfd, its
// ancestry, the fds it sent. No field of a request says who the sender is.
// Inodes are named by per-connection handles (kCreate, kInodeFd), never by a
// global id; addresses name the caller's own registered mappings.
enum class Op : uint32_t {
  // First message of a connection, exactly once. fd: its uffd (not yet
  // UFFDIO_API'd), or none for an owner (shmrun) or observer (shmstat)
  // connection. a: doorbell address (full mode).
  kHello = 1,
  // A forked child (full mode) introduces itself after ringing its doorbell;
  // the helper matches its peer pid with the fork record whose first fault
  // came from that pid, and the reply carries the child's uffd back.
  kHelloChild,
  // A forked child in restricted mode (no EVENT_FORK). fd: its new uffd; the
  // helper registers the child's libshm mappings from /proc/<peer pid>/maps.
  // a: the token of its parent's kForkPending (0: none).
  kHelloRestrictedChild,
  // Create an inode. fd: the memfd (sized, sealable). a: bytes.
  // Reply a: a handle of this connection. The swap extent is reserved here
  // (none after swapoff: swap.dir reserves it when swap is on again).
  kCreate,
  // Register a mapping of a held inode. a: handle, b: address, c: length,
  // d: page offset. The handle is released when the registration succeeds.
  kRegister,
  // Release a handle that will not be registered. a: handle.
  kRelease,
  // msync. a: address, b: length, c: flags.
  kMsync,
  // MADV_REMOVE semantics for a range (data becomes zeros). a: address, b: length.
  kDiscard,
  // Reply carries the stats.
  kStats,
  // ctl. text: name; a: 1 if a new value is given; b: numeric value; text2: string value.
  kCtl,
  // A root helper lends a member of another uid /dev/userfaultfd (privilege
  // separation, DESIGN.md invariant 8). Reply fd: the device.
  kUffdDevice,
  // One region's counters (owner uid only). a: a cursor (0 first). Reply a:
  // number of regions; b: the next cursor; text: RegionInfo. -ENOENT past the end.
  kRegionInfo,
  // The memfd behind the caller's own managed mapping at address a (to map
  // more of it: remap_file_pages). Reply fd: the memfd; a: a handle; b: its pages.
  kInodeFd,
  // The caller's own managed mapping at address a grew in place to b bytes
  // (mremap): register the grown part. Reply a: bytes now registered.
  kExtend,
  // Restricted mode (no fork event): the caller is about to fork. Its
  // regions are held until the child introduces itself (kHelloRestrictedChild
  // with the token of the reply's a) or 30 s pass, so a parent that exits at
  // once frees nothing under it.
  kForkPending,
  // Shared anonymous memory the sender left native (the preload shim; any
  // greeted connection, observers included). a: reason (LIBSHM_NATIVE_*),
  // b: bytes, c: mappings. A figure the client makes up: the helper checks
  // it is possible (below) and adds it without overflow; an unknown reason
  // closes the connection.
  kNative,
  // Program objects (docs/named.md): POSIX shm objects and memfds the
  // program made, managed like anonymous regions. Each names them by a
  // name, checked against the caller's current ids at every call as the
  // kernel does, or by an fd the caller holds (possession is the right).
  //
  // shm_open. text2: the name (glibc's rules already applied, no slash).
  // a: O_ACCMODE|O_CREAT|O_EXCL|O_TRUNC; b: the mode (umask applied). fd: a
  // new memfd of size 0 with O_CREAT, kept if the name is new.
  // Reply a: 1 if the caller's memfd became the object (it keeps using
  // it), 0 if the name existed (reply fd: a new open file description of the
  // object with the access mode asked for).
  kShmOpen,
  // shm_unlink. text2: the name. -ENOENT, -EACCES (not the owner).
  kShmUnlink,
  // fd: a descriptor of the caller. If it is a program object of this
  // session: reply a: a handle on it (for kRegister), b: its size in bytes.
  // -ENOENT: not one (the mapping stays the kernel's). Flag kAdoptPin: the
  // caller will map it where libshm cannot register the mapping (private,
  // read-only): every page is brought back into memory and stays (no handle).
  kAdoptFd,
  // ftruncate of a program object. fd: the caller's descriptor; a: bytes.
  // The helper truncates through that descriptor (the kernel checks its
  // access mode and seals) and follows: swap reserved for growth, pages past
  // a shrink forgotten. -ENOENT: not a program object of this session.
  kResize,
  // System V shared memory (docs/named.md "SysV ids and keys"): segments
  // are program objects named by (IPC namespace of the caller, key or id).
  // The namespace is the caller's own (/proc/<peer pid>/ns/ipc), never a
  // field. An id is the id of a one-byte kernel placeholder segment that the
  // shim made in that namespace, so it never equals a live native id.
  //
  // shmget. a: key (not IPC_PRIVATE); b: size; c: shmflg. Flag kShmGetCreate
  // with d: the placeholder id the shim made for a key nobody has yet.
  // Reply a: the id. -ENOENT: the key is not a managed one here (without
  // kShmGetCreate; the shim then asks the kernel). With kShmGetCreate, reply
  // b = 1 if the key existed after all (a race): the placeholder is not used;
  // -ENOENT if the helper could not check that d is the caller's own new
  // placeholder for that key (the segment is then made natively).
  kShmGet,
  // shmat's permission check. a: id; c: shmflg. Reply fd: a new open file
  // description of the segment (O_RDWR if the caller may write, else
  // O_RDONLY); b: shm_segsz. -ENOENT: not a managed id (the kernel's).
  kShmAt,
  // shmctl. a: id; b: cmd (IPC_STAT, IPC_SET, IPC_RMID, SHM_LOCK,
  // SHM_UNLOCK); IPC_SET: c: uid | gid << 32, d: mode. Reply text: a struct
  // shmid_ds (IPC_STAT). -ENOENT: not a managed id.
  kShmCtl,
};

// kShmGet flags.
constexpr uint32_t kShmGetCreate = 1;

// kAdoptFd flags.
constexpr uint32_t kAdoptPin = 1;
// kResize flags: never shrink (a is a minimum: fallocate, posix_fallocate).
constexpr uint32_t kResizeGrowOnly = 1;
// Punch a hole instead (fallocate PUNCH_HOLE|KEEP_SIZE), a: offset, b:
// length, through the caller's descriptor; the punched pages read zeros.
constexpr uint32_t kResizePunch = 2;

// kNative: one report is at most this many mappings, each of at least one
// page and at most kMaxNativeMappingBytes (more than any address space).
constexpr uint64_t kMaxNativeMappings = 1ull << 32;
constexpr uint64_t kMaxNativeMappingBytes = 1ull << 57;

// kCreate flags.
constexpr uint32_t kCreateNoReserve = 1;  // MAP_NORESERVE: a sparse swap extent
// memfd_create of the program: a program object of any size (0 too), not
// sealed, held until it is first mapped (docs/named.md). No handle in the
// reply: a mapping adopts it by fd (kAdoptFd).
constexpr uint32_t kCreateProgram = 2;

// kHello flags.
constexpr uint32_t kHelloRestricted = 1;  // the uffd is UFFD_USER_MODE_ONLY
constexpr uint32_t kHelloObserver = 2;    // shmstat: does not keep the session alive

struct RegionInfo {
  uint64_t id, bytes, resident_bytes, dirty_bytes, swapped_bytes, faults, swap_ins, swap_outs,
      mappings;
  // What the region is (kRegion* bits), and for a program object its owner
  // and mode (fstat of the memfd) and its name: the POSIX name, or the
  // memfd's label ("memfd:LABEL") when it has none; cut to fit.
  uint32_t flags, uid, gid, mode;
  char name[128];
};
constexpr uint32_t kRegionProgram = 1;  // a POSIX shm object or a program's memfd
constexpr uint32_t kRegionNamed = 2;    // it has a POSIX name (shm_open)
constexpr uint32_t kRegionPinned = 4;   // kept resident (Inode::pinned)
constexpr uint32_t kRegionPosix = 8;    // made by shm_open (named, or unlinked since)
constexpr uint32_t kRegionSysv = 16;    // a System V segment: name "key 0xKEY id ID"
static_assert(sizeof(RegionInfo) <= 256, "RegionInfo must fit in Reply::text");

struct Request {
  uint32_t magic = kProtocolMagic;
  Op op{};
  uint32_t flags = 0;
  uint32_t reserved = 0;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  char text[64] = {};
  char text2[256] = {};  // kCtl: a string value
};

enum class ValueType : uint32_t { kNone, kNumber, kString };

struct Reply {
  int32_t status = 0;  // 0 or -errno
  ValueType type = ValueType::kNone;
  uint64_t a = 0, b = 0;
  char text[256] = {};
  libshm_stats_t stats{};
};

// Sends one packet with an optional fd (-1: none). `flags` are added to
// sendmsg's (MSG_DONTWAIT: -EAGAIN instead of waiting for room). Returns 0
// or -errno.
int SendPacket(int sock, const void* buf, size_t len, int fd, int flags = 0);
// *fd after RecvPacket when an fd was sent but the kernel could not install
// it (the receiver's fd table is full: MSG_CTRUNC).
constexpr int kFdLost = -2;

// Receives one packet; *fd gets a passed fd (CLOEXEC), -1, or kFdLost.
// Returns bytes or -errno (0 at EOF).
long RecvPacket(int sock, void* buf, size_t len, int* fd);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_PROTOCOL_H_
