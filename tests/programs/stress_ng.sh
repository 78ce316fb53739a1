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
SAMPLER=
cleanup() {
  local rc=$?
  set +e
  if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null || true; fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
cd "$T"   # stress-ng's scratch files

args=()
for s in "$@"; do args+=("--$s" 1); done
TEST_NAME="stress_ng $*"
log "limit $LIMIT, stressors: $*, --timeout ${SECS}s"
# The sampler: which managed regions (memfd "libshm" mappings) each running
# stressor has of its own, beyond those it inherited from stress-ng's main
# process: a stressor with none ran on native memory and proves nothing.
cat >"$T/sampler.py" <<'PYEOF'
import os, sys, time
stop, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
own, inherited = {}, set()
def regions(pid):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return {l.split()[4] for l in f if "memfd:libshm" in l}
    except OSError:
        return set()
while not os.path.exists(stop) and time.monotonic() < deadline:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmd.startswith("stress-ng-") and cmd.endswith("[run]"):
            own.setdefault(cmd.split()[0][len("stress-ng-"):], set()).update(regions(pid))
        elif cmd.startswith("stress-ng --"):
            inherited |= regions(pid)
    time.sleep(0.2)
for name, inodes in sorted(own.items()):
    print(name, len(inodes - inherited))
PYEOF
"$PY" "$T/sampler.py" "$T/stop" $((SECS * 4 + 30)) >"$T/regions.txt" &
SAMPLER=$!
rc=0
"$SHMRUN" --limit "$LIMIT" --stats="$T/stats.json" -- stress-ng "${args[@]}" \
  --timeout "$SECS" --verify -v --metrics-brief --temp-path "$T" >"$T/out.log" 2>&1 || rc=$?
touch "$T/stop"
wait "$SAMPLER" || true
check_stress_ng "$T/out.log" "$rc"
for s in "$@"; do
  grep -qE "debug: \[[0-9]+\] $s: exited" "$T/out.log" || die "stressor $s did not run"
  n=$(awk -v s="$s" '$1 == s { print $2 }' "$T/regions.txt")
  log "$s: ${n:-0} managed regions of its own seen"
  [ "${n:-0}" -gt 0 ] || die "stressor $s had no managed region of its own: it ran on native memory"
done
log "run time $(elapsed)"
assert_evicted "$T/stats.json" "stress-ng $*"
log PASS
