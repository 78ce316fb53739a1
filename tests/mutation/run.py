#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Mutation run (issue 15): plants each defect of mutants.py, one at a time,
in a scratch copy of the tree, rebuilds it incrementally, runs the tests and
reports which defects the suite caught.

  tests/mutation/run.py                 every mutant (about 1-2 min each)
  tests/mutation/run.py --list          the mutants, and whether each still applies
  tests/mutation/run.py --only ID[,ID]  some of them
  tests/mutation/run.py --keep-scratch  keep the copy, its build and the logs

The scratch copy is `git archive <rev>` of this repository (committed files
only) in a new directory under /tmp, configured and built once with the debug
preset. The unmutated build runs every selected test first: a test that fails
there proves nothing about a mutant and is left out of the verdicts. Then,
per mutant: apply, `cmake --build --preset debug`, `ctest --preset debug
-I <the default set and its expected tests>`, restore the file. Processes left
running from the scratch build (a helper a broken build kept alive) are
killed by pid afterwards.

A mutant is *caught* when a test that passed unmutated fails. For each it
reports the fastest failing test, its time and its kind of failure:
`assert` (a test assertion failed and names what), `deadline` (a test's own
deadline fired, e.g. "timed out (killed)"), `crash` (a signal), `timeout`
(ctest killed it). Not run in CI: too slow. Results go to stdout, and as a
markdown table to --markdown (docs/testing.md carries the last full run).
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutants import MUTANTS  # noqa: E402

# The default fast set: every test of tests/unit, tests/integration and
# tests/security, and the preload shim's interpose_test, found by the test
# executable's path, but Ranges (minutes in Debug). Policy, programs,
# examples, install and the tools tests run only for a mutant whose `expect`
# names them.
DEFAULT_DIRS = ("/tests/unit/", "/tests/integration/", "/tests/security/",
                "/tests/preload/interpose_test")
DEFAULT_EXCLUDE = re.compile(r"^Ranges\.")

FAST_ENOUGH_S = 10.0  # issue 15: a planted defect fails a test within 10 s

# "  12/125 Test  #87: Name  # GetParam() = x ......   Passed    0.03 sec"; the
# status is also "***Failed", "***Timeout" or "Bus error***Exception:".
CTEST_LINE = re.compile(
    r"^\s*\d+/\d+ Test\s+#\d+: (?P<name>.+?) \.+\s*(?P<status>\S.*?)\s+(?P<secs>[\d.]+) sec\s*$")
GTEST_FAILURE = re.compile(r"^(?P<file>.*?):(?P<line>\d+): Failure$")
# What gtest prints around an assertion; the rest of a failure block is the
# test's own message.
GTEST_BOILERPLATE = re.compile(r"^(Value of:|Expected|  Actual:|\s)")


def log(msg):
    print(msg, flush=True)


def run(cmd, cwd, logfile=None, timeout=None):
    """Runs cmd; returns (returncode, output). Output also goes to logfile.
    In a session of its own: a mutant may make a test signal its process
    group, which must not end this run."""
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace", timeout=timeout, start_new_session=True)
    if logfile is not None:
        with open(logfile, "a") as f:
            f.write("$ " + " ".join(cmd) + "\n" + p.stdout + "\n")
    return p.returncode, p.stdout


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, stdout=subprocess.PIPE,
                          text=True).stdout


def check_mutant(m, text):
    """None if every edit of m applies exactly once to text, else why not."""
    for old, _ in m.edits:
        n = text.count(old)
        if n != 1:
            first = old.strip().splitlines()[0][:60]
            return f"stale mutant: snippet found {n} times ({first!r})"
    return None


def apply_mutant(m, text):
    for old, new in m.edits:
        text = text.replace(old, new, 1)
    return text


