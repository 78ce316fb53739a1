#!/bin/sh
# SPDX-License-Identifier: MIT
# Debian packages: build them from the build tree with `cpack -G DEB`, check
# their contents and fields, unpack both into a scratch root (dpkg-deb -x:
# nothing of the real system is touched), run the unpacked shmrun on a
# program whose shared memory must be evicted under its limit, and render the
# unpacked shmrun.1.gz with man.
#
#   package_test.sh BINARY_DIR WORK_DIR WORKLOAD VERSION
#
# Needs root (unshare -m, to hide the build tree from the run): skipped (77)
# otherwise.
set -eu
binary_dir=$1 work=$2 workload=$3 version=$4
fail() { echo "FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" != 0 ]; then
  echo "skipped: needs root (unshare -m hides the build tree from the installed shmrun)"
  exit 77
fi
for tool in cpack dpkg-deb man unshare; do
  command -v $tool >/dev/null || fail "$tool not found (apt-get install cmake dpkg man-db groff-base util-linux)"
done

rm -rf "$work"
mkdir -p "$work/root"
cd "$binary_dir"
cpack -G DEB -B "$work/packages" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log" >&2; fail "cpack -G DEB"; }
arch=$(dpkg --print-architecture)
runtime=$work/packages/libshm_${version}_$arch.deb
dev=$work/packages/libshm-dev_${version}_$arch.deb
[ -f "$runtime" ] || fail "no $runtime: $(ls "$work/packages")"
[ -f "$dev" ] || fail "no $dev: $(ls "$work/packages")"

# Contents: each file in its package, and only there.
dpkg-deb -c "$runtime" | awk '{print $6}' | sed 's|^\./|/|' >"$work/runtime.list"
dpkg-deb -c "$dev" | awk '{print $6}' | sed 's|^\./|/|' >"$work/dev.list"
expect() {  # expect LIST REGEX...: each REGEX matches a line of LIST
  list=$1
  shift
  for re in "$@"; do
    grep -Eq "$re" "$work/$list.list" || fail "$list package lacks $re: $(cat "$work/$list.list")"
  done
}
refuse() {
  list=$1
  shift
  for re in "$@"; do
    ! grep -Eq "$re" "$work/$list.list" || fail "$list package holds $re"
  done
}
expect runtime '^/usr/bin/shmrun$' '^/usr/bin/shmstat$' '^/usr/libexec/libshm/shmd$' \
  '^/usr/lib/(.*/)?libshm\.so\.0$' '^/usr/lib/(.*/)?libshm_preload\.so$' \
  '^/usr/share/man/man1/shmrun\.1\.gz$' '^/usr/share/man/man1/shmstat\.1\.gz$' \
  '^/usr/share/man/man8/shmd\.8\.gz$'
refuse runtime '^/usr/include/' '\.a$' '/man3/' '/cmake/' '/pkgconfig/' 'libshm\.so$'
expect dev '^/usr/include/libshm/libshm\.h$' '^/usr/include/libshm/version\.h$' \
  '^/usr/lib/(.*/)?libshm\.a$' '^/usr/lib/(.*/)?libshm\.so$' \
  '^/usr/lib/(.*/)?cmake/libshm/libshmConfig\.cmake$' '^/usr/lib/(.*/)?pkgconfig/libshm\.pc$' \
  '^/usr/share/man/man3/libshm\.3\.gz$' '^/usr/share/man/man3/libshm_ctl\.3\.gz$'
refuse dev '^/usr/bin/' '/libexec/' '/man1/' '/man8/' 'libshm\.so\.0'

# Fields.
field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$runtime" Package)" = libshm ] || fail "runtime Package: $(field "$runtime" Package)"
[ "$(field "$dev" Package)" = libshm-dev ] || fail "dev Package: $(field "$dev" Package)"
[ "$(field "$runtime" Version)" = "$version" ] || fail "Version: $(field "$runtime" Version)"
[ -n "$(field "$runtime" Maintainer)" ] || fail "no Maintainer"
[ -n "$(field "$runtime" Description)" ] || fail "no Description"
field "$runtime" Depends | grep -q 'libc6' || fail "runtime Depends lacks libc6: $(field "$runtime" Depends)"
if grep -q 'libshm_heap\.so\.0$' "$work/runtime.list"; then  # the heap links jemalloc
  field "$runtime" Depends | grep -q 'libjemalloc2' ||
    fail "runtime Depends lacks libjemalloc2: $(field "$runtime" Depends)"
fi
field "$dev" Depends | grep -Fq "libshm (= $version)" ||
  fail "dev Depends lacks libshm (= $version): $(field "$dev" Depends)"

# Unpack and run.
dpkg-deb -x "$runtime" "$work/root"
dpkg-deb -x "$dev" "$work/root"
root=$work/root
libdir=$(dirname "$(ls "$root"/usr/lib/libshm.so.0 "$root"/usr/lib/*/libshm.so.0 2>/dev/null | head -1)")
for cmd in shmrun shmstat $([ -e "$root/usr/bin/shmsim" ] && echo shmsim); do
  [ "$("$root/usr/bin/$cmd" --version)" = "$cmd (libshm) $version" ] || fail "installed $cmd --version"
done
# The build tree is hidden (tmpfs over it, in a mount namespace of its own)
# so that the run cannot fall back on the compiled-in build-tree paths of
# shmd and the preload library: what runs is what the packages hold.
cp "$workload" "$work/workload"
LD_LIBRARY_PATH=$libdir unshare -m sh -c '
  mount -t tmpfs tmpfs "$1/libshm" && mount -t tmpfs tmpfs "$1/preload" &&
  [ ! -e "$1/libshm/shmd" ] && shift && exec "$@"' sh "$binary_dir" \
  "$root/usr/bin/shmrun" --limit 4M --stats="$work/stats.json" -- "$work/workload" 16 2 \
  >"$work/run.log" 2>&1 || { cat "$work/run.log" >&2; fail "installed shmrun"; }
number() { sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" "$work/stats.json" | head -1; }
swap_outs=$(number swap_outs)
faults=$(number faults)
[ "${faults:-0}" -gt 0 ] && [ "${swap_outs:-0}" -gt 0 ] ||
  fail "the installed shmrun did not manage the program's memory: $(cat "$work/stats.json")"

# The installed man page renders, without a warning.
LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z \
  "$root/usr/share/man/man1/shmrun.1.gz" >/dev/null 2>"$work/man.err" || fail "man shmrun.1.gz"
[ ! -s "$work/man.err" ] || fail "man warns: $(cat "$work/man.err")"
MANWIDTH=80 man -l "$root/usr/share/man/man1/shmrun.1.gz" | grep -q -- '--limit' ||
  fail "shmrun.1.gz does not render --limit"
echo "ok: $(basename "$runtime") $(basename "$dev"), faults=$faults swap_outs=$swap_outs"
