"""Dunning for the demo ledger: a few disputes, promises and holds, then a run a week over the last weeks and
one today, each delivered through the configured email backend (`make demo` writes the mail to files)."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from django.db import transaction
from django.db.models import F, Model

from recoup.activity.models import (
    Call,
    InboundAttachment,
    InboundEmail,
    Mailbox,
    Note,
    Promise,
    Task,
    TimelineEntry,
)
from recoup.activity.services import promise_create
from recoup.disputes.demo import demo_disputes
from recoup.disputes.models import Dispute
from recoup.dunning import delivery
from recoup.dunning.models import (
    DunningHold,
    DunningRun,
    DunningStep,
    InvoiceDunning,
    MessageItem,
    MessageStatus,
    OutboundMessage,
)
from recoup.dunning.services import dunning_run, hold_create
from recoup.ledger.models import Invoice


@transaction.atomic
def dunning_reset() -> None:
    """Delete what dunning, disputes and the workspace hold about the ledger, before the demo replaces it.
    Policies, their levels and templates (and the templates of emails sent by hand) stay."""
    models: tuple[type[Model], ...] = (
        InboundAttachment,
        InboundEmail,
        Mailbox,
        Call,
        Note,
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
    counts.update(demo_disputes(today=today, seed=seed))
    disputed = set(Dispute.objects.values_list("invoice_id", flat=True))
    overdue = [invoice for invoice in overdue if invoice.pk not in disputed]
    for invoice in overdue[:4]:
        promise_create(
            actor=None,
            customer=invoice.customer,
            amount=invoice.open_amount,
            promised_date=today + dt.timedelta(days=rng.randint(2, 12)),
            invoices=[invoice],
            channel="call",
        )
        counts["promises"] += 1
    if len(overdue) > 4:
        hold_create(actor=None, customer=overdue[4].customer, reason="Payment plan under negotiation")
        counts["holds"] += 1
    for week in range(weeks, -1, -1):
        dunning_run(actor=None, as_of=today - dt.timedelta(weeks=week))
        counts["runs"] += 1
        counts.update(delivery.deliver_due().counts)
    # The history as if each message had gone out when it was planned, not at the moment of seeding: what
    # the insights' next best action measures touches from.
    OutboundMessage.objects.filter(status=MessageStatus.SENT, send_at__lt=F("sent_at")).update(
        sent_at=F("send_at")
    )
    return counts