def scratch_processes(build_dir):
    """Pids of processes whose executable lives in build_dir (started by our tests)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            exe = os.readlink(f"/proc/{entry}/exe")
        except OSError:
            continue
        if exe.startswith(build_dir + "/"):
            pids.append(int(entry))
    return pids


def kill_leftovers(build_dir):
    pids = scratch_processes(build_dir)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)


def ctest_status(raw):
    """Passed, Failed, Timeout, Skipped, Not Run or "Exception: <what>"."""
    if "Exception" in raw:
        return "Exception: " + raw.split("***")[0].strip()
    return raw.strip("* ")


def gtest_message(output):
    """The first failure a gtest output names, in one line: where, and the
    test's own message (or the values it got)."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        mo = GTEST_FAILURE.match(line)
        if not mo:
            continue
        block = []
        for x in lines[i + 1:]:
            if GTEST_FAILURE.match(x) or x.startswith(("[  FAILED", "Google Test trace:")):
                break
            if not x.startswith("libshm:"):  # the helper's log, interleaved
                block.append(x)
        own = [x.strip() for x in block if x.strip() and not GTEST_BOILERPLATE.match(x)]
        value = [x[len("Value of:"):].strip() for x in block[:1] if x.startswith("Value of:")]
        if own:
            text = " ".join(own)
            if value:  # ASSERT_TRUE(expr) << "what": say both
                text = f"{value[0]} false: {text}"
        elif block and block[0].startswith("Expected equality of these values:"):
            # "  lhs\n    Which is: v\n  rhs": "lhs (= v) == rhs"
            terms = []
            for x in block[1:]:
                if x.startswith("    Which is:"):
                    terms[-1] += f" (= {x.split('Which is:', 1)[1].strip()})"
                elif x.startswith("  ") and x.strip():
                    terms.append(x.strip())
            text = "expected " + " == ".join(terms)
        else:
            text = " ".join(x.strip() for x in block[:3] if x.strip())
        return f"{os.path.basename(mo.group('file'))}:{mo.group('line')}: {text}"[:240]
    return ""


def failure_kind(status, output):
    if status == "Timeout":
        return "timeout"
    if status.startswith("Exception"):
        return "crash"
    msg = gtest_message(output)
    if "timed out" in msg or "did not finish" in msg:
        return "deadline"
    return "assert"


def list_tests(scratch):
    """{test name: (ctest number, command line)} of the configured build."""
    _, out = run(["ctest", "--preset", "debug", "--show-only=json-v1"], scratch)
    listed = json.loads(out[out.index("{"):])["tests"]
    return {t["name"]: (i + 1, " ".join(t.get("command") or [])) for i, t in enumerate(listed)}


def select(tests, regex, default=True):
    """The ctest numbers of the default set (if `default`) and of the tests
    whose name matches regex (Python syntax: CMake's own -R allows at most
    10 groups)."""
    pattern = re.compile(regex) if regex else None
    chosen = []
    for name, (number, command) in tests.items():
        if (default and any(d in command for d in DEFAULT_DIRS) and not DEFAULT_EXCLUDE.search(name)
                or pattern is not None and pattern.search(name)):
            chosen.append(number)
    return sorted(chosen)


def run_tests(scratch, numbers, junit, logfile, jobs, timeout):
    """Runs the tests numbered `numbers`; returns {test: (status, seconds, output)}."""
    if os.path.exists(junit):
        os.remove(junit)
    cmd = ["ctest", "--preset", "debug", "-j", str(jobs), "-I",
           "0,0,0," + ",".join(str(n) for n in numbers), "--timeout", str(timeout),
           "--output-junit", junit]
    _, out = run(cmd, scratch, logfile)
    results = {}
    for line in out.splitlines():
        mo = CTEST_LINE.match(line)
        if mo:
            results[mo.group("name").strip()] = [ctest_status(mo.group("status")),
                                                 float(mo.group("secs")), ""]
    if os.path.exists(junit):
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("name", "").strip()
            so = case.find("system-out")
            if name in results and so is not None and so.text:
                results[name][2] = so.text
    return {k: tuple(v) for k, v in results.items()}


def md_escape(s):
    return s.replace("|", "\\|").replace("\n", " ")


def verdict(r):
    """One word for a mutant's result."""
    if r["status"] != "ran":
        return r["status"]
    if not r["failed"]:
        return "MISSED"
    if all(f["kind"] == "timeout" for f in r["failed"]):
        return "caught (timeout only)"
    best = r["best"]
    if best["kind"] == "assert" and best["secs"] < FAST_ENOUGH_S:
        return "caught"
    return f"caught ({best['kind']}, {best['secs']:.1f} s)"


def best_failure(failed):
    """The fastest failure that names what went wrong (assert), else the fastest named
    one of any kind but a ctest timeout, else the fastest."""
    for kinds in (("assert",), ("assert", "deadline", "crash"), ("assert", "deadline", "crash",
                                                                   "timeout")):
        c = [f for f in failed if f["kind"] in kinds]
        if c:
            return min(c, key=lambda f: f["secs"])
    return None


