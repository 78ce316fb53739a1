#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mangen: fills a man page template from the sources it documents.

Each man page is a roff template (docs/man/*.in) whose generated parts are
placeholders; every generated part has one source, so the page cannot drift
from it:

  @VERSION@           the project version (--version)
  @SYNOPSIS@          the `usage:` lines of `EXE --help`        (--help-exe)
  @DESCRIPTION@       the prose of `EXE --help`                 (--help-exe)
  @OPTIONS@           the option lines of `EXE --help`          (--help-exe)
  @FUNCTIONS@         every LIBSHM_EXPORT declaration of the headers with the
                      comment above it, and each header's file comment (--header)
  @ENVIRONMENT@       every row of libshm/src/options.def       (--options)
  @CTL_DESCRIPTION@   the prose of docs/ctl.md                  (--ctl)
  @CTL_NAMES@         the table of docs/ctl.md                  (--ctl)

--help format (help2man-like): `usage: CMD ...` lines, continued by indented
lines; prose at column 0; `  -x, --opt ARG   text` option lines whose text
continues on lines indented further; `heading:` lines at column 0 start a
group of options; other lines indented by two are kept verbatim.
A template placeholder whose source is missing, an exported function with
no comment, or an unparsable line is an error: the build stops.
"""
import argparse
import gzip
import os
import re
import subprocess
import sys


def fail(msg):
    sys.exit("mangen: " + msg)


def esc(text):
    """Escapes text for a roff text line (no request at its start)."""
    text = text.replace("\\", "\\e")
    # A hyphen that starts a word is an option dash or a minus: \- renders
    # as one and copies as ASCII '-'.
    # Every hyphen of a word that starts with one (an option, a negative
    # errno) is \-: it renders and copies as ASCII '-', not as a hyphen.
    text = re.sub(r"(?:(?<=^)|(?<=[\s(\[|=,'/]))-[-\w]*",
                  lambda m: m.group(0).replace("-", "\\-"), text)
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def bold(text):
    return "\\fB\\%" + esc(text) + "\\fR"  # \% : never hyphenated


# ---- --help ---------------------------------------------------------------

def parse_help(text, name):
    synopsis, description, groups = [], [], []
    group = None  # [heading, items]; an item is [spec, text] or [None, verbatim]
    lines = text.rstrip("\n").split("\n")
    if not lines or not lines[0].startswith("usage: "):
        fail(f"{name} --help does not start with 'usage: '")
    i = 0
    while i < len(lines) and (i == 0 or lines[i].startswith(" ")):
        body = lines[i][len("usage: "):] if i == 0 else lines[i].strip()
        if i == 0 or body.startswith(name + " ") or body == name:
            synopsis.append(body)
        else:
            synopsis[-1] += " " + body
        i += 1
    while i < len(lines):
        line = lines[i]
        i += 1
        m = re.match(r"^  (-\S.*?)(?:\s{2,}(\S.*))?$", line)
        if m:
            if group is None:
                group = ["", []]
                groups.append(group)
            group[1].append([m.group(1), m.group(2) or ""])
            while i < len(lines) and re.match(r"^ {4,}\S", lines[i]):
                group[1][-1][1] = (group[1][-1][1] + " " + lines[i].strip()).strip()
                i += 1
        elif line == "":
            if description and description[-1] != "":
                description.append("")
        elif re.match(r"^  \S", line):
            if group is None:
                description.append("\0" + line.strip())  # verbatim, in the prose
            else:
                group[1].append([None, line[2:]])
        elif not line.startswith(" ") and line.endswith(":"):
            group = [line[:-1], []]
            groups.append(group)
        elif not line.startswith(" "):
            description.append(line)
            group = None
        else:
            fail(f"{name} --help: cannot place line {i}: {line!r}")
    return synopsis, description, groups


def roff_paragraphs(lines, inline=None):
    inline = inline or esc
    out, para, verbatim = [], [], []

    def flush():
        if para:
            out.append(".PP")
            out.append(inline(" ".join(para)))
            para.clear()
        if verbatim:
            out.extend([".PP", ".RS 4", ".nf"] + [esc(v) for v in verbatim] + [".fi", ".RE"])
            verbatim.clear()

    for line in lines:
        if line == "":
            flush()
        elif line.startswith("\0"):
            if para:
                flush()
            verbatim.append(line[1:])
        else:
            if verbatim:
                flush()
            para.append(line)
    flush()
    return out


def roff_synopsis(synopsis):
    out = []
    for s in synopsis:
        cmd, _, rest = s.partition(" ")
        out += [".SY " + cmd, esc(rest), ".YS"]
    return out


def roff_options(groups):
    out = []
    for heading, items in groups:
        if heading:
            out.append(".SS " + esc(heading[0].upper() + heading[1:]))
        verbatim = []
        for spec, text in items:
            if spec is None:
                verbatim.append(text)
                continue
            if verbatim:
                out += [".PP", ".nf"] + [esc(v) for v in verbatim] + [".fi"]
                verbatim = []
            out += [".TP", roff_spec(spec), esc(text)]
        if verbatim:
            out += [".PP", ".RS 4", ".nf"] + [esc(v) for v in verbatim] + [".fi", ".RE"]
    return out


def roff_spec(spec):
    """'--limit SIZE' -> bold option, italic argument; '-h, --help' kept."""
    parts = []
    for alt in spec.split(", "):
        m = re.match(r"^(-[-\w]+)(?:(=|\[=| )(\S+))?$", alt)
        if not m:
            fail(f"cannot parse option {alt!r} (two spaces or more between an option and its text)")
        opt, sep, arg = m.group(1), m.group(2) or "", m.group(3) or ""
        s = "\\fB" + esc(opt) + "\\fR"
        if arg:
            s += esc(sep) + "\\fI" + esc(arg.rstrip("]")) + "\\fR" + ("]" if sep == "[=" else "")
        parts.append(s)
    return ", ".join(parts)


# ---- headers ----------------------------------------------------------------

DECL = re.compile(r"(/\*(?:(?!\*/).)*\*/)?\s*^(LIBSHM_EXPORT\s[^;]*;)", re.S | re.M)


