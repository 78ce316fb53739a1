#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PostgreSQL 15 restarts under shmrun (issue 10): the server runs as a daemon
# started by `shmrun --user postgres -- pg_ctl start` (pg_ctl's postmaster
# outlives pg_ctl and shmrun: the session keeper adopts it), shared_buffers
# 8x the limit. ROUNDS times:
#  - a crash restart: kill -9 of a backend in the middle of a pgbench run;
#    the postmaster ends every child, unmaps its shared memory, maps a new
#    segment and replays the WAL into it: the new segment must be a libshm
#    region of the same session (another memfd), and the old one released;
#  - `shmrun -- pg_ctl restart`: pg_ctl stops the postmaster (its session
#    ends, and its session-end stats must show eviction within the limit) and
#    starts a new one in a new session.
# After each: the postmaster and all its children map the segment as a
# libshm region (memfd:libshm in /proc/PID/maps), the live session (shmstat)
# holds it within the limit, the TPC-B invariant, pg_amcheck
# --heapallindexed --parent-check, a pgbench run, the invariant again.
# Last, a clean stop and pg_checksums offline.
# usage: postgres_restart.sh SHMRUN
TEST_NAME=postgres_restart
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
require_root
SHMRUN=$1
require_cmd "$(dirname "$SHMRUN")/shmstat" "(build shmstat)"
LIMIT=16M SHARED_BUFFERS=128MB SCALE=5 PORT=54331
ROUNDS=${PG_ROUNDS:-2} BENCH_SECS=${PG_BENCH_SECS:-5} STEP_SECS=120
pg_setup
SESSION=0 SESSION_PID=

# pg_ctl_session ACTION...: `shmrun -- pg_ctl ACTION` as postgres, in a new
# session $SESSION (stats in $T/stats$SESSION.json); pg_ctl waits until the
# server accepts connections.
pg_ctl_session() {
  SESSION=$((SESSION + 1))
  "$SHMRUN" --user postgres --limit "$LIMIT" --stats="$T/stats$SESSION.json" -- \
    "$BIN/pg_ctl" -D "$T/data" -l "$T/server$SESSION.log" -w -t "$STEP_SECS" "$@" \
    >"$T/pg_ctl.out" 2>&1 &
  SHMRUN_PID=$!
  SESSION_PID=$SHMRUN_PID
  local rc=0
  wait "$SHMRUN_PID" || rc=$?
  SHMRUN_PID=
  [ "$rc" = 0 ] || { cat "$T/pg_ctl.out" >&2; die "session $SESSION: pg_ctl $* failed ($rc)"; }
  pg_ready || die "session $SESSION: the server does not accept connections after pg_ctl $*"
}

# check_segment WHAT: prints the inode of the postmaster's shared memory
# segment (its largest mapping) after checking that it is a libshm region
# (no native shared memory of that size), that every child maps the same
# one, and that the live session holds a region of that size within the
# limit.
check_segment() {
  local what=$1 pm addr live
  pm=$(postmaster_pid)
  [ -n "$pm" ] || die "$what: no postmaster"
  addr=$(session_address "$SESSION_PID")
  [ -n "$addr" ] || die "$what: no session socket for shmrun $SESSION_PID"
  live=$(live_stats "$SHMRUN" "$addr") ||
    die "$what: shmstat --session $addr failed"
  # shellcheck disable=SC2046
  PYTHONPATH="$HERE" PYTHONDONTWRITEBYTECODE=1 "$PY" - "$what" "$live" "$pm" $(pgrep -P "$pm") <<'PYEOF'
import json, sys
from shared_maps import shared_mappings
what, live, pm, kids = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4:]
def fail(msg):
    print(f"{what}: {msg}")
    sys.exit(1)
def segments(pid):
    got = shared_mappings(pid, min_native=1 << 20)
    return None if got is None else got[1:]
got = segments(pm)
if got is None:
    fail(f"postmaster {pm} is gone")
managed, native = got
if native:
    fail(f"postmaster {pm} maps shared memory natively: {native}")
if not managed or max(managed)[0] < 128 << 20:
    fail(f"postmaster {pm} maps no libshm region of shared_buffers' size: {managed}")
size, inode = max(managed)
for k in kids:
    got = segments(k)
    if got is None:
        continue  # a child that just left
    if got[1] or (size, inode) not in got[0]:
        fail(f"child {k} does not map the postmaster's segment {inode} as a libshm region: {got}")
regions = [r for r in live["regions"] if r["bytes"] == size]
if len(regions) != 1:
    fail(f"the live session holds {len(regions)} regions of {size} bytes: "
         f"{[(r['bytes'], r['mappings']) for r in live['regions']]}")
if live["mode"] != "full" or live["resident_bytes"] > live["limit_bytes"]:
    fail(f"live session: mode {live['mode']}, resident {live['resident_bytes']} "
         f"of {live['limit_bytes']}")
print(f"{inode} {size} {len(kids)} {regions[0]['mappings']} {len(live['regions'])} "
      f"{sum(r['bytes'] for r in live['regions'])}")
