#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PostgreSQL 15 pgbench for bench/fast (issue 5): one database, four server
# configurations, interleaved run by run:
#   native_within    no libshm, shared_buffers = PG_SB_WITHIN (the baseline)
#   shim_within      shmrun --limit PG_LIMIT, shared_buffers = PG_SB_WITHIN
#                    (the whole shared segment fits under the limit)
#   shim_4x          shmrun --limit PG_LIMIT, shared_buffers = 4 x PG_LIMIT
#   native_at_limit  no libshm, shared_buffers = PG_LIMIT (what a user would
#                    do without libshm to keep the same memory budget)
#   shim_within_nosample  shim_within with LIBSHM_SAMPLE_RATE=0 (diagnostic:
#                    the cost of reference sampling; not in the default set:
#                    PG_CONFIGS="shim_within shim_within_nosample")
# Every configuration reads the same database (pgbench -i once, natively).
# The server runs as user postgres (shmrun --user postgres: a root helper
# serves it in full mode), Unix socket only, in a temp dir removed at exit.
# Each measured run follows pg_prewarm of the pgbench tables and a short
# warm-up pgbench; TPS is pgbench's "without initial connection time".
#
# usage: pgbench.sh SHMRUN OUTDIR     (appends OUTDIR/pgbench.csv)
# env:   PG_RUNS (4) PG_SECS (30) PG_WARMUP_SECS (5) PG_SCALE (50)
#        PG_CONFIGS ("native_within shim_within native_at_limit shim_4x": pairs)
#        PG_LIMIT (256M) PG_SB_WITHIN (128MB) PG_CLIENTS (4) PG_THREADS (2)
set -euo pipefail

SHMRUN=$1
OUT=$2
BIN=/usr/lib/postgresql/15/bin
RUNS=${PG_RUNS:-4}
SECS=${PG_SECS:-30}
WARMUP=${PG_WARMUP_SECS:-5}
SCALE=${PG_SCALE:-50}
LIMIT=${PG_LIMIT:-256M}
SB_WITHIN=${PG_SB_WITHIN:-128MB}
CLIENTS=${PG_CLIENTS:-4}
THREADS=${PG_THREADS:-2}
PORT=54339
limit_mb=$(( $(numfmt --from=iec "$LIMIT") / 1048576 ))
SB_LIMIT="${limit_mb}MB"
SB_4X="$((4 * limit_mb))MB"

log() { echo "pgbench.sh: $*" >&2; }
die() { log "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (the server runs as user postgres)"
id postgres >/dev/null 2>&1 || die "no user postgres: apt-get install postgresql-15"
for c in postgres initdb pg_ctl pgbench psql pg_isready; do
  [ -x "$BIN/$c" ] || die "$BIN/$c missing: apt-get install postgresql-15"
done

T=$(mktemp -d /tmp/libshm-fast-pg.XXXXXX)
chown postgres: "$T"
chmod 700 "$T"
SERVER_PID=

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  runuser -u postgres -- "$BIN/pg_ctl" -D "$T/data" stop -m fast -w -t 120 >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    pkill -KILL -P "$SERVER_PID" 2>/dev/null || true
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
cleanup() {
  local rc=$?
  set +e
  stop_server
  [ "$rc" != 0 ] && for f in "$T"/server*.log; do [ -f "$f" ] && { log "--- $f"; tail -n 30 "$f" >&2; }; done
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

as_pg() { runuser -u postgres -- "$@"; }
sql() { as_pg "$BIN/psql" -h "$T" -p "$PORT" -X -q -v ON_ERROR_STOP=1 -At -d "${2:-bench}" -c "$1"; }

start_server() {  # start_server CONFIG TAG
  local cfg=$1 tag=$2 sb
  case "$cfg" in
    native_within | shim_within | shim_within_nosample) sb=$SB_WITHIN ;;
    shim_4x) sb=$SB_4X ;;
    native_at_limit) sb=$SB_LIMIT ;;
  esac
  if [[ "$cfg" == shim_* ]]; then
    local rate=${LIBSHM_SAMPLE_RATE:-}
    [[ "$cfg" == shim_within_nosample ]] && rate=0
    ${rate:+env LIBSHM_SAMPLE_RATE=$rate} "$SHMRUN" --user postgres --limit "$LIMIT" --stats="$T/stats-$tag.json" -- \
      "$BIN/postgres" -D "$T/data" -c shared_buffers="$sb" >"$T/server-$tag.log" 2>&1 &
  else
    runuser -u postgres -- "$BIN/postgres" -D "$T/data" -c shared_buffers="$sb" \
      >"$T/server-$tag.log" 2>&1 &
  fi
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    as_pg "$BIN/pg_isready" -q -h "$T" -p "$PORT" && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "postgres exited at start ($tag)"
    sleep 0.1
  done
  as_pg "$BIN/pg_isready" -q -h "$T" -p "$PORT" || die "postgres not ready in 60 s ($tag)"
  local ok
  ok=$(sql "SELECT pg_size_bytes(current_setting('shared_buffers')) = pg_size_bytes('$sb')" postgres)
  [ "$ok" = t ] || die "$tag: shared_buffers is $(sql "SHOW shared_buffers" postgres), want $sb"
}