def comment_text(comment):
    body = comment[2:-2]
    lines = [re.sub(r"^\s*\* ?", "", l) for l in body.split("\n")]
    return [l.rstrip() for l in lines]


def parse_header(path):
    text = open(path).read()
    m = re.match(r"\s*(/\*(?:(?!\*/).)*\*/)", text, re.S)
    intro = [l for l in comment_text(m.group(1)) if "SPDX-License-Identifier" not in l] if m else []
    entries, last_end = [], None
    for m in DECL.finditer(text):
        decl = " ".join(m.group(2)[len("LIBSHM_EXPORT"):].split())
        fn = re.search(r"(libshm_\w+)\s*\(", decl)
        if not fn:
            fail(f"{path}: no libshm_ function in {decl!r}")
        if m.group(1):
            entries.append([[decl], comment_text(m.group(1))])
        elif last_end is not None and text[last_end:m.start(2)].strip() == "" and entries:
            entries[-1][0].append(decl)  # a group under one comment
        else:
            fail(f"{path}: {fn.group(1)} has no comment above it (the man page needs one)")
        last_end = m.end()
    return intro, entries


def roff_functions(headers):
    out = []
    for path in headers:
        intro, entries = parse_header(path)
        out.append(".SS <libshm/" + os.path.basename(path) + ">")
        out += roff_paragraphs(strip_lines(intro), md_inline)
        for decls, doc in entries:
            out += [".PP", ".nf"] + [bold(d) for d in decls] + [".fi", ".RS 4"]
            out += roff_paragraphs(strip_lines(doc), md_inline)[1:]
            out.append(".RE")
    return out


def strip_lines(lines):
    """Comment lines stripped, leading blank ones dropped."""
    out = [l.strip() for l in lines]
    while out and out[0] == "":
        out.pop(0)
    return out


# ---- options.def ------------------------------------------------------------

def split_args(s):
    args, depth, cur, quote = [], 0, "", False
    for i, c in enumerate(s):
        if quote:
            cur += c
            if c == '"' and s[i - 1] != "\\":
                quote = False
        elif c == '"':
            quote, cur = True, cur + c
        elif c == "(":
            depth, cur = depth + 1, cur + c
        elif c == ")":
            depth, cur = depth - 1, cur + c
        elif c == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += c
    args.append(cur.strip())
    return args


def parse_options(path):
    rows = []
    for line in open(path):
        if not line.startswith("OPTION("):
            continue
        args = split_args(line.strip()[len("OPTION("):-1])
        if len(args) != 8:
            fail(f"{path}: expected 8 columns: {line.strip()}")
        rows.append(args)
    if not rows:
        fail(f"{path}: no OPTION rows")
    return rows


