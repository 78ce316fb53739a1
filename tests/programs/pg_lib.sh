# SPDX-License-Identifier: MIT
# Shared by the PostgreSQL tests (sourced after lib.sh, never run): a data
# directory with checksums, run as user postgres on a Unix socket in a temp
# dir; SQL, pgbench and its checks (the TPC-B invariant, pg_amcheck,
# pg_prewarm); the cleanup, which stops the server on every exit path.
# The caller sets PORT, SCALE and SHARED_BUFFERS before pg_setup.
BIN=/usr/lib/postgresql/15/bin

# pg_setup: checks the programs, makes $T and an initdb'd $T/data for PORT
# and SHARED_BUFFERS; installs the cleanup.
pg_setup() {
  local c
  for c in postgres initdb pg_ctl pgbench psql pg_isready pg_checksums; do
    require_cmd "$BIN/$c" postgresql-15
  done
  require_cmd "$BIN/pg_amcheck" postgresql-client-15
  [ -f /usr/lib/postgresql/15/lib/pg_prewarm.so ] || die "pg_prewarm missing: apt-get install postgresql-15"
  id postgres >/dev/null 2>&1 || die "no user postgres: apt-get install postgresql-15"
  T=$(mktemp -d /tmp/libshm-pg.XXXXXX)
  chown postgres: "$T"
  chmod 700 "$T"
  SHMRUN_PID=
  trap pg_cleanup EXIT
  trap 'exit 1' INT TERM HUP
  as_pg "$BIN/initdb" --data-checksums -D "$T/data" -U postgres --auth=trust -E UTF8 --locale=C \
    >"$T/initdb.log" 2>&1 || { cat "$T/initdb.log" >&2; die "initdb failed"; }
  cat >>"$T/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$T'
port = $PORT
shared_buffers = $SHARED_BUFFERS
huge_pages = off
max_connections = 20
synchronous_commit = off
CONF
}

