"""KPIs for a period [start, end], in BASE_CURRENCY, set-based (docs/reports.md, DESIGN.md "KPIs").

The database does the summing:
- AR comes from two aging reports, as of the day before `start` (begin AR) and as of `end` (end AR, its
  current bucket and its buckets past 90 days), so every AR figure is the one `recoup aging` shows. A day
  that is a month-end whose stored snapshot is still the ledger's answer (recoup.reports.snapshots.
  current_month_ends: nothing dated on or before it has changed since it was built) is read from the
  snapshot instead, which holds the same figures to the cent;
- credit sales and collections are sums of the invoices (by issue date) and payments (by payment date) per
  currency and day, one GROUP BY each. Python converts those few sums (days × currencies, never one per
  document) at the rate of their day and adds them up.

Every amount is converted at the rate of the date it is measured on, the rule aging follows at its as-of
date: AR at the as-of date, an invoice's sale at its issue date, a payment at its payment date. The rate of a
date is the latest rate dated on or before it.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import Model, Sum

from recoup.core.errors import DomainError
from recoup.core.money import quantize
from recoup.ledger import kept
from recoup.ledger.aging import aging_report, rates_as_of
from recoup.ledger.models import FxRate, Invoice, Payment
from recoup.ledger.rules import DEFAULT_BUCKETS
from recoup.ledger.selectors import RateUsed
from recoup.reports import rules, snapshots

ZERO = Decimal(0)
# The standard aging buckets (so AR totals are the ones `recoup aging` shows), with a bound at 90 days.
KPI_BUCKETS = tuple(sorted({*DEFAULT_BUCKETS, rules.OVER_DAYS}))
# Buckets from this index on hold the AR more than OVER_DAYS past due (0 is current, i the i-th bound's).
OVER_FROM = KPI_BUCKETS.index(rules.OVER_DAYS) + 2
# The month-end snapshots keep the default buckets: they answer for the KPIs only if those are the KPIs' too.
SNAPSHOTS_FIT = KPI_BUCKETS == DEFAULT_BUCKETS


class Close(NamedTuple):
    """The AR open at the end of one day, in the base currency: what the KPIs read of an aging."""

    buckets: tuple[Decimal, ...]  # in the order of KPI_BUCKETS' labels
    total: Decimal
    rates: tuple[RateUsed, ...]  # other currencies only


class DaySum(NamedTuple):
    currency: str
    day: dt.date
    amount: Decimal  # in `currency`, exact


class MonthSales(NamedTuple):
    start: dt.date
    end: dt.date  # the month's last day, or the period's end for the newest month
    sales: Decimal  # credit sales of those days, in the base currency, rounded to its minor unit

    @property
    def days(self) -> int:
        return rules.period_days(self.start, self.end)


@dataclass(frozen=True)
class KpiReport:
    """The period's amounts, in `currency`; the KPIs derive from them through recoup.reports.rules."""

    start: dt.date
    end: dt.date
    currency: str
    begin_ar: Decimal
    credit_sales: Decimal
    end_ar: Decimal
    end_current_ar: Decimal
    end_over_90_ar: Decimal
    collected: Decimal
    # The months the countback went through, newest first: as far back as it took to cover end AR.
    countback_months: tuple[MonthSales, ...]
    # The rates the two aging reports used (as of start − 1 day and as of end), other currencies only.
    begin_rates: tuple[RateUsed, ...] = ()
    end_rates: tuple[RateUsed, ...] = ()

    @property
    def days(self) -> int:
        return rules.period_days(self.start, self.end)

    @property
    def dso(self) -> Decimal | None:
        return rules.standard_dso(ar=self.end_ar, credit_sales=self.credit_sales, days=self.days)

    @property
    def countback_dso(self) -> Decimal | None:
        return rules.countback_dso(ar=self.end_ar, months=[(m.sales, m.days) for m in self.countback_months])

    @property
    def bpdso(self) -> Decimal | None:
        return rules.best_possible_dso(
            current_ar=self.end_current_ar, credit_sales=self.credit_sales, days=self.days
        )

    @property
    def add(self) -> Decimal | None:
        return rules.average_days_delinquent(dso=self.dso, bpdso=self.bpdso)

    @property
    def cei(self) -> Decimal | None:
        return rules.collection_effectiveness(
            begin_ar=self.begin_ar,
            credit_sales=self.credit_sales,
            end_ar=self.end_ar,
            end_current_ar=self.end_current_ar,
        )

    @property
    def pct_current(self) -> Decimal | None:
        return rules.percentage(self.end_current_ar, self.end_ar)

    @property
    def pct_over_90(self) -> Decimal | None:
        return rules.percentage(self.end_over_90_ar, self.end_ar)

    def as_dict(self) -> dict[str, Any]:
        """Amounts as Decimal strings in the base currency's minor unit; days and percentages as numbers
        rounded to 2 decimals; null where a denominator is zero."""

        def amount(value: Decimal) -> str:
            return str(quantize(value, self.currency))

        return {
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "days": self.days,
            "currency": self.currency,
            "begin_ar": amount(self.begin_ar),
            "credit_sales": amount(self.credit_sales),
            "end_ar": amount(self.end_ar),
            "end_current_ar": amount(self.end_current_ar),
            "collected": amount(self.collected),
            "dso": rules.round_figure(self.dso),
            "countback_dso": rules.round_figure(self.countback_dso),
            "bpdso": rules.round_figure(self.bpdso),
            "add": rules.round_figure(self.add),
            "cei": rules.round_figure(self.cei),
            "pct_current": rules.round_figure(self.pct_current),
            "pct_over_90": rules.round_figure(self.pct_over_90),
        }


