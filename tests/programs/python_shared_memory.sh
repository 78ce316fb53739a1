#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Python's multiprocessing.shared_memory (POSIX shm: shm_open, ftruncate,
# mmap) under shmrun: a 64 MiB SharedMemory, 8x the limit, shared by name
# with a Pool of 4 workers that write and cross-check it twice; a
# ShareableList changed by the workers. The stats must show swap-outs and
# the objects managed by the helper (objects_made).
# usage: python_shared_memory.sh SHMRUN
TEST_NAME=python_shared_memory
. "$(dirname "$0")/lib.sh"
require_root
SHMRUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
LIMIT=8M SIZE=$((64 << 20))
T=$(mktemp -d /tmp/libshm-python-shm.XXXXXX)
trap 'rm -rf "$T"' EXIT

"$SHMRUN" --limit "$LIMIT" --stats="$T/stats.json" -- "$PY" "$HERE/python_shared_memory.py" "$SIZE" 4 ||
  die "python_shared_memory.py failed under shmrun (exit $?)"
log "limit $LIMIT, SharedMemory $((SIZE >> 20)) MiB, $(elapsed)"
assert_evicted "$T/stats.json" python_shared_memory
made=$(stat_get "$T/stats.json" objects_made)
[ "$made" -ge 2 ] || die "objects_made=$made: the SharedMemory and ShareableList were not managed"
[ "$(stat_get "$T/stats.json" swap_ins)" -gt 0 ] || die "swap_ins=0: no page was read back from swap"
# Nothing is left behind: both objects were unlinked and closed.
left=$(ls /dev/shm | grep -c '^psm_' || true)
[ "$left" -eq 0 ] || die "$left psm_* files in /dev/shm: the objects went to the kernel"
log PASS