def c_string(lit):
    if not (lit.startswith('"') and lit.endswith('"')):
        fail(f"not a string literal: {lit}")
    return lit[1:-1].replace('\\"', '"')


def c_number(expr):
    expr = re.sub(r"(\d+)[uUlL]+", r"\1", expr)
    if not re.fullmatch(r"[\d\s<>()+*-]+", expr):
        fail(f"cannot evaluate default {expr!r}")
    return int(eval(expr))  # digits and shifts only, checked above


def size_text(n):
    for unit, shift in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if n and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def roff_environment(path):
    out = []
    for field, env, typ, default, _lo, _hi, form, desc in parse_options(path):
        if typ == "kString":
            d = c_string(default)
            dtext = bold(d) if d else "unset"
        elif typ == "kSize":
            dtext = bold(size_text(c_number(default)))
        elif typ == "kBool":
            dtext = bold("1" if c_number(default) else "0")
        else:
            dtext = bold(str(c_number(default)))
        desc = c_string(desc)
        out += [".TP", bold("LIBSHM_" + env),
                esc(desc[0].upper() + desc[1:] + "."),
                esc("Value: " + c_string(form).rstrip(".") + ".") + " Default: " + dtext + ".",
                "Read back as " + bold("opt." + field) + " with \\%libshm_ctl(3)."]
    return out


# ---- docs/ctl.md ---------------------------------------------------------------

def md_inline(text):
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(bold(p[1:-1]) if p.startswith("`") else esc(p) for p in parts)


def parse_ctl(path):
    prose, rows = [], []
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("# "):
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) != 4:
                fail(f"{path}: expected 4 columns: {line}")
            if cells[0] == "name" or set(cells[0]) <= set("-: "):
                continue
            rows.append(cells)
        else:
            prose.append(line)
    if not rows:
        fail(f"{path}: no table of names")
    return prose, rows


def roff_ctl_description(path):
    prose, _ = parse_ctl(path)
    out, para = [], []
    for line in prose + [""]:
        if line.strip() == "":
            if para:
                out += [".PP", " ".join(md_inline(p) for p in para)]
                para = []
        else:
            para.append(line.strip())
    return out


def roff_ctl_names(path):
    _, rows = parse_ctl(path)
    out = []
    for name, typ, access, meaning in rows:
        out += [".TP", md_inline(name) + " (" + esc(typ) + ", " + md_inline(access) + ")",
                md_inline(meaning[0].upper() + meaning[1:]) + "."]
    return out


# ---- main ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--template", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--help-exe")
    ap.add_argument("--name", help="the command name in --help (default: the exe's)")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--options")
    ap.add_argument("--ctl")
    ap.add_argument("--gzip", action="store_true", help="also write OUT.gz")
    a = ap.parse_args()

    parts = {"VERSION": lambda: [esc(a.version)]}
    if a.help_exe:
        name = a.name or os.path.basename(a.help_exe)
        r = subprocess.run([a.help_exe, "--help"], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"{a.help_exe} --help exited {r.returncode}: {r.stderr}")
        syn, desc, groups = parse_help(r.stdout, name)
        parts["SYNOPSIS"] = lambda: roff_synopsis(syn)
        parts["DESCRIPTION"] = lambda: roff_paragraphs(desc)
        parts["OPTIONS"] = lambda: roff_options(groups)
    if a.header:
        parts["FUNCTIONS"] = lambda: roff_functions(a.header)
    if a.options:
        parts["ENVIRONMENT"] = lambda: roff_environment(a.options)
    if a.ctl:
        parts["CTL_DESCRIPTION"] = lambda: roff_ctl_description(a.ctl)
        parts["CTL_NAMES"] = lambda: roff_ctl_names(a.ctl)

    out = []
    for line in open(a.template).read().rstrip("\n").split("\n"):
        m = re.fullmatch(r"@(\w+)@", line)
        if m:
            if m.group(1) not in parts:
                fail(f"{a.template}: no source given for @{m.group(1)}@")
            out += parts[m.group(1)]()
        elif "@VERSION@" in line:
            out.append(line.replace("@VERSION@", a.version))
        elif re.search(r"@\w+@", line) and not line.startswith('.\\"'):
            fail(f"{a.template}: a placeholder must be alone on its line: {line}")
        else:
            out.append(line)
    text = "\n".join(out) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    if a.gzip:
        # mtime=0 and no file name: the same page gives the same bytes.
        with open(a.out + ".gz", "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as z:
                z.write(text.encode())


if __name__ == "__main__":
    main()
