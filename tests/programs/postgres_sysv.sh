#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PostgreSQL 15 with shared_memory_type = sysv under shmrun (issue 11): the
# whole of shared_buffers (8x the limit) is one System V segment with a key,
# which libshm manages (a memfd, /memfd:SYSV... in the postmaster's maps) and
# evicts. Server as user postgres, data checksums on.
#  Session 1: pgbench -i, pg_prewarm, a pgbench run, the TPC-B invariant,
#    pg_amcheck; a crash restart (kill -9 of a backend under pgbench: the
#    postmaster removes its segment while children may still hold it and
#    makes a new one under the same key); the checks again; a clean stop.
#  Session 2, one session for the whole step: the postmaster's interlock. The
#    postmaster is killed (-9) while a backend is stopped (SIGSTOP) with the
#    segment attached; a new postmaster reads the old key and id from
#    postmaster.pid, sees shm_nattch > 0 (IPC_STAT) and must refuse to start;
#    once that backend is gone it sees 0, removes the old segment and starts.
#  Last: pg_checksums offline.
# usage: postgres_sysv.sh SHMRUN
TEST_NAME=postgres_sysv
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
require_root
SHMRUN=$1
LIMIT=16M SHARED_BUFFERS=128MB SCALE=5 PORT=54333 BENCH_SECS=${PG_BENCH_SECS:-10}
pg_setup
echo "shared_memory_type = sysv" >>"$T/data/postgresql.conf"

# check_managed_segment WHAT: the postmaster's shared_buffers are a managed
# SysV segment (a /memfd:SYSV mapping of at least 128 MiB) and nothing
# larger than a page is attached natively (the kernel's /SYSV mappings are
# one-page placeholders).
check_managed_segment() {
  local pm big
  pm=$(postmaster_pid)
  [ -n "$pm" ] || die "$1: no postmaster"
  [ "$(as_pg "$BIN/psql" -h "$T" -p "$PORT" -X -At -d postgres -c "SHOW shared_memory_type")" = sysv ] ||
    die "$1: shared_memory_type is not sysv"
  big=$("$PY" - "/proc/$pm/maps" <<'PYEOF'
import sys
big, native = 0, []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 6:
        continue
    lo, hi = (int(x, 16) for x in f[0].split("-"))
    if f[5].startswith("/memfd:SYSV"):
        big = max(big, hi - lo)
    elif f[5].startswith("/SYSV") and hi - lo > 4096:
        native.append(line.strip())
if native:
    print("native:", *native)
elif big >= 128 << 20:
    print(big)
PYEOF
)
  case "$big" in
    "" | native:*) cat "/proc/$pm/maps" >&2; die "$1: shared_buffers are not a managed SysV segment ($big)" ;;
  esac
  log "$1: shared_buffers are a managed SysV segment ($((big >> 20)) MiB)"
}

crash_restart() {  # kill -9 of a backend in the middle of a pgbench run
  local old_pm=$1 victim
  as_pg "$BIN/pgbench" -h "$T" -p "$PORT" -c 4 -j 2 -T 30 -n bench >"$T/crash.out" 2>&1 &
  local bench_pid=$!
  for _ in $(seq 1 100); do
    victim=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' LIMIT 1" \
             2>/dev/null || true)
    [ -n "$victim" ] && break
    sleep 0.1
  done
  [ -n "$victim" ] || { cat "$T/crash.out" >&2; die "no pgbench backend to kill"; }
  sleep 2
  # The backend found may have ended meanwhile (pgbench reconnects nothing,
  # but a connection can be between transactions): take a live one.
  for _ in $(seq 1 50); do
    kill -9 "$victim" 2>/dev/null && break
    victim=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' LIMIT 1" \
             2>/dev/null || true)
    sleep 0.1
  done
  kill -0 "$bench_pid" 2>/dev/null || true
  wait "$bench_pid" 2>/dev/null || true
  grep -q "terminated by signal 9" "$T/server1.log" ||
    { cat "$T/crash.out" >&2; die "no backend was killed (pgbench ended early?)"; }
  for _ in $(seq 1 600); do
    pg_ready && break
    sleep 0.1
  done
  pg_ready || die "the server did not come back after a backend's crash"
  [ "$(postmaster_pid)" = "$old_pm" ] || die "the postmaster changed in a crash restart"
  grep -q "terminated by signal 9" "$T/server1.log" || die "no crash restart in the server log"
  log "crash restart of backend $victim done, $(elapsed)"
}

