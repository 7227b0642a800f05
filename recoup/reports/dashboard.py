"""The dashboard's reads: each chart's figures for a Scope (the filter bar), as of today, in BASE_CURRENCY,
with the links down to the customers and invoices behind every bar and point (docs/reports.md, "Dashboard").

Every function returns plain JSON-ready data: amounts as Decimal strings at the base currency's minor unit,
day figures and percentages as numbers rounded to 2 decimals (None where a denominator is zero), dates in
ISO format. The figures come from the same places as everywhere else, so they agree with them to the cent:
aging from `aging_report`, KPIs from the rules `selectors.kpis` uses, collections and credit sales from
`selectors`, dispute figures from `dispute_metrics`.

Each function runs a fixed number of queries, whatever the size of the ledger.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.urls import reverse

from recoup.activity.models import Promise, PromiseStatus
from recoup.core.errors import DomainError
from recoup.core.money import minor_units, quantize
from recoup.disputes.selectors import dispute_metrics
from recoup.insights import selectors as insights
from recoup.ledger.aging import AgingReport, AgingRow, aging_report, rates_as_of
from recoup.ledger.models import Customer
from recoup.ledger.rules import DEFAULT_BUCKETS, bucket_labels
from recoup.reports import rules, selectors, snapshots
from recoup.reports.effectiveness import reminder_effectiveness
from recoup.reports.scope import Scope
from recoup.reports.snapshots import MonthEndAging
from recoup.users.models import User

LABELS = bucket_labels(DEFAULT_BUCKETS)  # current, 1-30, 31-60, 61-90, 91-120, 120+
BUCKET_NAMES = {
    "current": "Current",
    "1-30": "1–30 days",
    "31-60": "31–60 days",
    "61-90": "61–90 days",
    "91-120": "91–120 days",
    "120+": "Over 120 days",
}
OVER_90_FROM = LABELS.index("91-120")  # buckets from here on are more than 90 days past due
MONTHS = 12  # month-ends in the aging trend, months in the KPI trend and the monthly collections
WEEKS = 13  # weeks in the weekly collections, this one included
TOP = 10  # customers in "top overdue"
PROMISES_LISTED = 10
COLLECTIONS_BY = ("week", "month")
ZERO = Decimal(0)


# Month-ends -------------------------------------------------------------------------------------------------


def month_ends(count: int, today: dt.date) -> list[dt.date]:
    """The last `count` month-ends before `today` (closed months only), oldest first."""
    ends = [today.replace(day=1) - dt.timedelta(days=1)]
    while len(ends) < count:
        ends.append(ends[-1].replace(day=1) - dt.timedelta(days=1))
    return ends[::-1]


def month_end_totals(month_ends: Sequence[dt.date], scope: Scope) -> list[MonthEndAging]:
    """The aging of each month-end for `scope`, in the order given: the stored month-end snapshots, two
    queries (a month-end not stored yet is built from the ledger first, once). Their figures are exactly
    aging_report(as_of=month_end, by="total", customer_ids=scope.customer_ids())'s: the dashboard reads
    month-ends through this function only."""
    return snapshots.month_end_totals(month_ends, scope)


def prepare(today: dt.date) -> None:
    """Store the month-ends the charts read (the 13 the KPIs need, the aging's 12 among them) if any is
    missing, so that the charts' requests, which arrive together, only read them. The page calls this before
    it renders: two queries once they are stored."""
    month_end_totals(month_ends(MONTHS + 1, today), Scope())


# Links down -------------------------------------------------------------------------------------------------


def _url(name: str, params: Mapping[str, Any]) -> str:
    query = urlencode({key: str(value) for key, value in params.items() if value not in (None, "", False)})
    return f"{reverse(name)}?{query}" if query else reverse(name)


def invoices_url(scope: Scope, **params: Any) -> str:
    """The invoice list of `params`, limited to the scope's customers (their currency: customer_currency)."""
    scoped = scope.as_query()
    if "currency" in scoped:
        scoped["customer_currency"] = scoped.pop("currency")
    return _url("invoice-list", {**params, **scoped})


def customers_url(scope: Scope, **params: Any) -> str:
    """The customer list of `params`, limited to the scope; a `collector` in params replaces the scope's."""
    merged = dict(params)
    for key, value in scope.as_query().items():
        merged.setdefault(key, value)
    return _url("customer-list", merged)


def _band_url(scope: Scope, label: str, as_of: dt.date | None) -> str:
    return invoices_url(scope, as_of=as_of.isoformat() if as_of else None, band=label)


# (a) Aging: today and the month-ends before it ----------------------------------------------------------


def aging(scope: Scope, today: dt.date) -> dict[str, Any]:
    """Aging by bucket as stacked bars: the last MONTHS month-ends, then today. Each bar segment links to the
    invoices in that bucket then (the invoice list open on that month-end; today's open invoices)."""
    ends = month_ends(MONTHS, today)
    closes: list[MonthEndAging | AgingRow] = [*month_end_totals(ends, scope)]
    closes.append(aging_report(as_of=today, by="total", customer_ids=scope.customer_ids()).total)
    dates: list[dt.date] = [*ends, today]
    return {
        **_head(today),
        "labels": [*(end.isoformat() for end in ends), "Today"],
        "dates": [day.isoformat() for day in dates],
        "datasets": [
            {
                "key": label,
                "label": BUCKET_NAMES[label],
                "data": [str(close.buckets[i]) for close in closes],
                "links": [_band_url(scope, label, None if day == today else day) for day in dates],
            }
            for i, label in enumerate(LABELS)
        ],
        "totals": [str(close.total) for close in closes],
    }


# (b) DSO, BPDSO and CEI by month ----------------------------------------------------------------------------


def kpi_trend(scope: Scope, today: dt.date) -> dict[str, Any]:
    """DSO, BPDSO and CEI of each of the last MONTHS calendar months, the figures selectors.kpis gives for
    that month and scope: begin AR and end AR from the month-ends' aging, credit sales from one GROUP BY.

    Each DSO point links to the invoices open at the month's end (its end AR), each BPDSO point to those not
    yet due then (its current AR), each CEI point to those overdue then (what kept it below 100)."""
    ends = month_ends(MONTHS + 1, today)  # the first one closes the month before: begin AR of the first month
    closes = month_end_totals(ends, scope)
    sales = selectors.credit_sales_series(
        start=ends[1].replace(day=1), end=ends[-1], by="month", customer_ids=scope.customer_ids()
    )
    months = []
    for before, close, point in zip(closes[:-1], closes[1:], sales, strict=True):
        days = rules.period_days(point.start, point.end)
        current = close.buckets[0]
        dso = rules.standard_dso(ar=close.total, credit_sales=point.amount, days=days)
        bpdso = rules.best_possible_dso(current_ar=current, credit_sales=point.amount, days=days)
        cei = rules.collection_effectiveness(
            begin_ar=before.total, credit_sales=point.amount, end_ar=close.total, end_current_ar=current
        )
        months.append(
            {
                "month": point.label,
                "from": point.start.isoformat(),
                "to": point.end.isoformat(),
                "days": days,
                "begin_ar": str(before.total),
                "credit_sales": str(point.amount),
                "end_ar": str(close.total),
                "end_current_ar": str(current),
                "dso": rules.round_figure(dso),
                "bpdso": rules.round_figure(bpdso),
                "cei": rules.round_figure(cei),
            }
        )
    as_of = [close.month_end.isoformat() for close in closes[1:]]
    links = {
        "dso": [invoices_url(scope, as_of=end) for end in as_of],
        "bpdso": [invoices_url(scope, as_of=end, band="current") for end in as_of],
        "cei": [invoices_url(scope, as_of=end, overdue="on") for end in as_of],
    }
    names = {"dso": ("DSO", "days"), "bpdso": ("BPDSO", "days"), "cei": ("CEI", "percent")}
    return {
        **_head(today),
        "labels": [month["month"] for month in months],
        "datasets": [
            {
                "key": key,
                "label": label,
                "unit": unit,
                "data": [month[key] for month in months],
                "links": links[key],
            }
            for key, (label, unit) in names.items()
        ],
        "months": months,
    }


# (c) Collections ----------------------------------------------------------------------------------------


def collections(scope: Scope, today: dt.date, by: str = "week") -> dict[str, Any]:
    """The payments received per ISO week (the last WEEKS, this one to date) or per calendar month (the last
    MONTHS, this one to date). Each bar links to the customers who paid in it."""
    if by not in COLLECTIONS_BY:
        raise DomainError(f"by must be one of {', '.join(COLLECTIONS_BY)}", field="by")
    if by == "week":
        start = today - dt.timedelta(days=today.weekday(), weeks=WEEKS - 1)
    else:
        start = month_ends(MONTHS - 1, today)[0].replace(day=1)
    points = selectors.collections(start=start, end=today, by=by, customer_ids=scope.customer_ids())
    base = settings.BASE_CURRENCY
    return {
        **_head(today),
        "by": by,
        "labels": [point.label for point in points],
        "datasets": [
            {
                "key": "collected",
                "label": "Collected",
                "data": [str(point.amount) for point in points],
                "links": [
                    customers_url(scope, paid_from=point.start.isoformat(), paid_to=point.end.isoformat())
                    for point in points
                ],
            }
        ],
        "periods": [
            {"label": p.label, "from": p.start.isoformat(), "to": p.end.isoformat(), "amount": str(p.amount)}
            for p in points
        ],
        "total": str(sum((point.amount for point in points), quantize(ZERO, base))),
    }


# Collections against the forecast ---------------------------------------------------------------------------

PAST_WEEKS = 8  # ISO weeks of collections set against their forecast, this one to date included


def cash_outlook(scope: Scope, today: dt.date) -> dict[str, Any]:
    """The payments received per ISO week for the last PAST_WEEKS weeks (this one to date), beside what the
    last forecast kept before each week had expected for it; then the latest forecast's weeks with their
    80 % band. With a filter the forecast is made for the scope's customers from the stored predictions (the
    forecasts kept are of every customer, so the past weeks then have no forecast beside them)."""
    start = today - dt.timedelta(days=today.weekday(), weeks=PAST_WEEKS - 1)
    ids = scope.customer_ids()
    past = selectors.collections(start=start, end=today, by="week", customer_ids=ids)
    ahead: insights.KeptForecast | insights.CashForecast | None
    if scope.is_everything:
        then = insights.forecast_made_before([(p.start, p.end) for p in past])
        ahead = insights.latest_forecast()
    else:
        then = [None] * len(past)
        try:
            ahead = insights.cash_forecast(customer_ids=ids)
        except DomainError as exc:
            if exc.code != "no_predictions":
                raise
            ahead = None
    # This week is among the past ones (collected to date); the forecast's weeks from tomorrow on follow.
    weeks = [w for w in ahead.weeks if w.start > today] if ahead else []
    blank: list[str | None] = [None] * len(weeks)
    none_past: list[str | None] = [None] * len(past)
    return {
        **_head(today),
        "forecast_made_on": ahead.as_of.isoformat() if ahead else None,
        "labels": [p.label for p in past] + [f"from {w.start.isoformat()}" for w in weeks],
        "datasets": [
            {
                "key": "collected",
                "label": "Collected",
                "data": [str(p.amount) for p in past] + blank,
                "links": [
                    customers_url(scope, paid_from=p.start.isoformat(), paid_to=p.end.isoformat())
                    for p in past
                ]
                + blank,
            },
            {
                "key": "forecast_then",
                "label": "Forecast before the week",
                "data": [None if v is None else str(v) for v in then] + blank,
            },
            {"key": "expected", "label": "Expected", "data": none_past + [str(w.expected) for w in weeks]},
            {"key": "low", "label": "Band, low (10 %)", "data": none_past + [str(w.low) for w in weeks]},
            {"key": "high", "label": "Band, high (90 %)", "data": none_past + [str(w.high) for w in weeks]},
        ],
        "weeks": [
            {
                "from": p.start.isoformat(),
                "to": p.end.isoformat(),
                "collected": str(p.amount),
                "forecast": None if v is None else str(v),
            }
            for p, v in zip(past, then, strict=True)
        ]
        + [
            {
                "from": w.start.isoformat(),
                "to": w.end.isoformat(),
                "expected": str(w.expected),
                "low": str(w.low),
                "high": str(w.high),
            }
            for w in weeks
        ],
    }


# (d) Top overdue customers and (e) overdue by collector: today's aging by customer ----------------------


def _overdue(row: AgingRow) -> Decimal:
    return row.total - row.buckets[0]


def _customer_aging(scope: Scope, today: dt.date) -> AgingReport:
    return aging_report(as_of=today, by="customer", customer_ids=scope.customer_ids())


def receivables(scope: Scope, today: dt.date, limit: int = TOP) -> dict[str, Any]:
    """Today's AR for the figures strip (open, overdue, over 90 days, with their links) and the `limit`
    customers with the most overdue, each linking to its page and to its overdue invoices."""
    report = _customer_aging(scope, today)
    base = report.currency
    zero = quantize(ZERO, base)
    ranked = heapq.nsmallest(
        limit,
        (row for row in report.rows if row.total > row.buckets[0]),
        key=lambda row: (-_overdue(row), row.name, row.key),
    )
    customers = {
        customer.external_id: customer
        for customer in Customer.objects.filter(external_id__in=[row.key for row in ranked]).select_related(
            "collector"
        )
    }
    top = []
    for row in ranked:
        customer = customers[row.key]
        collector = customer.collector
        top.append(
            {
                "customer": row.key,
                "name": row.name,
                "collector": (collector.get_full_name() or collector.username) if collector else None,
                "overdue": str(_overdue(row)),
                "over_90": str(sum(row.buckets[OVER_90_FROM:], zero)),
                "total": str(row.total),
                "url": reverse("customer-detail", args=[customer.pk]),
                "invoices_url": _url("invoice-list", {"customer": row.key, "overdue": "on"}),
            }
        )
    total = report.total
    over_90 = sum(total.buckets[OVER_90_FROM:], zero)
    over_90_due_before = today - dt.timedelta(days=90)  # more than 90 days past due: due before this day
    return {
        **_head(today),
        "open": str(total.total),
        "overdue": str(_overdue(total)),
        "over_90": str(over_90),
        "pct_over_90": rules.round_figure(rules.percentage(over_90, total.total)),
        "links": {
            "open": invoices_url(scope),
            "overdue": invoices_url(scope, overdue="on"),
            "over_90": invoices_url(scope, due_to=(over_90_due_before - dt.timedelta(days=1)).isoformat()),
        },
        "top": top,
    }


def top_overdue(scope: Scope, today: dt.date, limit: int = TOP) -> dict[str, Any]:
    figures = receivables(scope, today, limit)
    return {**_head(today), "rows": figures["top"]}


def overdue_by_collector(scope: Scope, today: dt.date) -> dict[str, Any]:
    """Today's overdue AR per collector of the customers (most first, "No collector" where none is set),
    each bar linking to that collector's customers with overdue invoices."""
    report = _customer_aging(scope, today)
    amounts: dict[int | None, Decimal] = defaultdict(lambda: quantize(ZERO, report.currency))
    counts: dict[int | None, int] = defaultdict(int)
    for row in report.rows:
        overdue = _overdue(row)
        if overdue > 0:
            amounts[row.collector_id] += overdue
            counts[row.collector_id] += 1
    users = {user.pk: user for user in User.objects.filter(pk__in=[pk for pk in amounts if pk is not None])}

    def name(pk: int | None) -> str:
        if pk is None:
            return "No collector"
        return users[pk].get_full_name() or users[pk].username

    order = sorted(amounts, key=lambda pk: (-amounts[pk], pk is None, name(pk)))
    return {
        **_head(today),
        "labels": [name(pk) for pk in order],
        "datasets": [
            {
                "key": "overdue",
                "label": "Overdue",
                "data": [str(amounts[pk]) for pk in order],
                "links": [
                    customers_url(
                        scope, collector=pk if pk is not None else "none", overdue="on", sort="-overdue"
                    )
                    for pk in order
                ],
            }
        ],
        "collectors": [
            {"id": pk, "name": name(pk), "overdue": str(amounts[pk]), "customers": counts[pk]} for pk in order
        ],
    }


# (f) Promise and dispute figures ----------------------------------------------------------------------------


def promise_figures(scope: Scope, today: dt.date) -> dict[str, Any]:
    """The pending promises of the scope's customers (count, amount at today's rates, how many fall due in
    the next 7 days and how many are past their date, awaiting evaluation), the first PROMISES_LISTED of
    them by date, and the kept rate of the promises that came due in the last 90 days."""
    base = settings.BASE_CURRENCY
    pending = Promise.objects.filter(scope.q("customer__"), status=PromiseStatus.PENDING)
    week_end = today + dt.timedelta(days=6)
    per_currency = list(
        pending.order_by()
        .values("currency")
        .annotate(
            n=Count("id"),
            total=Sum("amount"),
            due_soon=Count("id", filter=Q(promised_date__range=(today, week_end))),
            past=Count("id", filter=Q(promised_date__lt=today)),
        )
        .values_list("currency", "n", "total", "due_soon", "past")
    )
    rates = rates_as_of(today) if any(currency != base for currency, *_ in per_currency) else {}
    amount = quantize(ZERO, base)
    for currency, _, total, *_ in per_currency:
        if currency == base:
            amount += quantize(Decimal(total), base)
            continue
        if currency not in rates:
            raise DomainError(
                f"No {currency}→{base} rate is dated on or before {today}.",
                field="as_of",
                code="missing_fx_rate",
            )
        amount += quantize(Decimal(total) * rates[currency].rate, base)
    since = today - dt.timedelta(days=89)
    evaluated = Promise.objects.filter(
        scope.q("customer__"),
        promised_date__range=(since, today),
        status__in=(PromiseStatus.KEPT, PromiseStatus.PARTIALLY_KEPT, PromiseStatus.BROKEN),
    ).aggregate(due=Count("id"), kept=Count("id", filter=Q(status=PromiseStatus.KEPT)))
    listed = pending.select_related("customer").order_by("promised_date", "id")[:PROMISES_LISTED]
    return {
        "pending": sum(n for _, n, *_ in per_currency),
        "pending_amount": str(amount),
        "due_in_7_days": sum(row[3] for row in per_currency),
        "past_their_date": sum(row[4] for row in per_currency),
        "kept_rate": rules.round_figure(
            rules.percentage(Decimal(evaluated["kept"]), Decimal(evaluated["due"]))
        ),
        "came_due": evaluated["due"],
        "kept": evaluated["kept"],
        "since": since.isoformat(),
        "list": [
            {
                "customer": promise.customer.external_id,
                "name": promise.customer.name,
                "amount": str(quantize(promise.amount, promise.currency)),
                "currency": promise.currency,
                "promised_date": promise.promised_date.isoformat(),
                "url": reverse("customer-detail", args=[promise.customer_id]),
            }
            for promise in listed
        ],
    }


def dispute_figures(user: Any, today: dt.date, scope: Scope) -> dict[str, Any]:
    """dispute_metrics as of today over the disputes `user` sees of the scope's customers, with links to the
    queue."""
    figures = dispute_metrics(as_of=today, user=user, customer_ids=scope.customer_ids()).as_dict()
    figures["links"] = {
        "open": reverse("dispute-list"),
        "sla_overdue": f"{reverse('dispute-list')}?sla=overdue",
        "resolved": f"{reverse('dispute-list')}?status=resolved",
    }
    return figures


# Reminder effectiveness covers the sends of these last days whose 7-day window has closed by today.
EFFECTIVENESS_DAYS = 90


def reminder_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """The send days the figure covers: the EFFECTIVENESS_DAYS days that ended a week ago (the later ones
    cannot be judged yet). The reminders export defaults to them too."""
    end = today - dt.timedelta(days=7)
    return end - dt.timedelta(days=EFFECTIVENESS_DAYS - 1), end


def reminder_figures(scope: Scope, today: dt.date) -> dict[str, Any]:
    """The share of reminders followed by a payment within 7 days, by level and channel, for the sends of
    reminder_window(today)."""
    start, end = reminder_window(today)
    return reminder_effectiveness(start=start, end=end, customer_ids=scope.customer_ids()).as_dict()


def figures(scope: Scope, today: dt.date, user: Any) -> dict[str, Any]:
    return {
        **_head(today),
        "promises": promise_figures(scope, today),
        "disputes": dispute_figures(user, today, scope),
    }


def _head(today: dt.date) -> dict[str, Any]:
    base = settings.BASE_CURRENCY
    return {"as_of": today.isoformat(), "currency": base, "places": minor_units(base)}
