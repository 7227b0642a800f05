"""`recoup demo --dunning-weeks N`: a real run history on the demo ledger, delivered through the email
backend, and a reset that clears it before the demo replaces the ledger."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from recoup.activity.models import Call, InboundEmail, Mailbox, Note, Promise
from recoup.core.models import Notification
from recoup.disputes.models import Dispute
from recoup.dunning.models import DunningHold, DunningRun, MessageStatus, OutboundMessage

pytestmark = pytest.mark.django_db
NOON = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)


def test_the_demo_seeds_a_weekly_run_history_and_sends_it_through_the_email_backend():
    out = StringIO()
    with time_machine.travel(NOON, tick=False):
        call_command("demo", "--seed", "7", "--customers", "30", "--dunning-weeks", "4", stdout=out)

    runs = list(DunningRun.objects.order_by("as_of").values_list("as_of", "status"))
    assert runs == [(dt.date(2026, 6, 30) - dt.timedelta(weeks=w), "planned") for w in range(4, -1, -1)]
    sent = OutboundMessage.objects.filter(status=MessageStatus.SENT, channel="email")
    assert sent.count() == len(mail.outbox) > 0
    assert {m.extra_headers["Message-ID"] for m in mail.outbox} == set(
        sent.values_list("message_id", flat=True)
    )
    # The demo's resolvers are told of the disputes assigned to them once the seeding commits (the test's
    # transaction never does).
    assert Notification.objects.filter(status="pending", key__startswith="dispute-").count() > 0
    # The dunning demo's own promises (the workspace demo's are made on calls).
    dunning_promises = Promise.objects.filter(call__isnull=True).count()
    assert (Dispute.objects.count(), dunning_promises, DunningHold.objects.count()) == (10, 4, 1)
    line = next(text for text in out.getvalue().splitlines() if text.startswith("Dunning: "))
    # A past week's reminder for an invoice the demo ledger shows paid since is cancelled when delivered.
    cancelled = OutboundMessage.objects.filter(status=MessageStatus.CANCELLED).count()
    delivered = OutboundMessage.objects.filter(status=MessageStatus.SENT).count()
    assert (
        line
        == f"Dunning: {cancelled} cancelled, 10 comments, 10 disputes, 1 documents, 1 holds, 3 past SLA, "
        f"4 promises, 4 resolved, 5 runs, {delivered} sent"
    )


def test_a_reset_clears_the_dunning_history_with_the_ledger():
    with time_machine.travel(NOON, tick=False):
        call_command("demo", "--seed", "7", "--customers", "20", "--dunning-weeks", "2", stdout=StringIO())
        call_command("demo", "--reset", "--seed", "7", "--customers", "20", stdout=StringIO())

    assert (DunningRun.objects.count(), OutboundMessage.objects.count(), Dispute.objects.count()) == (0, 0, 0)
    assert (
        Call.objects.count(),
        Note.objects.count(),
        InboundEmail.objects.count(),
        Mailbox.objects.count(),
    ) == (
        0,
        0,
        0,
        0,
    )
