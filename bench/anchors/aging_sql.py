"""Anchors: aging by customer in plain PostgreSQL over the tables setup_db.py loads.

- naive: every invoice issued by D joined to the sum of all payments dated by D (the issue's 8.9 s today);
- maintained: the open amount kept on the invoice, read through a partial index on open invoices
  (0.39 s today);
- past: for a past D, only invoices not settled for good by D (closed_on index), each netted by an index
  lookup of its payments dated by D (2.2 s).
Every variant returns one row per customer with the six buckets and the total, fetched into Python.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg

from bench._common import AS_OF_TODAY, PAST_DATES, measure, parser, report

BUCKETS_SQL = """
SELECT customer_id,
       coalesce(sum(o) FILTER (WHERE dpd <= 0), 0)                 AS current,
       coalesce(sum(o) FILTER (WHERE dpd BETWEEN 1 AND 30), 0)     AS b1_30,
       coalesce(sum(o) FILTER (WHERE dpd BETWEEN 31 AND 60), 0)    AS b31_60,
       coalesce(sum(o) FILTER (WHERE dpd BETWEEN 61 AND 90), 0)    AS b61_90,
       coalesce(sum(o) FILTER (WHERE dpd BETWEEN 91 AND 120), 0)   AS b91_120,
       coalesce(sum(o) FILTER (WHERE dpd > 120), 0)                AS b120,
       sum(o)                                                      AS total
  FROM ({inner}) x
 WHERE o > 0
 GROUP BY customer_id
 ORDER BY customer_id
"""

NAIVE = BUCKETS_SQL.format(
    inner="""
    SELECT i.customer_id, %(d)s::date - i.due_date AS dpd, i.amount - coalesce(p.paid, 0) AS o
      FROM anchor_invoices i
      LEFT JOIN (SELECT invoice_id, sum(amount) AS paid FROM anchor_payments
                  WHERE payment_date <= %(d)s GROUP BY invoice_id) p USING (invoice_id)
     WHERE i.issue_date <= %(d)s"""
)

MAINTAINED = BUCKETS_SQL.format(
    inner="""
    SELECT customer_id, %(d)s::date - due_date AS dpd, open_amount AS o
      FROM anchor_invoices
     WHERE open_amount > 0 AND issue_date <= %(d)s"""
)

PAST = BUCKETS_SQL.format(
    inner="""
    SELECT i.customer_id, %(d)s::date - i.due_date AS dpd, i.amount - coalesce(p.paid, 0) AS o
      FROM anchor_invoices i
      LEFT JOIN LATERAL (SELECT sum(amount) AS paid FROM anchor_payments
                          WHERE invoice_id = i.invoice_id AND payment_date <= %(d)s) p ON true
     WHERE i.issue_date <= %(d)s AND (i.closed_on IS NULL OR i.closed_on > %(d)s)"""
)

VARIANTS = {"naive": NAIVE, "maintained": MAINTAINED, "past": PAST}


def checksum(rows: list[tuple]) -> tuple[int, Decimal]:
    return len(rows), sum((r[-1] for r in rows), Decimal(0))


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--variant", choices=VARIANTS, required=True)
    ap.add_argument("--as-of", type=dt.date.fromisoformat, action="append")
    ap.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) once and exit")
    a = ap.parse_args()
    dates = a.as_of or ([AS_OF_TODAY] if a.variant != "past" else list(PAST_DATES))
    sql = VARIANTS[a.variant]
    with psycopg.connect(a.dsn, autocommit=True) as conn:
        for d in dates:
            if a.explain:
                for (line,) in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, {"d": d}):
                    print(line)
                continue
            times, rows = measure(
                lambda d=d: conn.execute(sql, {"d": d}).fetchall(), repeat=a.repeat, warmup=a.warmup
            )
            n, total = checksum(rows)
            report(f"anchor.aging_sql_{a.variant}", times, as_of=d, customers=n, total=str(total))


if __name__ == "__main__":
    main()
