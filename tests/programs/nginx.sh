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
require_root
SHMRUN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
NGINX=/usr/sbin/nginx
require_cmd "$NGINX" nginx
getent group nogroup >/dev/null || die "no group nogroup"

LIMIT=${NGINX_LIMIT:-1M} KEYS=${NGINX_KEYS:-3000} FILES=200
T=$(mktemp -d /tmp/libshm-nginx.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/www/f" "$T/cache" "$T/tmp" "$T/logs"
chown nobody:nogroup "$T/cache" "$T/tmp"

# Two free loopback ports.
read -r FRONT ORIGIN < <("$PY" -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')

master_pid() { cat "$T/nginx.pid" 2>/dev/null || true; }
cleanup() {
  local rc=$? pid
  set +e
  pid=$(master_pid)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ "$rc" != 0 ] && [ -f "$T/logs/error.log" ]; then
    log "--- error.log (tail)"
    tail -n 40 "$T/logs/error.log" >&2
  fi
  rm -rf "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Bodies: random files of 1 byte to 256 KiB.
"$PY" - "$T/www" "$FILES" <<'PYEOF'
import os, random, sys
www, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1998)
for i in range(n):
    size = rnd.choice([1, 100, 4095, 4096, 4097, 65536, 262144, rnd.randrange(1, 262144)])
    with open(os.path.join(www, "f", f"{i}.bin"), "wb") as f:
        f.write(os.urandom(size))
with open(os.path.join(www, "small.bin"), "wb") as f:
    f.write(os.urandom(300))
PYEOF

cat >"$T/nginx.conf" <<CONF
daemon on;
master_process on;
worker_processes 2;
user nobody nogroup;
pid $T/nginx.pid;
error_log $T/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $T/tmp/body;
  proxy_temp_path $T/tmp/proxy;
  fastcgi_temp_path $T/tmp/fastcgi;
  uwsgi_temp_path $T/tmp/uwsgi;
  scgi_temp_path $T/tmp/scgi;
  limit_req_zone \$binary_remote_addr zone=perip:128m rate=100000r/s;
  limit_req_zone \$request_uri zone=peruri:128m rate=100000r/s;
  proxy_cache_path $T/cache levels=1:2 keys_zone=bodies:512m inactive=1h use_temp_path=off;
  server {  # the origin
    listen 127.0.0.1:$ORIGIN;
    root $T/www;
  }
  server {  # the caching front
    listen 127.0.0.1:$FRONT;
    limit_req zone=perip burst=100000 nodelay;
    limit_req zone=peruri burst=1000 nodelay;
    proxy_cache bodies;
    proxy_cache_valid 200 1h;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    add_header X-Cache-Status \$upstream_cache_status always;
    location /f/ { proxy_pass http://127.0.0.1:$ORIGIN; }
    location /k/ { proxy_pass http://127.0.0.1:$ORIGIN/; }
  }
}
CONF
"$NGINX" -t -q -c "$T/nginx.conf" -p "$T" -e "$T/logs/error.log" || die "bad nginx.conf"

log "limit $LIMIT, zones 512m + 128m + 128m, ports $FRONT (front) and $ORIGIN (origin)"
STATS=$T/stats.json
"$SHMRUN" --limit "$LIMIT" --stats="$STATS" -- "$NGINX" -c "$T/nginx.conf" -p "$T" \
  -e "$T/logs/error.log" || die "nginx did not start under shmrun (exit $?)"
# shmrun is gone: it wrote the stats when the launcher exited. The helper
# rewrites them when the daemon's last process is gone.
[ -s "$STATS" ] || die "shmrun wrote no stats when the launcher exited"
for _ in $(seq 1 100); do [ -n "$(master_pid)" ] && break; sleep 0.1; done
MASTER=$(master_pid)
[ -n "$MASTER" ] && kill -0 "$MASTER" || die "no nginx master after daemon start"
log "master $MASTER, workers: $(pgrep -P "$MASTER" | tr '\n' ' ')"
grep -q libshm_preload "/proc/$MASTER/maps" || die "the master runs without the shim"
grep -q memfd: "/proc/$MASTER/maps" || die "the master maps no managed region"
for _ in $(seq 1 100); do
  "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $FRONT), 1)" 2>/dev/null && break
  sleep 0.1
done

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
kill -QUIT "$MASTER"
for _ in $(seq 1 300); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$MASTER" 2>/dev/null; then
  ps -o pid,ppid,user,stat,wchan:32,etime,cmd --ppid "$MASTER" -p "$MASTER" >&2 || true
  for p in $MASTER $(pgrep -P "$MASTER"); do
    log "--- /proc/$p/stack"; cat "/proc/$p/stack" >&2 2>/dev/null || true
  done
  die "nginx master did not exit within 30 s of SIGQUIT"
fi
wait_file_changed "$STATS" "$before" 30 || die "the helper did not rewrite $STATS at session end"
[ "$(stat_get "$STATS" clients)" = 0 ] || die "session-end stats still count clients"
assert_evicted "$STATS" "nginx session"
[ "$(stat_get "$STATS" swap_ins)" -gt 0 ] || die "swap_ins=0: no zone page was read back"
log "PASS, $(elapsed)"
