"""Per-collector activity for a period [start, end]: what each collector's customers paid, how often each
person touched a customer, the promises they obtained and kept, and their customers' DSO (docs/reports.md,
"Collector activity"; DESIGN.md, "KPIs").

A row is a user, or "No collector": the figures no one is credited with (customers without a collector,
activity recorded without a person). Every figure covers only the customers of the Scope (the filter bar).

- collected: the payments dated in the period of the customers whose collector (today) is the user, each
  day's at its rate: `selectors.collected` restricted to those customers;
- touches = calls made (`Call.actor`, `called_at`) + notes written (`Note.author`, `created_at`) + emails
  sent by hand (`OutboundMessage` without a level, status sent, `author`, `sent_at`), each on a local day
  (TIME_ZONE) of the period. Dunning's automatic reminders are nobody's touch;
- promises: the promises made in the period (`made_on`) that the user follows up (`owner`), cancelled ones
  left out;
- kept rate: `recoup.activity.worklist.promise_kept_rate` per owner: kept ÷ come due, over the promises whose
  promised date falls in the period;
- DSO: the standard DSO (end AR ÷ credit sales × days) of the user's customers, as `selectors.kpis` gives it
  for those customers: end AR from one aging report by customer as of `end` (summed per collector: the same
  rounded per-customer sums aging's total adds up), credit sales from one GROUP BY.

A fixed number of queries (14, and the filter's customer ids; 3 more on PostgreSQL), however many collectors
and customers: each figure is one GROUP BY per collector, owner or author, never a query per collector.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Model, QuerySet, Sum

from recoup.activity import rules as activity_rules
from recoup.activity.models import Call, Note, Promise, PromiseStatus
from recoup.activity.worklist import promise_kept_rate
from recoup.core.errors import DomainError
from recoup.core.money import minor_units, quantize
from recoup.dunning.models import Channel, MessageStatus, OutboundMessage
from recoup.ledger.aging import aging_report
from recoup.ledger.models import Invoice, Payment
from recoup.ledger.selectors import RateUsed
from recoup.reports import rules
from recoup.reports.dashboard import customers_url
from recoup.reports.scope import Scope
from recoup.reports.selectors import KPI_BUCKETS, DaySum, _check_period, _RateBook
from recoup.users.models import User

ZERO = Decimal(0)
NOBODY = "No collector"
NO_RATE = activity_rules.KeptRate(0, 0, 0)


@dataclass(frozen=True)
class CollectorActivity:
    """One row: a user (user_id), "No collector" (user_id None) or the total (is_total)."""

    user_id: int | None
    name: str
    username: str
    customers: int  # the scope's customers whose collector this is
    collected: Decimal  # in the base currency, rounded to its minor unit
    calls: int
    notes: int
    emails: int
    promises: int  # made in the period
    kept: activity_rules.KeptRate  # of the promises whose promised date falls in the period
    credit_sales: Decimal  # of the customers, in the period, rounded to the base currency's minor unit
    end_ar: Decimal  # of the customers, open at the end of the period's last day
    days: int
    is_total: bool = False

    @property
    def touches(self) -> int:
        return self.calls + self.notes + self.emails

    @property
    def kept_rate(self) -> Decimal | None:
        """kept ÷ come due × 100; None when no promise came due."""
        return rules.percentage(Decimal(self.kept.kept), Decimal(self.kept.due))

    @property
    def dso(self) -> Decimal | None:
        return rules.standard_dso(ar=self.end_ar, credit_sales=self.credit_sales, days=self.days)

    def as_dict(self, currency: str) -> dict[str, Any]:
        def amount(value: Decimal) -> str:
            return str(quantize(value, currency))

        return {
            "collector": self.user_id,
            "name": self.name,
            "username": self.username,
            "customers": self.customers,
            "collected": amount(self.collected),
            "touches": self.touches,
            "calls": self.calls,
            "notes": self.notes,
            "emails": self.emails,
            "promises": self.promises,
            "came_due": self.kept.due,
            "kept": self.kept.kept,
            "kept_rate": rules.round_figure(self.kept_rate),
            "credit_sales": amount(self.credit_sales),
            "end_ar": amount(self.end_ar),
            "dso": rules.round_figure(self.dso),
        }


@dataclass(frozen=True)
class CollectorActivityReport:
    start: dt.date
    end: dt.date
    currency: str
    rows: tuple[CollectorActivity, ...]  # users by name, then "No collector" (when it has any figure)
    total: CollectorActivity  # the scope's figures: kpis(), collected() and promise_kept_rate() overall
    end_rates: tuple[RateUsed, ...] = field(default=())  # the rates end AR used, other currencies only

    @property
    def days(self) -> int:
        return rules.period_days(self.start, self.end)

    def as_dict(self) -> dict[str, Any]:
        """Amounts as Decimal strings in the base currency's minor unit; DSO and kept rate as numbers rounded
        to 2 decimals, null where the denominator is zero."""
        return {
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "days": self.days,
            "currency": self.currency,
            "places": minor_units(self.currency),
            "rows": [row.as_dict(self.currency) for row in self.rows],
            "total": self.total.as_dict(self.currency),
        }


EVERYONE = Scope()


def collector_activity(*, start: dt.date, end: dt.date, scope: Scope = EVERYONE) -> CollectorActivityReport:
    """The activity of each collector over [start, end], both days included, for the customers of `scope`.

    A missing FX rate is a DomainError naming `to` (end AR) or `from` (sales and payments)."""
    _check_period(start, end)
    base = settings.BASE_CURRENCY
    days = rules.period_days(start, end)
    # The scope's customers per collector (today's): one GROUP BY.
    customer_count: dict[int | None, int] = _counts(scope.customers(), "collector_id")

    # End AR: today's aging report if the dashboard made one (kept.reusing), else one report by customer;
    # each row names its customer's collector.
    try:
        aged = aging_report(
            as_of=end, by="customer", basis="due", buckets=KPI_BUCKETS, customer_ids=scope.customer_ids()
        )
    except DomainError as exc:
        raise DomainError(exc.message, field="to", code=exc.code) from exc
    zero = quantize(ZERO, base)
    end_ar: dict[int | None, Decimal] = defaultdict(lambda: zero)
    for aged_row in aged.rows:
        end_ar[aged_row.collector_id] += aged_row.total

    in_scope = scope.q("customer__")
    rates = _RateBook(since=start, until=end)
    sales_exact = _convert(_by_collector(Invoice, "issue_date", start, end, in_scope), rates)
    paid_exact = _convert(_by_collector(Payment, "date", start, end, in_scope), rates)

    since, until = _local_range(start, end)
    calls = _counts(Call.objects.filter(in_scope, called_at__gte=since, called_at__lt=until), "actor_id")
    notes = _counts(Note.objects.filter(in_scope, created_at__gte=since, created_at__lt=until), "author_id")
    emails = _counts(
        OutboundMessage.objects.filter(
            in_scope,
            level__isnull=True,  # sent by a person; a dunning reminder has a level
            channel=Channel.EMAIL,
            status=MessageStatus.SENT,
            sent_at__gte=since,
            sent_at__lt=until,
        ),
        "author_id",
    )
    promises = _counts(
        Promise.objects.filter(in_scope, made_on__range=(start, end)).exclude(status=PromiseStatus.CANCELLED),
        "owner_id",
    )
    overall, per_owner = promise_kept_rate(start=start, end=end, customer_filter=in_scope)
    kept = {rate.user_id: rate.rate for rate in per_owner}

    keys: set[int | None] = {
        *customer_count,
        *end_ar,
        *sales_exact,
        *paid_exact,
        *calls,
        *notes,
        *emails,
        *promises,
        *kept,
    }
    users = {
        pk: (username, f"{first} {last}".strip() or username)
        for pk, username, first, last in User.objects.filter(pk__in=[k for k in keys if k is not None])
        .order_by()
        .values_list("pk", "username", "first_name", "last_name")
    }

    def row(key: int | None) -> CollectorActivity:
        username, name = users.get(key, ("", NOBODY)) if key is not None else ("", NOBODY)
        return CollectorActivity(
            user_id=key,
            name=name,
            username=username,
            customers=customer_count.get(key, 0),
            collected=quantize(paid_exact.get(key, ZERO), base),
            calls=calls.get(key, 0),
            notes=notes.get(key, 0),
            emails=emails.get(key, 0),
            promises=promises.get(key, 0),
            kept=kept.get(key, NO_RATE),
            credit_sales=quantize(sales_exact.get(key, ZERO), base),
            end_ar=end_ar.get(key, zero),
            days=days,
        )

    people = sorted((k for k in keys if k is not None), key=lambda k: (users[k][1].casefold(), users[k][0]))
    rows = [row(key) for key in people]
    if None in keys:
        rows.append(row(None))
    total = CollectorActivity(
        user_id=None,
        name="Total",
        username="",
        customers=sum(customer_count.values()),
        # Rounded once, as selectors.collected() and kpis() round the scope's figures.
        collected=quantize(sum(paid_exact.values(), ZERO), base),
        calls=sum(calls.values()),
        notes=sum(notes.values()),
        emails=sum(emails.values()),
        promises=sum(promises.values()),
        kept=overall,
        credit_sales=quantize(sum(sales_exact.values(), ZERO), base),
        end_ar=aged.total.total,
        days=days,
        is_total=True,
    )
    return CollectorActivityReport(
        start=start, end=end, currency=base, rows=tuple(rows), total=total, end_rates=tuple(aged.rates)
    )


# Internals ------------------------------------------------------------------------------------------------


def _local_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The local days [start, end] (TIME_ZONE) as an aware half-open range, for indexed datetime columns."""
    tz = ZoneInfo(settings.TIME_ZONE)
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


