# SPDX-License-Identifier: MIT
"""A Python program with shared memory that starts subprocesses: the region
is written (far past the limit), then subprocess.run starts /bin/true many
times, half with preexec_fn (which makes Python fork, close every inherited
descriptor with close_range, run the function and exec), the rest with
close_fds and pass_fds, while a thread keeps rewriting the region. Every
child must exit 0 and the region read back exactly.

usage: python_subprocess.py SIZE RUNS"""
import mmap
import subprocess
import sys
import threading

size, runs = int(sys.argv[1]), int(sys.argv[2])
page = mmap.PAGESIZE
region = mmap.mmap(-1, size)  # MAP_SHARED | MAP_ANONYMOUS: managed by libshm


def stamp(version):
    for off in range(0, size, page):
        region[off:off + 16] = b"%08d%08d" % (off // page % 10**8, version)


def check(version):
    for off in range(0, size, page):
        want = b"%08d%08d" % (off // page % 10**8, version)
        if region[off:off + 16] != want:
            sys.exit(f"page {off // page}: {region[off:off + 16]!r}, expected {want!r}")


stamp(1)
stop = threading.Event()
rounds = [1]


def writer():
    while not stop.is_set():
        rounds[0] += 1
        stamp(rounds[0])


t = threading.Thread(target=writer)
t.start()
failed = []
for i in range(runs):
    if i % 2 == 0:
        r = subprocess.run(["/bin/true"], preexec_fn=lambda: None)
    else:
        r = subprocess.run(["/bin/true"], close_fds=True, pass_fds=(sys.stderr.fileno(),))
    if r.returncode != 0:
        failed.append((i, r.returncode))
stop.set()
t.join()
check(rounds[0])
if failed:
    sys.exit(f"{len(failed)} of {runs} children failed (run, status): {failed[:10]}")
print(f"{runs} children exited 0; region rewritten {rounds[0]} times, every page checked")
