# SPDX-License-Identifier: MIT
# A daemon's life under shmrun (issue 10): it detaches from its launcher, lets
# the launcher exit (shmrun returns), waits, then maps shared memory; then
# re-execs itself and maps again; then re-execs itself with a scrubbed
# environment, as nginx's binary upgrade does (it keeps TZ and its own
# variables only), and maps again. After each map it asks the shim whether
# the region is managed and pushes it through the limit, and writes what it
# found to OUT. usage: session_life.py OUT [stage]
import ctypes, mmap, os, sys, time

out, stage = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "launch"
libc = ctypes.CDLL(None)


def managed_round(tag):
    size = 16 << 20  # 4x the 4M limit of the test
    m = mmap.mmap(-1, size)
    for i in range(0, size, 4096):
        m[i] = (i // 4096 + len(tag)) % 251
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    is_managed = getattr(libc, "libshm_is_managed", None)
    managed = bool(is_managed and is_managed(ctypes.c_void_p(addr)) == 1)
    ok = all(m[i] == (i // 4096 + len(tag)) % 251 for i in range(0, size, 4096))
    helper, size_of = ctypes.c_uint64(0), ctypes.c_size_t(8)
    ctl = getattr(libc, "libshm_ctl", None)
    if ctl:
        ctl(b"session.helper_pid", ctypes.byref(helper), ctypes.byref(size_of), None, 0)
    with open(out, "a") as f:
        f.write(f"{tag} managed={int(managed)} ok={int(ok)} helper={helper.value}\n")


if stage == "launch":
    if os.fork() == 0:  # the daemon
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        time.sleep(1.0)  # the launcher and shmrun are gone by now
        managed_round("first")
        os.execv(sys.executable, [sys.executable, __file__, out, "execd"])
    os._exit(0)  # the launcher leaves at once
elif stage == "execd":
    managed_round("after-exec")
    os.execve(sys.executable, [sys.executable, __file__, out, "scrubbed"], {"TZ": "UTC"})
elif stage == "scrubbed":
    managed_round("scrubbed-exec")
    with open(out, "a") as f:
        f.write("done\n")
