#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# php-fpm 8.2 with opcache under shmrun (issue 10): daemonize = yes, so the
# launcher exits once the master is ready and shmrun returns; workers run as
# nobody. opcache's shared segment (opcache.memory_consumption, 256 MiB, one
# MAP_SHARED|MAP_ANONYMOUS|MAP_32BIT mapping made at startup, before the
# daemon forks its master, and inherited by the master and its workers)
# under an 8M limit: thousands of generated scripts (php_fpm_load.py:
# each with its own constant string, array, function and class; ~14 KiB of
# opcache each) fill ~50 MiB of it, so the workers fault evicted pages back in.
# Every FastCGI answer is checked against a value computed independently.
#
# Then 20 reloads (SIGUSR2) under load: the master stops its workers and
# execvp()s itself; being a daemon, the new image forks the new master and
# exits (the pid changes). For a moment no process of the tree maps or is
# connected to anything: the session must survive that (the shmrun keeper),
# and after each reload the new master and all its workers must map a new,
# managed opcache segment (/proc/PID/maps: a memfd of the configured size, no
# /dev/zero fallback; shmstat: one region of that size mapped by exactly
# those processes). Connection errors while the pool is replaced are retried;
# a wrong answer fails; so must the new segment be, once the new pool has
# compiled 600 more scripts into it. At the end a graceful stop (SIGQUIT):
# the helper leaves with the tree, and its session-end stats must show
# swap-outs within the limit. Then the same in a second session in the
# foreground (-F, 3 reloads: the master re-executes in place and keeps its
# pid; shmrun waits for it). No libshm line may appear in php-fpm's log
# (workers' stderr is caught into it) or the launcher's stderr.
# usage: php_fpm.sh SHMRUN SHMSTAT
TEST_NAME=php_fpm
. "$(dirname "$0")/lib.sh"
require_root
SHMRUN=$1 SHMSTAT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
FPM=/usr/sbin/php-fpm8.2
require_cmd "$FPM" php8.2-fpm
require_cmd "$SHMSTAT" "(build the shmstat target)"
grep -qx 'Zend OPcache' <<<"$("$FPM" -n -d zend_extension=opcache.so -m 2>/dev/null)" ||
  die "php-fpm8.2 has no opcache: apt-get install php8.2-opcache"
getent group nogroup >/dev/null || die "no group nogroup"
# With huge pages reserved, opcache maps its segment MAP_HUGETLB, which stays
# native by design (huge pages are not evictable): nothing to test.
[ "$(($(cat /proc/sys/vm/nr_hugepages) + $(cat /proc/sys/vm/nr_overcommit_hugepages)))" = 0 ] ||
  die "vm.nr_hugepages or vm.nr_overcommit_hugepages is set: opcache would use native huge pages"