def markdown(results, meta):
    out = []
    out.append(f"Mutation run of commit `{meta['commit']}` on {meta['date']} "
               f"({meta['host']}; {meta['elapsed_min']:.0f} min for {len(results)} mutants, "
               f"ctest -j{meta['jobs']}).\n")
    if meta["baseline_failures"]:
        out.append("Failing before any mutant (left out of the verdicts): " +
                   ", ".join(f"`{t}`" for t in sorted(meta["baseline_failures"])) + ".\n")
    out.append("| id | group | defect | result | fastest failing test (what it says) | time | "
               "failing tests | timeout only? |")
    out.append("|---|---|---|---|---|---|---|---|")
    for r in results:
        best = r.get("best")
        if best:
            first = f"`{best['test']}`" + (f": {md_escape(best['message'])}" if best["message"]
                                           else f" ({best['kind']})")
            t = f"{best['secs']:.2f} s"
        else:
            first, t = (md_escape(r.get("note", "")) or "-"), "-"
        failed = r.get("failed", [])
        timeout_only = ("yes" if failed and all(f["kind"] == "timeout" for f in failed)
                        else "no" if failed else "-")
        out.append(f"| {r['id']} | {r['group']} | {md_escape(r['what'])} | {verdict(r)} | {first} | "
                   f"{t} | {len(failed)} | {timeout_only} |")
    return "\n".join(out) + "\n"


