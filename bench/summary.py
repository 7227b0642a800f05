"""Print the summary table (markdown) from the JSON lines the benchmark scripts wrote.

usage: python -m bench.summary RESULTS.jsonl [MORE.jsonl ...]
For each figure: the issue's anchor, the anchor re-measured here, ours (median, min-max), ours / anchor here,
the target and whether ours meets it. The last line of a given name and as-of date wins.
"""

from __future__ import annotations

import json
import statistics
import sys
from typing import Any

# name in the results -> what the issue says about it
ANCHORS_ISSUE = {
    "anchor.copy_invoices": 9.4,
    "anchor.aging_pandas_load_compute": 8.0,
    "anchor.aging_sql_naive": 8.9,
    "anchor.aging_duckdb": 0.65,
    "anchor.aging_sql_maintained": 0.39,
    "anchor.aging_sql_past": 2.2,
}


def load(*paths: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The figures by (name, as-of); single runs of the same name (the imports) are pooled into one figure."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                row = json.loads(line)
                key = (row["name"], str(row.get("as_of", "")))
                old = rows.get(key)
                if old is not None and row["runs"] == 1 and (old["runs"] == 1 or old.get("pooled")):
                    times = old["times_s"] + row["times_s"]
                    row = {
                        **row,
                        "times_s": times,
                        "runs": len(times),
                        "median_s": statistics.median(times),
                        "min_s": min(times),
                        "max_s": max(times),
                        "pooled": True,
                    }
                    if "rows" in row:
                        row["rows_per_s"] = round(row["rows"] / row["median_s"])
                        row["peak_rss_mb"] = max(old["peak_rss_mb"], row["peak_rss_mb"])
                        row["exit_code"] = old["exit_code"] or row["exit_code"]
                rows[key] = row
    return rows


def fmt(row: dict[str, Any] | None) -> str:
    if row is None:
        return "not measured"
    if row["runs"] == 1:
        return f"{row['median_s']:.2f} s (1 run)"
    return f"{row['median_s']:.2f} s ({row['min_s']:.2f}–{row['max_s']:.2f}, n={row['runs']})"


def main() -> None:
    rows = load(*sys.argv[1:])

    def get(name: str, as_of: str = "") -> dict[str, Any] | None:
        return rows.get((name, as_of))

    today = "2026-11-23"
    pasts = sorted({k[1] for k in rows if k[0] == "ours.aging_past"} | {"2025-11-23", "2026-05-23"})
    out = [
        "| what | anchor (issue) | anchor here | ours: median (min–max) | ours / anchor here | target "
        "| result |",
        "|---|---|---|---|---|---|---|",
    ]

    def line(
        what: str,
        anchor_name: str | None,
        anchor_as_of: str,
        ours: dict[str, Any] | None,
        target: str,
        ok: bool | None,
        ours_text: str | None = None,
    ) -> None:
        anchor = get(anchor_name, anchor_as_of) if anchor_name else None
        issue = f"{ANCHORS_ISSUE[anchor_name]} s" if anchor_name else "—"
        ratio = f"{ours['median_s'] / anchor['median_s']:.2f}×" if ours and anchor else "—"
        verdict = "—" if ok is None else ("pass" if ok else "FAIL")
        out.append(
            f"| {what} | {issue} | {fmt(anchor) if anchor_name else '—'} | "
            f"{ours_text or fmt(ours)} | {ratio} | {target} | {verdict} |"
        )

    inv = get("ours.import_invoices")
    if inv:
        text = f"{fmt(inv)} = {inv['rows_per_s']:,} rows/s"
        line(
            "import invoices (whole process)",
            "anchor.copy_invoices",
            "",
            inv,
            "≥ 100,000 rows/s",
            inv["exit_code"] == 0 and inv["rows_per_s"] >= 100_000,
            text,
        )
    else:
        line("import invoices (whole process)", "anchor.copy_invoices", "", None, "≥ 100,000 rows/s", None)
    for kind in ("customers", "payments"):
        r = get(f"ours.import_{kind}")
        text = f"{fmt(r)} = {r['rows_per_s']:,} rows/s" if r else None
        line(f"import {kind} (whole process)", None, "", r, "—", None, text)
    peaks = [r for k, r in rows.items() if k[0].startswith("ours.import_")]
    if peaks:
        peak = max(r["peak_rss_mb"] for r in peaks)
        line(
            "peak RSS of the import (largest of the three)",
            None,
            "",
            None,
            "< 1 GB",
            peak < 1024,
            f"{peak} MB",
        )
    else:
        line("peak RSS of the import", None, "", None, "< 1 GB", None)
    ours_today = get("ours.aging_today", today)
    for anchor_name in (
        "anchor.aging_pandas_load_compute",
        "anchor.aging_sql_naive",
        "anchor.aging_duckdb",
        "anchor.aging_sql_maintained",
    ):
        label = anchor_name.removeprefix("anchor.aging_").replace("_", " ")
        line(
            f"aging by customer as of {today} vs {label}",
            anchor_name,
            today,
            ours_today,
            "≤ 0.5 s",
            ours_today["median_s"] <= 0.5 if ours_today else None,
        )
    for d in pasts:
        ours = get("ours.aging_past", d)
        line(
            f"aging by customer as of {d}",
            "anchor.aging_sql_past",
            d,
            ours,
            "≤ 2.5 s",
            ours["median_s"] <= 2.5 if ours else None,
        )
    for name, d, target, limit in (
        ("ours.api_aging_today", today, "≤ 0.5 s", 0.5),
        ("ours.api_aging_past", pasts[0], "≤ 2.5 s", 2.5),
    ):
        ours = get(name, d)
        line(
            f"GET /api/v1/reports/aging?as_of={d} (in-process)",
            None,
            "",
            ours,
            target,
            ours["status"] == 200 and ours["median_s"] <= limit if ours else None,
        )
    reports_lines(rows, get, line)
    dunning_lines(get, line)
    print("\n".join(out))


def reports_lines(rows: dict[tuple[str, str], dict[str, Any]], get: Any, line: Any) -> None:
    """The reports issue's targets (bench/reports_bench.py)."""
    names = sorted(k[0] for k in rows if k[0].startswith("ours.kpis_"))
    for name in (n for n in names if not n.startswith("ours.kpis_ledger_")):
        r = get(name)
        line(f"KPIs for the quarter from {name.removeprefix('ours.kpis_')}", None, "", r, "≤ 2 s",
             r["median_s"] <= 2 if r else None)  # fmt: skip
    for name in (n for n in names if n.startswith("ours.kpis_ledger_")):  # no snapshot used: no target
        line(f"KPIs for the quarter from {name.removeprefix('ours.kpis_ledger_')}, from the ledger alone",
             None, "", get(name), "—", None)  # fmt: skip
    for name, what in (
        ("ours.dashboard_endpoints_changed", "after a change of the ledger dated today"),
        ("ours.dashboard_endpoints", "after the page"),
        ("ours.dashboard_endpoints_cold", "in a process that kept nothing"),
    ):
        r = get(name)
        line(f"the dashboard's eight requests, together, {what}", None, "", r, "≤ 1 s",
             r["median_s"] <= 1 if r else None)  # fmt: skip
    line("the dashboard page (GET /dashboard/), today's aging not kept", None, "", get("ours.dashboard_page"),
         "—", None)  # fmt: skip
    r = get("ours.snapshots_rebuild_36")
    line("rebuilding 36 month-end snapshots", None, "", r, "≤ 60 s",
         r["median_s"] <= 60 if r else None)  # fmt: skip


def dunning_lines(get: Any, line: Any) -> None:
    """The dunning issue's targets (bench/dunning_bench.py)."""
    plan = get("dunning.plan_and_write")
    text = (
        f"{fmt(plan)}: {plan['messages']:,} messages, {plan['invoices_moved']:,} invoices moved"
        if plan
        else None
    )
    line("dunning: planning a run (outbox rows written)", None, "", plan, "≤ 60 s",
         plan["median_s"] <= 60 if plan else None, text)  # fmt: skip
    dry = get("dunning.plan_dry_run")
    line("dunning: the same plan, dry run (nothing written)", None, "", dry, "—", None)
    for name, label in (("dunning.deliver_with_pdf", "with the PDF statement"),
                        ("dunning.deliver_without_pdf", "without the statement")):  # fmt: skip
        r = get(name)
        text = f"{r['messages_per_s']} messages/s ({r['messages']:,} messages, {fmt(r)})" if r else None
        line(f"dunning: delivery to aiosmtpd, 2 worker processes, {label}", None, "", r, "≥ 100 messages/s",
             r["messages_per_s"] >= 100 if r else None, text)  # fmt: skip
    pdf = get("dunning.pdf_render")
    text = (
        f"{pdf['median_s'] * 1000:.0f} ms median, p90 {pdf['p90_s'] * 1000:.0f} ms, "
        f"max {pdf['max_s'] * 1000:.0f} ms ({pdf['documents']} statements, "
        f"median {pdf['median_lines']:g} lines, max {pdf['max_lines']})"
        if pdf
        else None
    )
    line(
        "dunning: rendering each PDF",
        None,
        "",
        pdf,
        "≤ 50 ms",
        pdf["median_s"] <= 0.05 if pdf else None,
        text,
    )
    peaks = [
        r["max_peak_rss_mb"]
        for r in (get("dunning.deliver_with_pdf"), get("dunning.deliver_without_pdf"))
        if r
    ]
    line("dunning: worker peak RSS (largest process)", None, "", None, "< 500 MB",
         max(peaks) < 500 if peaks else None, f"{max(peaks)} MB" if peaks else None)  # fmt: skip


if __name__ == "__main__":
    main()
