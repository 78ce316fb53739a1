#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# stress-ng's program-object stressors (issue 11) with --verify under shmrun
# and a small limit: --shm (POSIX shm: shm_open O_CREAT|O_TRUNC, fallocate
# growth, ftruncate shrink, fstat size, fchmod, fchown, shm_unlink) and
# --memfd (memfd_create, ftruncate, MAP_SHARED|MAP_POPULATE, fill, random
# madvise, hole punch; then a MAP_PRIVATE mapping, MADV_PAGEOUT, a shrink and
# regrow whose second page must read zeros: stress-ng's own verification).
# Passes when stress-ng exits 0, reports no failure, each stressor ran and
# counted bogo ops, "successful run completed", the metrics check is sane,
# no stress-ng name ever appeared in /dev/shm (a name the kernel made there
# was not managed), and the stats show swap-outs within the limit and
# program objects made (objects_made > 0), every one freed by the end but
# names nobody unlinked.
#
# stress-ng 0.15.06 (Debian 12) never writes into its --shm objects: it maps
# them MAP_PRIVATE|MAP_ANONYMOUS, which ignores the fd. So --shm alone cannot
# evict anything of its objects, and its own shared state stays under 1M: the
# --shm test runs --memfd beside it, whose objects hold the data the limit
# evicts while --shm's requests go through the same busy helper.
# usage: stress_ng_objects.sh SHMRUN SECS LIMIT STRESSOR[=N]...
TEST_NAME=stress_ng_objects
. "$(dirname "$0")/lib.sh"
require_root
SHMRUN=$1 SECS=$2 LIMIT=$3
shift 3
[ $# -gt 0 ] || die "no stressor given"
require_cmd stress-ng stress-ng
T=$(mktemp -d /tmp/libshm-stress-ng-objects.XXXXXX)
chmod 755 "$T"
SAMPLER=
cleanup() {
  local rc=$?
  set +e
  if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null || true; fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
cd "$T"   # stress-ng's scratch files

args=() names=()
for s in "$@"; do
  name=${s%%=*} n=1
  [ "$name" = "$s" ] || n=${s#*=}
  names+=("$name")
  args+=("--$name" "$n")
  # --memfd's defaults are 256 MiB in 256 memfds per round: 32 MiB in 32
  # (1 MiB each) is still 8x a 4M limit, and gives a few rounds in SECS.
  [ "$name" = memfd ] && args+=(--memfd-bytes 32M --memfd-fds 32)
done
TEST_NAME="stress_ng_objects ${names[*]}"
log "limit $LIMIT, stress-ng ${args[*]} --timeout ${SECS}s --verify"

# The /dev/shm sampler: every stress-ng name the kernel has there. Managed
# names live in the helper (memfds), so none may show up.
cat >"$T/devshm.py" <<'PYEOF'
import os, sys, time
stop, deadline, seen = sys.argv[1], time.monotonic() + float(sys.argv[2]), set()
while not os.path.exists(stop) and time.monotonic() < deadline:
    seen.update(n for n in os.listdir("/dev/shm") if n.startswith("stress-ng-"))
    time.sleep(0.05)
print(len(seen), " ".join(sorted(seen)[:5]))
PYEOF
"$PY" "$T/devshm.py" "$T/stop" $((SECS * 4 + 60)) >"$T/devshm.txt" &
SAMPLER=$!
rc=0
"$SHMRUN" --limit "$LIMIT" --stats="$T/stats.json" -- stress-ng "${args[@]}" \
  --timeout "$SECS" --verify -v --metrics-brief --temp-path "$T" >"$T/out.log" 2>&1 || rc=$?
touch "$T/stop"
wait "$SAMPLER" || true
SAMPLER=
check_stress_ng "$T/out.log" "$rc"
for s in "${names[@]}"; do
  grep -qE "debug: \[[0-9]+\] $s: exited" "$T/out.log" || die "stressor $s did not run"
  ops=$(awk -v s="$s" '$2 == "metrc:" && $4 == s && $5 ~ /^[0-9]+$/ { print $5; exit }' "$T/out.log")
  log "$s: ${ops:-0} bogo ops"
  [ "${ops:-0}" -gt 0 ] || die "stressor $s counted no bogo op"
done
read -r shm_names shm_examples <"$T/devshm.txt" || die "the /dev/shm sampler wrote nothing"
[ "$shm_names" = 0 ] || die "$shm_names stress-ng names were the kernel's, in /dev/shm: $shm_examples"
log "run time $(elapsed)"
assert_evicted "$T/stats.json" "stress-ng ${names[*]}"
assert_objects_managed "$T/stats.json" "stress-ng ${names[*]}"
# Every process has exited: each object was freed, handed back, or is a
# name nobody unlinked (it lasts as long as the session, as a /dev/shm file
# lasts until reboot). --shm leaves one now and then by itself: its parent
# stops reading the child's "new name" messages when its time is up and
# kills the child, and a name made in that window is never unlinked
# (natively: 1 stress-ng file left in /dev/shm in 8 runs of --shm 2 -t 2).
made=$(stat_get "$T/stats.json" objects_made)
freed=$(stat_get "$T/stats.json" objects_freed)
back=$(stat_get "$T/stats.json" handed_back)
live=$(stat_get "$T/stats.json" program_objects)
named=$(stat_get "$T/stats.json" shm_objects)
[ "$live" = "$named" ] || die "$live program objects outlived every process, only $named of them named"
[ "$made" = $((freed + back + live)) ] ||
  die "objects_made=$made, but freed $freed + handed back $back + left named $live differ"
log PASS