LIMIT=${PHP_LIMIT:-8M} OPCACHE_MB=256 SCRIPTS=${PHP_SCRIPTS:-3000}
RELOADS=${PHP_RELOADS:-20} FG_RELOADS=${PHP_FG_RELOADS:-3}
WORKERS=3
T=$(mktemp -d /tmp/libshm-php.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/conf.d"  # an empty ini scan dir: only our php.ini applies
SOCK=$T/fpm.sock LOAD_PID= SHMRUN_PID= MODE=
export PHP_INI_SCAN_DIR=$T/conf.d  # inherited by the master, kept across its re-execs

master_pid() { cat "$T/fpm.pid" 2>/dev/null || true; }
cleanup() {
  local rc=$? pid
  set +e
  if [ -n "$LOAD_PID" ]; then touch "$T/stop"; kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID"; fi
  pid=$(master_pid)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -n "$SHMRUN_PID" ]; then  # foreground: shmrun leaves with the master
    for _ in $(seq 1 50); do kill -0 "$SHMRUN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SHMRUN_PID" 2>/dev/null || true
  fi
  if [ "$rc" != 0 ] && [ -f "$T/fpm.log" ]; then
    log "--- fpm.log (tail)"
    tail -n 40 "$T/fpm.log" >&2
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

"$PY" "$HERE/php_fpm_load.py" gen "$T/www" "$SCRIPTS" || die "cannot generate the scripts"
cat >"$T/php.ini" <<INI
zend_extension=opcache.so
opcache.enable=1
opcache.memory_consumption=$OPCACHE_MB
opcache.interned_strings_buffer=16
opcache.max_accelerated_files=10000
opcache.validate_timestamps=0
opcache.jit=off
opcache.jit_buffer_size=0
opcache.log_verbosity_level=2
display_errors=0
log_errors=1
INI
cat >"$T/fpm.conf" <<CONF
[global]
pid = $T/fpm.pid
error_log = $T/fpm.log
log_level = notice
daemonize = yes
; A reload lets running requests finish (SIGQUIT) before it kills (SIGTERM,
; which fpm logs as a WARNING: request loss); with the default 0 it does not wait.
process_control_timeout = 10s
[pool]
user = nobody
group = nogroup
listen = $SOCK
listen.mode = 0666
pm = static
pm.max_children = $WORKERS
catch_workers_output = yes
CONF
"$FPM" -t -c "$T/php.ini" -y "$T/fpm.conf" 2>"$T/fpm-t.log" || { cat "$T/fpm-t.log" >&2; die "bad fpm.conf"; }
rm -f "$T/fpm.log"

# managed_now MASTER: the master and its workers (all $WORKERS of them, as
# nobody) map one opcache segment of the configured size, and it is managed:
# a libshm memfd in every one's maps, no native /dev/zero mapping of that
# size; the session has exactly one region of that size, mapped by exactly
# these processes. Prints "INODE WORKERS..." (INODE: the segment's memfd
# inode, in the master's maps) on success, a reason on failure.
SEGMENT=$((OPCACHE_MB << 20))
managed_now() {
  local m=$1 p workers n why="" out inode=
  workers=$(pgrep -P "$m" | tr '\n' ' ')
  n=$(wc -w <<<"$workers")
  [ "$n" = "$WORKERS" ] || { echo "master $m has $n workers ($workers), want $WORKERS"; return 1; }
  for p in $m $workers; do
    [ "$p" = "$m" ] || [ "$(stat -c %U "/proc/$p" 2>&1)" = nobody ] || why+="worker $p is not nobody; "
    out=$("$PY" - "/proc/$p/maps" "$SEGMENT" 2>/dev/null <<'PYEOF'
import sys
managed = native = 0
inode = "-"
for line in open(sys.argv[1]):
    f = line.split(maxsplit=5)
    lo, hi = (int(x, 16) for x in f[0].split("-"))
    name = f[5].strip() if len(f) > 5 else ""
    if hi - lo != int(sys.argv[2]) or f[1][3] != "s":
        continue
    if name.startswith("/memfd:libshm"):
        managed += 1
        inode = f[4]
    else:
        native += 1
print(managed, native, inode)
PYEOF
) || out="? ? ?"
    [ "${out% *}" = "1 0" ] || why+="process $p maps (managed native) opcache segments: ${out% *}; "
    [ "$p" = "$m" ] && inode=${out##* }
  done
  [ -z "$why" ] || { echo "$why"; return 1; }
  out=$("$SHMSTAT" --session "$SESSION" --json --watch 0.05 --count 1 2>&1 |
        "$PY" -c 'import json, sys
d = json.loads(sys.stdin.read())
seg = [r for r in d["regions"] if r["bytes"] == int(sys.argv[1])]
print(len(seg), seg[0]["mappings"] if len(seg) == 1 else "-")' "$SEGMENT" 2>&1) ||
    { echo "shmstat: $out"; return 1; }
  [ "$out" = "1 $((WORKERS + 1))" ] ||
    { echo "shmstat: (segments mappings) = ($out), want (1 $((WORKERS + 1)))"; return 1; }
  echo "$inode $workers"
}

# segment_swapped: the opcache region's figures in shmstat, and the
# session's; fails unless part of the segment is swapped out.
segment_swapped() {
  local out
  out=$("$SHMSTAT" --session "$SESSION" --json --watch 0.05 --count 1 2>&1) || true
  "$PY" - "$out" "$SEGMENT" <<'PYEOF' 2>&1
import json, sys
d = json.loads(sys.argv[1])
r = [r for r in d["regions"] if r["bytes"] == int(sys.argv[2])][0]
k = lambda v: v >> 10
print("segment resident %d KiB, swapped %d KiB; session resident %d KiB, peak %d KiB" %
      (k(r["resident_bytes"]), k(r["swapped_bytes"]), k(d["resident_bytes"]), k(d["peak_resident_bytes"])))
sys.exit(0 if r["swapped_bytes"] > 0 else 1)
PYEOF
}

# wait_managed WHAT [OLD_MASTER OLD_INODE]: until the pid file names a live
# master whose opcache segment is managed in it and in all its workers and is
# a new one (its memfd is not OLD_INODE). A daemon's reload changes the
# master's pid (the re-executed image forks a new master and exits: wait
# until OLD_MASTER is gone); a foreground master keeps its pid. Sets MASTER
# and INODE.
wait_managed() {
  local what=$1 old=${2:-} old_inode=${3:-} m out why="no master" deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    m=$(master_pid)
    if [ -z "$m" ] || ! kill -0 "$m" 2>/dev/null; then
      why="no live master in the pid file"
    elif [ -n "$old" ] && [ "$MODE" = daemon ] && { [ "$m" = "$old" ] || kill -0 "$old" 2>/dev/null; }; then
      why="the old master $old is still there"
    elif [ -n "$old" ] && [ "$MODE" = foreground ] && [ "$m" != "$old" ]; then
      why="the foreground master's pid changed: $old -> $m"
    elif ! out=$(managed_now "$m"); then
      why=$out
    elif [ "${out%% *}" = "$old_inode" ]; then
      why="still the old segment (memfd inode $old_inode)"
    else
      MASTER=$m INODE=${out%% *}
      log "$MODE $what: master $MASTER, workers ${out#* }: opcache segment managed (memfd inode $INODE)"
      return 0
    fi
    sleep 0.1
  done
  ps -o pid,ppid,user,stat,cmd -p "$m" --ppid "$m" >&2 2>/dev/null || true
  die "$MODE $what: $why (30 s)"
}

# session MODE RELOADS: php-fpm in one shmrun session, as a daemon (shmrun
# returns once the launcher exits) or in the foreground (-F: shmrun waits for
# the master); two sweeps, RELOADS reloads under load, a sweep; a graceful
# stop, the helper gone, the session-end stats checked.
session() {
  MODE=$1
  local reloads=$2 rc=0 r old figures stats=$T/stats-$1.json fg=()
  [ "$MODE" = foreground ] && fg=(-F)
  rm -f "$T/fpm.pid" "$T/stop"
  log "$MODE: limit $LIMIT, opcache.memory_consumption ${OPCACHE_MB}M, $SCRIPTS scripts, $WORKERS workers"
  "$SHMRUN" --limit "$LIMIT" --stats="$stats" -- "$FPM" "${fg[@]}" -c "$T/php.ini" -y "$T/fpm.conf" \
    2>>"$T/launch.log" &
  SHMRUN_PID=$!
  local launched=$SHMRUN_PID
  if [ "$MODE" = daemon ]; then
    wait "$SHMRUN_PID" || rc=$?
    SHMRUN_PID=
    [ "$rc" = 0 ] || { cat "$T/launch.log" >&2; die "php-fpm did not start under shmrun (exit $rc)"; }
    # The launcher has exited, and shmrun with it: the session is the daemon's.
  fi
  for _ in $(seq 1 100); do [ -n "$(master_pid)" ] && break; sleep 0.1; done
  MASTER=$(master_pid)
  [ -n "$MASTER" ] && kill -0 "$MASTER" || die "$MODE: no php-fpm master"
  grep -q libshm_preload "/proc/$MASTER/maps" || die "$MODE: the master runs without the shim"
  # The session's address names shmrun's pid (php-fpm overwrites its own
  # /proc/PID/environ with its process titles).
  SESSION=$(awk -v p="@libshm-run-$launched-" 'index($8, p) == 1 { print $8; exit }' /proc/net/unix)
  [ -n "$SESSION" ] || die "$MODE: no listening session @libshm-run-$launched-* in /proc/net/unix"
  local ino helper
  ino=$(awk -v s="$SESSION" '$8 == s { print $7; exit }' /proc/net/unix)
  helper=$({ find /proc/[0-9]*/fd -lname "socket:\[$ino\]" -print -quit 2>/dev/null || true; } |
           cut -d/ -f3)
  [ -n "$helper" ] && [ "$(cat "/proc/$helper/comm")" = shmd ] || die "$MODE: no shmd listens on $SESSION"
  wait_managed "start"

  "$PY" "$HERE/php_fpm_load.py" sweep "$SOCK" "$T/www" "$SCRIPTS" ||
    die "$MODE: answers while opcache filled were wrong"
  "$PY" "$HERE/php_fpm_load.py" sweep "$SOCK" "$T/www" "$SCRIPTS" ||
    die "$MODE: answers from opcache were wrong"
  log "$MODE: two sweeps done, $(elapsed)"

  # Reloads under load: a client keeps requesting random scripts throughout.
  "$PY" "$HERE/php_fpm_load.py" background "$SOCK" "$T/www" "$SCRIPTS" "$T/stop" &
  LOAD_PID=$!
  sleep 1
  for r in $(seq 1 "$reloads"); do
    kill -0 "$LOAD_PID" 2>/dev/null || break  # it failed: its status says why below
    old=$MASTER
    kill -USR2 "$MASTER"
    wait_managed "reload $r" "$old" "$INODE"
    # Load on the new pool: its workers compile 600 more scripts (~8 MiB)
    # into the new segment, which must then be partly swapped out.
    "$PY" "$HERE/php_fpm_load.py" sweep "$SOCK" "$T/www" "$SCRIPTS" 600 >/dev/null ||
      die "$MODE reload $r: wrong answers from the new pool"
    figures=$(segment_swapped) || die "$MODE reload $r: the new segment was not evicted: $figures"
    log "$MODE reload $r: after 600 requests: $figures"
  done
  touch "$T/stop"
  rc=0
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=
  [ "$rc" = 0 ] || die "$MODE: wrong answers during the reloads"
  log "$MODE: $reloads reloads done, $(elapsed)"
  # The last pool, through the whole segment again.
  "$PY" "$HERE/php_fpm_load.py" sweep "$SOCK" "$T/www" "$SCRIPTS" ||
    die "$MODE: answers after the reloads were wrong"
  managed_now "$MASTER" >/dev/null || die "$MODE: after the last sweep: $(managed_now "$MASTER")"

  # Graceful stop. The helper writes the session-end stats, then exits.
  kill -QUIT "$MASTER"
  for _ in $(seq 1 300); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$MASTER" 2>/dev/null; then
    ps -o pid,ppid,user,stat,wchan:32,etime,cmd --ppid "$MASTER" -p "$MASTER" >&2 || true
    die "$MODE: php-fpm master did not exit within 30 s of SIGQUIT"
  fi
  if [ -n "$SHMRUN_PID" ]; then
    rc=0
    wait "$SHMRUN_PID" || rc=$?
    SHMRUN_PID=
    [ "$rc" = 0 ] || die "$MODE: shmrun exited with status $rc after SIGQUIT"
  fi
  for _ in $(seq 1 100); do kill -0 "$helper" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$helper" 2>/dev/null && die "$MODE: the helper (shmd $helper) still runs 10 s after the stop"
  [ "$(stat_get "$stats" clients)" = 0 ] || die "$MODE: session-end stats still count clients"
  assert_evicted "$stats" "$MODE session"
  [ "$(stat_get "$stats" swap_ins)" -gt 0 ] || die "$MODE: swap_ins=0: no opcache page was read back"
}

session daemon "$RELOADS"
# The same in the foreground (the master re-executes itself in place, with
# shmrun waiting for it), briefly.
session foreground "$FG_RELOADS"
if grep -n 'libshm:' "$T/launch.log" "$T/fpm.log" >&2; then die "libshm lines from php-fpm (above)"; fi
if grep -E '(WARNING|ERROR|ALERT):' "$T/fpm.log" >&2; then die "php-fpm logged warnings (above)"; fi
log "PASS, $(elapsed)"
