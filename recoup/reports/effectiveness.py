"""Reminder effectiveness: the share of dunning sends followed soon by a payment (DESIGN.md, "KPIs").

Definition (docs/reports.md, "Reminder effectiveness"):
- A *send* is a dunning message (`OutboundMessage`) with status "sent", on any channel: email, letter, or call
  (a call task counts once it is sent, under channel "call"), whose `sent_at`, as a date in
  `settings.TIME_ZONE`, falls in [start, end], both days included. Emails a person sent by hand (no level)
  are not reminders and are left out.
- A send is *effective* when at least one invoice it listed (its `MessageItem` rows) received a payment
  allocation dated in [sent date, sent date + days], both days included: kind "payment", a positive amount,
  and not reversed (an allocation that a reversal row points at does not count, whatever the reversal's date).
- Per level name, per channel and overall: sends, effective sends, and share = effective ÷ sends × 100,
  rounded half-up to 2 decimals; None when there are no sends.

Three queries, whatever the number of messages: the sends, the invoices they listed, and those invoices'
payment dates.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from recoup.dunning.models import Channel, MessageItem, MessageStatus, OutboundMessage
from recoup.ledger.models import Allocation, AllocationKind

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
CHANNELS = tuple(Channel.values)  # email, letter, call: every channel is always reported


@dataclass
class Tally:
    sends: int = 0
    effective: int = 0

    @property
    def share(self) -> Decimal | None:
        """effective ÷ sends × 100, rounded half-up to 2 decimals; None without sends."""
        if not self.sends:
            return None
        return (Decimal(self.effective) / Decimal(self.sends) * HUNDRED).quantize(
            CENT, rounding=ROUND_HALF_UP
        )

    def add(self, effective: bool) -> None:
        self.sends += 1
        self.effective += int(effective)

    def as_dict(self) -> dict[str, Any]:
        share = self.share
        return {
            "sends": self.sends,
            "effective": self.effective,
            "share": None if share is None else float(share),
        }


@dataclass
class EffectivenessReport:
    start: dt.date
    end: dt.date
    days: int
    overall: Tally = field(default_factory=Tally)
    by_level: dict[str, Tally] = field(default_factory=dict)  # level name → tally, in level order
    by_channel: dict[str, Tally] = field(default_factory=dict)  # email, letter, call

    def as_dict(self) -> dict[str, Any]:
        """Counts as integers; shares as numbers rounded to 2 decimals, null where there are no sends."""
        return {
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "days": self.days,
            **self.overall.as_dict(),
            "by_level": [{"level": name, **tally.as_dict()} for name, tally in self.by_level.items()],
            "by_channel": [
                {"channel": channel, **tally.as_dict()} for channel, tally in self.by_channel.items()
            ],
        }


def reminder_effectiveness(
    *, start: dt.date, end: dt.date, days: int = 7, customer_ids: Sequence[int] | None = None
) -> EffectivenessReport:
    """Of the dunning messages sent on days start–end (in TIME_ZONE), how many were followed within `days`
    days by a payment on an invoice they listed; per level name, per channel and overall.

    A send counts when its status is "sent" and the local date of `sent_at` is in [start, end]. It is
    effective when an invoice among its items received a payment allocation (kind "payment", positive, not
    reversed by any later row) dated in [sent date, sent date + days]. `customer_ids` limits the sends to
    those customers; None is every customer."""
    if days < 0:
        raise ValueError("days must be 0 or more")
    tz = ZoneInfo(settings.TIME_ZONE)
    # Local days [start, end] as an aware half-open range, so the database filters on the indexed column.
    since = dt.datetime.combine(start, dt.time.min, tzinfo=tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)

    messages = OutboundMessage.objects.filter(
        status=MessageStatus.SENT,
        channel__in=CHANNELS,
        sent_at__gte=since,
        sent_at__lt=until,
        level__isnull=False,  # an email a person sent by hand is no reminder
    )
    if customer_ids is not None:
        messages = messages.filter(customer_id__in=list(customer_ids))

    sends = list(
        messages.order_by("level__position", "level__name", "id").values_list(
            "id", "channel", "level__name", "sent_at"
        )
    )
    report = EffectivenessReport(start=start, end=end, days=days)
    report.by_channel = {channel: Tally() for channel in CHANNELS}
    if not sends:
        return report

    listed: dict[int, set[int]] = defaultdict(set)
    for message_id, invoice_id in MessageItem.objects.filter(message__in=messages).values_list(
        "message_id", "invoice_id"
    ):
        listed[message_id].add(invoice_id)

    reversed_ = Allocation.objects.filter(reverses=OuterRef("pk"))
    paid_on: dict[int, set[dt.date]] = defaultdict(set)
    payments = (
        Allocation.objects.filter(
            kind=AllocationKind.PAYMENT,
            amount__gt=0,
            reverses__isnull=True,
            date__gte=start,
            date__lte=end + dt.timedelta(days=days),
            invoice_id__in=MessageItem.objects.filter(message__in=messages).values("invoice_id"),
        )
        .exclude(Exists(reversed_))
        .order_by()
        .values_list("invoice_id", "date")
        .distinct()
    )
    for invoice_id, day in payments:
        paid_on[invoice_id].add(day)

    window = dt.timedelta(days=days)
    for message_id, channel, level_name, sent_at in sends:
        sent_on = timezone.localdate(sent_at, tz)
        last = sent_on + window
        effective = any(
            sent_on <= day <= last for invoice_id in listed[message_id] for day in paid_on[invoice_id]
        )
        report.overall.add(effective)
        report.by_channel[channel].add(effective)
        report.by_level.setdefault(level_name, Tally()).add(effective)
    return report
