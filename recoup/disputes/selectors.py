"""Reads of disputes: the queue, one dispute's story, an invoice's disputes, and the dispute figures."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import F, Q, QuerySet, Sum

from recoup.core.errors import DomainError
from recoup.core.money import quantize
from recoup.disputes import rules
from recoup.disputes.models import (
    ACTIVE_STATUSES,
    Dispute,
    DisputeComment,
    DisputeDocument,
    DisputeStatus,
    DisputeStatusChange,
)
from recoup.disputes.rules import SlaState
from recoup.disputes.services import visible_to
from recoup.ledger import aging
from recoup.ledger.models import Allocation, Invoice

SCOPES = ("mine", "team", "all")
SLA_FILTERS = ("overdue", "due_soon", "on_track", "met", "missed")
ZERO = Decimal(0)


def disputes_for(user: Any) -> QuerySet[Dispute]:
    """Every dispute `user` may see, with what a list row shows."""
    return (
        Dispute.objects.filter(visible_to(user))
        .select_related("invoice", "invoice__customer", "reason", "owner", "team")
        .order_by("opened_on", "id")
    )


def dispute_queue(
    *,
    user: Any,
    today: dt.date,
    scope: str = "all",
    status: str = "active",
    reason: str = "",
    sla: str = "",
    customer_id: int | None = None,
) -> QuerySet[Dispute]:
    """The queue, oldest first. `status` is a status, "active" (open or in review) or "" for any; `sla` one
    of SLA_FILTERS, worked out as of `today`."""
    disputes = disputes_for(user)
    if scope == "mine":
        disputes = disputes.filter(owner=user)
    elif scope == "team":
        disputes = disputes.filter(Q(team_id=user.team_id) if user.team_id else Q(pk__in=[]))
    if status == "active":
        disputes = disputes.filter(status__in=ACTIVE_STATUSES)
    elif status:
        disputes = disputes.filter(status=status)
    if reason:
        disputes = disputes.filter(reason__code=reason)
    if customer_id is not None:
        disputes = disputes.filter(invoice__customer_id=customer_id)
    if sla:
        disputes = disputes.filter(sla_filter(sla, today))
    return disputes


def sla_filter(state: str, today: dt.date) -> Q:
    """rules.sla_state as a database filter."""
    active = Q(status__in=ACTIVE_STATUSES)
    soon = today + dt.timedelta(days=rules.DUE_SOON_DAYS)
    return {
        SlaState.OVERDUE: active & Q(sla_due_on__lt=today),
        SlaState.DUE_SOON: active & Q(sla_due_on__gte=today, sla_due_on__lte=soon),
        SlaState.ON_TRACK: active & Q(sla_due_on__gt=soon),
        SlaState.MET: Q(status=DisputeStatus.RESOLVED, resolved_on__lte=F("sla_due_on")),
        SlaState.MISSED: Q(status=DisputeStatus.RESOLVED, resolved_on__gt=F("sla_due_on")),
    }[SlaState(state)]


def invoice_disputes(*, invoice: Invoice) -> QuerySet[Dispute]:
    return (
        Dispute.objects.filter(invoice=invoice)
        .select_related("reason", "owner", "team")
        .order_by("-opened_on", "-id")
    )


def disputed_open(*, invoice: Invoice) -> Decimal:
    """What of the invoice is under active dispute now."""
    total = Dispute.objects.filter(invoice=invoice, status__in=ACTIVE_STATUSES).aggregate(s=Sum("amount"))
    return total["s"] or ZERO


@dataclass(frozen=True)
class StoryItem:
    """One line of a dispute's own timeline."""

    at: dt.datetime
    kind: str  # "status", "comment" or "document"
    actor: str
    text: str
    item: Any = None


def dispute_story(*, dispute: Dispute) -> list[StoryItem]:
    """The dispute's history, comments and documents, oldest first."""
    items: list[StoryItem] = []
    for change in DisputeStatusChange.objects.filter(dispute=dispute).select_related("changed_by"):
        before = DisputeStatus(change.from_status).label if change.from_status else ""
        text = f"{before} → {change.get_to_status_display()}" if before else "Opened"
        if change.note:
            text += f": {change.note}"
        items.append(StoryItem(change.changed_at, "status", _name(change.changed_by), text, change))
    for comment in DisputeComment.objects.filter(dispute=dispute).select_related("author"):
        items.append(StoryItem(comment.created_at, "comment", _name(comment.author), comment.body, comment))
    for document in DisputeDocument.objects.filter(dispute=dispute).select_related("uploaded_by"):
        items.append(
            StoryItem(document.uploaded_at, "document", _name(document.uploaded_by), document.name, document)
        )
    return sorted(items, key=lambda i: (i.at, i.kind != "status"))


def _name(user: Any) -> str:
    return user.username if user is not None else "Recoup"


# Figures ----------------------------------------------------------------------------------------------------