def kpis(*, start: dt.date, end: dt.date, customer_ids: Sequence[int] | None = None) -> KpiReport:
    """The KPIs of [start, end]: two aging reports by total (or, for every customer, the month-end snapshots
    that are still the ledger's answer), a GROUP BY of the invoices and one of the payments (plus one of the
    older invoices when the countback reaches before start's month), and the FX rates of those days. The
    number of queries does not depend on the ledger's size.

    `customer_ids` limits every figure to those customers (Scope.customer_ids()); None is every customer."""
    _check_period(start, end)
    base = settings.BASE_CURRENCY
    before = start - dt.timedelta(days=1)
    stored = _stored_closes([before, end]) if customer_ids is None else {}
    begin = stored.get(before) or _aging(as_of=before, field="from", customer_ids=customer_ids)
    closing = stored.get(end) or _aging(as_of=end, field="to", customer_ids=customer_ids)
    buckets = closing.buckets
    # Invoices issued from the first day of start's month: the period's sales and the countback's first
    # months come from one query.
    recent_from = start.replace(day=1)
    recent = _day_sums(Invoice, "issue_date", since=recent_from, until=end, customer_ids=customer_ids)
    recent_rates = _RateBook(since=recent_from, until=end)
    credit_sales = quantize(recent_rates.convert(row for row in recent if row.day >= start), base)
    months = _countback_months(
        end_ar=closing.total,
        end=end,
        since=recent_from,
        recent=recent,
        rates=recent_rates,
        customer_ids=customer_ids,
    )
    return KpiReport(
        start=start,
        end=end,
        currency=base,
        begin_ar=begin.total,
        credit_sales=credit_sales,
        end_ar=closing.total,
        end_current_ar=buckets[0],
        end_over_90_ar=sum(buckets[OVER_FROM:], quantize(ZERO, base)),
        collected=collected(start=start, end=end, customer_ids=customer_ids),
        countback_months=tuple(months),
        begin_rates=begin.rates,
        end_rates=closing.rates,
    )


def collected(*, start: dt.date, end: dt.date, customer_ids: Sequence[int] | None = None) -> Decimal:
    """The payments received in [start, end] (by payment date, applied or not), each day's at its rate."""
    _check_period(start, end)
    rows = _day_sums(Payment, "date", since=start, until=end, customer_ids=customer_ids)
    return quantize(_RateBook(since=start, until=end).convert(rows), settings.BASE_CURRENCY)


