# SPDX-License-Identifier: MIT
"""Loopback load for nginx.sh: cached bodies checked against the origin's files.

usage: nginx_load.py PHASE PORT WWW [KEYS]
  bodies  every /f/<name> twice through the caching proxy: the first answer is
          a MISS, the second a HIT, both with the file's sha256
  keys    KEYS distinct cache keys (/k/small.bin?n=<i>): new nodes in the keys
          zone and in the per-URI limit_req zone; every body checked
  keyhits the same KEYS keys again: every one a HIT (their nodes are looked up)
  hits    every /f/<name> again: a HIT (after a reload) with the right sha256
Prints the request count and rate; exits 1 on the first wrong answer.
"""
import hashlib
import http.client
import os
import sys
import time


def main():
    phase, port, www = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    keys = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    files = sorted(os.listdir(os.path.join(www, "f")))
    want = {}
    for name in files + ["../small.bin"]:
        with open(os.path.join(www, "f", name), "rb") as f:
            want[name] = hashlib.sha256(f.read()).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    count = 0

    def get(path, name, status):
        nonlocal count, conn
        for attempt in range(3):
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                if attempt == 2:
                    raise
        count += 1
        got = hashlib.sha256(body).hexdigest()
        cache = r.getheader("X-Cache-Status")
        if r.status != 200 or got != want[name] or (status and cache not in status):
            print(f"{path}: HTTP {r.status}, cache {cache} (want {status}), "
                  f"sha256 {got[:16]} (want {want[name][:16]}), {len(body)} bytes",
                  file=sys.stderr)
            sys.exit(1)

    t0 = time.monotonic()
    if phase == "bodies":
        for name in files:
            get(f"/f/{name}", name, ("MISS",))
            get(f"/f/{name}", name, ("HIT",))
    elif phase == "keys":
        for i in range(keys):
            get(f"/k/small.bin?n={i}", "../small.bin", ("MISS",))
    elif phase == "keyhits":
        for i in range(keys):
            get(f"/k/small.bin?n={i}", "../small.bin", ("HIT",))
    elif phase == "hits":
        for name in files:
            get(f"/f/{name}", name, ("HIT",))
    else:
        sys.exit(f"unknown phase {phase}")
    dt = time.monotonic() - t0
    print(f"{phase}: {count} requests in {dt:.1f} s ({count / dt:.0f}/s), bodies checked")


if __name__ == "__main__":
    main()