PYEOF
}

# managed WHAT: check_segment, logged; sets SEGMENT to the segment's inode.
managed() {
  local out inode size kids maps nregions total
  out=$(check_segment "$1") || die "$out"
  read -r inode size kids maps nregions total <<<"$out"
  log "$1: postmaster $(postmaster_pid), segment memfd inode $inode ($((size >> 20)) MiB) in" \
    "it and its $kids children; session $SESSION: $nregions regions, $((total >> 20)) MiB," \
    "$maps mappings of the segment"
  SEGMENT=$inode
}

checks() {  # checks WHAT: the data, a run, the data again
  check_invariant "$1"
  amcheck "$1"
  bench "$BENCH_SECS" "$1"
  check_invariant "$1 (after the run)"
}

# crash N: kill -9 of a pgbench backend; the postmaster reinitializes.
crash() {
  local what="crash restart $1" pm old victim bpid log_file n0
  pm=$(postmaster_pid)
  old=$SEGMENT
  log_file=$T/server$SESSION.log
  n0=$(grep -c 'reinitializing' "$log_file" || true)
  as_pg "$BIN/pgbench" -h "$T" -p "$PORT" -c 4 -j 2 -T 60 -n bench >"$T/crash.out" 2>&1 &
  bpid=$!
  # A backend in the middle of a transaction (pgbench keeps its connections).
  victim=
  for _ in $(seq 1 100); do
    kill -0 "$bpid" 2>/dev/null || { cat "$T/crash.out" >&2; die "$what: pgbench ended early"; }
    victim=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'
                  AND state = 'active' AND backend_start < now() - interval '1 s' LIMIT 1")
    [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null && break
    victim=
    sleep 0.1
  done
  [ -n "$victim" ] || { cat "$T/crash.out" >&2; die "$what: no active pgbench backend to kill"; }
  for _ in $(seq 1 $((STEP_SECS * 10))); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$bpid" 2>/dev/null && die "$what: pgbench still runs $STEP_SECS s after the crash"
  if wait "$bpid"; then cat "$T/crash.out" >&2; die "$what: pgbench did not notice the crash"; fi
  log "$what: killed backend $victim; pgbench: $(grep -m 1 -E 'terminat|abort' "$T/crash.out")"
  for _ in $(seq 1 $((STEP_SECS * 10))); do
    [ "$(grep -c 'reinitializing' "$log_file" || true)" -gt "$n0" ] && pg_ready && break
    sleep 0.1
  done
  [ "$(grep -c 'reinitializing' "$log_file" || true)" -gt "$n0" ] ||
    die "$what: the postmaster did not reinitialize within $STEP_SECS s"
  pg_ready || die "$what: no connections $STEP_SECS s after the crash"
  [ "$(postmaster_pid)" = "$pm" ] || die "$what: the postmaster changed: $pm -> $(postmaster_pid)"
  managed "$what"
  [ "$SEGMENT" != "$old" ] || die "$what: the segment is the old one ($old): not reinitialized?"
  checks "$what"
}

# restart N: `shmrun -- pg_ctl restart`; the old session ends.
restart() {
  local what="pg_ctl restart $1" old_pm old_stats before
  old_pm=$(postmaster_pid)
  old_stats=$T/stats$SESSION.json
  before=$(mtime_ns "$old_stats")
  pg_ctl_session -m fast restart
  [ "$(postmaster_pid)" != "$old_pm" ] || die "$what: the postmaster is still $old_pm"
  kill -0 "$old_pm" 2>/dev/null && die "$what: the old postmaster $old_pm still runs"
  wait_file_changed "$old_stats" "$before" 30 ||
    die "$what: the old session did not end ($old_stats not rewritten)"
  [ "$(stat_get "$old_stats" clients)" = 0 ] || die "$what: the old session still counts clients"
  assert_evicted "$old_stats" "session $((SESSION - 1))"
  managed "$what"
  prewarm "$what"
  checks "$what"
}

log "limit $LIMIT, shared_buffers $SHARED_BUFFERS, pgbench scale $SCALE, $ROUNDS rounds, port $PORT"
pg_ctl_session start
managed "start"
pgbench_init
prewarm "start"
bench "$BENCH_SECS" "start"
check_invariant "start"
amcheck "start"
for r in $(seq 1 "$ROUNDS"); do
  crash "$r"
  restart "$r"
done
before=$(mtime_ns "$T/stats$SESSION.json")
as_pg "$BIN/pg_ctl" -D "$T/data" stop -m fast -w -t "$STEP_SECS" >/dev/null || die "pg_ctl stop failed"
wait_file_changed "$T/stats$SESSION.json" "$before" 30 || die "the last session did not end"
assert_evicted "$T/stats$SESSION.json" "session $SESSION"
as_pg "$BIN/pg_checksums" --check -D "$T/data" >/dev/null || die "pg_checksums found bad pages"
log "pg_checksums --check clean; PASS, $(elapsed)"
