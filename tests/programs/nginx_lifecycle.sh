#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# nginx's life cycle under shmrun (issue 10): ROUNDS reloads and binary
# upgrades in one session, then ROUNDS start/stop cycles, each its own session.
# Zones: a 64m proxy_cache keys zone and two 32m limit_req zones under a 1M
# limit (their slab headers alone, ~0.8 MiB a set, written at each start, and
# two sets during an upgrade, pass it; the keys the load adds fault pages back).
#  - reload (SIGHUP): new workers, same zones: the master's zone memfds must be
#    the ones it had, and every cached body and key is a HIT from the zones;
#  - binary upgrade: USR2 to the master (it execs /usr/sbin/nginx, which
#    inherits the listeners and creates its own zones: a mapping does not
#    survive exec), WINCH to the old master (its workers stop), QUIT to it;
#    bodies and keys are HITs from the cache directory through the new zones,
#    and the live session holds the regions it held after the start: the old
#    master's zones were released;
#  - start/stop: a session per cycle: start, a few requests, QUIT; the
#    helper's session-end stats must show eviction within the limit.
# After every step the current master and all its children map the three
# zones as libshm regions (memfd:libshm in /proc/PID/maps) and run the shim.
# Every signal has a deadline; a step that misses it prints the processes'
# states and kernel stacks and fails (nginx once hung after SIGQUIT when a
# libshm thread took the signal).
# usage: nginx_lifecycle.sh SHMRUN
TEST_NAME=nginx_lifecycle
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx_lib.sh"
require_root
SHMRUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)

ROUNDS=${NGINX_ROUNDS:-20} LIMIT=${NGINX_LIMIT:-1M} KEYS=${NGINX_KEYS:-200} FILES=20
STEP_SECS=30  # deadline of one step (a signal and its effect)
nginx_setup "$FILES"
nginx_conf 64m 32m
ZONES="67108864 33554432 33554432"  # bytes: bodies, perip, peruri

load() {  # load PHASE WHAT: nginx_load.py PHASE, quiet unless it fails
  local out
  out=$("$PY" "$HERE/nginx_load.py" "$1" "$FRONT" "$T/www" "$KEYS" 2>&1) ||
    { printf '%s\n' "$out" >&2; die "$2: $1: wrong answers through the cache"; }
}

# zones PID WHAT: prints the inodes of PID's zone mappings, sorted; or, with
# status 1, why not: PID must run the shim and map every zone as a libshm
# region (and no shared memory of a zone's size natively: /dev/zero).
zones() {
  PYTHONPATH="$HERE" PYTHONDONTWRITEBYTECODE=1 "$PY" - "$1" "$2" $ZONES <<'PYEOF'
import sys
from shared_maps import shared_mappings
def fail(msg):
    print(msg)
    sys.exit(1)
pid, what, want = sys.argv[1], sys.argv[2], [int(z) for z in sys.argv[3:]]
got = shared_mappings(pid)
if got is None:
    fail(f"{what}: pid {pid} is gone")
runs_shim, managed, native = got
if not runs_shim:
    fail(f"{what}: pid {pid} runs without the shim")
inodes = []
for size in want:
    hit = [m for m in managed if m[0] == size]
    if not hit:
        fail(f"{what}: pid {pid} maps no libshm region of {size} bytes (a zone); "
                 f"libshm: {sorted(m[0] for m in managed)}, native shared: {native}")
    managed.remove(hit[0])
    inodes.append(hit[0][1])
bad = [n for n in native if n in want]
if bad:
    fail(f"{what}: pid {pid} maps zones natively: {bad}")
print(",".join(str(i) for i in sorted(inodes)))
PYEOF
}

# check_master PID WHAT: the master and every child map the same zones, as
# libshm regions; prints the master's zone inodes.
check_master() {
  local m=$1 what=$2 mine c z
  mine=$(zones "$m" "$what (master)") || die "$mine"
  [ -n "$(pgrep -P "$m")" ] || die "$what: master $m has no children"
  for c in $(pgrep -P "$m"); do
    [ "$(old_master_pid)" = "$m" ] && [ "$c" = "$(master_pid)" ] && continue  # the new master
    z=$(zones "$c" "$what (child $c)") || {
      kill -0 "$c" 2>/dev/null || continue  # an old worker that just left
      die "$z"
    }
    [ "$z" = "$mine" ] || die "$what: child $c maps zones $z, its master $m maps $mine"
  done
  echo "$mine"
}

# workers PID: the master's worker processes ("nginx: worker process").
workers() {
  local c
  for c in $(pgrep -P "$1"); do
    if grep -q '^nginx: worker process' "/proc/$c/cmdline" 2>/dev/null; then echo "$c"; fi
  done | tr '\n' ' '
}

# until SECS WHAT PIDS CMD...: polls CMD until it succeeds; after SECS shows
# PIDS' processes and stacks and fails.
until_ok() {
  local secs=$1 what=$2 pids=$3
  shift 3
  for _ in $(seq 1 $((secs * 20))); do
    "$@" && return 0
    sleep 0.05
  done
  # shellcheck disable=SC2086
  show_hang $pids
  die "$what: not done within $secs s"
}

