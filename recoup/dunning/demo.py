"""Dunning for the demo ledger: a few disputes, promises and holds, then a run a week over the last weeks and
one today, each delivered through the configured email backend (`make demo` writes the mail to files)."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal

from django.db import transaction
from django.db.models import Model

from recoup.activity.models import Promise, Task, TimelineEntry
from recoup.activity.services import promise_create
from recoup.disputes.models import Dispute
from recoup.disputes.services import dispute_open
from recoup.dunning import delivery
from recoup.dunning.models import (
    DunningHold,
    DunningRun,
    DunningStep,
    InvoiceDunning,
    MessageItem,
    OutboundMessage,
)
from recoup.dunning.services import dunning_run, hold_create
from recoup.ledger.models import Invoice

DISPUTE_REASONS = ("pricing", "quantity", "damaged goods", "not received", "duplicate billing")


@transaction.atomic
def dunning_reset() -> None:
    """Delete what dunning, disputes and the timeline hold about the ledger, before the demo replaces it.
    Policies, their levels and templates stay."""
    models: tuple[type[Model], ...] = (
        MessageItem,
        OutboundMessage,
        DunningStep,
        InvoiceDunning,
        DunningRun,
        DunningHold,
        Dispute,
        Promise,
        Task,
        TimelineEntry,
    )
    for model in models:
        model._default_manager.all().delete()


def demo_dunning(*, today: dt.date, weeks: int = 8, seed: int = 1) -> Counter[str]:
    """Seed the exclusions and the run history; refuses nothing, but does nothing once a run exists."""
    counts: Counter[str] = Counter()
    if DunningRun.objects.exists():
        return counts
    rng = random.Random(seed)
    start = today - dt.timedelta(weeks=weeks)
    overdue = list(
        Invoice.objects.filter(open_amount__gt=0, due_date__lt=start, issue_date__lte=start)
        .select_related("customer")
        .order_by("id")
    )
    rng.shuffle(overdue)
    for invoice in overdue[:6]:
        part = rng.random() < 0.5
        amount = (invoice.open_amount / 2).quantize(Decimal("0.01")) if part else None
        dispute_open(
            actor=None,
            invoice=invoice,
            amount=amount,
            reason=rng.choice(DISPUTE_REASONS),
            note="Raised by the customer's AP team by email.",
            opened_on=start - dt.timedelta(days=rng.randint(1, 20)),
        )
        counts["disputes"] += 1
    for invoice in overdue[6:10]:
        promise_create(
            actor=None,
            customer=invoice.customer,
            amount=invoice.open_amount,
            promised_date=today + dt.timedelta(days=rng.randint(2, 12)),
            invoices=[invoice],
            channel="call",
        )
        counts["promises"] += 1
    if len(overdue) > 10:
        hold_create(actor=None, customer=overdue[10].customer, reason="Payment plan under negotiation")
        counts["holds"] += 1
    for week in range(weeks, -1, -1):
        dunning_run(actor=None, as_of=today - dt.timedelta(weeks=week))
        counts["runs"] += 1
        counts.update(delivery.deliver_due().counts)
    return counts
