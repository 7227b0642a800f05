"""The weekly summary: a plain-text email to every active manager and admin about the last full ISO week
(docs/reports.md, "Weekly summary").

It goes through the notification outbox (recoup.core.notifications.notify), keyed
"weekly-summary:<YYYY-Www>:<user id>" on the week it reports, so a second run in the same week queues nothing
and a crash between queueing and sending never sends twice. Every figure is the one the reports show:
`collected` and `kpis` of recoup.reports.selectors, and aging_report for the AR.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recoup.core.models import Notification
from recoup.core.notifications import notify
from recoup.core.templatetags.money import money
from recoup.disputes.models import Dispute
from recoup.disputes.rules import SlaState
from recoup.disputes.selectors import sla_filter
from recoup.ledger.aging import aging_report
from recoup.reports import rules
from recoup.reports.selectors import KpiReport, collected, kpis
from recoup.users.models import Role, User

TOP = 5
KPI_WEEKS = 4
ZERO = Decimal(0)


@dataclass(frozen=True)
class Week:
    """An ISO week, Monday to Sunday."""

    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @classmethod
    def before(cls, day: dt.date) -> Week:
        """The last full ISO week before `day`'s week (a Monday's: the seven days up to yesterday)."""
        monday = day - dt.timedelta(days=day.weekday())
        return cls(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))


@dataclass(frozen=True)
class OverdueCustomer:
    external_id: str
    name: str
    overdue: Decimal
    open: Decimal
    oldest: str  # the label of the oldest bucket holding an amount: "120+"


@dataclass(frozen=True)
class LateDispute:
    number: int
    invoice: str
    customer: str
    amount: Decimal
    currency: str
    reason: str
    owner: str
    sla_due_on: dt.date
    days_late: int


@dataclass(frozen=True)
class WeeklySummary:
    """The figures of one week, in `currency` (BASE_CURRENCY). AR is measured at the end of the week's
    Sunday, and the week before's at the end of the Sunday before."""

    week: Week
    as_of: dt.date
    currency: str
    collected: Decimal
    collected_week_before: Decimal
    ar: Decimal
    ar_week_before: Decimal
    overdue: Decimal
    overdue_week_before: Decimal
    kpis: KpiReport  # the four weeks ending on the week's Sunday
    top_overdue: tuple[OverdueCustomer, ...]
    late_disputes: int
    oldest_late_disputes: tuple[LateDispute, ...]

    @property
    def dashboard_url(self) -> str:
        return settings.RECOUP_BASE_URL.rstrip("/") + "/dashboard/"


def weekly_summary(*, as_of: dt.date) -> WeeklySummary:
    """The summary of the last full ISO week before `as_of`'s week: a few set-based queries, the ledger's
    size notwithstanding (two aging reports, the KPIs of four weeks, two sums of payments)."""
    week = Week.before(as_of)
    before = Week(week.start - dt.timedelta(days=7), week.end - dt.timedelta(days=7))
    closing = aging_report(as_of=week.end, by="customer")
    earlier = aging_report(as_of=before.end, by="total")
    ranked = sorted(
        (row for row in closing.rows if row.total - row.buckets[0] > 0),
        key=lambda row: (-(row.total - row.buckets[0]), row.key),
    )
    top = tuple(
        OverdueCustomer(
            external_id=row.key,
            name=row.name,
            overdue=row.total - row.buckets[0],
            open=row.total,
            oldest=next(closing.labels[i] for i in range(len(row.buckets) - 1, 0, -1) if row.buckets[i] > 0),
        )
        for row in ranked[:TOP]
    )
    late = (
        Dispute.objects.filter(sla_filter(SlaState.OVERDUE, as_of))
        .select_related("invoice__customer", "reason", "owner", "team")
        .order_by("sla_due_on", "id")
    )
    return WeeklySummary(
        week=week,
        as_of=as_of,
        currency=closing.currency,
        collected=collected(start=week.start, end=week.end),
        collected_week_before=collected(start=before.start, end=before.end),
        ar=closing.total.total,
        ar_week_before=earlier.total.total,
        overdue=closing.total.total - closing.total.buckets[0],
        overdue_week_before=earlier.total.total - earlier.total.buckets[0],
        kpis=kpis(start=week.end - dt.timedelta(days=7 * KPI_WEEKS - 1), end=week.end),
        top_overdue=top,
        late_disputes=late.count(),
        oldest_late_disputes=tuple(
            LateDispute(
                number=d.pk,
                invoice=d.invoice.external_id,
                customer=d.invoice.customer.name,
                amount=d.amount,
                currency=d.currency,
                reason=d.reason.name,
                owner=d.owner.username if d.owner else (d.team.name if d.team else "nobody"),
                sla_due_on=d.sla_due_on,
                days_late=(as_of - d.sla_due_on).days,
            )
            for d in late[:TOP]
        ),
    )


# The email -----------------------------------------------------------------------------------------------


def subject(summary: WeeklySummary) -> str:
    c = summary.currency
    return (
        f"Weekly AR summary {summary.week.label}: {money(summary.collected, c)} collected, "
        f"{money(summary.ar, c)} open"
    )


