#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates bench/policies/LIVE.md, live.csv and live_sampling.csv: every
# live policy run live by shmlive (a fresh session per run) on LIRS traces
# and synthetic workloads, against shmsim's prediction at the same size, and
# the cost of reference sampling (LIBSHM_SAMPLE_RATE) for CLOCK.
#
#   bench/policies/live.sh          (from anywhere; builds shmlive in build-bench/)
#
# Environment: LIBSHM_TRACES (default bench/traces/lirs in the
# repository), BUILD_DIR (default build-bench in the repository), REPEAT
# (runs per sampling configuration, fastest reported; default 5).
# Takes about 20 minutes on two cores. Needs python3 (live_report.py writes
# the page from the two CSVs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
traces=${LIBSHM_TRACES:-$root/bench/traces/lirs}
build=${BUILD_DIR:-$root/build-bench}
repeat=${REPEAT:-5}

for t in 2_pools sprite multi2 ps; do
  if [ ! -f "$traces/$t.trace.gz" ]; then
    echo "live.sh: no $t.trace.gz in $traces (set LIBSHM_TRACES)" >&2
    exit 1
  fi
done
command -v python3 >/dev/null || { echo "live.sh: needs python3" >&2; exit 1; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLIBSHM_BUILD_TESTS=OFF \
  -DLIBSHM_BUILD_EXAMPLES=OFF -DLIBSHM_BUILD_PRELOAD=OFF >/dev/null
cmake --build "$build" --target shmlive shmd -j"$(nproc)" >/dev/null
shmlive=$build/bench/live/shmlive

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load_before=$(cut -d' ' -f1 /proc/loadavg)

# 1. Live against simulated: each input at one or two sizes, every live
# policy, 30% of references made writes (the LIRS traces are read-only, and
# without writes a pager without sampling learns nothing after a fault).
# As a user runs it ("default": low watermark 90%, sampling 256/s), and
# "exact" (watermark 100: no background eviction; sampling off), where the
# runtime makes exactly the calls shmsim makes.
inputs=(
  "--trace $traces/2_pools.trace.gz --size 10%,20%"
  "--trace $traces/sprite.trace.gz --size 10%,20%"
  "--trace $traces/multi2.trace.gz --size 20%"
  "--trace $traces/ps.trace.gz --size 20%"
  "--workload twopools:pages=4000,n=400000 --size 568,1000"
  "--workload zipf:alpha=0.9,pages=10000,n=400000 --size 10%"
)
first=1
for input in "${inputs[@]}"; do
  # "nosample": the defaults with sampling off, for the policies whose
  # difference between "default" and "exact" the summary takes apart.
  for mode in default exact nosample; do
    policies=all
    extra=()
    [ "$mode" = exact ] && extra=(--low-watermark 100 --sample-rate 0)
    [ "$mode" = nosample ] && policies=fifo,lru,lirs,clock-pro && extra=(--sample-rate 0)
    # shellcheck disable=SC2086 # $input holds several words on purpose
    "$shmlive" $input --policy "$policies" --write-ratio 0.3 --seed 1 "${extra[@]}" --format csv |
      awk -v mode="$mode" -v first="$first" \
        'NR == 1 { if (first) print "mode," $0; next } { print mode "," $0 }' >>"$tmp/live.csv"
    first=0
  done
done
cp "$tmp/live.csv" "$here/live.csv"

# 2. The cost of sampling, CLOCK. (a) Nothing to evict: 4,000 pages touched
# uniformly, 2*10^7 times, in an 8,000-page limit; every extra fault is a
# sampling fault. (b) Under pressure: the two-pool workload at 1,000 pages,
# where sampled references could change what CLOCK evicts. FIFO, which
# takes no samples, is the control for timing noise.
rates=0,256,4096,32768,100000
"$shmlive" --workload uniform:pages=4000,n=20000000 --size 8000 --policy clock,fifo \
  --sample-rate "$rates" --repeat "$repeat" --format csv | sed 's/^/nothing-to-evict,/' |
  awk 'NR == 1 { sub(/^nothing-to-evict,/, "scenario,") } { print }' >"$tmp/sampling.csv"
"$shmlive" --workload twopools:pages=4000,n=2000000 --write-ratio 0.3 --size 1000 \
  --policy clock,fifo --sample-rate "$rates" --repeat "$repeat" --format csv |
  tail -n +2 | sed 's/^/under-pressure,/' >>"$tmp/sampling.csv"
cp "$tmp/sampling.csv" "$here/live_sampling.csv"

load_after=$(cut -d' ' -f1 /proc/loadavg)
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)

python3 "$here/live_report.py" --live "$here/live.csv" --sampling "$here/live_sampling.csv" \
  --date "$(date -u +%Y-%m-%d)" --commit "$commit" --cpu "$cpu" --cores "$(nproc)" \
  --load "$load_before" "$load_after" >"$here/LIVE.md"
echo "wrote $here/LIVE.md, $here/live.csv and $here/live_sampling.csv"
