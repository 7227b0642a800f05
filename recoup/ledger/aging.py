"""Aging as of any date, set-based (DESIGN.md, "Aging").

The database does the work: it finds the invoices open on the as-of date, puts each in a bucket with plain
date comparisons (rules.bucket_floor_dates), sums them per customer, currency and bucket, and converts each
sum to the base currency at the rate of the day, rounded to its minor unit. Python only pivots those sums
into one row per customer, and sorts those by external id.

Two paths give the same answer:
- when no allocation is dated after the as-of date, the kept `Invoice.open_amount` is exact and a partial
  index over open invoices answers;
- otherwise each invoice not settled for good by then (`closed_on`) subtracts its allocations dated on or
  before the as-of date.

Inside `kept.reusing()` (the dashboard's requests), a report computed earlier in the process is served again
while the ledger's watermark up to its as-of date, and the customers' names and collectors, are unchanged
(recoup.ledger.kept).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from django.conf import settings
from django.db import connection, transaction

from recoup.core.errors import DomainError
from recoup.core.money import minor_units, quantize
from recoup.ledger import kept
from recoup.ledger.models import Allocation, FxRate
from recoup.ledger.rules import DEFAULT_BUCKETS, bucket_floor_dates, bucket_labels, parse_buckets
from recoup.ledger.selectors import RateUsed

BASES = {"due": "due_date", "invoice": "issue_date"}
GROUPINGS = ("customer", "total")
ZERO = Decimal(0)


class AgingRow(NamedTuple):
    # A named tuple, not a dataclass: a report builds one per customer, ~10^5 of them at scale.
    key: str  # the customer's external id, or "TOTAL"
    name: str
    buckets: tuple[Decimal, ...]
    total: Decimal
    collector_id: int | None = None  # the customer's collector (a user id); None for the total


@dataclass(frozen=True)
class AgingReport:
    as_of: dt.date
    basis: str
    by: str
    currency: str
    labels: tuple[str, ...]
    rows: list[AgingRow]
    total: AgingRow
    rates: list[RateUsed] = field(default_factory=list)


def aging_report(
    *,
    as_of: dt.date,
    by: str = "customer",
    basis: str = "due",
    buckets: str | Sequence[int] = DEFAULT_BUCKETS,
    customer_ids: Sequence[int] | None = None,
) -> AgingReport:
    """Open receivables as of `as_of`, bucketed by days past the due (or issue) date, in BASE_CURRENCY."""
    if by not in GROUPINGS:
        raise DomainError(f"by must be one of {', '.join(GROUPINGS)}", field="by")
    if basis not in BASES:
        raise DomainError(f"basis must be one of {', '.join(BASES)}", field="basis")
    try:
        bounds = parse_buckets(buckets)
    except ValueError as exc:
        raise DomainError(str(exc), field="buckets") from exc
    # By customer, whatever `by` is (its TOTAL row is the report by total), so that a kept report serves both;
    # inside kept.reusing() (the dashboard's requests) today's is computed once.
    customers = None if customer_ids is None else frozenset(customer_ids)
    report = _kept.get(
        (as_of, basis, bounds, customers),
        as_of,
        lambda: _report(as_of=as_of, basis=basis, bounds=bounds, customer_ids=customer_ids),
    )
    # A list of its own for each caller: a kept report never changes.
    return replace(report, by=by, rows=list(report.rows) if by == "customer" else [])


# Reports kept for kept.reusing(), by customer: a whole-ledger one is some 45 MB.
_kept: kept.Kept[AgingReport] = kept.Kept(2, undated=True)


def _report(
    *, as_of: dt.date, basis: str, bounds: tuple[int, ...], customer_ids: Sequence[int] | None
) -> AgingReport:
    """The report by customer (aging_report sets `by`)."""
    labels = bucket_labels(bounds)
    base = settings.BASE_CURRENCY
    zero = quantize(ZERO, base)
    rates = rates_as_of(as_of)
    sql, params = _aging_sql(
        as_of=as_of,
        basis=BASES[basis],
        bounds=bounds,
        rates=rates,
        places=minor_units(base),
        customer_ids=customer_ids,
        kept_is_exact=kept_amounts_exact(as_of),
    )
    width = len(labels)
    rows: list[AgingRow] = []
    column_totals = [zero] * width
    used: set[str] = set()
    postgres = connection.vendor == "postgresql"
    with transaction.atomic() if postgres else nullcontext(), connection.cursor() as cursor:
        if postgres:
            # One aggregate over ~10^5 open invoices: JIT compilation costs more than it saves, and the
            # grouping should stay in memory rather than spill to disk. SET LOCAL ends with the transaction.
            cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")
        cursor.execute(sql, params)
        # Rows come per customer, currency and bucket, ordered by customer: pivot them in one pass.
        make = AgingRow._make
        key: str | None = None
        name = ""
        collector_id: int | None = None
        values = column_totals  # replaced at the first row
        for external_id, customer_name, collector, currency, bucket, amount in cursor.fetchall():
            if currency not in used:
                if currency not in rates:
                    raise DomainError(
                        f"No {currency}→{base} rate is dated on or before {as_of}.",
                        field="as_of",
                        code="missing_fx_rate",
                    )
                used.add(currency)
            if external_id != key:
                if key is not None:
                    rows.append(make((key, name, tuple(values), sum(values, zero), collector_id)))
                key, name, collector_id, values = external_id, customer_name, collector, [zero] * width
            value = amount if postgres else Decimal(amount)
            values[bucket] += value
            column_totals[bucket] += value
        if key is not None:
            rows.append(make((key, name, tuple(values), sum(values, zero), collector_id)))
    rows.sort()
    total = AgingRow("TOTAL", "Total", tuple(column_totals), sum(column_totals, zero))
    return AgingReport(
        as_of=as_of,
        basis=basis,
        by="customer",
        currency=base,
        labels=labels,
        rows=rows,
        total=total,
        rates=[rates[c] for c in sorted(used) if c != base],
    )


def kept_amounts_exact(as_of: dt.date) -> bool:
    """With no allocation dated after `as_of`, the kept open amounts are exact on that date."""
    return not Allocation.objects.filter(date__gt=as_of).exists()


def rates_as_of(as_of: dt.date) -> dict[str, RateUsed]:
    rates = {settings.BASE_CURRENCY: RateUsed(settings.BASE_CURRENCY, Decimal(1), None)}
    for currency, date, rate in (
        FxRate.objects.filter(date__lte=as_of)
        .order_by("currency", "-date")
        .values_list("currency", "date", "rate")
    ):
        rates.setdefault(currency, RateUsed(currency, rate, date))
    return rates


def _aging_sql(
    *,
    as_of: dt.date,
    basis: str,
    bounds: tuple[int, ...],
    rates: dict[str, RateUsed],
    places: int,
    customer_ids: Sequence[int] | None,
    kept_is_exact: bool,
) -> tuple[str, list[Any]]:
    """The report query and its parameters, which follow the order of the placeholders in the text."""
    open_items, open_params = open_items_sql(
        as_of=as_of,
        columns=("i.customer_id", "i.currency", f"i.{basis} AS d"),
        customer_ids=customer_ids,
        kept_is_exact=kept_is_exact,
    )

    # Bucket i holds basis dates in [floors[i], floors[i - 1]); the last holds those before the last floor.
    floors = bucket_floor_dates(as_of, bounds)
    bucket = (
        "CASE "
        + " ".join(f"WHEN o.d >= %s THEN {i}" for i in range(len(floors)))
        + f" ELSE {len(floors)} END"
    )
    # Convert each customer's per-currency bucket sums at the rate of the day, rounded to the base unit.
    rate_case = "CASE g.currency " + " ".join("WHEN %s THEN %s" for _ in rates) + " END"
    rate_params = [p for r in rates.values() for p in (r.currency, r.rate)]
    converted = _as_text(f"ROUND(g.open * ({rate_case}), {places})", places)
    sql = f"""
        SELECT c.external_id, c.name, c.collector_id, g.currency, g.bucket, {converted}
        FROM (SELECT o.customer_id, o.currency, {bucket} AS bucket, SUM(o.open) AS open
              FROM ({open_items}) o
              WHERE o.open > 0
              GROUP BY 1, 2, 3) g
        JOIN ledger_customer c ON c.id = g.customer_id
        ORDER BY g.customer_id"""
    return sql, rate_params + list(floors) + open_params


def open_items_sql(
    *,
    as_of: dt.date,
    columns: Sequence[str],
    customer_ids: Sequence[int] | None = None,
    kept_is_exact: bool,
) -> tuple[str, list[Any]]:
    """SELECT `columns` of the invoices (alias i) issued on or before `as_of`, with `open`, their open amount
    as of that date (zero or less once settled: filter on it), and the parameters in placeholder order.

    With `kept_is_exact` (no allocation is dated after `as_of`) the kept open amounts answer through the
    partial index of open invoices.
    """
    ids = list(customer_ids or ())
    customer_filter = ""
    if customer_ids is not None:
        customer_filter = f"AND i.customer_id IN ({', '.join(['%s'] * len(ids)) or 'NULL'})"
    selected = ", ".join(columns)
    if kept_is_exact:
        sql = f"""
            SELECT {selected}, i.open_amount AS open
            FROM ledger_invoice i
            WHERE i.open_amount > 0 AND i.issue_date <= %s {customer_filter}"""
        return sql, [as_of, *ids]
    # Open today (open_amount > 0, the same as closed_on IS NULL) or settled after the as-of date: each
    # side has its own partial index.
    candidates = f"i.issue_date <= %s AND (i.open_amount > 0 OR i.closed_on > %s) {customer_filter}"
    if connection.vendor == "postgresql":
        # Each candidate's allocations up to the date, by one index-only probe per candidate
        # (allocation_invoice_date_amount) instead of a pass over every allocation dated by then.
        sql = f"""
            SELECT {selected}, ROUND(i.amount - COALESCE(s.applied, 0), 4) AS open
            FROM ledger_invoice i
            LEFT JOIN LATERAL (SELECT SUM(a.amount) AS applied FROM ledger_allocation a
                               WHERE a.invoice_id = i.id AND a.date <= %s) s ON true
            WHERE {candidates}"""
        return sql, [as_of, as_of, as_of, *ids]
    # SQLite has no LATERAL: sum each candidate's allocations once, in a join.
    sql = f"""
        SELECT {selected}, ROUND(i.amount - COALESCE(s.applied, 0), 4) AS open
        FROM ledger_invoice i
        LEFT JOIN (SELECT a.invoice_id, SUM(a.amount) AS applied
                   FROM ledger_allocation a JOIN ledger_invoice i ON i.id = a.invoice_id
                   WHERE a.date <= %s AND {candidates}
                   GROUP BY a.invoice_id) s ON s.invoice_id = i.id
        WHERE {candidates}"""
    return sql, [as_of, as_of, as_of, *ids, as_of, as_of, *ids]


def _as_text(expr: str, places: int) -> str:
    # SQLite computes in binary floating point; printing with the currency's places gives the exact decimal.
    if connection.vendor == "sqlite":
        return f"printf('%%.{places}f', {expr})"
    return expr


def report_as_dict(report: AgingReport) -> dict[str, Any]:
    def row(r: AgingRow) -> dict[str, Any]:
        return {
            "customer": r.key,
            "name": r.name,
            "buckets": {label: str(v) for label, v in zip(report.labels, r.buckets, strict=True)},
            "total": str(r.total),
        }

    return {
        "as_of": report.as_of.isoformat(),
        "basis": report.basis,
        "by": report.by,
        "currency": report.currency,
        "labels": list(report.labels),
        "rates": [
            {"currency": r.currency, "rate": str(r.rate), "date": r.date.isoformat() if r.date else None}
            for r in report.rates
        ],
        "rows": [row(r) for r in report.rows],
        "total": row(report.total),
    }


class Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def report_as_csv(report: AgingReport, out: Writable) -> None:
    """customer,current,1-30,…,total — one row per customer by external id, then TOTAL."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["customer", *report.labels, "total"])
    for r in (*report.rows, report.total):
        writer.writerow([r.key, *r.buckets, r.total])


def report_as_table(report: AgingReport) -> str:
    header = ["customer", *report.labels, "total"]
    body = [[r.key, *(f"{v:,}" for v in r.buckets), f"{r.total:,}"] for r in (*report.rows, report.total)]
    widths = [max(len(str(line[i])) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    for line in body:
        lines.append(
            "  ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    note = f"As of {report.as_of}, by {report.basis} date, in {report.currency}"
    if report.rates:
        note += "; rates: " + ", ".join(f"{r.currency} {r.rate} ({r.date})" for r in report.rates)
    return "\n".join([note, *lines])