@dataclass
class DisputeMetrics:
    """The dispute figures as of `as_of`; cycle time and SLA hit rate over the disputes resolved in
    [start, end]."""

    as_of: dt.date
    start: dt.date
    end: dt.date
    currency: str
    cycle: rules.CycleTime
    sla_hit_rate: float | None
    open_count: int
    open_by_reason: dict[str, int] = field(default_factory=dict)
    open_by_age: dict[str, int] = field(default_factory=dict)
    overdue_ar: Decimal = ZERO
    overdue_disputed: Decimal = ZERO

    @property
    def overdue_disputed_share(self) -> float | None:
        if self.overdue_ar <= 0:
            return None
        return round(float(100 * self.overdue_disputed / self.overdue_ar), 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "currency": self.currency,
            "resolved": self.cycle.resolved,
            "cycle_time_mean_days": self.cycle.mean_days,
            "cycle_time_median_days": self.cycle.median_days,
            "sla_hit_rate": self.sla_hit_rate,
            "open": self.open_count,
            "open_by_reason": self.open_by_reason,
            "open_by_age": self.open_by_age,
            "overdue_ar": str(self.overdue_ar),
            "overdue_disputed": str(self.overdue_disputed),
            "overdue_disputed_share": self.overdue_disputed_share,
        }


def dispute_metrics(
    *,
    as_of: dt.date,
    start: dt.date | None = None,
    end: dt.date | None = None,
    user: Any = None,
    customer_ids: Sequence[int] | None = None,
) -> DisputeMetrics:
    """Cycle time (mean, median) and SLA hit rate of the disputes resolved in [start, end] (default: the 90
    days up to `as_of`); the disputes open on `as_of` by reason and by age; and the share of AR overdue on
    `as_of` that is under dispute, in BASE_CURRENCY. A resolver's figures cover the disputes they see; with
    `customer_ids`, every figure covers those customers only (None: every customer)."""
    end = end or as_of
    start = start or end - dt.timedelta(days=89)
    if start > end:
        raise DomainError("The period ends before it starts.", field="from")
    visible = Dispute.objects.filter(visible_to(user)) if user is not None else Dispute.objects.all()
    if customer_ids is not None:
        visible = visible.filter(invoice__customer_id__in=customer_ids)
    resolved = visible.filter(status=DisputeStatus.RESOLVED, resolved_on__range=(start, end))
    days, states = [], []
    for opened_on, resolved_on, due_on in resolved.values_list("opened_on", "resolved_on", "sla_due_on"):
        assert resolved_on is not None  # a resolved dispute always has its date (a check constraint)
        days.append((resolved_on - opened_on).days)
        states.append(rules.sla_state(due_on=due_on, resolved_on=resolved_on, today=as_of))
    open_then = visible.filter(opened_on__lte=as_of).exclude(resolved_on__lte=as_of)
    by_reason: Counter[str] = Counter()
    by_age: Counter[str] = Counter({label: 0 for *_, label in rules.AGE_BANDS})
    rows = list(
        open_then.values_list("reason__name", "opened_on", "invoice_id", "amount", "invoice__due_date")
    )
    disputed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for reason_name, opened_on, invoice_id, amount, due_date in rows:
        by_reason[reason_name] += 1
        by_age[rules.age_band((as_of - opened_on).days)] += 1
        if due_date < as_of:
            disputed[invoice_id] += amount
    overdue_ar, overdue_disputed = _overdue_shares(as_of, disputed, customer_ids)
    return DisputeMetrics(
        as_of=as_of,
        start=start,
        end=end,
        currency=settings.BASE_CURRENCY,
        cycle=rules.cycle_time(days),
        sla_hit_rate=rules.hit_rate(states),
        open_count=len(rows),
        open_by_reason=dict(sorted(by_reason.items())),
        open_by_age=dict(by_age),
        overdue_ar=overdue_ar,
        overdue_disputed=overdue_disputed,
    )


def _overdue_shares(
    as_of: dt.date, disputed: dict[int, Decimal], customer_ids: Sequence[int] | None
) -> tuple[Decimal, Decimal]:
    """AR past due on `as_of` (the aging report's total less its current bucket) of the customers, and what
    of it is under dispute: each overdue invoice's disputed amount, at most its open amount then, at the rate
    of the day."""
    report = aging.aging_report(as_of=as_of, by="total", customer_ids=customer_ids)
    overdue = report.total.total - report.total.buckets[0]
    if not disputed:
        return overdue, quantize(ZERO, report.currency)
    rates = aging.rates_as_of(as_of)
    applied = dict(
        Allocation.objects.filter(invoice_id__in=list(disputed), date__lte=as_of)
        .values("invoice_id")
        .annotate(s=Sum("amount"))
        .values_list("invoice_id", "s")
    )
    total = ZERO
    for invoice_id, amount, currency in Invoice.objects.filter(pk__in=list(disputed)).values_list(
        "id", "amount", "currency"
    ):
        open_then = amount - (applied.get(invoice_id) or ZERO)
        share = min(disputed[invoice_id], max(open_then, ZERO))
        rate = rates.get(currency)
        if rate is None:
            raise DomainError(
                f"No {currency}→{report.currency} rate is dated on or before {as_of}.", field="as_of"
            )
        total += quantize(share * rate.rate, report.currency)
    return overdue, total
