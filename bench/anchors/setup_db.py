"""Load the generated ledger into plain tables of the scratch database the SQL anchors query.

Not timed as an anchor: it prepares anchor_invoices / anchor_payments, then derives the two columns the
"maintained" anchors rely on (the open amount today and the date an invoice settled for good)
and their indexes.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg

from bench._common import parser

DDL = """
DROP TABLE IF EXISTS anchor_payments, anchor_invoices, anchor_customers;
CREATE TABLE anchor_customers (
    customer_id text PRIMARY KEY, name text, email text, payment_terms_days int, currency char(3),
    credit_limit numeric(19, 4));
CREATE TABLE anchor_invoices (
    invoice_id text PRIMARY KEY, customer_id text NOT NULL, issue_date date NOT NULL, due_date date NOT NULL,
    amount numeric(19, 4) NOT NULL, currency char(3) NOT NULL);
CREATE TABLE anchor_payments (
    payment_id text PRIMARY KEY, customer_id text NOT NULL, invoice_id text NOT NULL,
    payment_date date NOT NULL, amount numeric(19, 4) NOT NULL);
"""

DERIVE = """
ALTER TABLE anchor_invoices ADD COLUMN open_amount numeric(19, 4), ADD COLUMN closed_on date;
CREATE INDEX anchor_payments_invoice_date ON anchor_payments (invoice_id, payment_date) INCLUDE (amount);
UPDATE anchor_invoices i SET open_amount = i.amount - coalesce(p.paid, 0),
       closed_on = CASE WHEN i.amount - coalesce(p.paid, 0) <= 0 THEN p.last_date END
  FROM (SELECT invoice_id, sum(amount) AS paid, max(payment_date) AS last_date
          FROM anchor_payments GROUP BY invoice_id) p
 WHERE p.invoice_id = i.invoice_id;
UPDATE anchor_invoices SET open_amount = amount WHERE open_amount IS NULL;
CREATE INDEX anchor_invoices_open ON anchor_invoices (customer_id, due_date, issue_date, open_amount)
    WHERE open_amount > 0;
CREATE INDEX anchor_invoices_closed_on ON anchor_invoices (closed_on, issue_date);
"""


def copy_file(cur: psycopg.Cursor, table: str, path: Path) -> None:
    with path.open("rb") as fh, cur.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy:
        while block := fh.read(1 << 20):
            copy.write(block)


def main() -> None:
    a = parser(__doc__ or "").parse_args()
    t0 = time.perf_counter()
    with psycopg.connect(a.dsn, autocommit=True) as conn:
        conn.execute(DDL)
        with conn.cursor() as cur:
            for table, name in (
                ("anchor_customers", "customers"),
                ("anchor_invoices", "invoices"),
                ("anchor_payments", "payments"),
            ):
                copy_file(cur, table, a.data / f"{name}.csv")
        conn.execute(DERIVE)
        conn.execute("VACUUM (ANALYZE) anchor_customers, anchor_invoices, anchor_payments")
        n_inv, n_open = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE open_amount > 0) FROM anchor_invoices"
        ).fetchone()
        n_pay = conn.execute("SELECT count(*) FROM anchor_payments").fetchone()[0]
    print(
        f"anchor tables loaded in {time.perf_counter() - t0:.1f} s: invoices={n_inv} open={n_open} "
        f"payment_rows={n_pay}",
        flush=True,
    )


if __name__ == "__main__":
    main()
