#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# CPython's own tests of multiprocessing.shared_memory (SharedMemory,
# ShareableList, SharedMemoryManager, across forked processes; 13 tests of
# test_multiprocessing_fork, libpython3.11-testsuite) under the shim and a 1M
# limit, with a sweeper of the session evicting every page each ms
# (python_suite_swept.py): their objects are small. The stats must show
# swap-outs and swap-ins, and every object made freed (none leaked).
# usage: python_test_shared_memory.sh SHMRUN
TEST_NAME=python_test_shared_memory
. "$(dirname "$0")/lib.sh"
require_root
SHMRUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
LIMIT=1M RUNS=2
"$PY" -c 'import test.test_multiprocessing_fork' 2>/dev/null ||
  die "CPython's test suite is missing: apt-get install libpython3.11-testsuite"
T=$(mktemp -d /tmp/libshm-test-shm.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"

"$SHMRUN" --limit "$LIMIT" --stats="$T/stats.json" -- \
  "$PY" "$HERE/python_suite_swept.py" "$RUNS" test_multiprocessing_fork '*SharedMemory*' ||
  die "the SharedMemory tests failed under shmrun (exit $?)"
log "limit $LIMIT, test_multiprocessing_fork -m '*SharedMemory*' x$RUNS with an evict-everything sweeper, $(elapsed)"
assert_evicted "$T/stats.json" test_shared_memory
[ "$(stat_get "$T/stats.json" swap_ins)" -gt 0 ] || die "swap_ins=0: no page was read back"
made=$(stat_get "$T/stats.json" objects_made)
freed=$(stat_get "$T/stats.json" objects_freed)
[ "$made" -ge 40 ] || die "objects_made=$made: the tests' objects were not managed"
[ "$freed" -eq "$made" ] || die "objects_made=$made but objects_freed=$freed: objects leaked"
log PASS
