"""KPIs of the IBM AR sample, loaded the way load.sh loads it, against an independent calculation.

The independent side reads the CSV with the csv module alone and writes each definition out again in plain
Python: an invoice is open at the end of day D when it was issued on or before D and settled after D (its one
payment, in full, is dated SettledDate); it is current when D − DueDate ≤ 0 and over 90 days when that is more
than 90. The sample is all USD, so no conversion happens. Nothing of Recoup's is used there.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from django.core.management import call_command

from recoup.ledger.tests.test_aging_ibm import MAPPINGS
from recoup.reports.selectors import collections, kpis

D = dt.date
PERIODS = [
    (D(2012, 1, 1), D(2012, 3, 31)),
    (D(2012, 4, 1), D(2012, 6, 30)),
    (D(2012, 7, 1), D(2012, 9, 30)),
    (D(2012, 10, 1), D(2012, 12, 31)),
    (D(2013, 1, 1), D(2013, 3, 31)),
    (D(2013, 4, 1), D(2013, 6, 30)),
    (D(2013, 7, 1), D(2013, 9, 30)),
    (D(2013, 10, 1), D(2013, 12, 31)),
    # Not quarters: both ends inside a month, so the countback's newest month is a partial one; in 8 days the
    # countback reaches back past the month the period starts in.
    (D(2013, 2, 15), D(2013, 5, 10)),
    (D(2013, 6, 3), D(2013, 6, 10)),
]


class Row(NamedTuple):
    issued: dt.date
    due: dt.date
    settled: dt.date
    amount: Decimal


def read_rows(path: Path) -> list[Row]:
    def mdy(text: str) -> dt.date:
        month, day, year = (int(part) for part in text.split("/"))
        return dt.date(year, month, day)

    with path.open(newline="") as handle:
        return [
            Row(mdy(r["InvoiceDate"]), mdy(r["DueDate"]), mdy(r["SettledDate"]), Decimal(r["InvoiceAmount"]))
            for r in csv.DictReader(handle)
        ]


def cents(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def two_places(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def independent_kpis(rows: list[Row], start: dt.date, end: dt.date) -> tuple[dict[str, Any], Decimal]:
    """The report as the JSON gives it, and the AR more than 90 days past due at the end."""

    def open_at_end_of(day: dt.date) -> list[Row]:
        return [r for r in rows if r.issued <= day < r.settled]

    def issued_between(first: dt.date, last: dt.date) -> Decimal:
        return sum((r.amount for r in rows if first <= r.issued <= last), Decimal(0))

    days = (end - start).days + 1
    begin_ar = sum((r.amount for r in open_at_end_of(start - dt.timedelta(days=1))), Decimal(0))
    still_open = open_at_end_of(end)
    end_ar = sum((r.amount for r in still_open), Decimal(0))
    current = sum((r.amount for r in still_open if (end - r.due).days <= 0), Decimal(0))
    over_90 = sum((r.amount for r in still_open if (end - r.due).days > 90), Decimal(0))
    sales = issued_between(start, end)
    collected = sum((r.amount for r in rows if start <= r.settled <= end), Decimal(0))

    # Countback: from the month holding `end` (up to `end`) back, whole months while AR exceeds their sales,
    # then the fraction of the month that covers the rest.
    countback: Decimal | None = Decimal(0)
    left, counted, last = end_ar, Decimal(0), end
    while left > 0:
        first = last.replace(day=1)
        month_sales, month_days = issued_between(first, last), (last - first).days + 1
        if month_sales > 0 and left <= month_sales:
            countback = counted + left / month_sales * month_days
            break
        left, counted, last = left - month_sales, counted + month_days, first - dt.timedelta(days=1)
        assert last.year >= 2011, "the sample's AR is always covered by its sales"

    dso = end_ar / sales * days
    bpdso = current / sales * days
    return {
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "days": days,
        "currency": "USD",
        "begin_ar": cents(begin_ar),
        "credit_sales": cents(sales),
        "end_ar": cents(end_ar),
        "end_current_ar": cents(current),
        "collected": cents(collected),
        "dso": two_places(dso),
        "countback_dso": two_places(countback),
        "bpdso": two_places(bpdso),
        "add": two_places(dso - bpdso),
        "cei": two_places((begin_ar + sales - end_ar) / (begin_ar + sales - current) * 100),
        "pct_current": two_places(current / end_ar * 100),
        "pct_over_90": two_places(over_90 / end_ar * 100),
    }, over_90


def load_ibm(path: Path) -> None:
    """Customers, invoices and one payment per settled invoice, with the mappings load.sh uses."""
    for kind in ("customers", "invoices", "payments"):
        call_command(
            "import",
            kind,
            str(path),
            "--mapping",
            str(MAPPINGS / f"{kind}.toml"),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


@pytest.mark.django_db
def test_ibm_kpis_match_an_independent_calculation_for_each_quarter(ibm_csv, settings):
    settings.BASE_CURRENCY = "USD"
    load_ibm(ibm_csv)
    rows = read_rows(ibm_csv)
    assert len(rows) == 2466
    reports = {}
    for start, end in PERIODS:
        expected, over_90 = independent_kpis(rows, start, end)
        reports[start] = report = kpis(start=start, end=end)
        assert report.as_dict() == expected, (start, end)
        # The sample is never more than 45 days late, so this is 0 on every date: it is checked all the same.
        assert report.end_over_90_ar == over_90 == 0, (start, end)
    # The first quarter opens on an empty ledger; the last period's countback goes back into May 2013.
    assert reports[D(2012, 1, 1)].begin_ar == 0
    assert [m.start for m in reports[D(2013, 6, 3)].countback_months] == [D(2013, 6, 1), D(2013, 5, 1)]


@pytest.mark.django_db
def test_ibm_collections_by_month_and_the_command_json(ibm_csv, settings):
    settings.BASE_CURRENCY = "USD"
    load_ibm(ibm_csv)
    rows = read_rows(ibm_csv)
    start, end = D(2013, 4, 1), D(2013, 6, 30)
    by_month = {
        f"2013-{month:02d}": cents(
            sum((r.amount for r in rows if r.settled.year == 2013 and r.settled.month == month), Decimal(0))
        )
        for month in (4, 5, 6)
    }
    assert {p.label: str(p.amount) for p in collections(start=start, end=end, by="month")} == by_month
    weeks = collections(start=start, end=end, by="week")
    assert sum(p.amount for p in weeks) == sum(Decimal(v) for v in by_month.values())
    out = io.StringIO()
    call_command("kpis", "--from", "2013-04-01", "--to", "2013-06-30", "--format", "json", stdout=out)
    assert json.loads(out.getvalue()) == independent_kpis(rows, start, end)[0]