log "limit $LIMIT, shared_buffers $SHARED_BUFFERS (sysv), pgbench scale $SCALE"
start_server 1
check_managed_segment "session 1"
pgbench_init
prewarm "session 1"
bench "$BENCH_SECS" "session 1"
check_invariant "session 1"
amcheck "session 1"
crash_restart "$(postmaster_pid)"
check_managed_segment "session 1 (after the crash restart)"
check_invariant "session 1 (after the crash restart)"
amcheck "session 1 (after the crash restart)"
stop_server
assert_evicted "$T/stats1.json" "session 1"

# Session 2: one session, so the old segment is still the helper's when the
# new postmaster asks about it.
cat >"$T/interlock.sh" <<'INNER'
set -u
say() { printf 'postgres_sysv: %s\n' "$*" >&2; }
ctl() { "$BIN/pg_ctl" -D "$T/data" -l "$T/server2.log" -w -t 60 "$@" >>"$T/pg_ctl2.out" 2>&1; }
q() { "$BIN/psql" -h "$T" -p "$PORT" -X -At -d bench -c "$1"; }
ctl start || { say "the first start failed"; exit 2; }
"$BIN/psql" -h "$T" -p "$PORT" -X -At -d bench -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
PSQL=$!
BACKEND=
for _ in $(seq 1 100); do
  BACKEND=$(q "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()")
  [ -n "$BACKEND" ] && break
  sleep 0.1
done
[ -n "$BACKEND" ] || { say "no sleeping backend"; exit 3; }
PM=$(head -n 1 "$T/data/postmaster.pid")
kill -STOP "$BACKEND"
kill -9 "$PM"
# The other children leave on the postmaster's death; the stopped backend
# keeps the segment attached.
for _ in $(seq 1 100); do
  [ "$(pgrep -P 1 -u postgres -c postgres 2>/dev/null || echo 0)" -le 1 ] && break
  kill -0 "$PM" 2>/dev/null || break
  sleep 0.1
done
sleep 1
if ctl start; then
  say "a new postmaster started while a backend of the old one had the segment attached"
  kill -9 "$BACKEND" "$PSQL" 2>/dev/null
  ctl stop -m immediate
  exit 4
fi
grep -q "pre-existing shared memory block .* is still in use" "$T/server2.log" ||
  { say "the refusal is not the shared memory interlock"; tail -n 5 "$T/server2.log" >&2; exit 5; }
say "a new postmaster refused to start: the old segment is still attached (shm_nattch > 0)"
kill -9 "$BACKEND"
kill "$PSQL" 2>/dev/null
wait "$PSQL" 2>/dev/null
for _ in $(seq 1 100); do
  kill -0 "$BACKEND" 2>/dev/null || break
  sleep 0.1
done
ctl start || { say "no start after the old backend was gone"; tail -n 5 "$T/server2.log" >&2; exit 6; }
say "started once nothing had the old segment attached"
[ "$(q "SELECT count(*) FROM pgbench_accounts")" -gt 0 ] || { say "no accounts"; exit 7; }
ctl stop -m fast || exit 8
exit 0
INNER
chown postgres: "$T/interlock.sh"
rc=0
env BIN="$BIN" T="$T" PORT="$PORT" \
  "$SHMRUN" --user postgres --limit "$LIMIT" --stats="$T/stats2.json" -- bash "$T/interlock.sh" ||
  rc=$?
[ "$rc" = 0 ] || { tail -n 20 "$T/server2.log" >&2 2>/dev/null; die "session 2 (interlock): step $rc"; }
log "session 2: the interlock held, $(elapsed)"

as_pg "$BIN/pg_checksums" --check -D "$T/data" >/dev/null || die "pg_checksums found bad pages"
log "pg_checksums --check clean, $(elapsed)"
log "PASS, $(elapsed)"
