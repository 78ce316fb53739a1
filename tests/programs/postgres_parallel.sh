#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PostgreSQL 15 parallel query under shmrun (issue 11): dynamic shared memory
# is POSIX (dynamic_shared_memory_type = posix, initdb's choice on Linux):
# every DSM segment, the parallel contexts' and the DSA segments a Parallel
# Hash builds its shared hash table in, is a shm_open object sized with
# ftruncate and posix_fallocate, mapped by the leader and attached by name by
# the workers. Under shmrun each is a managed program object.
#
# Session 1 runs natively (no libshm): it loads a table over twice the
# limit and answers the queries: the expected results (Q1's first two
# figures are also computed here). Session 2 (shmrun --user postgres --limit
# $LIMIT) runs the same queries on the same data; parallel plans are forced
# (parallel_setup_cost = 0 and friends, 2 workers a Gather). Passes when
# every result equals the native one; EXPLAIN ANALYZE shows every Gather's
# workers launched and the Parallel Hashes (one in batches); the DSM
# segments the server's processes mapped were memfds (/memfd:PostgreSQL.N
# in /proc/PID/maps), never /dev/shm files; some region born during the
# queries (a DSM segment: the main and control segments are older) was seen
# with pages swapped out (shmstat, live); and the session's stats show
# swap-outs within the limit, at least one object made per parallel query
# and none left after the server's clean shutdown.
# usage: postgres_parallel.sh SHMRUN
TEST_NAME=postgres_parallel
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
require_root
SHMRUN=$1
SHMSTAT=$(dirname "$SHMRUN")/shmstat
require_cmd "$SHMSTAT" "(build shmstat)"
# shared_buffers 4x the limit; `big` (36 MiB) over 2x; Q1's Parallel Hash
# builds a shared hash table of about 43 MiB in DSM segments, 2.7x the limit
# again. (1M rows double all that, and the run time 4x: every probe that
# misses its bucket's first tuple reads a random, mostly evicted page.)
LIMIT=16M SHARED_BUFFERS=64MB PORT=54333 SCALE=0 ROWS=${PG_PARALLEL_ROWS:-500000}
pg_setup
cat >>"$T/data/postgresql.conf" <<CONF
dynamic_shared_memory_type = posix
min_dynamic_shared_memory = 0
max_worker_processes = 8
max_parallel_workers = 8
max_parallel_workers_per_gather = 2
parallel_leader_participation = on
parallel_setup_cost = 0
parallel_tuple_cost = 0
min_parallel_table_scan_size = 0
min_parallel_index_scan_size = 0
enable_mergejoin = off
enable_nestloop = off
work_mem = '64MB'
hash_mem_multiplier = 2
jit = off
CONF
SAMPLER= WATCHER=
stop_samplers() {
  touch "$T/stop"
  if [ -n "$SAMPLER" ]; then wait "$SAMPLER" || true; fi
  if [ -n "$WATCHER" ]; then kill "$WATCHER" 2>/dev/null || true; wait "$WATCHER" || true; fi
  SAMPLER= WATCHER=
}

# The queries, one result row each. Q1 and Q2: a Parallel Hash Join whose
# shared hash table (all of `big`, or the half of it) lives in DSA segments;
# Q3: the same join with work_mem cut to 1MB, so the Parallel Hash runs in
# batches (shared tuplestores, batch barriers in DSM); Q4: Gather Merge of a
# parallel sort, rows through the workers' shm_mq queues (DSM).
QUERIES=(
  "SELECT count(*), sum(a.g::bigint * b.g), sum(hashtext(a.pad || b.pad)::bigint)
     FROM big a JOIN big b ON a.k = b.k"
  "SELECT count(*), sum(a.k::bigint), sum(hashtext(b.pad)::bigint)
     FROM big a JOIN (SELECT * FROM big WHERE k % 2 = 0) b ON b.k = a.k + 1"
  "SET work_mem = '1MB'; SELECT count(*), sum(b.g::bigint), sum(hashtext(a.pad)::bigint)
     FROM big a JOIN big b ON a.k = b.k WHERE a.g < 500"
  "SELECT count(*), sum(x.n::bigint), sum(hashtext(x.pad)::bigint)
     FROM (SELECT g, pad, row_number() OVER (ORDER BY pad) AS n FROM big) x WHERE x.g = 7"
)