class CollectionPoint(NamedTuple):
    label: str  # 2013-01-31, 2013-W05 or 2013-01
    start: dt.date
    end: dt.date  # clipped to the period: the first and last weeks or months may be partial
    amount: Decimal


def collections(
    *, start: dt.date, end: dt.date, by: str = "day", customer_ids: Sequence[int] | None = None
) -> list[CollectionPoint]:
    """The payments received per day, ISO week or calendar month of [start, end], oldest first, with every
    day, week or month of the period present (zero when nothing came in). Each point is rounded on its own."""
    return _series(Payment, "date", start=start, end=end, by=by, customer_ids=customer_ids)


def credit_sales_series(
    *, start: dt.date, end: dt.date, by: str = "month", customer_ids: Sequence[int] | None = None
) -> list[CollectionPoint]:
    """The credit sales (invoices by issue date, at their full amount, each at the rate of its issue date)
    per day, ISO week or calendar month of [start, end], in the points `collections` gives. A month's point is
    the `credit_sales` that kpis() reports for that month.

    Inside kept.reusing() (the dashboard), the series is kept while nothing dated on or before `end` changes:
    an invoice, its amount, currency or customer, an FX rate (collections cannot be: a payment left unapplied
    changes no watermark)."""

    customers = None if customer_ids is None else frozenset(customer_ids)
    points = _kept_sales.get(
        (start, end, by, customers),
        end,
        lambda: _series(Invoice, "issue_date", start=start, end=end, by=by, customer_ids=customer_ids),
    )
    return list(points)  # a list of its own for each caller


_kept_sales: kept.Kept[list[CollectionPoint]] = kept.Kept(4)


def _series(
    model: type[Model],
    date_field: str,
    *,
    start: dt.date,
    end: dt.date,
    by: str,
    customer_ids: Sequence[int] | None,
) -> list[CollectionPoint]:
    """One GROUP BY per currency and day of [start, end], summed into the spans of `by`; two rate queries."""
    _check_period(start, end)
    if by not in rules.SERIES:
        raise DomainError(f"by must be one of {', '.join(rules.SERIES)}", field="by")
    base = settings.BASE_CURRENCY
    spans = rules.series_spans(start=start, end=end, by=by)
    starts = [span.start for span in spans]
    per_span: list[list[DaySum]] = [[] for _ in spans]
    for row in _day_sums(model, date_field, since=start, until=end, customer_ids=customer_ids):
        per_span[bisect_right(starts, row.day) - 1].append(row)
    rates = _RateBook(since=start, until=end)
    return [
        CollectionPoint(span.label, span.start, span.end, quantize(rates.convert(rows), base))
        for span, rows in zip(spans, per_span, strict=True)
    ]


# Internals ------------------------------------------------------------------------------------------------


def _check_period(start: dt.date, end: dt.date) -> None:
    if start < rules.EARLIEST_DATE:
        raise DomainError(f"Choose a date from {rules.EARLIEST_DATE} on.", field="from")
    if start > end:
        raise DomainError("The period ends before it starts.", field="from")


def _aging(*, as_of: dt.date, field: str, customer_ids: Sequence[int] | None = None) -> Close:
    try:
        report = aging_report(
            as_of=as_of, by="total", basis="due", buckets=KPI_BUCKETS, customer_ids=customer_ids
        )
    except DomainError as exc:  # a missing FX rate names the KPI parameter, not aging's as_of
        raise DomainError(exc.message, field=field, code=exc.code) from exc
    return Close(report.total.buckets, report.total.total, tuple(report.rates))


def _stored_closes(days: Sequence[dt.date]) -> dict[dt.date, Close]:
    """The closes of every customer on those of `days` that a current month-end snapshot answers for."""
    if not SNAPSHOTS_FIT:
        return {}
    return {
        day: Close(close.buckets, close.total, close.rates)
        for day, close in snapshots.current_month_ends(days).items()
    }


