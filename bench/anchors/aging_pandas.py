"""Anchor: aging by customer with pandas straight from the CSV files (the issue's 8.0 s).

Two figures: `load+compute` reads invoices.csv and payments.csv and computes the report (what a one-off script
does); `compute` starts from the data frames already in memory. Amounts are float64 here, as a typical pandas
script has them; the totals are rounded to the cent for the cross-check.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from bench._common import AS_OF_TODAY, measure, parser, report

LABELS = ["current", "1-30", "31-60", "61-90", "91-120", "120+"]


def load(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    inv = pd.read_csv(
        data / "invoices.csv",
        usecols=["invoice_id", "customer_id", "issue_date", "due_date", "amount"],
        parse_dates=["issue_date", "due_date"],
    )
    pay = pd.read_csv(
        data / "payments.csv", usecols=["invoice_id", "payment_date", "amount"], parse_dates=["payment_date"]
    )
    return inv, pay


def aging(inv: pd.DataFrame, pay: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    d = pd.Timestamp(as_of)
    paid = pay.loc[pay["payment_date"] <= d].groupby("invoice_id")["amount"].sum()
    inv = inv.loc[inv["issue_date"] <= d]
    open_ = inv["amount"] - inv["invoice_id"].map(paid).fillna(0.0)
    mask = open_.round(2) > 0
    inv, open_ = inv.loc[mask], open_.loc[mask]
    dpd = (d - inv["due_date"]).dt.days
    bucket = pd.cut(dpd, [-np.inf, 0, 30, 60, 90, 120, np.inf], labels=LABELS)
    table = open_.groupby([inv["customer_id"], bucket], observed=False).sum().unstack(fill_value=0.0)
    table = table.loc[table.sum(axis=1) > 0]
    table["total"] = table.sum(axis=1)
    return table


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--as-of", type=dt.date.fromisoformat, default=AS_OF_TODAY)
    a = ap.parse_args()
    times, table = measure(lambda: aging(*load(a.data), a.as_of), repeat=a.repeat, warmup=a.warmup)
    report(
        "anchor.aging_pandas_load_compute",
        times,
        as_of=a.as_of,
        customers=len(table),
        total=f"{table['total'].sum():.2f}",
    )
    inv, pay = load(a.data)
    times, table = measure(lambda: aging(inv, pay, a.as_of), repeat=a.repeat, warmup=a.warmup)
    report(
        "anchor.aging_pandas_compute",
        times,
        as_of=a.as_of,
        customers=len(table),
        total=f"{table['total'].sum():.2f}",
    )


if __name__ == "__main__":
    main()
