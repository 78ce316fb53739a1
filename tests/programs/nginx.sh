#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# nginx under shmrun in daemon mode: the launcher maps the shared zones, forks
# the master and exits (so shmrun returns at once and the helper outlives it);
# workers run as nobody. Zones: a 512m proxy_cache keys zone and two 128m
# limit_req zones, 768 MiB in all, under a 1M limit: the zones' slab headers
# alone (~4.5 MiB, written at start) pass it, and the keys and nodes the load
# adds keep the workers faulting zone pages back in (a 4M limit evicts only at
# start: the load then fits). An origin server block on
# another loopback port serves random files; the front proxies and caches them.
# Load (nginx_load.py, over loopback only): every body twice (MISS then HIT,
# sha256 checked), thousands of distinct cache keys, a reload (SIGHUP: the new
# workers must find the cached keys), every body and every key again (HIT). Then a graceful
# stop, and the helper's session-end stats must show swap-outs.
# usage: nginx.sh SHMRUN
TEST_NAME=nginx
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nginx_lib.sh"
require_root
SHMRUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)

LIMIT=${NGINX_LIMIT:-1M} KEYS=${NGINX_KEYS:-3000} FILES=200
nginx_setup "$FILES"
nginx_conf 512m 128m

log "limit $LIMIT, zones 512m + 128m + 128m, ports $FRONT (front) and $ORIGIN (origin)"
STATS=$T/stats.json
nginx_start --limit "$LIMIT" --stats="$STATS"
# shmrun is gone: it wrote the stats when the launcher exited. The helper
# rewrites them when the daemon's last process is gone.
[ -s "$STATS" ] || die "shmrun wrote no stats when the launcher exited"
log "master $MASTER, workers: $(pgrep -P "$MASTER" | tr '\n' ' ')"
grep -q libshm_preload "/proc/$MASTER/maps" || die "the master runs without the shim"
grep -q memfd: "/proc/$MASTER/maps" || die "the master maps no managed region"

"$PY" "$HERE/nginx_load.py" bodies "$FRONT" "$T/www" || die "bodies through the cache were wrong"
"$PY" "$HERE/nginx_load.py" keys "$FRONT" "$T/www" "$KEYS" || die "keyed requests were wrong"
# Reload: a new cycle with the same zones; new workers must see the old keys.
OLD_WORKERS=$(pgrep -P "$MASTER" | tr '\n' ' ')
kill -HUP "$MASTER"
for _ in $(seq 1 100); do
  NEW=$(pgrep -P "$MASTER" | tr '\n' ' ')
  still=0
  for w in $OLD_WORKERS; do kill -0 "$w" 2>/dev/null && still=1; done
  [ "$still" = 0 ] && [ -n "$NEW" ] && break
  sleep 0.1
done
log "reloaded: workers $OLD_WORKERS-> $NEW"
"$PY" "$HERE/nginx_load.py" hits "$FRONT" "$T/www" || die "cached bodies after the reload were wrong"
"$PY" "$HERE/nginx_load.py" keyhits "$FRONT" "$T/www" "$KEYS" || die "keyed hits after the reload were wrong"
grep -E '\[(alert|emerg|crit)\]' "$T/logs/error.log" && die "nginx logged alerts"

# Graceful stop; then wait for the helper's session-end rewrite of the stats.
before=$(mtime_ns "$STATS")
stop_master "$MASTER" 30 "graceful stop"
wait_file_changed "$STATS" "$before" 30 || die "the helper did not rewrite $STATS at session end"
[ "$(stat_get "$STATS" clients)" = 0 ] || die "session-end stats still count clients"
assert_evicted "$STATS" "nginx session"
[ "$(stat_get "$STATS" swap_ins)" -gt 0 ] || die "swap_ins=0: no zone page was read back"
log "PASS, $(elapsed)"
