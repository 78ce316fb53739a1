#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# stress-ng stressors that use shared anonymous memory, with --verify, under
# shmrun and a 1M limit (stress-ng's own shared state, ~2 MiB, and the
# stressors' regions together pass it). Passes when stress-ng exits 0, reports
# no failure, ends with "successful run completed", its metrics check says
# "all stressor metrics validated and sane", and the session swapped out.
# usage: stress_ng.sh SHMRUN SECS STRESSOR...
TEST_NAME=stress_ng
. "$(dirname "$0")/lib.sh"
require_root
SHMRUN=$1 SECS=$2
shift 2
[ $# -gt 0 ] || die "no stressor given"
require_cmd stress-ng stress-ng
LIMIT=${STRESS_NG_LIMIT:-1M}
T=$(mktemp -d /tmp/libshm-stress-ng.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
cd "$T"   # stress-ng's scratch files

args=()
for s in "$@"; do args+=("--$s" 1); done
TEST_NAME="stress_ng $*"
log "limit $LIMIT, stressors: $*, --timeout ${SECS}s"
rc=0
"$SHMRUN" --limit "$LIMIT" --stats="$T/stats.json" -- stress-ng "${args[@]}" \
  --timeout "$SECS" --verify -v --metrics-brief --temp-path "$T" >"$T/out.log" 2>&1 || rc=$?
grep -vE 'debug: .*(cache|RAM|processors|invoked|page size|stressor instance|temp)' "$T/out.log" |
  grep -vE 'started \[|exited \[|terminated$' >&2 || true
[ "$rc" = 0 ] || die "stress-ng exited with status $rc"
! grep -E 'stress-ng: (fail|error):' "$T/out.log" >/dev/null || die "stress-ng reported failures"
grep -q 'metrics-check: all stressor metrics validated and sane' "$T/out.log" ||
  die "no 'metrics-check: all stressor metrics validated and sane' line"
grep -q 'successful run completed' "$T/out.log" || die "no 'successful run completed' line"
for s in "$@"; do
  grep -qE "debug: \[[0-9]+\] $s: exited" "$T/out.log" || die "stressor $s did not run"
done
log "run time $(elapsed)"
assert_evicted "$T/stats.json" "stress-ng $*"
log PASS
