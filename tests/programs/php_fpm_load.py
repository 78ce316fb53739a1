# SPDX-License-Identifier: MIT
"""FastCGI load for php_fpm.sh: generated PHP scripts, every answer checked.

usage: php_fpm_load.py gen DIR COUNT
       php_fpm_load.py sweep SOCKET DIR COUNT [SAMPLE]
       php_fpm_load.py background SOCKET DIR COUNT STOPFILE
  gen         writes DIR/f<i>.php for i < COUNT: each script has its own
              constant string, constant array, function and class (opcache
              keeps all of them in its shared segment) and prints a line
              derived from them, which this file computes independently
  sweep       requests every script once (or a random SAMPLE of them), two
              connections at a time, and checks every answer; between
              reloads, so a connection error is a failure too
  background  requests random scripts from two threads until STOPFILE exists;
              meant to run across reloads: a connection error (refused, reset,
              closed before the end of the request: the pool being replaced)
              is retried, up to 30 s per request
An answer with a wrong body, a non-200 status or anything on FastCGI stderr is
a failure. Prints the request and retry counts; exits 1 on the first failure.
"""
import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN = 1, 3, 4, 5
FCGI_STDOUT, FCGI_STDERR = 6, 7
FCGI_RESPONDER = 1


# ---------------------------------------------------------------- the scripts
def constant_string(i):
    seed = hashlib.sha256(f"libshm-php-{i}".encode()).hexdigest()
    return (seed * 24)[: 1200 + i % 400]


def constant_array(i):
    rnd = random.Random(i)
    return [rnd.randrange(1 << 30) for _ in range(120 + i % 80)]


def fold(values, x):
    s = 0
    for k, v in enumerate(values):
        s = (s * 31 + v + k) % 1000000007
    return s ^ x


def expected(i):
    k, a = constant_string(i), constant_array(i)
    return f"f{i} {hashlib.md5(k.encode()).hexdigest()} {fold(a, i)} {len(k) + len(a)}\n"


def script(i):
    k, a = constant_string(i), constant_array(i)
    arr = ", ".join(str(v) for v in a)
    return f"""<?php
const K_{i} = '{k}';
function f_{i}($x) {{
    $a = [{arr}];
    $s = 0;
    foreach ($a as $k => $v) {{
        $s = ($s * 31 + $v + $k) % 1000000007;
    }}
    return $s ^ $x;
}}
class C_{i} {{
    public $p = [{arr}];
    public function m() {{ return strlen(K_{i}) + count($this->p); }}
}}
echo "f{i} ", md5(K_{i}), " ", f_{i}({i}), " ", (new C_{i})->m(), "\\n";
"""


def generate(root, count):
    os.makedirs(root, exist_ok=True)
    for i in range(count):
        with open(os.path.join(root, f"f{i}.php"), "w") as f:
            f.write(script(i))


# ---------------------------------------------------------------- FastCGI
def record(kind, req_id, content=b""):
    pad = -len(content) % 8
    return struct.pack("!BBHHBx", 1, kind, req_id, len(content), pad) + content + b"\0" * pad


def pair_len(n):
    return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)


def params(d):
    out = b""
    for k, v in d.items():
        k, v = k.encode(), v.encode()
        out += pair_len(len(k)) + pair_len(len(v)) + k + v
    return out


class ConnectionLost(Exception):
    pass


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionLost("closed before the end of the request")
        buf += chunk
    return buf


def fcgi_get(path, root, name):
    """One request on a new connection: (stdout bytes, stderr bytes, app status)."""
    script_path = os.path.join(root, name)
    env = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
        "REQUEST_METHOD": "GET", "SCRIPT_FILENAME": script_path, "SCRIPT_NAME": "/" + name,
        "REQUEST_URI": "/" + name, "QUERY_STRING": "", "DOCUMENT_ROOT": root,
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": "0",
    }
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect(path)
        p = params(env)
        s.sendall(record(FCGI_BEGIN_REQUEST, 1, struct.pack("!HB5x", FCGI_RESPONDER, 0)) +
                  record(FCGI_PARAMS, 1, p) + record(FCGI_PARAMS, 1) + record(FCGI_STDIN, 1))
        out, err = b"", b""
        while True:
            _, kind, _, length, pad = struct.unpack("!BBHHBx", recv_exact(s, 8))
            body = recv_exact(s, length + pad)[:length]
            if kind == FCGI_STDOUT:
                out += body
            elif kind == FCGI_STDERR:
                err += body
            elif kind == FCGI_END_REQUEST:
                app_status, proto_status = struct.unpack("!IB3x", body)
                if proto_status != 0:
                    raise ConnectionLost(f"protocol status {proto_status}")
                return out, err, app_status


class Client:
    def __init__(self, sock_path, root, retry):
        self.sock_path, self.root, self.retry = sock_path, root, retry
        self.lock = threading.Lock()
        self.requests = self.retries = 0
        self.failure = None

    def check(self, i):
        name = f"f{i}.php"
        deadline = time.monotonic() + 30
        while True:
            try:
                out, err, status = fcgi_get(self.sock_path, self.root, name)
                break
            except (OSError, ConnectionLost) as e:
                # The pool being replaced: the socket refuses or resets, or a
                # worker that was told to stop closes the connection. Retry.
                if not self.retry:
                    self.fail(f"{name}: connection error outside a reload: {e!r}")
                    return False
                if time.monotonic() > deadline:
                    self.fail(f"{name}: no answer within 30 s: {e!r}")
                    return False
                with self.lock:
                    self.retries += 1
                time.sleep(0.02)
        head, _, body = out.partition(b"\r\n\r\n")
        headers = head.decode(errors="replace").lower()
        want = expected(i).encode()
        if err or status != 0 or "status:" in headers or body != want:
            self.fail(f"{name}: app status {status}, headers {headers!r}, stderr {err[:300]!r}, "
                      f"body {body[:300]!r} (want {want!r})")
            return False
        with self.lock:
            self.requests += 1
        return True

    def fail(self, msg):
        with self.lock:
            if self.failure is None:
                self.failure = msg

    def run(self, order, stop=lambda: False):
        def worker(part):
            for i in part:
                if self.failure is not None or stop():
                    return
                self.check(i)
        threads = [threading.Thread(target=worker, args=(order[t::2],)) for t in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def main():
    mode = sys.argv[1]
    if mode == "gen":
        generate(sys.argv[2], int(sys.argv[3]))
        return
    sock_path, root, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = Client(sock_path, root, retry=mode == "background")
    rnd = random.Random()
    t0 = time.monotonic()
    if mode == "sweep":
        order = list(range(count))
        rnd.shuffle(order)
        if len(sys.argv) > 5:
            order = order[: int(sys.argv[5])]
        client.run(order)
    elif mode == "background":
        stop_file = sys.argv[5]
        stop = lambda: os.path.exists(stop_file)
        while not stop() and client.failure is None:
            client.run([rnd.randrange(count) for _ in range(200)], stop)
    else:
        sys.exit(f"unknown mode {mode}")
    dt = time.monotonic() - t0
    print(f"{mode}: {client.requests} answers checked in {dt:.1f} s "
          f"({client.requests / max(dt, 1e-9):.0f}/s), {client.retries} connection retries")
    if client.failure is not None:
        print(f"WRONG: {client.failure}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
