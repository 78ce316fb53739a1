#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Side by side with the kernel: runs a kernel-semantics test binary under
# shmrun, so every fact it asserts about the kernel's POSIX shm objects or
# memfds is asserted again about libshm's managed ones (the same calls,
# results and errno). The few facts about /dev/shm itself are skipped there
# (kernel_probe.h UnderLibshm). Fails unless the helper made at least
# MIN_OBJECTS objects: a run in which nothing was managed proves nothing.
# usage: under_shmrun.sh SHMRUN TEST_BINARY MIN_OBJECTS
set -euo pipefail
SHMRUN=$1 BIN=$2 MIN=$3
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root"; exit 77; fi
T=$(mktemp -d /tmp/libshm-side.XXXXXX)
trap 'rm -rf "$T"' EXIT
# IPC_PRIVATE segments managed whatever DISPLAY says (LIBSHM_NATIVE_PRIVATE_SYSV).
LIBSHM_NATIVE_PRIVATE_SYSV=0 "$SHMRUN" --limit 16M --stats="$T/stats.json" -- "$BIN" ||
  { echo "FAIL: $BIN under shmrun"; exit 1; }
made=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["objects_made"])' "$T/stats.json")
echo "objects made by the helper: $made"
[ "$made" -ge "$MIN" ] || { echo "FAIL: only $made managed objects (want >= $MIN): nothing was compared"; exit 1; }
echo PASS