def render_text(summary: WeeklySummary, *, recipient: Any) -> str:
    """The email's plain text: every amount with its currency, every KPI with its formula."""
    c = summary.currency
    week = summary.week
    before = week.end - dt.timedelta(days=7)
    k = summary.kpis

    def line(label: str, value: str, note: str = "") -> str:
        return f"  {label:<32} {value}" + (f"  ({note})" if note else "")

    def change(now: Decimal, then: Decimal) -> str:
        delta = now - then
        if delta == 0:
            return "no change in the week"
        return ("+" if delta > 0 else "") + money(delta, c) + " in the week"

    def figure(value: Decimal | None, unit: str) -> str:
        shown = rules.round_figure(value)
        return "n/a" if shown is None else f"{shown:,.2f} {unit}"

    lines = [
        f"Hello {recipient.get_full_name() or recipient.username},",
        "",
        f"The receivables summary of {settings.RECOUP_COMPANY_NAME} for the week {week.label} "
        f"({week.start} to {week.end}), in {c}.",
        "",
        "COLLECTIONS",
        line("Collected in the week", money(summary.collected, c)),
        line("The week before", money(summary.collected_week_before, c)),
        "",
        "OPEN RECEIVABLES",
        line(
            f"AR at the end of {week.end}", money(summary.ar, c), change(summary.ar, summary.ar_week_before)
        ),
        line(f"AR at the end of {before}", money(summary.ar_week_before, c)),
        line(
            f"Overdue at the end of {week.end}",
            money(summary.overdue, c),
            change(summary.overdue, summary.overdue_week_before),
        ),
        line(f"Overdue at the end of {before}", money(summary.overdue_week_before, c)),
        "",
        f"KPIS OF THE LAST {KPI_WEEKS} WEEKS ({k.start} to {k.end}, {k.days} days)",
        line("DSO", figure(k.dso, "days"), f"end AR ÷ credit sales × {k.days}"),
        line(
            "CEI",
            figure(k.cei, "%"),
            "(begin AR + sales − end AR) ÷ (begin AR + sales − end current AR) × 100",
        ),
        "",
        f"TOP {TOP} OVERDUE CUSTOMERS (at the end of {week.end})",
    ]
    for n, customer in enumerate(summary.top_overdue, start=1):
        lines.append(
            f"  {n}. {customer.name} ({customer.external_id}): {money(customer.overdue, c)} overdue "
            f"of {money(customer.open, c)} open, the oldest {customer.oldest} days past due"
        )
    if not summary.top_overdue:
        lines.append("  None: nothing is overdue.")
    lines += ["", f"DISPUTES PAST THEIR SLA (on {summary.as_of}): {summary.late_disputes}"]
    for d in summary.oldest_late_disputes:
        days = f"{d.days_late} day{'s' if d.days_late != 1 else ''}"
        lines.append(
            f"  #{d.number} {d.invoice}, {d.customer}: {money(d.amount, d.currency)}, {d.reason}, "
            f"owner {d.owner}, {days} past the SLA (due {d.sla_due_on})"
        )
    if summary.late_disputes > len(summary.oldest_late_disputes):
        lines.append(f"  … and {summary.late_disputes - len(summary.oldest_late_disputes)} more.")
    lines += [
        "",
        f"The dashboard: {summary.dashboard_url}",
        "",
        "You receive this email as a manager or admin of Recoup. The dashboard defines every KPI.",
    ]
    return "\n".join(lines) + "\n"


# Sending -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummarySent:
    week: str
    queued: int
    already: int  # recipients who had this week's summary already
    off: bool = False  # RECOUP_WEEKLY_SUMMARY is off: nothing was looked at

    @property
    def message(self) -> str:
        if self.off:
            return "The weekly summary is off (RECOUP_WEEKLY_SUMMARY=0): nothing sent."
        sent = f"{self.queued} weekly summar{'ies' if self.queued != 1 else 'y'} of {self.week} queued"
        return f"{sent}; {self.already} recipient{'s' if self.already != 1 else ''} had it already."


def recipients() -> list[User]:
    return list(
        User.objects.filter(is_active=True, role__in=[Role.MANAGER, Role.ADMIN])
        .exclude(email="")
        .order_by("id")
    )


def notice_key(week: Week, user: Any) -> str:
    return f"weekly-summary:{week.label}:{user.pk}"


def send_weekly_summary(*, as_of: dt.date | None = None) -> SummarySent:
    """Queue last week's summary for every active manager and admin with an email address who does not have
    it yet; delivery follows the commit (in-process in the embedded mode, by a worker otherwise).

    The figures are worked out only when someone still needs them, once for everyone."""
    as_of = as_of or timezone.localdate()
    week = Week.before(as_of)
    if not settings.RECOUP_WEEKLY_SUMMARY:
        return SummarySent(week.label, 0, 0, off=True)
    people = recipients()
    keys = {user.pk: notice_key(week, user) for user in people}
    done = set(Notification.objects.filter(key__in=keys.values()).values_list("key", flat=True))
    pending = [user for user in people if keys[user.pk] not in done]
    if not pending:
        return SummarySent(week.label, 0, len(people))
    summary = weekly_summary(as_of=as_of)
    title = subject(summary)
    queued = 0
    with transaction.atomic():
        for user in pending:
            if notify(
                key=keys[user.pk], recipient=user, subject=title, body=render_text(summary, recipient=user)
            ):
                queued += 1
    return SummarySent(week.label, queued, len(people) - len(pending))
