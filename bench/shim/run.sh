#!/usr/bin/env bash
# The shim's overhead on a program without shared anonymous memory: runs
# shim_overhead N times without and with LD_PRELOAD, interleaved, and prints
# the medians and the ratio (with / without) per loop.
#   bench/shim/run.sh [BUILD_DIR] [RUNS]
set -euo pipefail
build=${1:-build/release}
runs=${2:-7}
bin=$build/bench/shim/shim_overhead
shim=$build/preload/libshm_preload.so
[ -x "$bin" ] && [ -f "$shim" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$runs"); do
  "$bin" >> "$tmp/native"
  LD_PRELOAD=$shim "$bin" >> "$tmp/shim"
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf '| loop | native ns/op | with shim ns/op | ratio |\n|---|---|---|---|\n'
for loop in $(awk '{print $1}' "$tmp/native" | sort -u); do
  n=$(awk -v l="$loop" '$1 == l {print $2}' "$tmp/native" | median)
  s=$(awk -v l="$loop" '$1 == l {print $2}' "$tmp/shim" | median)
  printf '| %s | %s | %s | %.3f |\n' "$loop" "$n" "$s" "$(echo "$s / $n" | bc -l)"
done
