"""`recoup demo --dunning-weeks N` seeds the workspace too: calls of every outcome, promises whose outcomes
the ledger decided, notes that mention colleagues, emails sent by hand, and a mailbox with matched and
unmatched email, so that every workspace page has something to show."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from recoup.activity.models import Call, EntryKind, InboundEmail, Note, Promise, TimelineEntry
from recoup.core.models import Notification
from recoup.dunning.models import OutboundMessage

pytestmark = pytest.mark.django_db
NOON = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)


def test_the_demo_seeds_the_workspace_once():
    out = StringIO()
    with time_machine.travel(NOON, tick=False):
        call_command("demo", "--seed", "7", "--customers", "40", "--dunning-weeks", "4", stdout=out)
        again = StringIO()
        call_command("demo", "--if-empty", stdout=again)

    line = next(text for text in out.getvalue().splitlines() if text.startswith("Workspace: "))
    counts = dict(
        (what, int(n.replace(",", ""))) for n, what in (part.split(" ", 1) for part in line[11:].split(", "))
    )
    by_status = {
        s: Promise.objects.filter(call__isnull=False, status=s).count()
        for s in ("kept", "partially_kept", "broken", "pending")
    }
    assert counts["calls"] == Call.objects.count() and counts["notes"] == Note.objects.count()
    assert counts["promises"] == Promise.objects.filter(call__isnull=False).count() == sum(by_status.values())
    assert all(n >= 1 for n in by_status.values()), by_status
    assert set(Call.objects.values_list("outcome", flat=True)) == {
        "reached",
        "voicemail",
        "no_answer",
        "wrong_number",
    }
    assert counts["emails by hand"] == OutboundMessage.objects.filter(level__isnull=True).count() == 3
    assert counts["inbound matched"] == InboundEmail.objects.exclude(customer=None).count() >= 3
    assert counts["inbound unmatched"] == InboundEmail.objects.filter(status="unmatched").count() == 2
    assert InboundEmail.objects.filter(is_auto_reply=True).count() == 1
    assert TimelineEntry.objects.filter(kind=EntryKind.EMAIL_IN).count() == counts["inbound matched"]
    assert Notification.objects.filter(key__startswith="note-mention:").count() == counts["mentions"] >= 2
    assert "Workspace" not in again.getvalue()  # a second demo leaves the ledger and the workspace alone
