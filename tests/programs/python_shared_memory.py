#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# multiprocessing.shared_memory under shmrun (issue 11): a SharedMemory much
# larger than the limit, shared by name with a Pool of workers that write
# their slices and check each other's; and a ShareableList changed by the
# workers. Exit 0 only if every page and item is as written.
# usage: python_shared_memory.py BYTES WORKERS
import multiprocessing as mp
import os
import sys
from multiprocessing import shared_memory

PAGE = 4096


def page_bytes(page, version):
    # One page: a 16-byte stamp (page, version) repeated.
    stamp = page.to_bytes(8, "little") + version.to_bytes(8, "little")
    return stamp * (PAGE // 16)


def write_slice(args):
    name, first, count, version = args
    shm = shared_memory.SharedMemory(name=name)
    buf = shm.buf
    for p in range(first, first + count):
        buf[p * PAGE:(p + 1) * PAGE] = page_bytes(p, version)
    del buf
    shm.close()
    return count


def check_slice(args):
    name, first, count, version = args
    shm = shared_memory.SharedMemory(name=name)
    buf = shm.buf
    bad = [p for p in range(first, first + count)
           if bytes(buf[p * PAGE:(p + 1) * PAGE]) != page_bytes(p, version)]
    del buf
    shm.close()
    return bad[:5], len(bad)


def bump_list(args):
    name, i = args
    sl = shared_memory.ShareableList(name=name)
    sl[i] = sl[i] * 2 + i
    sl.shm.close()
    return i


def main():
    size, workers = int(sys.argv[1]), int(sys.argv[2])
    pages = size // PAGE
    shm = shared_memory.SharedMemory(create=True, size=size)
    sl = shared_memory.ShareableList(list(range(1000, 1000 + 4 * workers)))
    try:
        per = pages // workers
        slices = [(shm.name, w * per, per, 1) for w in range(workers)]
        with mp.get_context("fork").Pool(workers) as pool:
            assert sum(pool.map(write_slice, slices)) == per * workers
            # Each slice is checked by a different worker than its writer,
            # after the whole object has been through the limit.
            shifted = slices[1:] + slices[:1]
            results = pool.map(check_slice, shifted)
            bad = sum(n for _, n in results)
            firsts = [f for f, n in results if n]
            # A second round: new contents over the swapped ones.
            pool.map(write_slice, [(n, f, c, 2) for n, f, c, _ in slices])
            results = pool.map(check_slice, [(n, f, c, 2) for n, f, c, _ in slices[::-1]])
            bad += sum(n for _, n in results)
            firsts += [f for f, n in results if n]
            pool.map(bump_list, [(sl.shm.name, i) for i in range(len(sl))])
        want = [(1000 + i) * 2 + i for i in range(4 * workers)]
        got = list(sl)
        ok = bad == 0 and got == want
        print(f"python_shared_memory: {size >> 20} MiB SharedMemory, {workers} workers, "
              f"2 rounds: {bad} bad pages {firsts[:3]}; ShareableList "
              f"{'ok' if got == want else f'wrong: {got[:4]}...'}: {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        sl.shm.close()
        sl.shm.unlink()
        shm.close()
        shm.unlink()


if __name__ == "__main__":
    sys.exit(main())
