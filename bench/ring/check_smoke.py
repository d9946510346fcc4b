#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Smoke test of vio-bench-ring (suite 'bench'): runs it for a second or two and
checks that every variant moved buffers on both sides and that the outputs
parse. Never checks speed.

usage: check_smoke.py VIO_BENCH_RING OUTDIR
"""
import csv
import os
import subprocess
import sys

REPS_COLS = ["round", "task", "placement", "rtt_before_ns", "rtt_after_ns", "buffers",
             "seconds", "buf_per_s", "total", "device_moved", "kicks", "calls",
             "preempt_a", "preempt_b", "off_cpu_a_ns", "off_cpu_b_ns"]
SUMMARY_COLS = ["placement", "task", "kind", "batch", "n", "buf_per_s_median",
                "buf_per_s_p25", "buf_per_s_p75", "vs_idx_ring", "vs_desc_ring",
                "vs_best_desc_ring", "kicks_per_buf", "calls_per_buf", "rtt_ns"]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def read_tsv(path, cols):
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    if not rows or rows[0] != cols:
        fail(f"{path}: header {rows[0] if rows else None} != {cols}")
    out = []
    for n, row in enumerate(rows[1:], 2):
        if len(row) != len(cols):
            fail(f"{path}:{n}: {len(row)} fields, expected {len(cols)}")
        out.append(dict(zip(cols, row)))
    return out


def number(path, row, col):
    v = row[col]
    if v == "-":
        return None
    try:
        return float(v)
    except ValueError:
        fail(f"{path}: {row['task']}: {col} = {v!r} is not a number")


def main():
    exe, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    p = subprocess.run([exe, "--smoke", "--outdir", outdir], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=100)
    print(p.stdout)
    if p.returncode != 0:
        fail(f"vio-bench-ring exited with {p.returncode}")

    # Every variant the driver supports ran in both rounds; none is listed as
    # unsupported other than for a missing driver layout or feature.
    table = p.stdout.splitlines()
    expected = set()
    for line in table:
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("split", "packed", "idx-ring", "desc-ring") \
                and parts[1].startswith("b"):
            if "n/a" in line:
                if "driver" not in line:
                    fail(f"unsupported for an unexpected reason: {line}")
                continue
            expected.add(line[:26].strip())
    if not any(e.startswith("split ") for e in expected):
        fail("no split variant in the table")
    for e in ("idx-ring b1", "desc-ring b32"):
        if e not in expected:
            fail(f"limit {e} missing from the table")

    reps_path = os.path.join(outdir, "ring-reps.tsv")
    reps = read_tsv(reps_path, REPS_COLS)
    seen = {}
    for r in reps:
        for col in REPS_COLS[3:]:
            number(reps_path, r, col)
        seen.setdefault(r["task"], []).append(r)
    for task in sorted(expected):
        rs = seen.get(task)
        if not rs or len(rs) != 2:
            fail(f"{task}: {len(rs or [])} repetitions, expected 2")
        for r in rs:
            # Over the whole repetition: on a loaded machine a thread may sleep
            # through the whole counted window.
            if float(r["total"]) <= 0:
                fail(f"{task}: the driver side completed no buffer: {r}")
            if float(r["device_moved"]) <= 0:
                fail(f"{task}: the device side moved no buffer: {r}")
            if float(r["rtt_before_ns"]) <= 0 or float(r["rtt_after_ns"]) <= 0:
                fail(f"{task}: no probe: {r}")
    extra = set(seen) - expected
    if extra:
        fail(f"repetitions of tasks not in the table: {sorted(extra)}")

    sum_path = os.path.join(outdir, "ring-summary.tsv")
    for r in read_tsv(sum_path, SUMMARY_COLS):
        if r["placement"] not in ("near", "far", "all") or r["task"] not in expected:
            fail(f"{sum_path}: unexpected row {r}")
        for col in SUMMARY_COLS[3:]:
            number(sum_path, r, col)

    if not any(line.startswith("chart: ") for line in table):
        fail("no chart line")
    if any(line.startswith("chart: ") and line.endswith("ring.png") for line in table):
        png = os.path.join(outdir, "ring.png")
        with open(png, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                fail(f"{png} is not a PNG")
    print(f"OK: {len(expected)} variants moved buffers, outputs parse")


if __name__ == "__main__":
    main()
