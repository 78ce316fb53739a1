# SPDX-License-Identifier: MIT
"""mmap.mmap(-1, N) shared with forked workers, N >= 8x the session limit.

Run under shmrun (python_mmap.sh). Round 1: each of W workers fills its share of
the region, page by page, with a pattern naming the page and the round. Round 2:
each worker checks the share of the next worker, then rewrites every other page
of it (writes to pages that were swapped out). The parent then checks every page,
flushes (msync), checks again, shrinks the map with resize (mremap) and checks
what is left. Exit 0 only if every page holds what it should.
"""
import mmap
import os
import sys

PAGE = mmap.PAGESIZE
SIZE = int(sys.argv[1]) if len(sys.argv) > 1 else 64 << 20
WORKERS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
PAGES = SIZE // PAGE
SHARE = PAGES // WORKERS


def pattern(page, rnd):
    word = ((page << 8) | rnd).to_bytes(8, "little")
    return word * (PAGE // 8)


def expected_round(page):
    """Round of the last write of a page after round 2."""
    return 2 if page % 2 == 0 else 1


def check(m, pages, rnd_of, who):
    bad = 0
    for p in pages:
        off = p * PAGE
        if m[off:off + PAGE] != pattern(p, rnd_of(p)):
            if bad < 5:
                got = int.from_bytes(m[off:off + 8], "little")
                print(f"{who}: page {p}: word 0x{got:x}, want 0x{(p << 8) | rnd_of(p):x}",
                      file=sys.stderr)
            bad += 1
    return bad


def run_workers(m, body):
    pids = []
    for w in range(WORKERS):
        pid = os.fork()
        if pid == 0:
            rc = 1
            try:
                rc = body(m, w)
            finally:
                os._exit(rc)
        pids.append(pid)
    failed = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            failed += 1
    return failed


def fill(m, w):
    for p in range(w * SHARE, (w + 1) * SHARE):
        m[p * PAGE:(p + 1) * PAGE] = pattern(p, 1)
    return 0


def check_and_rewrite(m, w):
    v = (w + 1) % WORKERS
    pages = range(v * SHARE, (v + 1) * SHARE)
    bad = check(m, pages, lambda p: 1, f"worker {w}")
    for p in pages:
        if p % 2 == 0:
            m[p * PAGE:(p + 1) * PAGE] = pattern(p, 2)
    return 1 if bad else 0


def main():
    m = mmap.mmap(-1, SIZE)  # MAP_SHARED|MAP_ANONYMOUS
    if run_workers(m, fill):
        print("round 1: a worker failed", file=sys.stderr)
        return 1
    if run_workers(m, check_and_rewrite):
        print("round 2: a worker saw wrong data", file=sys.stderr)
        return 1
    everything = range(WORKERS * SHARE)
    if check(m, everything, expected_round, "parent"):
        return 1
    m.flush()  # msync(MS_SYNC) of the whole region
    if check(m, everything, expected_round, "parent after flush"):
        return 1
    half = (WORKERS * SHARE // 2) * PAGE
    m.resize(half)  # mremap, shrinking
    if check(m, range(half // PAGE), expected_round, "parent after resize"):
        return 1
    m.close()
    print(f"python_mmap: {SIZE >> 20} MiB, {WORKERS} workers, {PAGES} pages verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
