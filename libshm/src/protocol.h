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

constexpr uint32_t kProtocolMagic = 0x6c73684d;  // "lshM", bumped with the layout

enum class Op : uint32_t {
  // First message of a process. fd: its uffd (not yet UFFDIO_API'd), or none
  // for an owner connection (shmrun). a: doorbell address (full mode).
  kHello = 1,
  // A forked child (full mode) introduces itself after ringing its doorbell;
  // the reply carries its uffd back. pid: the child.
  kHelloChild,
  // A forked child in restricted mode (no EVENT_FORK). fd: its new uffd; the
  // helper registers the child's libshm mappings from /proc/<pid>/maps.
  kHelloRestrictedChild,
  // Create an inode. fd: the memfd (already sized). a: bytes.
  // Reply a: inode id. The inode's swap extent is reserved here.
  kCreate,
  // Register a mapping. a: inode id, b: address, c: length, d: page offset.
  kRegister,
  // Forget an inode that was created but never mapped. a: inode id.
  kDropInode,
  // msync. a: address, b: length, c: flags.
  kMsync,
  // MADV_REMOVE semantics for a range (data becomes zeros). a: address, b: length.
  kDiscard,
  // Reply carries the stats.
  kStats,
  // ctl. text: name; a: 1 if a new value is given; b: numeric value; text2: string value.
  kCtl,
  // A root helper lends the session's members /dev/userfaultfd (privilege
  // separation, DESIGN.md invariant 8). Reply fd: the device.
  kUffdDevice,
  // One region's counters. a: index. Reply a: number of regions; text: RegionInfo.
  kRegionInfo,
  // The memfd behind the caller's managed mapping at address a (to map more
  // of it: remap_file_pages). Reply fd: the memfd; a: inode id; b: its pages.
  kInodeFd,
};

// kHello flags.
constexpr uint32_t kHelloRestricted = 1;  // the uffd is UFFD_USER_MODE_ONLY
constexpr uint32_t kHelloObserver = 2;    // shmstat: does not keep the session alive

struct RegionInfo {
  uint64_t id, bytes, resident_bytes, dirty_bytes, swapped_bytes, faults, swap_ins, swap_outs,
      mappings;
};
static_assert(sizeof(RegionInfo) <= 256, "RegionInfo must fit in Reply::text");

struct Request {
  uint32_t magic = kProtocolMagic;
  Op op{};
  int32_t pid = 0;
  uint32_t flags = 0;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  char text[64] = {};
  char text2[256] = {};  // kHello*: the session key, if the session has one
};

enum class ValueType : uint32_t { kNone, kNumber, kString };

struct Reply {
  int32_t status = 0;  // 0 or -errno
  ValueType type = ValueType::kNone;
  uint64_t a = 0, b = 0;
  char text[256] = {};
  libshm_stats_t stats{};
};

// Sends one packet with an optional fd (-1: none). Returns 0 or -errno.
int SendPacket(int sock, const void* buf, size_t len, int fd);
// Receives one packet; *fd gets a passed fd (CLOEXEC) or -1. Returns bytes or -errno
// (0 at EOF).
long RecvPacket(int sock, void* buf, size_t len, int* fd);

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_PROTOCOL_H_