run_queries() {  # run_queries N: results in $T/results$N.txt, one line each
  local n=$1 i
  : >"$T/results$n.txt"
  for i in "${!QUERIES[@]}"; do
    printf 'Q%d %s\n' $((i + 1)) "$(sql "${QUERIES[$i]}")" >>"$T/results$n.txt"
  done
}

# check_plans: EXPLAIN ANALYZE of each query under shmrun: every Gather (or
# Gather Merge) launched its 2 workers, Q1..Q3 have a Parallel Hash, and
# Q3's runs in more than one batch.
check_plans() {
  local i plan
  for i in "${!QUERIES[@]}"; do
    local q=${QUERIES[$i]} pre=""
    if [[ $q == SET* ]]; then pre=${q%%;*}\;; q=${q#*; }; fi
    plan=$(sql "$pre EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) $q")
    "$PY" - "Q$((i + 1))" "$plan" "$i" >&2 <<'PYEOF' || die "Q$((i + 1)): the plan is not what this test needs"
import json, sys
what, plan, i = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
nodes = []
def walk(n):
    nodes.append(n)
    for c in n.get("Plans", []):
        walk(c)
walk(plan[0]["Plan"])
gathers = [n for n in nodes if n["Node Type"] in ("Gather", "Gather Merge")]
hashes = [n for n in nodes if n["Node Type"] == "Hash" and n.get("Parallel Aware")]
ok = bool(gathers) and all(g.get("Workers Planned", 0) >= 2 and g.get("Workers Launched", 0) >= 2
                           for g in gathers)
if i < 3:
    ok = ok and bool(hashes)
if i == 2:
    ok = ok and all(h.get("Hash Batches", 1) > 1 for h in hashes)
desc = ", ".join(f'{g["Node Type"]}: {g.get("Workers Launched")}/{g.get("Workers Planned")} workers launched'
                 for g in gathers)
for h in hashes:
    desc += f', Parallel Hash: {h.get("Hash Batches")} batches, peak {h.get("Peak Memory Usage")} kB'
print(f"postgres_parallel: {what}: {desc}")
sys.exit(0 if ok else 1)
PYEOF
  done
}

# The DSM sampler: the shared memory objects the postmaster and its children
# (not other servers on the machine) map, as /proc/PID/maps names them:
# /memfd:PostgreSQL.N (managed) or /dev/shm/PostgreSQL.N (the kernel's).
cat >"$T/dsm.py" <<'PYEOF'
import os, sys, time
stop, deadline, pm = sys.argv[1], time.monotonic() + float(sys.argv[2]), sys.argv[3]
def ours(pid):
    if pid == pm:
        return True
    with open(f"/proc/{pid}/status") as f:
        return any(l.split() == ["PPid:", pm] for l in f)
memfd, devshm = set(), set()
# Until told to stop, or the test's directory is gone (the test failed).
while (not os.path.exists(stop) and os.path.isdir(os.path.dirname(stop))
       and time.monotonic() < deadline):
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if not ours(pid):
                continue
            with open(f"/proc/{pid}/maps") as f:
                for line in f:
                    if "/memfd:PostgreSQL." in line:
                        memfd.add(line.split("/memfd:")[1].split()[0])
                    elif "/dev/shm/PostgreSQL." in line:
                        devshm.add(line.split("/dev/shm/")[1].split()[0])
        except OSError:
            pass
    time.sleep(0.05)
print(len(memfd), len(devshm), " ".join(sorted(devshm)[:5]))
PYEOF

log "limit $LIMIT, shared_buffers $SHARED_BUFFERS, big: $ROWS rows"
# Session 1, native: the data and the expected results.
start_server 1 native
as_pg "$BIN/createdb" -h "$T" -p "$PORT" bench || die "createdb failed"
sql "SHOW dynamic_shared_memory_type" | grep -qx posix || die "dynamic_shared_memory_type is not posix"
sql "CREATE TABLE big AS SELECT i AS k, i % 1000 AS g, md5(i::text) AS pad
       FROM generate_series(1, $ROWS) i"
sql "VACUUM ANALYZE big"
bytes=$(sql "SELECT pg_table_size('big')")
log "big: $((bytes >> 20)) MiB, $(elapsed)"
[ "$bytes" -gt $((2 * (16 << 20))) ] || die "big is not 2x the limit"
run_queries 1
stop_server
log "session 1 (native): $(elapsed)"
sed 's/^/  native: /' "$T/results1.txt" >&2
# What can be known without PostgreSQL: Q1 joins every row to itself.
expect_q1=$("$PY" -c "import sys; n=int(sys.argv[1]); print(n, sum((i % 1000) ** 2 for i in range(1, n + 1)))" "$ROWS")
read -r _ c1 s1 _ < <(tr '|' ' ' <"$T/results1.txt" | head -n 1)
[ "$c1 $s1" = "$expect_q1" ] || die "native Q1 gave '$c1 $s1', want '$expect_q1'"

# Session 2, under shmrun: the same queries, the plans, the samplers.
start_server 2
"$PY" "$T/dsm.py" "$T/stop" 900 "$(postmaster_pid)" >"$T/dsm.txt" &
SAMPLER=$!
ADDR=$(session_address "$SHMRUN_PID")
[ -n "$ADDR" ] || die "no session socket for shmrun $SHMRUN_PID"
live_stats "$SHMRUN" "$ADDR" >"$T/before.json" || die "shmstat cannot read the session"
"$SHMSTAT" --session "$ADDR" --json --watch 0.2 >"$T/watch.json" 2>/dev/null &
WATCHER=$!
run_queries 2
log "session 2 queries: $(elapsed)"
check_plans
stop_samplers
stop_server
sed 's/^/  shmrun: /' "$T/results2.txt" >&2
cmp -s "$T/results1.txt" "$T/results2.txt" || {
  diff "$T/results1.txt" "$T/results2.txt" >&2 || true
  die "the results under shmrun differ from the native ones"
}
log "results equal the native ones, $(elapsed)"
read -r memfds devshms examples <"$T/dsm.txt" || die "the DSM sampler wrote nothing"
log "DSM segments seen mapped: $memfds as memfds (managed), $devshms in /dev/shm"
[ "$devshms" = 0 ] || die "DSM segments were the kernel's /dev/shm files: $examples"
[ "$memfds" -gt 0 ] || die "no backend was seen mapping a DSM segment"
"$PY" - "$T/before.json" "$T/watch.json" >"$T/dsm_regions.txt" <<'PYEOF'
import json, sys
old = {r["id"] for r in json.loads(open(sys.argv[1]).read().splitlines()[-1])["regions"]}
new, swapped = set(), {}
for line in open(sys.argv[2]):
    try:
        sample = json.loads(line)
    except ValueError:
        continue  # the last line, cut by kill
    for r in sample["regions"]:
        if r["id"] not in old:
            new.add(r["id"])
            swapped[r["id"]] = max(swapped.get(r["id"], 0), r["swapped_bytes"])
print(len(new), sum(1 for v in swapped.values() if v > 0), max(swapped.values(), default=0))
PYEOF
read -r born born_swapped most <"$T/dsm_regions.txt"
log "regions born during the queries (DSM): $born seen, $born_swapped with pages swapped out (at most $((most >> 10)) KiB at once)"
[ "$born_swapped" -gt 0 ] || die "no DSM segment was seen with pages swapped out"
assert_evicted "$T/stats2.json" "session 2"
assert_objects_managed "$T/stats2.json" "session 2"
# The control segment, then at least one segment per parallel query (each
# query ran twice: once for its result, once under EXPLAIN ANALYZE).
made=$(stat_get "$T/stats2.json" objects_made)
want=$((1 + 2 * ${#QUERIES[@]}))
[ "$made" -ge "$want" ] || die "objects_made=$made, want at least $want (one per parallel query)"
# A clean shutdown unlinks every segment, the control segment last: nothing
# is left named or alive (natively: nothing left in /dev/shm).
left=$(stat_get "$T/stats2.json" program_objects)
[ "$left" = 0 ] && [ "$(stat_get "$T/stats2.json" shm_objects)" = 0 ] ||
  die "$left DSM segments outlived the server"
log "PASS, $(elapsed)"