def prepare_scratch(repo, rev, scratch, logfile, jobs):
    commit = git(repo, "rev-parse", "--short", rev).strip()
    stamp = os.path.join(scratch, ".mutation-commit")
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() != commit:
                sys.exit(f"{scratch} holds another commit than {commit}: use a new --scratch")
        log(f"reusing {scratch} ({commit})")
    else:
        if set(os.listdir(scratch)) - {"mutation-logs"}:
            sys.exit(f"{scratch} is not empty and not a scratch copy of this script")
        log(f"copying {rev} ({commit}) to {scratch}")
        archive = subprocess.Popen(["git", "-C", repo, "archive", rev], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", scratch], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            sys.exit("git archive failed")
        with open(stamp, "w") as f:
            f.write(commit + "\n")
    # Whatever an interrupted run left planted goes back to the committed text.
    for path in sorted({m.file for m in MUTANTS}):
        try:
            committed = git(repo, "show", f"{rev}:{path}")
        except subprocess.CalledProcessError:
            continue
        full = os.path.join(scratch, path)
        with open(full) as f:
            if f.read() != committed:
                log(f"restoring {path} in the scratch copy")
                with open(full, "w") as g:
                    g.write(committed)
    if not os.path.exists(os.path.join(scratch, "build", "debug", "CMakeCache.txt")):
        log("configuring (cmake --preset debug)")
        rc, out = run(["cmake", "--preset", "debug"], scratch, logfile)
        if rc != 0:
            sys.exit("configure failed:\n" + out[-3000:])
    log("building the unmutated tree")
    rc, out = run(["cmake", "--build", "--preset", "debug", "-j", str(jobs)], scratch, logfile)
    if rc != 0:
        sys.exit("the unmutated tree does not build:\n" + out[-3000:])
    return commit


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="list the mutants and whether they apply")
    ap.add_argument("--only", action="append", default=[], metavar="ID[,ID]",
                    help="run only these mutants (repeatable)")
    ap.add_argument("--keep-scratch", action="store_true",
                    help="keep the scratch copy, its build and the logs")
    ap.add_argument("--scratch", metavar="DIR",
                    help="scratch directory (reused if an earlier run made it; kept)")
    ap.add_argument("--rev", default="HEAD", help="revision to test (default HEAD)")
    ap.add_argument("--markdown", metavar="FILE", help="where to write the result table")
    ap.add_argument("--jobs", type=int, default=2, help="build and ctest parallelism (2)")
    ap.add_argument("--timeout", type=int, default=60,
                    help="ctest --timeout for tests without their own TIMEOUT (60)")
    args = ap.parse_args()

    repo = git(os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--show-toplevel").strip()
    only = {i for o in args.only for i in o.split(",") if i}
    unknown = only - {m.id for m in MUTANTS}
    if unknown:
        sys.exit("unknown mutant(s): " + ", ".join(sorted(unknown)))
    mutants = [m for m in MUTANTS if not only or m.id in only]

    if args.list:
        for m in mutants:
            try:
                text = git(repo, "show", f"{args.rev}:{m.file}")
                why = check_mutant(m, text)
            except subprocess.CalledProcessError:
                why = f"stale mutant: {m.file} not found"
            print(f"{m.id:30} {m.group:9} {m.file:36} {why or 'applies'}\n    {m.what}\n"
                  f"    expected: {m.expect}")
        return 0

    started = time.monotonic()
    made_scratch = args.scratch is None
    scratch = args.scratch or tempfile.mkdtemp(prefix="libshm-mutation-")
    os.makedirs(scratch, exist_ok=True)
    # Tests run parts of the build as nobody (restricted_test, the hostile
    # suite): mkdtemp's 0700 would hide the libraries from them.
    os.chmod(scratch, 0o755)
    scratch = os.path.abspath(scratch)
    logs = os.path.join(scratch, "mutation-logs")
    os.makedirs(logs, exist_ok=True)
    build_dir = os.path.join(scratch, "build", "debug")
    commit = prepare_scratch(repo, args.rev, scratch, os.path.join(logs, "prepare.log"),
                             args.jobs)

    # The unmutated build, on every test any selected mutant may run.
    tests = list_tests(scratch)
    union = "|".join(m.expect for m in mutants)
    log("running the selected tests on the unmutated build")
    base = run_tests(scratch, select(tests, union), os.path.join(logs, "baseline.junit.xml"),
                     os.path.join(logs, "baseline.log"), args.jobs, args.timeout)
    kill_leftovers(build_dir)
    if not base:
        sys.exit("no test ran on the unmutated build: see " + os.path.join(logs, "baseline.log"))
    baseline_failures = {t for t, (st, _, _) in base.items() if st not in ("Passed", "Skipped")}
    log(f"  {len(base)} tests, {len(baseline_failures)} failing unmutated: "
        + (", ".join(sorted(baseline_failures)) or "none"))

    results = []
    for k, m in enumerate(mutants, 1):
        t0 = time.monotonic()
        r = {"id": m.id, "group": m.group, "what": m.what, "file": m.file, "failed": []}
        path = os.path.join(scratch, m.file)
        with open(path) as f:
            original = f.read()
        why = check_mutant(m, original)
        if why:
            r.update(status="stale", note=why)
            results.append(r)
            log(f"[{k}/{len(mutants)}] {m.id}: {why}")
            continue
        prefix = os.path.join(logs, m.id)
        try:
            with open(path, "w") as f:
                f.write(apply_mutant(m, original))
            rc, out = run(["cmake", "--build", "--preset", "debug", "-j", str(args.jobs)],
                          scratch, prefix + ".build.log")
            r["build_s"] = time.monotonic() - t0
            if rc != 0:
                errors = [x for x in out.splitlines() if "error" in x][:2]
                r.update(status="build failed", note=" ".join(errors)[:200])
            else:
                numbers = select(tests, m.expect)
                got = run_tests(scratch, numbers, prefix + ".junit.xml", prefix + ".ctest.log",
                                args.jobs, args.timeout)
                r["status"] = "ran" if got else "no tests ran"
                r["tests"] = len(got)
                for test, (st, secs, output) in sorted(got.items()):
                    if st in ("Passed", "Skipped") or test in baseline_failures:
                        continue
                    r["failed"].append({"test": test, "status": st, "secs": secs,
                                        "kind": failure_kind(st, output),
                                        "message": gtest_message(output)})
                r["best"] = best_failure(r["failed"])
        finally:
            with open(path, "w") as f:
                f.write(original)
            r["leftovers_killed"] = kill_leftovers(build_dir)
        r["total_s"] = time.monotonic() - t0
        results.append(r)
        best = r.get("best")
        log(f"[{k}/{len(mutants)}] {m.id}: {verdict(r)}"
            + (f" - {best['test']} {best['secs']:.2f} s ({best['kind']})" if best else "")
            + f" [{r['total_s']:.0f} s]")

    # Leave the scratch build unmutated (an interrupted run is repaired at start).
    run(["cmake", "--build", "--preset", "debug", "-j", str(args.jobs)], scratch,
        os.path.join(logs, "prepare.log"))
    meta = {
        "commit": commit,
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "host": f"{os.cpu_count()} CPUs",
        "elapsed_min": (time.monotonic() - started) / 60,
        "jobs": args.jobs,
        "baseline_failures": sorted(baseline_failures),
    }
    table = markdown(results, meta)
    print()
    print(table)
    md = args.markdown or os.path.join(tempfile.gettempdir(), f"libshm-mutation-{commit}.md")
    with open(md, "w") as f:
        f.write(table)
    with open(os.path.join(logs, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    log(f"table written to {md}")
    if args.keep_scratch or not made_scratch:
        log(f"scratch copy, build and logs kept in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    missed = [r["id"] for r in results if verdict(r) == "MISSED"]
    if missed:
        log("missed: " + ", ".join(missed))
    return 1 if missed or any(r["status"] != "ran" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