# The postmaster of $T/data, from its pid file (empty if none runs).
postmaster_pid() {
  local pid
  pid=$(head -n 1 "$T/data/postmaster.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
  true
}

pg_cleanup() {
  local rc=$?
  set +e
  if [ -n "$(postmaster_pid)" ]; then
    as_pg "$BIN/pg_ctl" -D "$T/data" stop -m immediate -w -t 30 >/dev/null 2>&1 || true
  fi
  if [ -n "$SHMRUN_PID" ] && kill -0 "$SHMRUN_PID" 2>/dev/null; then
    # shmrun exits with postgres; if it does not, end it and its child.
    for _ in $(seq 1 50); do kill -0 "$SHMRUN_PID" 2>/dev/null || break; sleep 0.1; done
    pkill -KILL -P "$SHMRUN_PID" 2>/dev/null || true
    kill -KILL "$SHMRUN_PID" 2>/dev/null || true
  fi
  if [ "$rc" != 0 ]; then
    for f in "$T"/server*.log; do [ -f "$f" ] && { log "--- $f (tail)"; tail -n 40 "$f" >&2; }; done
  fi
  rm -rf "$T"
  exit "$rc"
}

as_pg() { runuser -u postgres -- "$@"; }

# start_server N [native]: the server as session N under shmrun (stats in
# $T/stats$N.json), or without libshm with `native`; returns once it
# accepts connections.
start_server() {
  local n=$1
  if [ "${2:-}" = native ]; then
    runuser -u postgres -- "$BIN/postgres" -D "$T/data" >"$T/server$n.log" 2>&1 &
  else
    "$SHMRUN" --user postgres --limit "$LIMIT" --stats="$T/stats$n.json" -- \
      "$BIN/postgres" -D "$T/data" >"$T/server$n.log" 2>&1 &
  fi
  SHMRUN_PID=$!
  for _ in $(seq 1 600); do
    pg_ready && return 0
    kill -0 "$SHMRUN_PID" 2>/dev/null || die "postgres exited at start (session $n)"
    sleep 0.1
  done
  die "postgres did not accept connections within 60 s (session $n)"
}

# A clean shutdown; shmrun exits with the postmaster's status.
stop_server() {
  as_pg "$BIN/pg_ctl" -D "$T/data" stop -m fast -w -t 120 >/dev/null || die "pg_ctl stop failed"
  local rc=0
  wait "$SHMRUN_PID" || rc=$?
  SHMRUN_PID=
  [ "$rc" = 0 ] || die "shmrun/postgres exited with status $rc"
}
sql() { as_pg "$BIN/psql" -h "$T" -p "$PORT" -X -q -v ON_ERROR_STOP=1 -At -d bench -c "$1"; }
pg_ready() { as_pg "$BIN/pg_isready" -q -h "$T" -p "$PORT"; }

check_invariant() {  # the TPC-B invariant: every balance sum equals the history's
  local what=$1 row
  row=$(sql "SELECT (SELECT sum(abalance) FROM pgbench_accounts) || ' ' ||
                    (SELECT sum(bbalance) FROM pgbench_branches) || ' ' ||
                    (SELECT sum(tbalance) FROM pgbench_tellers) || ' ' ||
                    (SELECT coalesce(sum(delta), 0) FROM pgbench_history) || ' ' ||
                    (SELECT count(*) FROM pgbench_history) || ' ' ||
                    (SELECT count(*) FROM pgbench_accounts)")
  read -r a b t h n accounts <<<"$row"
  log "$what: sum(abalance)=$a sum(bbalance)=$b sum(tbalance)=$t sum(delta)=$h history=$n accounts=$accounts"
  [ "$a" = "$b" ] && [ "$b" = "$t" ] && [ "$t" = "$h" ] || die "$what: TPC-B invariant broken"
  [ "$n" -gt 0 ] || die "$what: no transaction in pgbench_history"
  [ "$accounts" = $((SCALE * 100000)) ] || die "$what: $accounts accounts, want $((SCALE * 100000))"
}

amcheck() {
  as_pg "$BIN/pg_amcheck" -h "$T" -p "$PORT" -U postgres --install-missing \
    --heapallindexed --parent-check -d bench || die "$1: pg_amcheck found corruption"
  log "$1: pg_amcheck --heapallindexed --parent-check clean"
}

prewarm() {
  local pages
  pages=$(sql "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c
               WHERE c.relname LIKE 'pgbench_%' AND c.relkind IN ('r', 'i')")
  log "$1: pg_prewarm read $pages pages ($((pages * 8 / 1024)) MiB) into shared_buffers"
  [ "$pages" -gt 0 ] || die "$1: pg_prewarm read nothing"
}

bench() {  # bench SECS WHAT
  as_pg "$BIN/pgbench" -h "$T" -p "$PORT" -c 4 -j 2 -T "$1" -n bench >"$T/pgbench.out" 2>&1 ||
    { cat "$T/pgbench.out" >&2; die "$2: pgbench failed"; }
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$T/pgbench.out" | head -n 1)
  log "$2: pgbench -c 4 -j 2 -T $1: $(grep -E 'processed:' "$T/pgbench.out" | tr -s ' ') tps=$tps"
}

# pgbench_init: the bench database, pgbench -i at SCALE, pg_prewarm.
pgbench_init() {
  as_pg "$BIN/createdb" -h "$T" -p "$PORT" bench || die "createdb failed"
  sql "SHOW shared_buffers" | grep -qx "$SHARED_BUFFERS" || die "shared_buffers is not $SHARED_BUFFERS"
  as_pg "$BIN/pgbench" -h "$T" -p "$PORT" -i -s "$SCALE" -q bench >"$T/init.out" 2>&1 ||
    { cat "$T/init.out" >&2; die "pgbench -i failed"; }
  log "pgbench -i -s $SCALE done, $(elapsed)"
  sql "CREATE EXTENSION pg_prewarm"
}
