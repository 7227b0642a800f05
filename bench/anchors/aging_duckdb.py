"""Anchor: aging by customer with DuckDB by brute force over all payments (the issue's 0.65 s).

The CSV files are loaded into in-memory tables first (timed apart, as `load`); the anchor is the query: every
invoice issued by D joined to the sum of its payments dated by D, bucketed and grouped by customer, fetched.
"""

from __future__ import annotations

import datetime as dt
import time

import duckdb

from bench._common import AS_OF_TODAY, measure, parser, report

QUERY = """
SELECT customer_id,
       coalesce(sum(o) FILTER (WHERE dpd <= 0), 0)               AS current,
       coalesce(sum(o) FILTER (WHERE dpd BETWEEN 1 AND 30), 0)   AS b1_30,
       coalesce(sum(o) FILTER (WHERE dpd BETWEEN 31 AND 60), 0)  AS b31_60,
       coalesce(sum(o) FILTER (WHERE dpd BETWEEN 61 AND 90), 0)  AS b61_90,
       coalesce(sum(o) FILTER (WHERE dpd BETWEEN 91 AND 120), 0) AS b91_120,
       coalesce(sum(o) FILTER (WHERE dpd > 120), 0)              AS b120,
       sum(o)                                                    AS total
  FROM (SELECT i.customer_id, ($d::DATE - i.due_date) AS dpd, i.amount - coalesce(p.paid, 0) AS o
          FROM invoices i
          LEFT JOIN (SELECT invoice_id, sum(amount) AS paid FROM payments
                      WHERE payment_date <= $d GROUP BY invoice_id) p USING (invoice_id)
         WHERE i.issue_date <= $d)
 WHERE o > 0
 GROUP BY customer_id
 ORDER BY customer_id
"""


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF_TODAY)
    a = ap.parse_args()
    con = duckdb.connect()
    t0 = time.perf_counter()
    for name, types in (
        ("invoices", {"amount": "DECIMAL(19,4)", "issue_date": "DATE", "due_date": "DATE"}),
        ("payments", {"amount": "DECIMAL(19,4)", "payment_date": "DATE"}),
    ):
        con.execute(
            f"CREATE TABLE {name} AS SELECT * FROM read_csv(?, header=true, types={types!r})",
            [str(a.data / f"{name}.csv")],
        )
    report(
        "anchor.aging_duckdb_load",
        [time.perf_counter() - t0],
        threads=con.execute("SELECT current_setting('threads')").fetchone()[0],
    )
    times, rows = measure(
        lambda: con.execute(QUERY, {"d": a.as_of}).fetchall(), repeat=a.repeat, warmup=a.warmup
    )
    report(
        "anchor.aging_duckdb", times, as_of=a.as_of, customers=len(rows), total=str(sum(r[-1] for r in rows))
    )


if __name__ == "__main__":
    main()
