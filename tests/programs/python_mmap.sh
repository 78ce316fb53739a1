#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Python: mmap.mmap(-1, 64M) shared with 4 forked workers, under an 8M limit.
# usage: python_mmap.sh SHMRUN
TEST_NAME=python_mmap
. "$(dirname "$0")/lib.sh"
require_root
SHMRUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
LIMIT=8M SIZE=$((64 << 20))
T=$(mktemp -d /tmp/libshm-python-mmap.XXXXXX)
trap 'rm -rf "$T"' EXIT


"$SHMRUN" --limit "$LIMIT" --stats="$T/stats.json" -- "$PY" "$HERE/python_mmap.py" "$SIZE" 4 ||
  die "python_mmap.py failed under shmrun (exit $?)"
log "limit $LIMIT, region $((SIZE >> 20)) MiB, $(elapsed)"
assert_evicted "$T/stats.json" python_mmap
[ "$(stat_get "$T/stats.json" swap_ins)" -gt 0 ] || die "swap_ins=0: no page was read back from swap"
[ "$(stat_get "$T/stats.json" forks)" -ge 8 ] || die "the helper saw fewer than 8 forks"
log PASS
