#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The man pages against what they document, parsed independently of
docs/man/mangen.py (which wrote them), and the commands' --version.

  man_test.py version --version-h H NAME=EXE...
      each EXE --version prints "NAME (libshm) X.Y.Z" (version.h), exit 0
  man_test.py pages --man-dir D --options F --ctl F --lib SO... NAME.N=EXE...
      - OPTIONS of NAME.N lists exactly the options of EXE --help
      - libshm.3 documents every LIBSHM_* row of options.def and no other,
        and every exported libshm_* function of each SO (nm -D)
      - libshm_ctl.3 lists exactly the names of docs/ctl.md's table
      - every page renders with man --warnings (lintian's check) without a
        message, and NAME.N.gz holds the same text as NAME.N
Prints every mismatch; exits 1 if there is one.
"""
import gzip
import os
import re
import subprocess
import sys

errors = []


def error(msg):
    errors.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def parse_pairs(args):
    return [a.split("=", 1) for a in args if "=" in a and not a.startswith("--")]


def flag(args, name, many=False):
    vals = [args[i + 1] for i, a in enumerate(args) if a == name]
    return vals if many else (vals[0] if vals else None)


def plain(roff):
    """Text of a roff line: fonts, \\%, \\& dropped, \\- as '-'."""
    s = re.sub(r"\\f[BIRP]", "", roff)
    return s.replace("\\%", "").replace("\\&", "").replace("\\-", "-").replace("\\e", "\\")


def sections(path):
    """{section name: [lines]} of a roff man page."""
    out, cur = {}, None
    for line in open(path).read().split("\n"):
        m = re.match(r'^\.SH\s+"?([^"]*)"?$', line)
        if m:
            cur = m.group(1)
            out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return out


def tp_heads(lines):
    """The tag lines of the .TP items."""
    return [plain(lines[i + 1]) for i, l in enumerate(lines[:-1]) if l == ".TP"]


def check_version(args):
    h = open(flag(args, "--version-h")).read()
    version = re.search(r'#define LIBSHM_VERSION_STRING "([^"]+)"', h).group(1)
    for name, exe in parse_pairs(args):
        r = run([exe, "--version"])
        want = f"{name} (libshm) {version}\n"
        if r.returncode != 0 or r.stdout != want:
            error(f"{name} --version: exit {r.returncode}, printed {r.stdout!r}, want {want!r}")


def help_options(text):
    names = set()
    for line in text.split("\n"):
        m = re.match(r"^  (-[^ ]+(?: [^ -][^ ]*)?(?:, -[^ ]+(?: [^ -][^ ]*)?)*)(?:  |$)", line)
        if m:
            names |= set(re.findall(r"(?:^|, )(--?[\w-]+)", m.group(1)))
    return names


def check_pages(args):
    man_dir = flag(args, "--man-dir")
    pages = {}
    for name in sorted(os.listdir(man_dir)):
        if re.fullmatch(r"[\w.]+\.[0-9]", name):
            pages[name] = os.path.join(man_dir, name)
    for want in ["libshm.3", "libshm_ctl.3"] + [p for p, _ in parse_pairs(args)]:
        if want not in pages:
            error(f"{want}: not generated in {man_dir}")
    if errors:
        return

    # Commands: OPTIONS == --help.
    for page, exe in parse_pairs(args):
        r = run([exe, "--help"])
        if r.returncode != 0:
            error(f"{exe} --help exited {r.returncode}")
            continue
        in_help = help_options(r.stdout)
        in_man = set()
        for head in tp_heads(sections(pages[page]).get("OPTIONS", [])):
            in_man |= set(re.findall(r"(?:^|, )(--?[\w-]+)", head))
        if not in_help:
            error(f"{exe} --help lists no options")
        if in_help != in_man:
            error(f"{page} OPTIONS differ from --help: only in --help {sorted(in_help - in_man)}, "
                  f"only in the page {sorted(in_man - in_help)}")

    # libshm.3: the variables of options.def, the exported functions.
    lib = sections(pages["libshm.3"])
    rows = re.findall(r"^OPTION\(\s*\w+\s*,\s*(\w+)\s*,", open(flag(args, "--options")).read(), re.M)
    want_env = {"LIBSHM_" + r for r in rows}
    have_env = {h.strip() for h in tp_heads(lib.get("ENVIRONMENT", []))}
    if not want_env or want_env != have_env:
        error(f"libshm.3 ENVIRONMENT differs from options.def: missing {sorted(want_env - have_env)}, "
              f"stale {sorted(have_env - want_env)}")
    documented = set()
    for line in lib.get("FUNCTIONS", []):
        m = re.match(r"^\\fB.*?\b(libshm_\w+)\s*\(", line)
        if m:
            documented.add(m.group(1))
    for so in flag(args, "--lib", many=True):
        r = run(["nm", "-D", "--defined-only", so])
        if r.returncode != 0:
            error(f"nm -D {so}: {r.stderr.strip()} (apt-get install binutils)")
            continue
        exported = set(re.findall(r"^\S+ [TW] (libshm_\w+)(?:@@?\w+)?$", r.stdout, re.M))
        if not exported:
            error(f"{so} exports no libshm_ function")
        missing = exported - documented
        if missing:
            error(f"libshm.3 does not document {sorted(missing)}, exported by {os.path.basename(so)}")

    # libshm_ctl.3: docs/ctl.md's table.
    names_md = set()
    for line in open(flag(args, "--ctl")):
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) == 4 and cells[0].startswith("`"):
            names_md.add(cells[0].strip("`"))
    names_man = {re.sub(r" \(.*", "", h) for h in tp_heads(sections(pages["libshm_ctl.3"]).get("NAMES", []))}
    if not names_md or names_md != names_man:
        error(f"libshm_ctl.3 NAMES differ from docs/ctl.md: missing {sorted(names_md - names_man)}, "
              f"stale {sorted(names_man - names_md)}")

    # Rendering, as lintian checks it, and the installed .gz.
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    for page, path in pages.items():
        r = run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path], env=env)
        if r.returncode != 0 or r.stderr:
            error(f"{page}: man --warnings: exit {r.returncode}: {r.stderr.strip()}")
        text = subprocess.run(["man", "-l", path], capture_output=True, env=env).stdout
        if len(text) < 500:
            error(f"{page}: renders to only {len(text)} bytes")
        try:
            with gzip.open(path + ".gz") as z:
                if z.read() != open(path, "rb").read():
                    error(f"{page}.gz differs from {page}")
        except OSError as e:
            error(f"{page}.gz: {e}")


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    {"version": check_version, "pages": check_pages}[mode](args)
    if errors:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