def _day_sums(
    model: type[Model],
    date_field: str,
    *,
    since: dt.date | None,
    until: dt.date,
    customer_ids: Sequence[int] | None = None,
) -> list[DaySum]:
    """Amounts per currency and day of the documents dated in [since, until] (since=None: from the first),
    of the customers `customer_ids` (None: every customer)."""
    documents = model._default_manager.filter(**{f"{date_field}__lte": until})
    if since is not None:
        documents = documents.filter(**{f"{date_field}__gte": since})
    if customer_ids is not None:
        documents = documents.filter(customer_id__in=list(customer_ids))
    rows = (
        documents.order_by()
        .values("currency", date_field)
        .annotate(total=Sum("amount"))
        .values_list("currency", date_field, "total")
    )
    return [DaySum(currency, day, total) for currency, day, total in rows]


class _RateBook:
    """Each currency's rates for the days in [since, until]: the latest dated on or before `since`, then every
    later one up to `until`. Two queries."""

    def __init__(self, *, since: dt.date, until: dt.date) -> None:
        self.base = settings.BASE_CURRENCY
        history: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
        for currency, used in rates_as_of(since).items():
            if used.date is not None:
                history[currency].append((used.date, used.rate))
        for currency, date, rate in (
            FxRate.objects.filter(date__gt=since, date__lte=until)
            .order_by("currency", "date")
            .values_list("currency", "date", "rate")
        ):
            history[currency].append((date, rate))
        self.history = dict(history)

    def convert(self, rows: Iterable[DaySum]) -> Decimal:
        """The exact sum, in the base currency, of each day's amount at the rate of its day."""
        total = ZERO
        for currency, day, amount in rows:
            if currency == self.base:
                total += amount
                continue
            rate = rules.rate_on(self.history.get(currency, ()), day)
            if rate is None:
                raise DomainError(
                    f"No {currency}→{self.base} rate is dated on or before {day}.",
                    field="from",
                    code="missing_fx_rate",
                )
            total += amount * rate
        return total


def _countback_months(
    *,
    end_ar: Decimal,
    end: dt.date,
    since: dt.date,
    recent: Sequence[DaySum],
    rates: _RateBook,
    customer_ids: Sequence[int] | None = None,
) -> list[MonthSales]:
    """The calendar months from end's back, newest first, until their sales cover end AR (and one had sales),
    or back to the month of the ledger's first invoice.

    `recent` holds the invoices issued from `since` (a month's first day) to `end`. Older invoices are read
    only when those months do not cover end AR: the 12 months before `since` first, then all the rest.
    """
    base = settings.BASE_CURRENCY
    months: list[MonthSales] = []
    covered = ZERO

    def add(spans: list[tuple[dt.date, dt.date]], rows: Sequence[DaySum], book: _RateBook) -> bool:
        nonlocal covered
        by_month: dict[dt.date, list[DaySum]] = defaultdict(list)
        for row in rows:
            by_month[row.day.replace(day=1)].append(row)
        for first, last in spans:
            # Converted month by month, newest first: a month the countback never reaches needs no rate.
            sales = quantize(book.convert(row for row in by_month[first] if row.day <= last), base)
            months.append(MonthSales(first, last, sales))
            covered += sales
            if covered >= end_ar and covered > 0:
                return True
        return False

    if add(rules.month_spans(newest=end, oldest=since), recent, rates):
        return months
    year_before = since.replace(year=since.year - 1)
    for lower in (year_before, None):
        upper = months[-1].start - dt.timedelta(days=1)
        rows = _day_sums(Invoice, "issue_date", since=lower, until=upper, customer_ids=customer_ids)
        if lower is None:  # the rest of the ledger: back to its first invoice's month
            if not rows:
                break
            lower = min(row.day for row in rows)
        if add(rules.month_spans(newest=upper, oldest=lower), rows, _RateBook(since=lower, until=upper)):
            return months
    # The ledger's sales do not cover end AR: the months before its first invoice are no part of it.
    while months and months[-1].sales == 0:
        months.pop()
    return months
