#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of request_fuzzer (tests/fuzz/corpus/request_fuzzer/).

Each seed is a sequence of steps in the input format that request_fuzzer.cc
describes at its top: valid sessions (hello, create, register, faults,
msync, discard, ctl, region info, inode fd, extend, release, fork, uffd
events, the non-trusted member) and malformed ones (bad magic, short and
oversized packets, hello twice or missing, wrong fds, overflowing offsets).
The generated files are committed; run this again after changing the format:

    python3 tests/fuzz/make_corpus.py
"""
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "request_fuzzer")

# protocol.h
HELLO, HELLO_CHILD, HELLO_RESTRICTED_CHILD, CREATE, REGISTER, RELEASE, MSYNC, DISCARD, STATS, \
    CTL, UFFD_DEVICE, REGION_INFO, INODE_FD, EXTEND, FORK_PENDING, NATIVE, SHM_OPEN, SHM_UNLINK, \
    ADOPT_FD, RESIZE = range(1, 21)
CREATE_PROGRAM = 2
ADOPT_PIN = 1
RESIZE_GROW_ONLY = 1
# fcntl.h (x86-64)
O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC = 0, 1, 2, 0o100, 0o200, 0o1000
# libshm.h LIBSHM_NATIVE_*; protocol.h kMaxNativeMappingBytes
NATIVE_HUGETLB, NATIVE_FLAGS, NATIVE_MIN_SIZE, NATIVE_ERROR, NATIVE_NO_SESSION, \
    NATIVE_REASONS = range(6)
MAX_NATIVE_MAPPING_BYTES = 1 << 57
CREATE_NO_RESERVE = 1
MAGIC = 0x6C73684F
HELLO_RESTRICTED, HELLO_OBSERVER = 1, 2
REQUEST_SIZE = 4 * 4 + 4 * 8 + 64 + 256

# request_fuzzer.cc
FD_NONE, FD_MEMFD_A, FD_MEMFD_B, FD_FRESH, FD_UFFD, FD_UFFD_VARIANT, FD_OTHER, FD_TWO = range(8)
RUN, QUEUE, FOLD, RAW, ACTION = 0, 3, 4, 5, 6
USER_MODE_ONLY, BLOCKING, API_DONE, FORK_CHILD_UFFD = 1, 2, 4, 8
OTHER_DEVNULL, OTHER_PIPE, OTHER_SOCKET, OTHER_LAST_MEMFD, OTHER_UFFD_API_DONE, OTHER_EVENTFD, \
    OTHER_DIR, OTHER_FILE, OTHER_OWN_RW, OTHER_OWN_RO, OTHER_DEV_SHM, OTHER_PROGRAM_MEMFD = range(12)
# A fresh memfd as a program makes one (no sealing): FreshMemfd's variant 1.
PROGRAM = 1
TOUCH, CLOSE, PUMP, FORK, VM, EXIT = 0, 1, 2, 3, 4, 5
RING_DOORBELL, DROP_TO_NOBODY = 1, 2
UNMAP, MOVE, DONTNEED, REMOVE, REMAP_REGION, GROW = range(6)
STRANGER = 3

PAGE = 4096
WINDOW = 0x200000000000
A, A_BYTES = WINDOW, 2 << 20
B, B_BYTES = WINDOW + (4 << 20), 64 << 10
C = WINDOW + (6 << 20)
DOORBELL = WINDOW + (7 << 20)
REGION_A, REGION_B, REGION_C, REGION_D = range(4)
MS_ASYNC, MS_INVALIDATE, MS_SYNC = 1, 2, 4
U64 = (1 << 64) - 1


def ctl(slot, fd, kind):
    return bytes([slot | fd << 2 | kind << 5])


def fd_args(fd, variant=0, kib=0, other=0):
    """The bytes MakeFds reads after the request for this fd kind."""
    if fd == FD_FRESH:
        return struct.pack("<BH", variant, kib)
    if fd == FD_UFFD_VARIANT:
        return bytes([variant])
    if fd == FD_OTHER:
        return bytes([other])
    return b""


def req(op, a=0, b=0, c=0, d=0, flags=0, slot=0, fd=FD_NONE, kind=RUN, text=b"", text2=b"",
        name=0, **fd_kw):
    out = ctl(slot, fd, kind) + struct.pack("<BB4Q", op, flags, a, b, c, d)
    if op == CTL:
        out += bytes([len(text)]) + text + bytes([len(text2)]) + text2
    elif op in (SHM_OPEN, SHM_UNLINK):
        # ShmName: an int picks one of the fuzzer's names; bytes go as they are.
        if isinstance(name, int):
            out += bytes([name])
        else:
            out += bytes([0x80 + len(name)]) + name
    return out + fd_args(fd, **fd_kw)


def raw(packet, slot=0, fd=FD_NONE, **fd_kw):
    return ctl(slot, fd, RAW) + struct.pack("<H", len(packet)) + packet + fd_args(fd, **fd_kw)


def packet(op, magic=MAGIC, flags=0, reserved=0, a=0, b=0, c=0, d=0, size=REQUEST_SIZE):
    p = struct.pack("<4I4Q", magic, op, flags, reserved, a, b, c, d)
    return (p + bytes(REQUEST_SIZE - len(p)) + bytes(max(0, size - REQUEST_SIZE)))[:size]


def action(sub, *args, slot=0):
    return ctl(slot, FD_NONE, ACTION) + bytes([sub]) + b"".join(args)


def touch(region, page, write=False):
    return action(TOUCH, struct.pack("<BHB", region, page, 1 if write else 0))


def vm(op, region, first=0, count=1, target=0):
    return action(VM, struct.pack("<BBHHB", op, region, first, count - 1, target))


def ctl_read(name, slot=0):
    return req(CTL, slot=slot, text=name)


def ctl_write(name, number=0, string=b"", slot=0):
    return req(CTL, a=1, b=number, slot=slot, text=name, text2=string)


# Building blocks.
def hello_mapper(slot=0):
    """hello with a uffd of the puppet and its doorbell page."""
    return req(HELLO, a=DOORBELL, slot=slot, fd=FD_UFFD)


def map_a(slot=0, handle=1):
    return (req(CREATE, a=A_BYTES, slot=slot, fd=FD_MEMFD_A) +
            req(REGISTER, a=handle, b=A, c=A_BYTES, slot=slot))


def map_b(slot=0, handle=1):
    return (req(CREATE, a=B_BYTES, slot=slot, fd=FD_MEMFD_B) +
            req(REGISTER, a=handle, b=B, c=B_BYTES, slot=slot))


SEEDS = {
    # Valid sessions.
    "valid-observer": req(HELLO, flags=HELLO_OBSERVER) + req(STATS) + ctl_read(b"version"),
    "valid-owner-stats": req(HELLO) + req(STATS) + req(REGION_INFO),
    "valid-map-a": hello_mapper() + map_a() + req(STATS) + req(REGION_INFO),
    "valid-map-b-faults": hello_mapper() + map_b() + touch(REGION_B, 0) + touch(REGION_B, 1, True)
    + touch(REGION_B, 5, True) + req(MSYNC, a=B, b=B_BYTES, c=MS_SYNC) + req(STATS),
    "valid-full": hello_mapper() + map_a() + touch(REGION_A, 0) + touch(REGION_A, 1, True)
    + req(MSYNC, a=A, b=A_BYTES, c=MS_SYNC) + req(DISCARD, a=A, b=16 * PAGE)
    + req(REGION_INFO) + req(INODE_FD, a=A + PAGE) + req(RELEASE, a=2)
    + req(EXTEND, a=A, b=A_BYTES) + req(STATS),
    "valid-create-release": req(HELLO) + req(CREATE, a=64 << 10, fd=FD_FRESH, kib=64)
    + req(RELEASE, a=1) + req(STATS),
    "valid-register-pgoff": hello_mapper() + req(CREATE, a=A_BYTES, fd=FD_MEMFD_A)
    + req(REGISTER, a=1, b=A, c=16 * PAGE, d=8) + touch(REGION_A, 3, True)
    + req(MSYNC, a=A, b=16 * PAGE, c=MS_ASYNC) + req(RELEASE, a=1),
    "valid-eviction": hello_mapper() + map_a()
    + b"".join(touch(REGION_A, p, p % 2 == 1) for p in range(0, 512, 37))
    + ctl_write(b"evict.run", 0) + req(MSYNC, a=A, b=A_BYTES, c=MS_SYNC)
    + touch(REGION_A, 0) + touch(REGION_A, 37, True) + req(STATS),
    "valid-ctl": req(HELLO) + ctl_read(b"evict.policy") + ctl_write(b"evict.policy", string=b"fifo")
    + ctl_read(b"stats.faults") + ctl_read(b"stats.policy") + ctl_read(b"opt.limit")
    + ctl_read(b"opt.policy") + ctl_read(b"kernel.mode") + ctl_read(b"kernel.uffd.features")
    + ctl_read(b"epoch") + ctl_read(b"session.helper_pid") + ctl_read(b"no.such.name")
    + ctl_write(b"evict.policy", string=b"no-such-policy") + ctl_write(b"version"),
    "valid-policy-switch": hello_mapper() + map_b() + touch(REGION_B, 0, True)
    + ctl_write(b"evict.policy", string=b"lru") + touch(REGION_B, 9)
    + ctl_write(b"evict.run", 8 * PAGE) + ctl_write(b"evict.policy", string=b"clock"),
    "valid-stranger": req(HELLO) + req(HELLO, slot=STRANGER) + req(STATS, slot=STRANGER)
    + ctl_read(b"stats.regions", slot=STRANGER) + ctl_write(b"evict.run", slot=STRANGER)
    + req(REGION_INFO, slot=STRANGER) + req(UFFD_DEVICE, slot=STRANGER),
    "valid-stranger-mapper": req(HELLO) + hello_mapper(slot=STRANGER) + map_b(slot=STRANGER)
    + touch(REGION_B, 2, True) + req(MSYNC, a=B, b=B_BYTES, c=MS_SYNC, slot=STRANGER),
    "valid-uffd-device-first": req(UFFD_DEVICE) + req(HELLO, fd=FD_UFFD, a=DOORBELL) + req(STATS),
    "valid-restricted": req(HELLO, flags=HELLO_RESTRICTED, fd=FD_UFFD_VARIANT,
                            variant=USER_MODE_ONLY) + map_b() + touch(REGION_B, 4)
    + req(STATS),
    "valid-restricted-child": req(HELLO) + req(CREATE, a=A_BYTES, fd=FD_MEMFD_A)
    + req(HELLO_RESTRICTED_CHILD, slot=1, fd=FD_UFFD_VARIANT, variant=USER_MODE_ONLY)
    + touch(REGION_A, 7) + req(STATS, slot=1),
    "valid-fork-child": hello_mapper() + map_b() + action(FORK, bytes([RING_DOORBELL]))
    + req(HELLO_CHILD, slot=2) + req(STATS, slot=2) + touch(REGION_B, 1, True),
    "valid-fork-child-nobody": hello_mapper() + map_b()
    + action(FORK, bytes([RING_DOORBELL | DROP_TO_NOBODY])) + req(HELLO_CHILD, slot=2)
    + req(STATS, slot=2),
    "valid-fork-silent": hello_mapper() + map_b() + action(FORK, bytes([0]))
    + req(HELLO, slot=2) + req(STATS),
    "valid-uffd-events": hello_mapper() + map_a() + touch(REGION_A, 10, True)
    + vm(DONTNEED, REGION_A, 0, 4) + vm(REMOVE, REGION_A, 8, 4) + vm(MOVE, REGION_A, 16, 4, 3)
    + vm(UNMAP, REGION_A, 64, 8) + req(MSYNC, a=A, b=A_BYTES, c=MS_SYNC)
    + vm(REMAP_REGION, REGION_A) + req(STATS),
    "valid-extend": hello_mapper() + req(CREATE, a=A_BYTES, fd=FD_MEMFD_A)
    + req(REGISTER, a=1, b=A, c=16 * PAGE) + touch(REGION_A, 3, True)
    + req(EXTEND, a=A, b=40 * PAGE) + touch(REGION_A, 30, True) + req(EXTEND, a=A, b=8 * PAGE)
    + req(MSYNC, a=A, b=40 * PAGE, c=MS_SYNC),
    "valid-sampling": hello_mapper() + map_a()
    + b"".join(touch(REGION_A, p, p % 3 == 0) for p in (0, 1, 64, 65, 128, 129, 192, 193, 256, 257))
    + action(PUMP, bytes([7])) + action(PUMP, bytes([7])) + touch(REGION_A, 100) + touch(REGION_A, 200, True)
    + touch(REGION_A, 130) + req(MSYNC, a=A, b=A_BYTES, c=MS_SYNC) + req(REGION_INFO)
    + ctl_read(b"stats.samples") + ctl_read(b"stats.sample_hits") + req(STATS),
    "valid-swap-full": req(HELLO) + req(CREATE, a=12 << 20, fd=FD_FRESH, kib=12 << 10)
    + req(CREATE, a=12 << 20, fd=FD_FRESH, kib=12 << 10) + req(RELEASE, a=1)
    + req(CREATE, a=8 << 20, fd=FD_FRESH, kib=8 << 10) + req(STATS),
    "valid-create-noreserve": req(HELLO)
    + req(CREATE, a=8 << 20, flags=CREATE_NO_RESERVE, fd=FD_FRESH, kib=8 << 10)
    + req(CREATE, a=12 << 20, flags=CREATE_NO_RESERVE, fd=FD_FRESH, kib=12 << 10)
    + req(RELEASE, a=1) + req(STATS),
    "valid-region-cursor": req(HELLO) + req(CREATE, a=PAGE, fd=FD_FRESH, kib=4)
    + req(CREATE, a=2 * PAGE, fd=FD_FRESH, kib=8) + req(CREATE, a=3 * PAGE, fd=FD_FRESH, kib=12)
    + req(REGION_INFO, a=0) + req(REGION_INFO, a=1) + req(REGION_INFO, a=2)
    + req(REGION_INFO, a=3),
    # Restricted mode: the parent pins its regions for the child it forks; the
    # child's hello names the pin by its token (a=1: this input's first).
    "valid-fork-pending": req(HELLO, flags=HELLO_RESTRICTED, fd=FD_UFFD_VARIANT,
                              variant=USER_MODE_ONLY) + map_b() + req(FORK_PENDING)
    + action(FORK, bytes([0])) + req(HELLO_RESTRICTED_CHILD, slot=2, a=1, fd=FD_UFFD_VARIANT,
                                     variant=FORK_CHILD_UFFD)
    + req(STATS, slot=2) + touch(REGION_B, 3, True) + req(STATS),
    "valid-fork-pending-no-child": req(HELLO, flags=HELLO_RESTRICTED, fd=FD_UFFD_VARIANT,
                                       variant=USER_MODE_ONLY) + map_b() + req(FORK_PENDING)
    + req(FORK_PENDING) + action(CLOSE),
    "valid-grow-extend": hello_mapper() + map_b() + vm(GROW, REGION_B, 0, 4)
    + req(EXTEND, a=B, b=B_BYTES + 4 * PAGE) + req(STATS),
    "valid-two-connections": hello_mapper() + map_a() + hello_mapper(slot=1)
    + req(INODE_FD, a=A) + req(REGISTER, a=2, b=B, c=B_BYTES, slot=1)
    + req(REGISTER, a=2, b=B, c=B_BYTES) + req(STATS, slot=1),
    "valid-puppet-exits": hello_mapper() + map_b() + touch(REGION_B, 0, True) + action(EXIT)
    + action(PUMP, bytes([7])),
    "valid-close-reconnect": hello_mapper() + map_b() + action(CLOSE) + action(PUMP, bytes([3]))
    + req(HELLO) + req(STATS),
    "valid-pipeline": req(HELLO, kind=QUEUE) + req(STATS, kind=QUEUE) + req(STATS, kind=QUEUE)
    + ctl_read(b"version") + req(STATS),
    "valid-folded-addresses": req(HELLO, a=7 << 20, fd=FD_UFFD, kind=FOLD)
    + req(CREATE, a=B_BYTES, fd=FD_MEMFD_B) + req(REGISTER, a=1, b=4 << 20, c=B_BYTES, kind=FOLD)
    + req(MSYNC, a=4 << 20, b=B_BYTES, kind=FOLD),
    # Regressions: inputs of findings (docs/fuzzing.md), named for the behaviour.
    # Finding 1: a uffd sent without O_NONBLOCK; the helper blocks in read(2) on it.
    "regress-hello-blocking-uffd-hangs-helper":
    req(HELLO, a=DOORBELL, fd=FD_UFFD_VARIANT, variant=BLOCKING) + req(STATS),
    "regress-hello-restricted-child-blocking-uffd-hangs-helper": req(HELLO)
    + req(HELLO_RESTRICTED_CHILD, slot=1, fd=FD_UFFD_VARIANT, variant=USER_MODE_ONLY | BLOCKING)
    + req(STATS, slot=1),
    # Finding 2: a packet longer than a Request is answered (the excess is dropped).
    "regress-oversized-packet-is-answered": raw(packet(HELLO, size=REQUEST_SIZE + 100))
    + req(STATS),
    # Finding 3: msync and discard of a range that wraps past 2^64 succeed.
    "regress-msync-wrapping-range-succeeds": hello_mapper() + map_a()
    + req(MSYNC, a=A, b=U64 - A + 1, c=MS_SYNC),
    "regress-discard-wrapping-range-succeeds": hello_mapper() + map_a()
    + req(DISCARD, a=A + PAGE, b=U64 - A),
    # Malformed.
    "bad-magic": raw(packet(HELLO, magic=0x12345678)),
    "bad-short-packet": raw(packet(HELLO, size=10)),
    "bad-empty-packet": req(HELLO) + raw(b""),
    "bad-reserved": raw(packet(HELLO, reserved=1)),
    "bad-hello-twice": req(HELLO) + req(HELLO),
    "bad-op-before-hello": req(STATS),
    "bad-unknown-op": req(HELLO) + req(99),
    "bad-op-zero": req(HELLO) + req(0),
    "bad-fd-on-stats": req(HELLO) + req(STATS, fd=FD_OTHER, other=OTHER_DEVNULL),
    "bad-create-no-fd": req(HELLO) + req(CREATE, a=PAGE),
    "bad-create-wrong-fds": req(HELLO)
    + b"".join(req(CREATE, a=PAGE, fd=FD_OTHER, other=o) for o in range(8)),
    "bad-create-memfds": req(HELLO) + req(CREATE, a=PAGE, fd=FD_FRESH, variant=1, kib=4)
    + req(CREATE, a=PAGE, fd=FD_FRESH, variant=2, kib=4)
    + req(CREATE, a=PAGE * 2, fd=FD_FRESH, variant=0, kib=4)
    + req(CREATE, a=0, fd=FD_FRESH, variant=0, kib=4)
    + req(CREATE, a=1 << 62, fd=FD_FRESH, variant=0, kib=4)
    + req(CREATE, a=U64, fd=FD_FRESH, variant=0, kib=4)
    + req(CREATE, a=100 << 20, fd=FD_FRESH, variant=0, kib=65535),
    "bad-create-twice": req(HELLO) + req(CREATE, a=PAGE, fd=FD_FRESH, kib=4)
    + req(CREATE, a=PAGE, fd=FD_OTHER, other=OTHER_LAST_MEMFD) + req(CREATE, a=PAGE, fd=FD_TWO),
    "bad-register": hello_mapper() + req(CREATE, a=A_BYTES, fd=FD_MEMFD_A)
    + req(REGISTER, a=7, b=A, c=PAGE) + req(REGISTER, a=1, b=A + 1, c=PAGE)
    + req(REGISTER, a=1, b=A, c=0) + req(REGISTER, a=1, b=A, c=PAGE + 1)
    + req(REGISTER, a=1, b=U64 + 1 - PAGE, c=2 * PAGE) + req(REGISTER, a=1, b=A, c=PAGE, d=U64)
    + req(REGISTER, a=1, b=A, c=2 * PAGE, d=511) + req(REGISTER, a=1, b=A, c=A_BYTES + PAGE)
    + req(REGISTER, a=1, b=C, c=PAGE) + req(REGISTER, a=1, b=DOORBELL, c=PAGE)
    + req(REGISTER, a=1, b=WINDOW + (3 << 20), c=PAGE),
    "bad-register-overlap": hello_mapper() + map_a() + req(CREATE, a=A_BYTES, fd=FD_MEMFD_B)
    + req(REGISTER, a=2, b=A + PAGE, c=PAGE) + req(REGISTER, a=2, b=DOORBELL, c=PAGE),
    "bad-register-no-uffd": req(HELLO) + req(CREATE, a=B_BYTES, fd=FD_MEMFD_B)
    + req(REGISTER, a=1, b=B, c=B_BYTES),
    "bad-msync": hello_mapper() + map_a() + req(MSYNC, a=A, b=PAGE, c=MS_SYNC | MS_ASYNC)
    + req(MSYNC, a=A, b=PAGE, c=64) + req(MSYNC, a=A + 1, b=PAGE)
    + req(MSYNC, a=A, b=A_BYTES + PAGE, c=MS_INVALIDATE) + req(MSYNC, a=0, b=0),
    "bad-discard": hello_mapper() + map_a() + req(DISCARD, a=A + 1, b=PAGE)
    + req(DISCARD, a=C, b=PAGE) + req(DISCARD, a=DOORBELL, b=PAGE),
    "bad-inode-fd-extend": hello_mapper() + map_b() + req(INODE_FD, a=C) + req(INODE_FD, a=DOORBELL)
    + req(EXTEND, a=B + PAGE, b=PAGE) + req(EXTEND, a=B, b=U64) + req(EXTEND, a=DOORBELL, b=PAGE)
    + req(RELEASE, a=0) + req(RELEASE, a=U64),
    "bad-region-info": req(HELLO) + req(REGION_INFO, a=U64) + req(REGION_INFO, a=1 << 32),
    "bad-ctl-unterminated": req(HELLO) + req(CTL, text=b"s" * 63, text2=b"x" * 255)
    + req(CTL, a=1, text=b"evict.policy", text2=b"y" * 255),
    "bad-hello": req(HELLO, a=DOORBELL + 1, fd=FD_UFFD) + req(HELLO, slot=1, a=C, fd=FD_UFFD)
    + req(HELLO, slot=2, fd=FD_UFFD_VARIANT, variant=API_DONE)
    + req(HELLO, slot=3, flags=0xFFFFFFFF & 0xFF, fd=FD_MEMFD_A),
    "bad-hello-restricted-child": req(HELLO_RESTRICTED_CHILD)
    + req(HELLO_RESTRICTED_CHILD, slot=1, fd=FD_UFFD) + req(HELLO_RESTRICTED_CHILD, slot=1,
                                                          fd=FD_UFFD),
    "bad-hello-child-no-fork": req(HELLO_CHILD) + req(STATS),
    "valid-stranger-first": req(HELLO, slot=STRANGER) + req(STATS, slot=STRANGER),
    # Native shared memory reports (kNative): figures the client makes up.
    "valid-native": req(HELLO, flags=HELLO_OBSERVER)
    + req(NATIVE, a=NATIVE_HUGETLB, b=2 << 20, c=1)
    + req(HELLO, slot=STRANGER, flags=HELLO_OBSERVER)
    + req(NATIVE, a=NATIVE_NO_SESSION, b=8 * PAGE, c=2, slot=STRANGER)
    + ctl_read(b"stats.native_shared_bytes.hugetlb")
    + ctl_read(b"stats.native_shared_mappings.no_session") + req(STATS),
    "bad-native-figures": req(HELLO) + req(NATIVE, a=NATIVE_FLAGS, b=U64, c=1)
    + req(NATIVE, a=NATIVE_FLAGS, b=PAGE, c=2) + req(NATIVE, a=NATIVE_ERROR, b=0, c=0)
    + req(NATIVE, a=NATIVE_ERROR, b=2 * MAX_NATIVE_MAPPING_BYTES, c=1)
    + req(NATIVE, a=NATIVE_ERROR, b=PAGE, c=1, d=1)
    + req(NATIVE, a=NATIVE_ERROR, b=PAGE, c=1, flags=1)
    + req(NATIVE, a=NATIVE_ERROR, b=U64 & ~(PAGE - 1), c=1 << 33)
    + b"".join(req(NATIVE, a=NATIVE_MIN_SIZE, b=U64 & ~(PAGE - 1), c=1 << 32)
               for _ in range(3))
    + ctl_read(b"stats.native_shared_bytes.min_size") + req(STATS),
    "bad-native-reason": req(HELLO) + req(NATIVE, a=NATIVE_REASONS, b=PAGE, c=1, slot=1)
    + req(NATIVE, a=U64, b=PAGE, c=1, slot=2) + req(STATS),
    "bad-native-before-hello": req(NATIVE, a=NATIVE_HUGETLB, b=PAGE, c=1) + req(HELLO),
    # Program objects (kShmOpen, kShmUnlink, kAdoptFd, kResize, kCreateProgram).
    "valid-shm-open": req(HELLO)
    + req(SHM_OPEN, a=O_CREAT | O_EXCL | O_RDWR, b=0o600, fd=FD_FRESH, variant=PROGRAM, kib=0)
    + req(SHM_OPEN, a=O_RDWR) + req(SHM_OPEN, a=O_RDONLY | O_TRUNC)
    + req(SHM_OPEN, a=O_CREAT | O_RDWR, b=0o644, fd=FD_FRESH, variant=PROGRAM, kib=0)
    + req(SHM_OPEN, a=O_CREAT | O_EXCL | O_RDWR, b=0o600, fd=FD_FRESH, variant=PROGRAM, kib=0)
    + req(SHM_OPEN, a=O_RDWR | O_TRUNC) + req(SHM_UNLINK) + req(SHM_UNLINK)
    + req(SHM_OPEN, a=O_RDWR) + req(STATS),
    "valid-shm-open-stranger": req(HELLO)
    + req(SHM_OPEN, a=O_CREAT | O_RDWR, b=0o600, fd=FD_FRESH, variant=PROGRAM, kib=0, name=1)
    + req(HELLO, slot=STRANGER) + req(SHM_OPEN, a=O_RDWR, slot=STRANGER, name=1)
    + req(SHM_OPEN, a=O_RDONLY, slot=STRANGER, name=1) + req(SHM_UNLINK, slot=STRANGER, name=1)
    + req(SHM_OPEN, a=O_CREAT | O_RDWR, b=0o666, slot=STRANGER, name=2, fd=FD_OTHER,
          other=OTHER_PROGRAM_MEMFD)
    + req(SHM_OPEN, a=O_RDWR, name=2) + req(SHM_UNLINK, name=2),
    "valid-program-object": hello_mapper()
    + req(CREATE, flags=CREATE_PROGRAM, fd=FD_FRESH, variant=PROGRAM, kib=64)
    + req(ADOPT_FD, fd=FD_OTHER, other=OTHER_OWN_RW)
    + req(REGISTER, a=1, b=C, c=64 << 10) + touch(REGION_C, 0) + touch(REGION_C, 3, True)
    + req(RESIZE, a=128 << 10, fd=FD_OTHER, other=OTHER_OWN_RW)
    + req(MSYNC, a=C, b=64 << 10, c=MS_SYNC) + req(DISCARD, a=C, b=PAGE) + req(INODE_FD, a=C)
    + req(EXTEND, a=C, b=64 << 10) + req(RESIZE, a=PAGE + 1, fd=FD_OTHER, other=OTHER_OWN_RW)
    + touch(REGION_C, 3) + req(RESIZE, a=0, fd=FD_OTHER, other=OTHER_OWN_RW)
    + touch(REGION_C, 1, True) + req(STATS),
    "valid-program-pin": req(HELLO)
    + req(CREATE, flags=CREATE_PROGRAM, fd=FD_FRESH, variant=PROGRAM, kib=16)
    + req(ADOPT_FD, flags=ADOPT_PIN, fd=FD_OTHER, other=OTHER_OWN_RO)
    + req(ADOPT_FD, fd=FD_OTHER, other=OTHER_OWN_RO) + req(ADOPT_FD, fd=FD_OTHER, other=OTHER_OWN_RW)
    + req(RELEASE, a=1) + req(RESIZE, flags=RESIZE_GROW_ONLY, a=0, fd=FD_OTHER, other=OTHER_OWN_RW)
    + req(STATS),
    "bad-program-sizes": req(HELLO)
    + req(CREATE, flags=CREATE_PROGRAM, fd=FD_FRESH, variant=PROGRAM, kib=4)
    + b"".join(req(RESIZE, a=size, fd=FD_OTHER, other=OTHER_OWN_RW)
               for size in (U64, 1 << 63, (1 << 63) - 1, 1 << 48, (1 << 48) - 1, 1 << 40, 4097))
    + req(RESIZE, a=PAGE, flags=3, fd=FD_OTHER, other=OTHER_OWN_RW)
    + req(RESIZE, a=PAGE, fd=FD_OTHER, other=OTHER_OWN_RO) + req(RESIZE, a=PAGE)
    + req(RESIZE, a=PAGE, fd=FD_OTHER, other=OTHER_DEVNULL) + req(ADOPT_FD)
    + req(ADOPT_FD, flags=2, fd=FD_OTHER, other=OTHER_OWN_RW),
    "bad-program-fds": req(HELLO)
    + b"".join(req(CREATE, flags=CREATE_PROGRAM, fd=FD_OTHER, other=o) for o in range(12))
    + req(CREATE, flags=CREATE_PROGRAM | CREATE_NO_RESERVE, fd=FD_FRESH, variant=PROGRAM, kib=4)
    + req(CREATE, flags=CREATE_PROGRAM, fd=FD_FRESH, variant=0, kib=4)
    + b"".join(req(ADOPT_FD, fd=FD_OTHER, other=o) for o in range(12))
    + b"".join(req(RESIZE, a=PAGE, fd=FD_OTHER, other=o) for o in range(12)),
    # A program object's mapping may reach past its end (fact 12): kDiscard
    # there walked page states past the end (an assertion; out of bounds in
    # a release build).
    "regress-discard-past-the-end-of-an-object": hello_mapper()
    + req(CREATE, flags=CREATE_PROGRAM, fd=FD_FRESH, variant=PROGRAM, kib=16)
    + req(ADOPT_FD, fd=FD_OTHER, other=OTHER_OWN_RW) + req(REGISTER, a=1, b=C, c=64 << 10)
    + touch(REGION_C, 1, True) + req(DISCARD, a=C, b=64 << 10) + req(DISCARD, a=C + 8 * PAGE, b=PAGE),
    "bad-shm-open": req(HELLO) + req(SHM_OPEN, a=O_CREAT | O_RDWR, b=0o600)
    + req(SHM_OPEN, a=O_RDWR, fd=FD_FRESH, variant=PROGRAM, kib=0)
    + req(SHM_OPEN, a=O_RDWR | O_WRONLY | O_CREAT, fd=FD_FRESH, variant=PROGRAM, kib=0)
    + req(SHM_OPEN, a=O_CREAT | O_RDWR, b=0o10000, fd=FD_FRESH, variant=PROGRAM, kib=0)
    + req(SHM_OPEN, a=O_CREAT | O_RDWR | 0o4000, fd=FD_FRESH, variant=PROGRAM, kib=0)
    + req(SHM_OPEN, a=O_CREAT | O_RDWR, fd=FD_FRESH, variant=PROGRAM, kib=4)
    + req(SHM_OPEN, a=O_CREAT | O_RDWR, fd=FD_FRESH, variant=0, kib=0)
    + b"".join(req(SHM_OPEN, a=O_CREAT | O_RDWR, fd=FD_OTHER, other=o, name=3) for o in range(12))
    + b"".join(req(SHM_OPEN, a=O_CREAT | O_RDWR, name=n, fd=FD_FRESH, variant=PROGRAM, kib=0)
               for n in (b"", b".", b"..", b"a/b", b"/x", b"\xff\xfe"))
    + req(SHM_OPEN, a=O_RDWR, name=0xff) + req(SHM_UNLINK, name=b"..") + req(SHM_UNLINK, name=0xff)
    + req(SHM_UNLINK, name=b"") + req(SHM_OPEN, a=O_RDWR, fd=FD_TWO),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        os.unlink(os.path.join(OUT, old))
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