pgbench_tps() {  # pgbench_tps SECS OUTFILE -> prints tps
  as_pg "$BIN/pgbench" -h "$T" -p "$PORT" -c "$CLIENTS" -j "$THREADS" -T "$1" -n bench >"$2" 2>&1 ||
    { cat "$2" >&2; die "pgbench failed"; }
  sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$2" | head -n 1
}

as_pg "$BIN/initdb" -D "$T/data" -U postgres --auth=trust -E UTF8 --locale=C >"$T/initdb.log" 2>&1 ||
  { cat "$T/initdb.log" >&2; die "initdb failed"; }
cat >>"$T/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$T'
port = $PORT
huge_pages = off
max_connections = 20
synchronous_commit = off
checkpoint_timeout = 1h
max_wal_size = 8GB
CONF

log "scale $SCALE, limit $LIMIT, shared_buffers within $SB_WITHIN / 4x $SB_4X / at limit $SB_LIMIT," \
  "pgbench -c $CLIENTS -j $THREADS -T $SECS, $RUNS runs"
start_server native_within init
as_pg "$BIN/createdb" -h "$T" -p "$PORT" bench
t0=$(date +%s)
as_pg "$BIN/pgbench" -h "$T" -p "$PORT" -i -s "$SCALE" -q bench >"$T/init.out" 2>&1 ||
  { cat "$T/init.out" >&2; die "pgbench -i failed"; }
sql "CREATE EXTENSION pg_prewarm"
sql "VACUUM ANALYZE"
sql "CHECKPOINT"
log "pgbench -i -s $SCALE: $(($(date +%s) - t0)) s, database $(sql "SELECT pg_size_pretty(pg_database_size('bench'))")"
stop_server

csv="$OUT/pgbench.csv"
[ -f "$csv" ] || echo "config,run,tps,latency_ms,peak_resident_mib,faults,wp_faults,evictions,swap_ins,writeback_mib,fault_ns_p50,fault_ns_p99,samples,sample_hits,loadavg1" >"$csv"
# Configurations run in adjacent pairs (each ratio in the report compares a
# pair measured back to back, a minute apart at most); the order inside
# each pair flips run by run.
read -r -a configs <<<"${PG_CONFIGS:-native_within shim_within native_at_limit shim_4x}"
for ((r = 1; r <= RUNS; r++)); do
  order=()
  for ((k = 0; k < ${#configs[@]}; k += 2)); do
    a=${configs[$k]} b=${configs[$((k + 1))]:-}
    if [ -z "$b" ]; then
      order+=("$a")
    elif ((r % 2)); then
      order+=("$a" "$b")
    else
      order+=("$b" "$a")
    fi
  done
  for cfg in "${order[@]}"; do
    tag="$cfg-$r"
    start_server "$cfg" "$tag"
    sql "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c
         WHERE c.relname LIKE 'pgbench_%' AND c.relkind IN ('r', 'i')" >/dev/null
    pgbench_tps "$WARMUP" "$T/warmup-$tag.out" >/dev/null
    load=$(cut -d' ' -f1 /proc/loadavg)
    tps=$(pgbench_tps "$SECS" "$T/pgbench-$tag.out")
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$T/pgbench-$tag.out" | head -n 1)
    cp "$T/pgbench-$tag.out" "$OUT/pgbench-$tag.out"
    stop_server
    stats=",,,,,,,,,"  # the 10 session columns, empty
    if [ -f "$T/stats-$tag.json" ]; then
      cp "$T/stats-$tag.json" "$OUT/pgbench-stats-$tag.json"
      stats=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print("%.1f,%d,%d,%d,%d,%.1f,%d,%d,%d,%d" % (s["peak_resident_bytes"] / 1048576, s["faults"],
      s["wp_faults"], s["evictions"], s["swap_ins"], s["writeback_bytes"] / 1048576,
      s["fault_ns_p50"], s["fault_ns_p99"], s.get("samples", 0), s.get("sample_hits", 0)))' \
        "$T/stats-$tag.json")
    fi
    echo "$cfg,$r,$tps,$lat,$stats,$load" >>"$csv"
    log "$tag: tps $tps (latency $lat ms, load $load)"
  done
done
