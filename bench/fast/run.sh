#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Reproduces every row of bench/fast/README.md (issue 5, "Fast"): builds the
# release tree, runs libshm_fast N times per case (a fresh process and a
# fresh helper each run, the order of libshm and its baseline alternating run
# by run), runs pgbench.sh, and prints the table (also saved as table.md).
#
# usage: bench/fast/run.sh [-n N] [--out DIR] [--cases "..."] [--no-pgbench]
#                          [--pg-runs M] [--pg-secs S]
#
#   -n N           runs per case and CPU placement (default 5)
#   --cases LIST   subset of: resident first_touch evicted_read refault
#                  first_write evict_dirty evict_clean (default: all)
#   --no-pgbench   skip PostgreSQL
#   --pg-runs M    pgbench runs per configuration (default 4)
#   --pg-secs S    seconds per pgbench run (default 30)
#   --out DIR      keep the results there (default: a new /tmp directory)
#
# refault and first_write also run with every process pinned to CPU 0
# ("same") and with the pager on CPU 1 ("split"): their latency depends on
# whether the scheduler puts the pager on the faulting thread's CPU.
# resident also runs with LIBSHM_SAMPLE_RATE=0 (diagnostic). LIBSHM_*
# variables in the environment pass through (LIBSHM_LIMIT defaults to 2G
# inside libshm_fast). Wall time: about 4 min + pgbench (~9 min).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${BUILD_DIR:-$root/build/release}"
runs=5
out=""
cases="resident first_touch evicted_read refault first_write evict_dirty evict_clean"
pgbench=1
pg_runs=4
pg_secs=30
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) runs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --cases) cases="$2"; shift 2 ;;
    --no-pgbench) pgbench=0; shift ;;
    --pg-runs) pg_runs="$2"; shift 2 ;;
    --pg-secs) pg_secs="$2"; shift 2 ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; /^set -euo/d' >&2; exit 2 ;;
  esac
done

if [[ "$build" == "$root/build/release" ]]; then
  cmake --preset release >/dev/null
else
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j2 --target libshm_fast shmd shmrun libshm_preload >/dev/null

out="${out:-$(mktemp -d /tmp/libshm-fast.XXXXXX)}"
mkdir -p "$out"
bin="$build/bench/fast/libshm_fast"
echo "results in $out" >&2
loadlog="$out/load.txt"
note_load() { echo "$(date -u +%H:%M:%S) $1: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$loadlog"; }

start=$(date +%s)
note_load "start"
for ((i = 1; i <= runs; i++)); do
  for c in $cases; do
    pins=(none)
    [[ "$c" == refault || "$c" == first_write ]] && pins=(none same split)
    for p in "${pins[@]}"; do
      f="$out/$c-$p-$i.json"
      if ! "$bin" "$c" --order $((i % 2)) --pin "$p" >"$f" 2>"$out/$c-$p-$i.err"; then
        echo "$0: $c (pin $p, run $i) failed:" >&2
        cat "$out/$c-$p-$i.err" >&2
        exit 1
      fi
    done
    if [[ "$c" == resident ]]; then  # diagnostic: without reference sampling
      f="$out/$c-nosample-$i.json"
      LIBSHM_SAMPLE_RATE=0 "$bin" "$c" --order $((i % 2)) --variant nosample >"$f" 2>"${f%.json}.err" ||
        { echo "$0: $c (nosample, run $i) failed:" >&2; cat "${f%.json}.err" >&2; exit 1; }
    fi
  done
  note_load "after run $i"
done

if ((pgbench)); then
  PG_RUNS="$pg_runs" PG_SECS="$pg_secs" "$here/pgbench.sh" "$build/preload/shmrun" "$out" ||
    { echo "$0: pgbench.sh failed" >&2; exit 1; }
  note_load "after pgbench"
fi

{
  echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); kernel $(uname -r); $(nproc) CPUs" \
    "($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)); libshm" \
    "$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown);" \
    "$runs runs per case; wall time $(($(date +%s) - start)) s"
  echo
  echo "Load average (1, 5, 15 min) during the runs:"
  sed 's/^/    /' "$loadlog"
  echo
  python3 "$here/report.py" "$out"
} | tee "$out/table.md"
