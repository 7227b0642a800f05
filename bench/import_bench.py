"""Import rate: `recoup import customers|invoices|payments` with bench/mappings/, each run as its own process.

Each figure is the whole `recoup import` process (Django start-up included, which only makes the rate
conservative), timed from outside with its peak RSS taken from the kernel's accounting of the finished child
(os.wait4: ru_maxrss, the same figure /usr/bin/time -v prints). The PostgreSQL server's own memory is not in
it. Run against an empty, migrated database (DATABASE_URL must point there) for the first-load figures;
run again with another --label over the filled database for the idempotent re-import (upsert) path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench._common import BENCH_DIR, report

KINDS = ("customers", "invoices", "payments")
RECOUP = Path(sys.executable).parent / "recoup"


def count_rows(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - 1


def run_import(kind: str, path: Path, log: Path) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in bytes, exit code) of one `recoup import` process."""
    cmd = [str(RECOUP), "import", kind, str(path), "--mapping", str(BENCH_DIR / "mappings" / f"{kind}.toml")]
    with log.open("ab") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss * 1024, proc.returncode


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--label", default="ours.import", help="prefix of the result names")
    ap.add_argument("--log", type=Path, default=Path(os.environ.get("BENCH_LOG", "/dev/null")))
    a = ap.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("import_bench: set DATABASE_URL to the PostgreSQL bench database")
    failed = False
    for kind in KINDS:
        path = a.data / f"{kind}.csv"
        rows = count_rows(path)
        wall, rss, code = run_import(kind, path, a.log)
        report(
            f"{a.label}_{kind}",
            [wall],
            rows=rows,
            rows_per_s=round(rows / wall),
            peak_rss_mb=round(rss / 2**20),
            exit_code=code,
        )
        failed = failed or code != 0
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
