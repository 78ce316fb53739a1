#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CPython's test_mmap (libpython3.11-testsuite) under the shim and a 1M limit,
# with a second process of the session evicting all its pages every ms
# (python_suite_swept.py): test_mmap maps too little to force eviction itself.
# usage: python_test_mmap.sh SHMRUN
TEST_NAME=python_test_mmap
. "$(dirname "$0")/lib.sh"
require_root
SHMRUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
LIMIT=1M RUNS=2
"$PY" -c 'import test.test_mmap' 2>/dev/null ||
  die "CPython's test suite is missing: apt-get install libpython3.11-testsuite"
T=$(mktemp -d /tmp/libshm-test-mmap.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"   # test_mmap writes its scratch files in the working directory

"$SHMRUN" --limit "$LIMIT" --policy "${POLICY:-clock}" --stats="$T/stats.json" -- "$PY" "$HERE/python_suite_swept.py" "$RUNS" test_mmap ||
  die "test_mmap failed under shmrun (exit $?)"
log "limit $LIMIT, test_mmap x$RUNS with an evict-everything sweeper, $(elapsed)"
assert_evicted "$T/stats.json" test_mmap
[ "$(stat_get "$T/stats.json" swap_ins)" -gt 0 ] ||
  die "swap_ins=0: none of test_mmap's pages was evicted and read back"
log PASS
