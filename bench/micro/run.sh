#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the release tree, runs libshm_micro N times and prints a markdown
# table of medians and libshm/baseline ratios (bench/README.md).
#
# usage: bench/micro/run.sh [-n N] [--config default|pinned|both] [--out DIR]
#                           [-- extra libshm_micro arguments]
#
#   -n N       runs per configuration (default 5)
#   --config   default: no CPU affinity (the helper process goes wherever
#                       the scheduler puts it; what a program gets)
#              pinned:  the benchmark and the helper it spawns both run on
#                       CPU 0 (taskset -c 0), so every fault round trip stays
#                       on one CPU
#              both:    (default) alternate the two, run by run
#   --out DIR  keep the JSON and console output there (default: a new
#              directory under /tmp)
#   --wait-idle S
#              before each run, wait up to S seconds (default 120) for a
#              quiet machine (both CPUs >= 90% idle over one second); the
#              table says how many runs started on a busy machine
#
# Each run is a fresh process with a fresh helper, and runs every benchmark
# once, libshm case next to its baseline. Any LIBSHM_* variable in the
# environment is passed through (the benchmark defaults LIBSHM_LIMIT to 1G).
# Exits non-zero, printing the failure, if any benchmark's check fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${BUILD_DIR:-$root/build/release}"
runs=5
config=both
out=""
wait_idle=120
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) runs="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --wait-idle) wait_idle="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "usage: $0 [-n N] [--config default|pinned|both] [--out DIR] [--wait-idle S] [-- ARGS]" >&2; exit 2 ;;
  esac
done
case "$config" in
  default) configs=(default) ;;
  pinned) configs=(pinned) ;;
  both) configs=(default pinned) ;;
  *) echo "$0: --config must be default, pinned or both" >&2; exit 2 ;;
esac

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target libshm_micro shmd >/dev/null

out="${out:-$(mktemp -d /tmp/libshm-micro.XXXXXX)}"
mkdir -p "$out/bin"
# Run a snapshot of what was just built: the build tree may be rebuilt while
# the runs go on. The library finds the helper beside itself, and
# LD_LIBRARY_PATH comes before the binary's RUNPATH.
cp -a "$build/bench/micro/libshm_micro" "$build"/libshm/libshm.so* "$build/libshm/shmd" "$out/bin/"
bin="$out/bin/libshm_micro"
export LD_LIBRARY_PATH="$out/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
version="$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
echo "results in $out" >&2

# Prints the share of CPU time that was idle over one second (0..100).
idle_percent() {
  local a b
  a=($(head -1 /proc/stat))
  sleep 1
  b=($(head -1 /proc/stat))
  local total=0 i
  for ((i = 1; i < ${#a[@]}; i++)); do total=$((total + b[i] - a[i])); done
  echo $(((100 * (b[4] - a[4] + b[5] - a[5])) / (total > 0 ? total : 1)))
}

busy=0
for ((i = 1; i <= runs; i++)); do
  for c in "${configs[@]}"; do
    waited=0
    until (($(idle_percent) >= 90)); do
      if ((++waited >= wait_idle)); then
        echo "machine still busy after ${wait_idle}s; running anyway" >&2
        busy=$((busy + 1))
        break
      fi
    done
    prefix=()
    [[ "$c" == pinned ]] && prefix=(taskset -c 0)
    echo "run $i/$runs ($c)" >&2
    if ! "${prefix[@]}" "$bin" --benchmark_out="$out/$c-$i.json" --benchmark_out_format=json \
        "${extra[@]}" >"$out/$c-$i.txt" 2>&1; then
      echo "$0: run $i ($c) failed; output in $out/$c-$i.txt:" >&2
      grep -E "BENCH-FAILURE|ERROR" "$out/$c-$i.txt" >&2 || tail -20 "$out/$c-$i.txt" >&2
      exit 1
    fi
  done
done

args=()
for c in "${configs[@]}"; do
  args+=("--label=$c")
  for ((i = 1; i <= runs; i++)); do args+=("$out/$c-$i.json"); done
done
{
  echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); kernel $(uname -r); $(nproc) CPUs;" \
    "libshm $version (as built when the runs started);" \
    "$busy of $((runs * ${#configs[@]})) runs started on a busy machine"
  echo
  python3 "$here/ratios.py" "${args[@]}"
} | tee "$out/table.md"