gone() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
has_workers() { [ "$(workers "$1" | wc -w)" = 2 ]; }
reloaded() { gone $1 && has_workers "$2"; }  # reloaded "OLD WORKERS" MASTER
upgraded() {  # upgraded OLD: a new master, child of OLD, with its workers
  local new
  new=$(master_pid)
  [ "$(old_master_pid)" = "$1" ] && [ -n "$new" ] && [ "$new" != "$1" ] &&
    [ "$(ps -o ppid= -p "$new" | tr -d ' ')" = "$1" ] && has_workers "$new"
}
no_workers() { [ -z "$(workers "$1")" ]; }

reload() {  # reload N
  local what="reload $1" before after old
  before=$(check_master "$MASTER" "$what (before)")
  old=$(workers "$MASTER")
  kill -HUP "$MASTER"
  until_ok "$STEP_SECS" "$what" "$MASTER" reloaded "$old" "$MASTER"
  after=$(check_master "$MASTER" "$what")
  [ "$after" = "$before" ] || die "$what: the master's zones changed: $before -> $after"
  load hits "$what"
  load keyhits "$what"
}

# live_zones WHAT: the live session's regions (bytes, sorted), which must be
# the ones the session had after the start ($REGIONS): the zones of an old
# master are released when it is gone, and the session holds nothing else.
live_zones() {
  local addr
  addr=$(session_address "$SESSION_PID")
  [ -n "$addr" ] || die "$1: no session socket for shmrun $SESSION_PID"
  live_stats "$SHMRUN" "$addr" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
assert d["mode"] == "full" and d["resident_bytes"] <= d["limit_bytes"], d
print(" ".join(str(b) for b in sorted(r["bytes"] for r in d["regions"])))' ||
    die "$1: shmstat of the live session failed"
}

upgrade() {  # upgrade N
  local what="upgrade $1" old=$MASTER new
  kill -USR2 "$old"
  until_ok "$STEP_SECS" "$what (USR2)" "$old" upgraded "$old"
  new=$(master_pid)
  check_master "$new" "$what (new master $new)" >/dev/null
  check_master "$old" "$what (old master $old)" >/dev/null
  load hits "$what (both masters)"
  kill -WINCH "$old"
  until_ok "$STEP_SECS" "$what (WINCH)" "$old" no_workers "$old"
  stop_master "$old" "$STEP_SECS" "$what (QUIT to the old master)"
  [ "$(ps -o ppid= -p "$new" | tr -d ' ')" != "$old" ] || die "$what: new master not re-parented"
  MASTER=$new
  check_master "$MASTER" "$what (after)" >/dev/null
  local now
  now=$(live_zones "$what")
  [ "$now" = "$REGIONS" ] || die "$what: the session holds regions of $now bytes, at start $REGIONS"
  load hits "$what"
  load keyhits "$what"
}

log "limit $LIMIT, zones 64m + 32m + 32m, $ROUNDS rounds, ports $FRONT (front) and $ORIGIN (origin)"
# One session: reloads and binary upgrades.
STATS=$T/stats.json
nginx_start --limit "$LIMIT" --stats="$STATS"
SESSION_PID=$SHMRUN_PID
check_master "$MASTER" "start" >/dev/null
REGIONS=$(live_zones "start")
log "start: the session's regions (bytes): $REGIONS"
load bodies "start"
load keys "start"
for i in $(seq 1 "$ROUNDS"); do
  reload "$i"
  upgrade "$i"
done
log "$ROUNDS reloads and $ROUNDS binary upgrades, master now $MASTER; regions $(live_zones end), $(elapsed)"
grep -E '\[(alert|emerg|crit)\]' "$T/logs/error.log" && die "nginx logged alerts"
before=$(mtime_ns "$STATS")
stop_master "$MASTER" "$STEP_SECS" "stop after the upgrades"
wait_file_changed "$STATS" "$before" 30 || die "the helper did not rewrite $STATS at session end"
[ "$(stat_get "$STATS" clients)" = 0 ] || die "session-end stats still count clients"
assert_evicted "$STATS" "reload/upgrade session"
[ "$(stat_get "$STATS" swap_ins)" -gt 0 ] || die "swap_ins=0: no zone page was read back"

# Start/stop cycles, a session each.
outs=0
for i in $(seq 1 "$ROUNDS"); do
  STATS=$T/cycle$i.json
  nginx_start --limit "$LIMIT" --stats="$STATS"
  check_master "$MASTER" "cycle $i" >/dev/null
  load hits "cycle $i"
  before=$(mtime_ns "$STATS")
  stop_master "$MASTER" "$STEP_SECS" "cycle $i"
  wait_file_changed "$STATS" "$before" 30 || die "cycle $i: the helper did not rewrite $STATS"
  [ "$(stat_get "$STATS" clients)" = 0 ] || die "cycle $i: session-end stats still count clients"
  assert_evicted "$STATS" "cycle $i"
  outs=$((outs + $(stat_get "$STATS" swap_outs)))
done
log "$ROUNDS start/stop cycles, $outs swap-outs in all"
grep -E '\[(alert|emerg|crit)\]' "$T/logs/error.log" && die "nginx logged alerts"
log "PASS, $(elapsed)"
