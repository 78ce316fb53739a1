#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tabulates bench/fast results: the issue-5 table with a measured column.

usage: report.py DIR

DIR holds <case>-<pin>-<run>.json files written by libshm_fast (one JSON
object each) and, if pgbench ran, pgbench.csv (config,run,tps,...). Every
ratio is computed per run (libshm and its baseline measured in the same
process, right after each other) and the table shows the median of those
per-run ratios, their range and the medians of the two measurements.
"""
import csv
import glob
import json
import os
import statistics
import sys


def load(d):
    runs = {}
    for f in sorted(glob.glob(os.path.join(d, "*.json"))):
        with open(f) as fh:
            text = fh.read().strip()
        if not text:
            continue
        obj = json.loads(text.splitlines()[-1])
        if "case" not in obj:  # e.g. a pgbench session's stats file
            continue
        key = obj["case"] if obj.get("variant", "default") == "default" else \
            obj["case"] + ":" + obj["variant"]
        runs.setdefault((key, obj.get("pin", "none")), []).append(obj)
    return runs


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(x, unit=""):
    if x != x:  # nan
        return "—"
    if abs(x) >= 100:
        s = "%.0f" % x
    elif abs(x) >= 10:
        s = "%.1f" % x
    else:
        s = "%.2f" % x
    return s + unit


# (label, case, pin, libshm key, baseline key, ratio key, unit, target, higher is better, baseline text)
ROWS = [
    ("random reads and writes over a resident region", "resident", "none",
     "libshm_ns_per_op", "kernel_ns_per_op", "ratio", " ns/op", 0.98, True,
     "kernel MAP_SHARED\\|MAP_ANONYMOUS, same ops (ratio = kernel time / libshm time)"),
    ("  the same, LIBSHM_SAMPLE_RATE=0 (diagnostic)", "resident:nosample", "none",
     "libshm_ns_per_op", "kernel_ns_per_op", "ratio", " ns/op", 0.98, True, "same"),
    ("first touch of a fresh region, sequential 4 KiB writes", "first_touch", "none",
     "seq_libshm_mbps", "seq_kernel_mbps", "seq_ratio", " MB/s", 1.0, True,
     "kernel first touch, same order"),
    ("first touch, random 4 KiB writes", "first_touch", "none",
     "random_libshm_mbps", "random_kernel_mbps", "random_ratio", " MB/s", 0.5, True,
     "kernel first touch, same order"),
    ("  random, prototype: zero clusters of 64 pages on the 2nd fault (raw pager, not libshm)",
     "first_touch", "none", "random_proto_c64_t2_mbps", "random_kernel_mbps", None, " MB/s", 0.5,
     True, "same"),
    ("sequential read of a fully evicted region (swap file in page cache)", "evicted_read", "none",
     "libshm_evicted_read_mbps", "kernel_first_touch_read_mbps", "ratio", " MB/s", 1.0, True,
     "kernel first-touch read, same loop"),
    ("random 4 KiB refault, p50 latency", "refault", "none",
     "libshm_p50_us", "raw_rt_pread_p50_us", "ratio", " µs", 1.25, False,
     "raw uffd round trip (handler process, UFFDIO_COPY) + 4 KiB pread from /var/tmp"),
    ("  the same, every process pinned to one CPU", "refault", "same",
     "libshm_p50_us", "raw_rt_pread_p50_us", "ratio", " µs", 1.25, False, "same, pinned"),
    ("  the same, pager on the other CPU", "refault", "split",
     "libshm_p50_us", "raw_rt_pread_p50_us", "ratio", " µs", 1.25, False, "same, split"),
    ("first write to a clean page, p50", "first_write", "none",
     "libshm_p50_us", "raw_wp_p50_us", "ratio", " µs", 1.25, False,
     "raw sync WP round trip (handler process un-protects)"),
    ("  the same, every process pinned to one CPU", "first_write", "same",
     "libshm_p50_us", "raw_wp_p50_us", "ratio", " µs", 1.25, False, "same, pinned"),
    ("  the same, pager on the other CPU", "first_write", "split",
     "libshm_p50_us", "raw_wp_p50_us", "ratio", " µs", 1.25, False, "same, split"),
    ("sequential eviction of dirty pages (evict.run + fdatasync)", "evict_dirty", "none",
     "libshm_evict_fdatasync_mbps", "disk_odirect_1m_mbps", "ratio", " MB/s", 0.7, True,
     "O_DIRECT 1 MiB sequential writes + fdatasync, /var/tmp (ext4)"),
    ("  the same, evict.run alone (writes left in the page cache)", "evict_dirty", "none",
     "libshm_evict_mbps", "disk_odirect_1m_mbps", "ratio_evict_only", " MB/s", 0.7, True,
     "same"),
]


def verdict(r, target, higher):
    if r != r:
        return "—"
    ok = r >= target if higher else r <= target
    return "pass" if ok else "**miss**"


def main():
    d = sys.argv[1]
    runs = load(d)
    out = []
    out.append("| what | target | libshm (median) | baseline (median) | ratio: median [min–max] | runs | verdict | baseline |")
    out.append("|---|---|---|---|---|---|---|---|")
    for (label, case, pin, lk, bk, rk, unit, target, higher, btext) in ROWS:
        rs = runs.get((case, pin), [])
        if not rs:
            continue
        ratios = [r[rk] if rk else r[lk] / r[bk] for r in rs]
        m = med(ratios)
        tgt = ("≥ %.2f×" if higher else "≤ %.2f×") % target
        out.append("| %s | %s | %s | %s | %.3f× [%.3f–%.3f] | %d | %s | %s |" % (
            label, tgt, fmt(med([r[lk] for r in rs]), unit), fmt(med([r[bk] for r in rs]), unit),
            m, min(ratios), max(ratios), len(rs), verdict(m, target, higher), btext))
    clean = runs.get(("evict_clean", "none"), [])
    if clean:
        ok = all(r["after_msync_no_io"] == 1 and r["after_read_refault_no_io"] == 1 for r in clean)
        tot = lambda k: sum(r["after_msync_" + k] + r["after_read_refault_" + k] for r in clean)
        pages = sum(r["after_msync_clean_evictions"] + r["after_read_refault_clean_evictions"]
                    for r in clean)
        out.append(
            "| eviction of clean pages | no swap I/O | %d clean pages evicted: writeback_bytes %d, "
            "swap_outs %d, helper write_bytes %d, write syscalls %d, swap file blocks +%d | — | — | %d | %s | "
            "stats + helper /proc/<pid>/io + swap file st_blocks/size, around evict.run |" % (
                pages, tot("writeback_bytes"), tot("swap_outs"), tot("helper_write_bytes"),
                tot("helper_write_syscalls"), tot("swap_file_blocks_delta"), len(clean),
                "pass" if ok else "**miss**"))
    pg = os.path.join(d, "pgbench.csv")
    if os.path.exists(pg):
        rows = list(csv.DictReader(open(pg)))
        tps = {(r["config"], r["run"]): float(r["tps"]) for r in rows}
        PG_ROWS = [
            ("shim_within", "native_within",
             "PostgreSQL pgbench, shared_buffers within the limit, under the shim", 0.95,
             "the same server natively, same shared_buffers (its pair in the run)"),
            ("shim_4x", "native_at_limit",
             "  pgbench, shared_buffers 4× the limit, under the shim", None,
             "no libshm, shared_buffers = the limit (its pair in the run)"),
            ("native_at_limit", "native_within",
             "  pgbench, no libshm, shared_buffers = the limit", None,
             "native, shared_buffers within the limit (other pair, ~1 min apart)"),
            ("shim_within_nosample", "shim_within",
             "  shim, shared_buffers within the limit, LIBSHM_SAMPLE_RATE=0 (diagnostic)", None,
             "shim_within, default sampling (its pair in the run)"),
        ]
        for cfg, base, label, target, btext in PG_ROWS:
            pairs = [(t, tps[(base, run)]) for (c, run), t in tps.items()
                     if c == cfg and (base, run) in tps]
            if not pairs:
                continue
            ratios = [a / b for a, b in pairs]
            m = med(ratios)
            tgt = ("≥ %.2f×" % target) if target else "(reported)"
            v = verdict(m, target, True) if target else "—"
            out.append("| %s | %s | %s TPS | %s TPS | %.3f× [%.3f–%.3f] | %d | %s | %s |" % (
                label, tgt, fmt(med([a for a, _ in pairs])), fmt(med([b for _, b in pairs])),
                m, min(ratios), max(ratios), len(pairs), v, btext))
    print("\n".join(out))
    print()
    # Diagnostics: every numeric field's median, per case and pin.
    print("<details><summary>all measured fields (medians over runs)</summary>\n")
    for (case, pin), rs in sorted(runs.items()):
        keys = [k for k in rs[0] if isinstance(rs[0][k], (int, float)) and k != "order"]
        print("- **%s** (pin %s, %d runs): " % (case, pin, len(rs)) +
              ", ".join("%s %s" % (k, fmt(med([r[k] for r in rs if k in r]))) for k in keys))
    if os.path.exists(pg):
        print("- **pgbench**: " + "; ".join(
            "%s run %s: %s TPS" % (r["config"], r["run"], r["tps"]) for r in rows))
    print("\n</details>")


if __name__ == "__main__":
    main()
