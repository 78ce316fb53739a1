# SPDX-License-Identifier: MIT
"""A CPython test module under the shim, with its pages evicted while it runs.

The shared memory of CPython's own tests is tiny (test_mmap: 1 byte to 8 KiB,
about 400 mappings, peak about 8 KiB resident; the SharedMemory tests of
test_multiprocessing_fork: objects of a few KiB), far below shmrun's smallest
limit (1M): on their own they never see an eviction. So a second process of the
same session, the sweeper, asks the helper to evict everything (libshm_ctl
"evict.run" 0, through the shim's exported C API) every millisecond while the
tests run: their pages are written to swap and read back between their own
statements. The sweeper maps nothing itself, so every swap-out and swap-in of
the session is the tests'. The calling script checks swap_outs > 0 and
swap_ins > 0 in the stats.

usage: python_suite_swept.py RUNS TEST [MATCH]  (python -m test -v TEST [-m MATCH], RUNS times)
"""
import ctypes
import os
import signal
import subprocess
import sys
import time


def sweeper(stop_after):
    ctl = ctypes.CDLL(None).libshm_ctl  # exported by libshm_preload.so
    ctl.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                    ctypes.c_size_t]
    everything = ctypes.c_uint64(0)
    deadline = time.monotonic() + stop_after
    while time.monotonic() < deadline:
        rc = ctl(b"evict.run", None, None, ctypes.byref(everything), 8)
        if rc != 0:
            print(f"sweeper: libshm_ctl(evict.run) = {rc}", file=sys.stderr)
            os._exit(1)
        time.sleep(0.001)
    os._exit(0)


def main():
    runs = int(sys.argv[1])
    args = [sys.argv[2]] + (["-m", sys.argv[3]] if len(sys.argv) > 3 else [])
    pid = os.fork()
    if pid == 0:
        sweeper(240)  # bounded even if the parent dies
    rc = 0
    try:
        for _ in range(runs):
            r = subprocess.run([sys.executable, "-m", "test", "-v"] + args,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=200)
            if r.returncode != 0 or "Tests result: SUCCESS" not in r.stdout:
                print(r.stdout[-20000:])
                rc = 1
                break
            print("\n".join(l for l in r.stdout.splitlines()
                            if l.startswith(("Ran ", "OK", "Tests result"))))
    finally:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
