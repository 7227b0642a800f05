"""Month-end aging snapshots: built from the ledger in SQL, read by the dashboard's trends (docs/reports.md,
"Month-end snapshots").

Up to CHUNK month-ends are built by one INSERT … SELECT: aging's open items (the candidates and the open
amount of recoup.ledger.aging.open_items_sql) as of each month's last day, bucketed by due date with the
default buckets, summed per customer, currency and bucket, converted at the rate of that day and rounded to
the base currency's minor unit exactly as aging_report does, then added up per (collector, currency, customer
currency, segment). The amounts are therefore aging_report(as_of=month_end)'s to the cent, bucket by bucket,
for any set of those groups.

A stored snapshot is the close **as reported** on the day it was built. An allocation recorded later but
dated on or before the month-end (a backdated payment, a late credit note) changes the ledger's answer for
that date, not the stored snapshot; `rebuild` (`recoup reports snapshots`) recomputes the month-ends from the
ledger and replaces them.

Each snapshot keeps the ledger's watermark up to its month-end (LedgerRevision), read before the build read
the ledger. `current_month_ends` returns only the snapshots whose watermark is still the ledger's: those are
the ledger's answer, and the KPIs take their begin and end AR from them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from recoup.core.errors import DomainError
from recoup.core.money import minor_units, quantize
from recoup.ledger.aging import kept_amounts_exact, open_items_sql, rates_as_of
from recoup.ledger.rules import DEFAULT_BUCKETS, bucket_floor_dates, bucket_labels
from recoup.ledger.selectors import RateUsed, ledger_revisions
from recoup.reports.models import BUCKET_FIELDS, AgingSnapshot, AgingSnapshotMonth
from recoup.reports.scope import Scope

LABELS = bucket_labels(DEFAULT_BUCKETS)  # current, 1-30, 31-60, 61-90, 91-120, 120+
DEFAULT_MONTHS = 36
ZERO = Decimal(0)


@dataclass(frozen=True)
class MonthEndAging:
    """The aging of one month-end for one scope, from its snapshot, in `currency` (the base currency)."""

    month_end: dt.date
    currency: str
    buckets: tuple[Decimal, ...]  # in the order of LABELS
    total: Decimal
    open_invoices: int
    built_at: dt.datetime
    rates: tuple[RateUsed, ...]  # other currencies only, as the snapshot was converted

    @property
    def labels(self) -> tuple[str, ...]:
        return LABELS

    @property
    def current(self) -> Decimal:
        return self.buckets[0]

    @property
    def overdue(self) -> Decimal:
        return self.total - self.buckets[0]


@dataclass(frozen=True)
class Built:
    month_end: dt.date
    rows: int
    total: Decimal
    seconds: float


# Month-ends -------------------------------------------------------------------------------------------------


def month_end_of(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def is_month_end(day: dt.date) -> bool:
    return day == month_end_of(day)


def month_ends(count: int, *, through: dt.date) -> list[dt.date]:
    """The last `count` month-ends on or before `through`, oldest first."""
    if count < 1:
        raise DomainError("Ask for at least one month-end.", field="months")
    newest = month_end_of(through)
    if newest > through:
        newest = through.replace(day=1) - dt.timedelta(days=1)
    ends = [newest]
    while len(ends) < count:
        ends.append(ends[-1].replace(day=1) - dt.timedelta(days=1))
    return ends[::-1]


def closed_month_ends(count: int, *, through: dt.date | None = None) -> list[dt.date]:
    """The last `count` month-ends on or before `through` (default: yesterday), every one of them over."""
    today = timezone.localdate()
    ends = month_ends(count, through=through or today - dt.timedelta(days=1))
    _check_closed(ends[-1], today)
    return ends


def _check_closed(month_end: dt.date, today: dt.date) -> None:
    if not is_month_end(month_end):
        raise DomainError(f"{month_end} is not the last day of a month.", field="month_end")
    if month_end >= today:
        raise DomainError(
            f"The month ending {month_end} has not closed yet (today is {today}).", field="month_end"
        )


# Building ---------------------------------------------------------------------------------------------------

# Month-ends per INSERT … SELECT: each statement scans the invoices and allocations once for all of them.
# Six keep the per-customer grouping of a 2M-invoice ledger (~400k groups) in memory.
CHUNK = 6


def snapshot_month_end(month_end: dt.date) -> Built:
    """(Re)build the snapshot of `month_end` from the ledger: its rows replaced in one transaction by one
    INSERT … SELECT. Safe to run twice at once: the second waits for the first, then replaces its rows."""
    [built] = build([month_end])
    return built


def rebuild(months: int = DEFAULT_MONTHS, *, through: dt.date | None = None) -> list[Built]:
    """Rebuild the last `months` month-ends on or before `through` (default: yesterday) from the ledger,
    oldest first: CHUNK month-ends per statement and transaction."""
    return build(closed_month_ends(months, through=through))


def build(ends: Sequence[dt.date]) -> list[Built]:
    """(Re)build the snapshots of the given closed month-ends, in chunks of CHUNK, oldest first."""
    today = timezone.localdate()
    ordered = sorted(set(ends))
    for end in ordered:
        _check_closed(end, today)
    built: list[Built] = []
    for start in range(0, len(ordered), CHUNK):
        built += _build_chunk(ordered[start : start + CHUNK])
    return built


def _build_chunk(ends: list[dt.date]) -> list[Built]:
    started = timezone.now()
    clock = time.perf_counter()
    base = settings.BASE_CURRENCY
    # Before anything else is read: a change committed from here on makes the snapshot not current.
    revisions = ledger_revisions(ends)
    rates = {end: rates_as_of(end) for end in ends}
    with transaction.atomic():
        # Claim the month-ends, oldest first (two builders of overlapping chunks queue, never deadlock).
        months = [
            AgingSnapshotMonth.objects.select_for_update().get_or_create(
                month_end=end, defaults={"built_at": started}
            )[0]
            for end in ends
        ]
        AgingSnapshot.objects.filter(month_end__in=ends).delete()
        sql, params = _insert_sql(ends=ends, rates=rates, built_at=started, base=base)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # One pass of aggregates: no JIT, and the per-customer grouping stays in memory rather than
                # spilling to disk. SET LOCAL ends with the transaction.
                cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'")
            try:
                with transaction.atomic():
                    cursor.execute(sql, params)
            except IntegrityError:
                # The amounts of a currency without a rate come out NULL, which the columns refuse.
                for end in ends:
                    _refuse_missing_rate(end, rates[end])
                raise
        summary: dict[dt.date, dict[str, Any]] = {
            end: {"rows": 0, "total": ZERO, "used": set()} for end in ends
        }
        for end, currency, rows, total in (
            AgingSnapshot.objects.filter(month_end__in=ends)
            .order_by()
            .values("month_end", "currency")
            .annotate(rows=Count("id"), sum=Sum("total"))
            .values_list("month_end", "currency", "rows", "sum")
        ):
            summary[end]["rows"] += rows
            summary[end]["total"] += Decimal(total)
            summary[end]["used"].add(currency)
        for month in months:
            used = sorted(summary[month.month_end]["used"] - {base})
            month.built_at = started
            month.rates = [_rate_json(rates[month.month_end][c]) for c in used]
            month.currency = base
            month.ledger_revision = revisions[month.month_end]
            month.save(update_fields=["built_at", "rates", "currency", "ledger_revision"])
    seconds = round((time.perf_counter() - clock) / len(ends), 3)
    return [Built(end, summary[end]["rows"], quantize(summary[end]["total"], base), seconds) for end in ends]


def _refuse_missing_rate(month_end: dt.date, rates: dict[str, RateUsed]) -> None:
    """Refuse, as aging_report does, a month-end with AR open in a currency that has no rate by then."""
    sql, params = open_items_sql(
        as_of=month_end, columns=("i.currency",), kept_is_exact=kept_amounts_exact(month_end)
    )
    placeholders = ", ".join(["%s"] * len(rates))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT o.currency FROM ({sql}) o "
            f"WHERE o.open > 0 AND o.currency NOT IN ({placeholders})",
            [*params, *rates],
        )
        lacking = sorted(row[0] for row in cursor.fetchall())
    if lacking:
        raise DomainError(
            f"No {lacking[0]}→{settings.BASE_CURRENCY} rate is dated on or before {month_end}.",
            field="month_end",
            code="missing_fx_rate",
        )


def _insert_sql(
    *,
    ends: Sequence[dt.date],
    rates: dict[dt.date, dict[str, RateUsed]],
    built_at: dt.datetime,
    base: str,
) -> tuple[str, list[Any]]:
    """The INSERT … SELECT of some month-ends and its parameters, in the order of their placeholders.

    It is aging's open-items query (recoup.ledger.aging.open_items_sql) for several dates in one pass:
    - `cand`: the invoices issued by the last month-end and open today or settled after the first one, with
      their customer's collector, currency and segment (one hash join, not a probe per group);
    - `pairs`: each of them with every month-end it is a candidate on (issued by then, and open today or
      settled after it), with that month-end's bucket floors (rules.bucket_floor_dates);
    - `applied`: the allocations of each pair dated on or before its month-end;
    - then, as aging_report: open = amount − applied, rounded to 4 places; the open ones summed per
      month-end, customer, currency and bucket; each sum converted at the month-end's rate and rounded to
      the base currency's minor unit; those added up per group of customers.
    """
    places = minor_units(base)
    params: list[Any] = []
    rows = []
    for k, end in enumerate(ends):
        rows.append("(" + ", ".join(["%s"] * (2 + len(DEFAULT_BUCKETS))) + ")")
        params += [k, *bucket_floor_dates(end, DEFAULT_BUCKETS)]
    ends_values = ", ".join(rows)
    rate_rows = []
    for k, end in enumerate(ends):
        for rate in rates[end].values():
            rate_rows.append("(%s, %s, %s)")
            params += [k, rate.currency, rate.rate]
    floors = [f"f{i}" for i in range(1, len(DEFAULT_BUCKETS) + 1)]
    bucket = (
        "CASE WHEN p.d >= p.me THEN 0 "
        + " ".join(f"WHEN p.d >= p.{f} THEN {i}" for i, f in enumerate(floors, start=1))
        + f" ELSE {len(floors) + 1} END"
    )
    converted = f"ROUND(SUM(o.open) * r.rate, {places})"
    if connection.vendor == "sqlite":
        # SQLite computes in binary floating point: carry whole minor units, which add up exactly.
        converted = f"ROUND({converted} * {10**places})"
        unit = f" / {10**places}.0"
    else:
        unit = ""
    per_bucket = ", ".join(
        f"SUM(CASE WHEN g.bucket = {i} THEN g.amount ELSE 0 END){unit}" for i in range(len(BUCKET_FIELDS))
    )
    dimensions = ("month_end", "collector_id", "currency", "customer_currency", "segment")
    columns = ", ".join((*dimensions, *BUCKET_FIELDS, "total", "open_invoices", "built_at"))
    sql = f"""
        WITH ends(k, me, {", ".join(floors)}) AS (VALUES {ends_values}),
        rates(k, currency, rate) AS (VALUES {", ".join(rate_rows)}),
        cand AS MATERIALIZED (
            SELECT i.id, i.customer_id, i.currency, i.due_date AS d, i.issue_date, i.open_amount,
                   i.closed_on, i.amount, u.collector_id, u.currency AS customer_currency, u.segment
            FROM ledger_invoice i JOIN ledger_customer u ON u.id = i.customer_id
            WHERE i.issue_date <= %s AND (i.open_amount > 0 OR i.closed_on > %s)),
        pairs AS MATERIALIZED (
            SELECT c.id, c.customer_id, c.currency, c.d, c.amount, c.collector_id, c.customer_currency,
                   c.segment, e.*
            FROM cand c JOIN ends e ON c.issue_date <= e.me AND (c.open_amount > 0 OR c.closed_on > e.me)),
        applied AS (
            SELECT p.id, p.k, SUM(a.amount) AS applied
            FROM ledger_allocation a JOIN pairs p ON p.id = a.invoice_id AND a.date <= p.me
            WHERE a.date <= %s
            GROUP BY p.id, p.k),
        items AS (
            SELECT p.k, p.customer_id, p.currency, p.collector_id, p.customer_currency, p.segment,
                   {bucket} AS bucket, ROUND(p.amount - COALESCE(s.applied, 0), 4) AS open
            FROM pairs p LEFT JOIN applied s ON s.id = p.id AND s.k = p.k),
        g AS (
            SELECT o.k, o.customer_id, o.currency, o.collector_id, o.customer_currency, o.segment, o.bucket,
                   {converted} AS amount, COUNT(*) AS n
            FROM items o LEFT JOIN rates r ON r.k = o.k AND r.currency = o.currency
            WHERE o.open > 0
            GROUP BY o.k, o.customer_id, o.currency, o.collector_id, o.customer_currency, o.segment, o.bucket,
                     r.rate)
        INSERT INTO {AgingSnapshot._meta.db_table} ({columns})
        SELECT e.me, g.collector_id, g.currency, g.customer_currency, g.segment, {per_bucket},
               SUM(g.amount){unit}, SUM(g.n), %s
        FROM g JOIN ends e ON e.k = g.k
        GROUP BY e.me, g.collector_id, g.currency, g.customer_currency, g.segment"""
    params += [max(ends), min(ends), max(ends), built_at]
    return sql, params


def _rate_json(rate: RateUsed) -> dict[str, str | None]:
    return {
        "currency": rate.currency,
        "rate": str(rate.rate),
        "date": rate.date.isoformat() if rate.date else None,
    }


# Reading ----------------------------------------------------------------------------------------------------


def scope_q(scope: Scope) -> Q:
    """The dashboard's filter on snapshot rows: the collector and segment as built, the collector's team
    today, and the customers' currency (Scope.currency is the customer's)."""
    conditions = Q()
    if scope.collector_id is not None:
        conditions &= Q(collector_id=scope.collector_id)
    if scope.team_id is not None:
        conditions &= Q(collector__team_id=scope.team_id)
    if scope.currency:
        conditions &= Q(customer_currency=scope.currency)
    if scope.segment:
        conditions &= Q(segment=scope.segment)
    return conditions


def month_end_totals(month_ends: Iterable[dt.date], scope: Scope | None = None) -> list[MonthEndAging]:
    """The aging of each month-end for `scope` (default: everything), in the order given, from the stored
    snapshots: two queries however many month-ends. A month-end never built is built first, from the ledger,
    and stored (as `build` does: about as long as one aging report per month-end); a month-end that has not
    closed yet is refused."""
    ends = list(dict.fromkeys(month_ends))
    today = timezone.localdate()
    for end in ends:
        _check_closed(end, today)
    months = {m.month_end: m for m in AgingSnapshotMonth.objects.filter(month_end__in=ends)}
    missing = [end for end in ends if end not in months]
    if missing:
        build(missing)
        months = {m.month_end: m for m in AgingSnapshotMonth.objects.filter(month_end__in=ends)}
    return _totals(ends, months, scope or Scope())


def current_month_ends(days: Iterable[dt.date]) -> dict[dt.date, MonthEndAging]:
    """The stored aging, of every customer, of those of `days` whose snapshot is the ledger's answer today:
    a month-end built in the base currency with nothing dated on or before it changed in the ledger since
    (its watermark is still ledger_revisions'). The others (not a month-end, never built, built before the
    watermark existed, or stale) are left out, never built here: the caller ages the ledger. Three queries."""
    ends = [day for day in dict.fromkeys(days) if is_month_end(day)]
    months = {
        m.month_end: m
        for m in AgingSnapshotMonth.objects.filter(
            month_end__in=ends, currency=settings.BASE_CURRENCY, ledger_revision__isnull=False
        )
    }
    if not months:
        return {}
    watermark = ledger_revisions(months)
    current = [end for end, month in months.items() if month.ledger_revision == watermark[end]]
    return {close.month_end: close for close in _totals(current, months, Scope())} if current else {}


def _totals(
    ends: Sequence[dt.date], months: dict[dt.date, AgingSnapshotMonth], scope: Scope
) -> list[MonthEndAging]:
    """The stored month-ends `ends` (each in `months`) summed for `scope`, in the order given: one query."""
    sums: dict[dt.date, dict[str, Any]] = {}
    used: dict[dt.date, set[str]] = {end: set() for end in ends}
    summed = (*BUCKET_FIELDS, "total", "open_invoices")
    rows = (
        AgingSnapshot.objects.filter(scope_q(scope), month_end__in=ends)
        .order_by()
        .values("month_end", "currency")
        .annotate(**{f"sum_{name}": Sum(name) for name in summed})
        .values_list("month_end", "currency", *(f"sum_{name}" for name in summed))
    )
    for end, currency, *figures in rows:
        used[end].add(currency)
        into = sums.setdefault(end, dict.fromkeys(summed, 0))
        for name, value in zip(summed, figures, strict=True):
            into[name] += Decimal(value) if name != "open_invoices" else value
    base = settings.BASE_CURRENCY
    return [_month_end_aging(months[end], sums.get(end), used[end], base) for end in ends]


def _month_end_aging(
    month: AgingSnapshotMonth, row: dict[str, Any] | None, used: set[str], base: str
) -> MonthEndAging:
    def amount(name: str) -> Decimal:
        return quantize(Decimal(row[name]) if row else ZERO, base)

    return MonthEndAging(
        month_end=month.month_end,
        currency=base,
        buckets=tuple(amount(name) for name in BUCKET_FIELDS),
        total=amount("total"),
        open_invoices=int(row["open_invoices"]) if row else 0,
        built_at=month.built_at,
        # The rates of the currencies in this scope, as aging_report(customer_ids=…) lists them.
        rates=tuple(
            RateUsed(
                r["currency"], Decimal(r["rate"]), dt.date.fromisoformat(r["date"]) if r["date"] else None
            )
            for r in month.rates
            if r["currency"] in used
        ),
    )


def trend(
    count: int = 12, *, through: dt.date | None = None, scope: Scope | None = None
) -> list[MonthEndAging]:
    """The last `count` closed month-ends (default: the 12 up to yesterday), oldest first."""
    return month_end_totals(closed_month_ends(count, through=through), scope)


__all__: Sequence[str] = (
    "LABELS",
    "Built",
    "MonthEndAging",
    "closed_month_ends",
    "current_month_ends",
    "month_end_of",
    "month_end_totals",
    "month_ends",
    "rebuild",
    "snapshot_month_end",
    "trend",
)
