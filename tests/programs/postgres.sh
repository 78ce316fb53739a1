#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PostgreSQL 15 under shmrun: shared_buffers 8x the limit, server as user postgres
# (shmrun --user: a root helper serves it in full mode), data checksums on.
# pgbench -i, pg_prewarm, a pgbench run, the TPC-B invariant, pg_amcheck
# --heapallindexed --parent-check; then pg_checksums offline, a restart (a new
# session) and the checks again. Unix socket only (listen_addresses = ''), in a
# temp dir; the server is stopped on every exit path.
# usage: postgres.sh SHMRUN
TEST_NAME=postgres
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
require_root
SHMRUN=$1
LIMIT=16M SHARED_BUFFERS=128MB SCALE=5 PORT=54329 BENCH_SECS=${PG_BENCH_SECS:-20}
pg_setup

log "limit $LIMIT, shared_buffers $SHARED_BUFFERS, pgbench scale $SCALE"
# Session 1: load, prewarm, run, check.
start_server 1
pgbench_init
prewarm "session 1"
bench "$BENCH_SECS" "session 1"
check_invariant "session 1"
amcheck "session 1"
stop_server
assert_evicted "$T/stats1.json" "session 1"

as_pg "$BIN/pg_checksums" --check -D "$T/data" >/dev/null || die "pg_checksums found bad pages"
log "pg_checksums --check clean, $(elapsed)"

# Session 2: a restart in a new session; everything again.
start_server 2
prewarm "session 2"
check_invariant "session 2 (after restart)"
amcheck "session 2"
bench 5 "session 2"
check_invariant "session 2 (after run)"
stop_server
assert_evicted "$T/stats2.json" "session 2"
as_pg "$BIN/pg_checksums" --check -D "$T/data" >/dev/null || die "pg_checksums found bad pages"
log "PASS, $(elapsed)"
