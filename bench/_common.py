"""Shared helpers for the benchmark scripts: argument defaults, repeated timing, JSON result lines.

Every script prints one JSON line per measurement on stdout (and appends it to $BENCH_RESULTS when set),
so that `bench/summary.py` can build the table in docs/benchmarks.md from the raw figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_DATA = BENCH_DIR / "data"
DEFAULT_ANCHOR_DSN = "postgresql://postgres@127.0.0.1:5432/recoup_bench"
AS_OF_TODAY = dt.date(2026, 11, 23)  # the generator's default --as-of
PAST_DATES = (dt.date(2025, 11, 23), dt.date(2026, 5, 23))
BUCKETS = (30, 60, 90, 120)


def parser(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("BENCH_DATA", DEFAULT_DATA)),
        help="directory with customers.csv, invoices.csv, payments.csv (gen_ledger.py output)",
    )
    ap.add_argument("--dsn", default=os.environ.get("BENCH_ANCHOR_DSN", DEFAULT_ANCHOR_DSN))
    ap.add_argument("--repeat", type=int, default=int(os.environ.get("BENCH_REPEAT", "5")))
    ap.add_argument("--warmup", type=int, default=int(os.environ.get("BENCH_WARMUP", "1")))
    return ap


def measure(fn: Callable[[], Any], *, repeat: int, warmup: int) -> tuple[list[float], Any]:
    """Run `fn` warmup + repeat times; return the counted wall times (s) and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return times, result


def report(name: str, times: list[float], **extra: Any) -> dict[str, Any]:
    row = {
        "name": name,
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "runs": len(times),
        "times_s": [round(t, 4) for t in times],
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        **extra,
    }
    line = json.dumps(row, default=str)
    print(line, flush=True)
    out = os.environ.get("BENCH_RESULTS")
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    return row
