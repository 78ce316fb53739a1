# SPDX-License-Identifier: MIT
# Shared by the nginx tests (sourced after lib.sh, never run): a prefix
# directory with origin files, two free loopback ports, the configuration (an
# origin server block and a caching front with a proxy_cache keys zone and two
# limit_req zones), the masters' pids, hang diagnostics and the cleanup.
NGINX=/usr/sbin/nginx

# nginx_setup FILES: $T (the prefix), FILES random bodies of 1 byte to 256 KiB
# in $T/www/f plus $T/www/small.bin, free ports $FRONT and $ORIGIN; installs
# the cleanup.
nginx_setup() {
  require_cmd "$NGINX" nginx
  getent group nogroup >/dev/null || die "no group nogroup"
  T=$(mktemp -d /tmp/libshm-nginx.XXXXXX)
  chmod 755 "$T"
  mkdir -p "$T/www/f" "$T/cache" "$T/tmp" "$T/logs"
  chown nobody:nogroup "$T/cache" "$T/tmp"
  trap nginx_cleanup EXIT
  trap 'exit 1' INT TERM HUP
  read -r FRONT ORIGIN < <("$PY" -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')
  "$PY" - "$T/www" "$1" <<'PYEOF'
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
}

# nginx_conf KEYS_ZONE REQ_ZONE: $T/nginx.conf with a proxy_cache keys zone
# of KEYS_ZONE and two limit_req zones of REQ_ZONE each (nginx sizes: 64m).
nginx_conf() {
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
  limit_req_zone \$binary_remote_addr zone=perip:$2 rate=100000r/s;
  limit_req_zone \$request_uri zone=peruri:$2 rate=100000r/s;
  proxy_cache_path $T/cache levels=1:2 keys_zone=bodies:$1 inactive=1h use_temp_path=off;
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
}

# The running master (nginx.pid) and, during a binary upgrade, the old one.
master_pid() { cat "$T/nginx.pid" 2>/dev/null || true; }
old_master_pid() { cat "$T/nginx.pid.oldbin" 2>/dev/null || true; }

# nginx_start SHMRUN_ARGS...: the daemon under shmrun (which returns when the
# launcher has forked the master); sets $SHMRUN_PID, and $MASTER once the pid
# file names a live master.
nginx_start() {
  local rc=0
  "$SHMRUN" "$@" -- "$NGINX" -c "$T/nginx.conf" -p "$T" -e "$T/logs/error.log" &
  SHMRUN_PID=$!
  wait "$SHMRUN_PID" || rc=$?
  [ "$rc" = 0 ] || die "nginx did not start under shmrun (exit $rc)"
  MASTER=
  for _ in $(seq 1 100); do
    MASTER=$(master_pid)
    [ -n "$MASTER" ] && kill -0 "$MASTER" 2>/dev/null && break
    sleep 0.1
  done
  [ -n "$MASTER" ] && kill -0 "$MASTER" || die "no nginx master after daemon start"
  for _ in $(seq 1 100); do
    "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $FRONT), 1)" 2>/dev/null &&
      return 0
    sleep 0.1
  done
  die "nginx does not accept connections on port $FRONT"
}

# show_hang PID...: what the processes and their children are doing, for a
# step that missed its deadline.
show_hang() {
  local p all=
  for p in "$@"; do all="$all $p $(pgrep -P "$p" | tr '\n' ' ')"; done
  # shellcheck disable=SC2086
  ps -o pid,ppid,user,stat,wchan:32,etime,cmd -p "$(echo $all | tr ' ' ',')" >&2 || true
  for p in $all; do
    log "--- /proc/$p/stack"
    cat "/proc/$p/stack" >&2 2>/dev/null || true
  done
}

# stop_master PID SECS WHAT: SIGQUIT (graceful stop); fails with show_hang
# unless PID has exited within SECS.
stop_master() {
  local pid=$1 secs=$2 what=$3
  kill -QUIT "$pid" || die "$what: master $pid is gone before SIGQUIT"
  for _ in $(seq 1 $((secs * 20))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  show_hang "$pid"
  die "$what: nginx master $pid did not exit within $secs s of SIGQUIT"
}

nginx_cleanup() {
  local rc=$? pid
  set +e
  for pid in $(old_master_pid) $(master_pid); do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$rc" != 0 ] && [ -f "$T/logs/error.log" ]; then
    log "--- error.log (tail)"
    tail -n 40 "$T/logs/error.log" >&2
  fi
  rm -rf "$T"
  exit "$rc"
}
