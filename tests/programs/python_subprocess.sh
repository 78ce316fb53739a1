#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Python: subprocess.run from a process whose shared memory (32M) is 4x the
# limit, while a thread rewrites it; half the runs with preexec_fn (fork,
# close every inherited descriptor, exec). libshm's watchdog once took the
# closed descriptors for its helper's death and killed those children.
# usage: python_subprocess.sh SHMRUN
TEST_NAME=python_subprocess
. "$(dirname "$0")/lib.sh"
require_root
SHMRUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
LIMIT=8M SIZE=$((32 << 20)) RUNS=200
T=$(mktemp -d /tmp/libshm-python-subprocess.XXXXXX)
trap 'rm -rf "$T"' EXIT

"$SHMRUN" --limit "$LIMIT" --stats="$T/stats.json" -- \
  "$PY" "$HERE/python_subprocess.py" "$SIZE" "$RUNS" 2>"$T/stderr" ||
  die "python_subprocess.py failed under shmrun (exit $?): $(tail -c 2000 "$T/stderr")"
! grep -q "^libshm:" "$T/stderr" || die "libshm said: $(grep "^libshm:" "$T/stderr" | head -5)"
log "limit $LIMIT, region $((SIZE >> 20)) MiB, $RUNS subprocesses, $(elapsed)"
assert_evicted "$T/stats.json" python_subprocess
log PASS
