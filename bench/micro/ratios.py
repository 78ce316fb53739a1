#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tabulates libshm_micro JSON runs: medians and libshm/baseline ratios.

usage: ratios.py [--label NAME=GLOB ...] RUN.json [RUN.json ...]

Every run is one process that ran every benchmark once, so each libshm case
and its baseline come from the same run. For each benchmark the table gives
the median over runs (and the min-max range); each ratio is computed inside
one run and the median of those per-run ratios is shown (with its range).
Throughput ratios are libshm/baseline (1.0 = as fast as the baseline,
higher is better); latency ratios are libshm p50 / baseline p50 (lower is
better).
"""
import json
import statistics
import sys

# (row, libshm benchmark, baseline benchmark, note)
PAIRS = [
    ("first touch, sequential 4 KiB writes", "first_touch_seq/libshm", "first_touch_seq/kernel", ""),
    ("first touch, random 4 KiB writes", "first_touch_random/libshm", "first_touch_random/kernel", ""),
    ("refault from swap, sequential 4 KiB reads", "refault_seq/libshm",
     "refault_seq/kernel_first_touch", "baseline: kernel first touch (read)"),
    ("refault from swap, random 4 KiB reads", "refault_random/libshm",
     "refault_random/kernel_first_touch", "baseline: kernel first touch (read)"),
    ("resident, random 8-byte read + increment", "resident_random_rw/libshm",
     "resident_random_rw/kernel", "ops/s"),
    ("first write after msync (one word per page)", "first_write_after_msync/libshm",
     "first_write_after_msync/kernel_rewrite", "baseline: plain stores to written pages"),
    ("first write after msync (one word per page)", "first_write_after_msync/libshm",
     "first_write_after_msync/raw_uffd_wp", "baseline: raw uffd WP round trip, handler thread"),
    ("first write after msync (one word per page)", "first_write_after_msync/libshm",
     "first_write_after_msync/raw_uffd_wp_cross_cpu",
     "baseline: the same, handler pinned to the other CPU"),
    ("msync(MS_SYNC) of 64 MiB dirty", "msync_dirty_64M/libshm", "msync_dirty_64M/kernel_noop",
     "kernel msync on shared anon is a no-op"),
    ("msync(MS_SYNC) of 64 MiB dirty", "msync_dirty_64M/libshm",
     "msync_dirty_64M/pwrite_fdatasync", "baseline: pwrite + fdatasync of 64 MiB, same fs"),
]

TIME_SCALE = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def short_name(name):
    """Drops the /iterations:N/manual_time suffixes."""
    return "/".join(p for p in name.split("/") if not p.startswith("iterations:")
                    and p not in ("manual_time", "real_time"))


def load(path):
    """{benchmark: {rate, unit, us_per_page, p50_us, p99_us}} of one run."""
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for b in doc["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        if b.get("error_occurred"):
            sys.exit(f"{path}: {b['name']} failed: {b.get('error_message')}")
        seconds = b["real_time"] * TIME_SCALE[b["time_unit"]]  # manual time per iteration
        r = {}
        if "ops" in b:
            r["rate"], r["unit"] = b["ops"] / seconds, "Mops/s"
        else:
            r["rate"], r["unit"] = b["bytes"] / seconds, "MB/s"
            r["us_per_page"] = seconds / b["pages"] * 1e6
        for k in ("p50_us", "p99_us"):
            if k in b:
                r[k] = b[k]
        out[short_name(b["name"])] = r
    return doc["context"], out


def fmt(x):
    if x is None:
        return "–"
    if x >= 1e5:
        return f"{x:.3g}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    if x >= 0.01:
        return f"{x:.3f}"
    return f"{x:.2g}"


def med_range(values):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    m = statistics.median(values)
    if len(values) == 1:
        return fmt(m)
    return f"{fmt(m)} ({fmt(min(values))}–{fmt(max(values))})"


def table(label, runs):
    names = []
    for _, r in runs:
        for n in r:
            if n not in names:
                names.append(n)
    lines = []
    if label:
        lines.append(f"### {label}\n")
    loads = [c.get("load_avg", [None])[0] for c, _ in runs]
    loads = [x for x in loads if x is not None]
    load = f" 1-minute load average at the start of each run: {fmt(min(loads))}–{fmt(max(loads))}." if loads else ""
    lines.append(f"Medians of {len(runs)} runs (min–max in parentheses).{load}\n")
    lines.append("| benchmark | throughput | µs per 4 KiB page | p50 µs | p99 µs |")
    lines.append("|---|---|---|---|---|")
    for n in names:
        rows = [r[n] for _, r in runs if n in r]
        unit = rows[0]["unit"]
        scale = 1e-6
        lines.append(
            f"| `{n}` | {med_range([x['rate'] * scale for x in rows])} {unit} "
            f"| {med_range([x.get('us_per_page') for x in rows])} "
            f"| {med_range([x.get('p50_us') for x in rows])} "
            f"| {med_range([x.get('p99_us') for x in rows])} |")
    lines.append("")
    lines.append("| row | baseline | libshm / baseline throughput | libshm / baseline p50 | note |")
    lines.append("|---|---|---|---|---|")
    for row, lib, base, note in PAIRS:
        ratios, p50s = [], []
        for _, r in runs:
            if lib in r and base in r:
                ratios.append(r[lib]["rate"] / r[base]["rate"])
                if "p50_us" in r[lib] and "p50_us" in r[base] and r[base]["p50_us"] > 0:
                    p50s.append(r[lib]["p50_us"] / r[base]["p50_us"])
        if not ratios:
            continue
        lines.append(f"| {row} | `{base.split('/')[-1]}` | {med_range(ratios)}× "
                     f"| {med_range(p50s) + '×' if p50s else '–'} | {note} |")
    lines.append("")
    return "\n".join(lines)


def main(argv):
    label = ""
    groups = {}
    order = []
    for a in argv:
        if a.startswith("--label="):
            label = a.split("=", 1)[1]
            continue
        groups.setdefault(label, []).append(a)
        if label not in order:
            order.append(label)
    if not groups:
        sys.exit(__doc__)
    for g in order:
        runs = [load(p) for p in groups[g]]
        print(table(g, runs))


if __name__ == "__main__":
    main(sys.argv[1:])
