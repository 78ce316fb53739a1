# SPDX-License-Identifier: MIT
# Shared by the real-program tests: sourced, never run. Each test runs a real
# program under shmrun with a limit that forces eviction, checks the program's
# own results, and then the session's stats: no swap-outs means the run
# proved nothing, and fails.
set -euo pipefail

SKIP=77
PY=/usr/bin/python3   # Debian's Python, whatever else is first in PATH

log() { printf '%s: %s\n' "${TEST_NAME:-programs}" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

require_root() {
  if [ "$(id -u)" != 0 ]; then
    log "SKIP: needs root (full mode, and servers that drop privileges)"
    exit "$SKIP"
  fi
}

# require_cmd PATH PACKAGE: a missing program is a failure (the README's
# test command installs it), with the package named.
require_cmd() {
  [ -x "$1" ] || command -v "$1" >/dev/null 2>&1 || die "$1 not found: apt-get install $2"
}

# stat_get FILE KEY: one value of a stats JSON file. Retries a little: the
# helper may be rewriting the file at session end.
stat_get() {
  local i
  for i in $(seq 1 50); do
    if "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  die "cannot read $2 from $1: $(cat "$1" 2>&1 | head -c 2000)"
}

# stats_summary FILE: the figures worth a line in the test log.
stats_summary() {
  "$PY" - "$1" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
keys = ("mode", "limit_bytes", "peak_resident_bytes", "faults", "zero_fills", "swap_outs",
        "swap_ins", "evictions", "clean_evictions", "msyncs", "writeback_bytes", "forks", "wp_faults", "eexist")
print(" ".join(f"{k}={d.get(k)}" for k in keys))
PYEOF
}

# assert_evicted FILE [WHAT]: the session swapped pages out, within the limit,
# in full mode.
assert_evicted() {
  local f=$1 what=${2:-session}
  [ -s "$f" ] || die "$what: no stats file $f"
  log "$what stats: $(stats_summary "$f")"
  local outs peak limit mode
  outs=$(stat_get "$f" swap_outs)
  peak=$(stat_get "$f" peak_resident_bytes)
  limit=$(stat_get "$f" limit_bytes)
  mode=$(stat_get "$f" mode)
  [ "$outs" -gt 0 ] || die "$what: swap_outs=0: the limit forced no eviction, so the run proves nothing"
  [ "$peak" -le "$limit" ] || die "$what: peak_resident_bytes=$peak above limit_bytes=$limit"
  [ "$mode" = full ] || die "$what: mode=$mode, expected full (root)"
}

# assert_objects_managed FILE [WHAT]: the session managed program objects
# (issue 11: shm_open O_CREAT, memfd_create): without one, a test of them
# ran on the kernel's objects and proves nothing.
assert_objects_managed() {
  local f=$1 what=${2:-session} made
  made=$(stat_get "$f" objects_made)
  log "$what objects: objects_made=$made objects_freed=$(stat_get "$f" objects_freed)" \
    "handed_back=$(stat_get "$f" handed_back) program_objects=$(stat_get "$f" program_objects)" \
    "shm_objects=$(stat_get "$f" shm_objects) pinned_objects=$(stat_get "$f" pinned_objects)"
  [ "$made" -gt 0 ] || die "$what: objects_made=0: no program object was managed, so the run proves nothing"
}

# wait_file_changed FILE MTIME SECS: wait until FILE's mtime (ns) differs from
# MTIME: the helper's rewrite at session end, for daemons whose shmrun is gone.
mtime_ns() { stat -c %.9Y "$1" 2>/dev/null || echo 0; }
wait_file_changed() {
  local f=$1 old=$2 secs=$3 i
  for i in $(seq 1 $((secs * 10))); do
    [ "$(mtime_ns "$f")" != "$old" ] && { sleep 0.2; return 0; }
    sleep 0.1
  done
  return 1
}

# session_address SHMRUN_PID: the abstract address of the session that shmrun
# SHMRUN_PID started (its helper listens on it while the session lives).
session_address() {
  awk -v p="@libshm-run-$1-" 'index($8, p) == 1 { print $8; exit }' /proc/net/unix
}

# live_stats SHMRUN ADDRESS: one JSON sample of the live session (shmstat
# beside shmrun), with its regions.
live_stats() {
  "$(dirname "$1")/shmstat" --session "$2" --json --watch 0.1 --count 1
}

# Wall time since the test started, for the log.
T0_NS=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - T0_NS) / 1000000)); printf '%d.%03d s' $((ms / 1000)) $((ms % 1000)); }

# check_stress_ng LOG RC: stress-ng's own verdict on a run whose output is in
# LOG and whose exit status was RC (its chatter echoed, debug noise left out):
# status 0, no fail or error line, its metrics check sane, a completed run.
check_stress_ng() {
  local out=$1 rc=$2
  grep -vE 'debug: .*(cache|RAM|processors|invoked|page size|stressor instance|temp|oom_score_adj)' "$out" |
    grep -vE 'started \[|exited \[|terminated$' >&2 || true
  [ "$rc" = 0 ] || die "stress-ng exited with status $rc"
  ! grep -E 'stress-ng: (fail|error):' "$out" >/dev/null || die "stress-ng reported failures"
  grep -q 'metrics-check: all stressor metrics validated and sane' "$out" ||
    die "no 'metrics-check: all stressor metrics validated and sane' line"
  grep -q 'successful run completed' "$out" || die "no 'successful run completed' line"
}
