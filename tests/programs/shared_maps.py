# SPDX-License-Identifier: MIT
"""What a process maps as shared memory, read from /proc/PID/maps, for the
program tests (nginx_lifecycle.sh, postgres_restart.sh): libshm regions
(memfd:libshm) with their memfd inode, and native shared anonymous memory
(/dev/zero, shared)."""


def shared_mappings(pid, min_native=0):
    """(runs_shim, managed, native) for pid, or None if it is gone:
    managed is [(bytes, inode)], native is [bytes] of shared /dev/zero
    mappings of at least min_native bytes."""
    try:
        lines = open(f"/proc/{pid}/maps").read().splitlines()
    except OSError:
        return None
    managed, native = [], []
    for line in lines:
        f = line.split(None, 5)
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        path = f[5] if len(f) > 5 else ""
        if path.startswith("/memfd:libshm"):
            managed.append((hi - lo, int(f[4])))
        elif path.startswith("/dev/zero") and "s" in f[1] and hi - lo >= min_native:
            native.append(hi - lo)
    return any("libshm_preload" in line for line in lines), managed, native
