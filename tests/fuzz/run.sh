#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the fuzz preset (clang, libFuzzer, ASan+UBSan) and runs
# request_fuzzer for a bounded time on a copy of the seed corpus (the tree
# stays clean). Exits non-zero on any finding: a crash, a sanitizer report, a
# leak, a timeout (a hang of the helper) or a harness oracle. The inputs
# that failed are kept in build/fuzz/findings/.
#
#   tests/fuzz/run.sh [SECONDS] [libFuzzer flags...]     (default 60 s)
#
# Root (or CAP_SYS_PTRACE) gives the puppet full uffds and the uid-65534
# stranger; see docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=60
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r tests/fuzz/corpus/request_fuzzer "$work/corpus"
findings=build/fuzz/findings
mkdir -p "$findings"

# Symbolized stacks in reports (llvm-14 has the symbolizer; not in PATH by that name).
if [[ -z ${ASAN_SYMBOLIZER_PATH:-} && -x /usr/lib/llvm-14/bin/llvm-symbolizer ]]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
build/fuzz/tests/fuzz/request_fuzzer "$work/corpus" \
  -max_total_time="$seconds" -max_len=4096 -timeout=25 -rss_limit_mb=4096 -detect_leaks=1 \
  -dict=tests/fuzz/request_fuzzer.dict -artifact_prefix="$findings/" \
  -print_final_stats=1 "$@" >"$work/log" 2>&1 || status=$?

# The log without the progress lines, which only libFuzzer itself needs.
grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$work/log" || true
last=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1 || true)
echo "request_fuzzer: ${seconds}s, exit status ${status}; last progress line:"
echo "  ${last}"
count() { find "$1" -type f | wc -l; }
echo "  corpus: $(count "$work/corpus") inputs ($(count tests/fuzz/corpus/request_fuzzer) seeds)"
if [[ $status -ne 0 ]]; then
  echo "request_fuzzer: FINDING (inputs in $findings/):" >&2
  ls -l "$findings" >&2
  exit 1
fi