def _counts(rows: QuerySet[Any], user_field: str) -> dict[int | None, int]:
    """Rows per user of `user_field` (None: recorded without a person, or no collector): one GROUP BY."""
    return dict(rows.order_by().values(user_field).annotate(n=Count("id")).values_list(user_field, "n"))


def _by_collector(
    model: type[Model], date_field: str, start: dt.date, end: dt.date, in_scope: Any
) -> dict[int | None, list[DaySum]]:
    """The documents dated in [start, end] per customer's collector, currency and day: one GROUP BY."""
    per: dict[int | None, list[DaySum]] = defaultdict(list)
    for collector_id, currency, day, total in (
        model._default_manager.filter(in_scope, **{f"{date_field}__range": (start, end)})
        .order_by()
        .values("customer__collector_id", "currency", date_field)
        .annotate(total=Sum("amount"))
        .values_list("customer__collector_id", "currency", date_field, "total")
    ):
        per[collector_id].append(DaySum(currency, day, total))
    return per


def _convert(per: dict[int | None, list[DaySum]], rates: _RateBook) -> dict[int | None, Decimal]:
    """Each collector's exact sum in the base currency, each day's amount at the rate of its day."""
    return {key: rates.convert(rows) for key, rows in per.items()}


# The dashboard's table ------------------------------------------------------------------------------------


def dashboard_table(scope: Scope, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The report as JSON for the dashboard, each row's figures linking down to that collector's customers
    (collected: those who paid in the period), the total's to the scope's."""
    report = collector_activity(start=start, end=end, scope=scope)
    data = report.as_dict()
    paid = {"paid_from": start.isoformat(), "paid_to": end.isoformat()}
    for row, shown in zip(report.rows, data["rows"], strict=True):
        who = row.user_id if row.user_id is not None else "none"
        shown["links"] = {
            "customers": customers_url(scope, collector=who),
            "collected": customers_url(scope, collector=who, **paid),
        }
    data["total"]["links"] = {"customers": customers_url(scope), "collected": customers_url(scope, **paid)}
    return data
