#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PyTorch DataLoader (2 workers, prefetch 2, 2 MiB batches through POSIX shm)
# with a 1 MB /dev/shm: natively the workers die of SIGBUS ("insufficient
# shared memory (shm)"); under shmrun, whose shm_open is a memfd of the
# helper, every batch arrives intact through a 4M limit.
# usage: torch_dataloader.sh SHMRUN
TEST_NAME=torch_dataloader
. "$(dirname "$0")/lib.sh"
require_root
SHMRUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
require_cmd "$PY" python3
require_cmd unshare util-linux
"$PY" -c 'import torch, numpy' 2>/dev/null ||
  die "python3 cannot import torch: apt-get install python3-torch"
# One batch (2 MiB) is above the 1 MB /dev/shm; the batches in flight
# (2 workers x prefetch 2, plus the one the parent checks: 10 MiB, held at
# once while the parent pauses after the first batch) are above the limit; the 32 batches (64 MiB) are 16x the limit.
LIMIT=4M SHM_SIZE=1m TOTAL=$((64 << 20)) BATCH=$((2 << 20))
T=$(mktemp -d /tmp/libshm-torch-dataloader.XXXXXX)
trap 'rm -rf "$T"' EXIT

# in_small_shm CMD...: CMD in a private mount namespace whose /dev/shm is a
# $SHM_SIZE tmpfs (the host's /dev/shm is untouched).
in_small_shm() {
  unshare -m --propagation private sh -c \
    'mount -t tmpfs -o size="$0" tmpfs /dev/shm && exec "$@"' "$SHM_SIZE" "$@"
}
if ! in_small_shm true 2>"$T/probe.err"; then
  log "SKIP: cannot mount a tmpfs on /dev/shm in a mount namespace: $(head -c 300 "$T/probe.err")"
  exit "$SKIP"
fi

# (a) Natively the 1 MB /dev/shm must break the loader, else the run under
# shmrun proves nothing.
rc=0
in_small_shm "$PY" "$HERE/torch_dataloader.py" "$TOTAL" "$BATCH" >"$T/native.raw" 2>&1 || rc=$?
# torch's SIGBUS handler writes its message with the terminating NUL.
tr -d '\000' <"$T/native.raw" >"$T/native.out"
[ "$rc" -ne 0 ] ||
  die "the native run passed with a $SHM_SIZE /dev/shm: $(cat "$T/native.out")"
err=$(grep -m1 -iE 'insufficient shared memory|bus error|unable to allocate shared memory|No space left' "$T/native.out") ||
  die "the native run failed (exit $rc), but not for lack of shared memory: $(head -c 2000 "$T/native.out")"
log "native, $SHM_SIZE /dev/shm: exit $rc as expected: $err"
log "native: $(grep -m1 'torch_dataloader: FAIL' "$T/native.out" || true)"

# (b) The same under shmrun: must pass, and evict.
rc=0
in_small_shm "$SHMRUN" --limit "$LIMIT" --stats="$T/stats.json" -- \
  "$PY" "$HERE/torch_dataloader.py" "$TOTAL" "$BATCH" >"$T/shmrun.out" 2>&1 || rc=$?
tr -d '\000' <"$T/shmrun.out" >&2
[ "$rc" -eq 0 ] || die "torch_dataloader.py failed under shmrun with a $SHM_SIZE /dev/shm (exit $rc)"
grep -q 'torch_dataloader: .*: PASS$' "$T/shmrun.out" || die "no PASS line from torch_dataloader.py"
log "limit $LIMIT, $((TOTAL >> 20)) MiB in $((BATCH >> 20)) MiB batches, $(elapsed)"
assert_evicted "$T/stats.json" torch_dataloader
log PASS
