"""Delivery over real SMTP when things go wrong: 4xx and 5xx answers, a server that is down, retries with
backoff and by hand, claims that cannot be taken twice, stale claims, a crash in the middle of a run, and
dry runs that change nothing."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command

from recoup.activity.models import Task, TimelineEntry
from recoup.core.errors import DomainError
from recoup.core.tests.support import free_port
from recoup.dunning import delivery, services
from recoup.dunning.models import (
    DunningRun,
    DunningStep,
    InvoiceDunning,
    MessageItem,
    MessageStatus,
    OutboundMessage,
)

D = dt.date
DUE = D(2026, 3, 2)
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


def planned(books, *customers: str) -> list[OutboundMessage]:
    for name in customers or ("ACME",):
        books.invoice(books.customer(name, emails=(f"ap@{name.lower()}.example",)), DUE)
    services.dunning_run(actor=None, as_of=DUE + dt.timedelta(days=3))
    return list(OutboundMessage.objects.order_by("id"))


def test_a_4xx_answer_is_retried_with_exponential_backoff_until_it_goes_through(books, smtp, settings, clock):
    settings.RECOUP_SMTP_RETRY_SECONDS = 60
    [message] = planned(books)
    smtp.refuse_next = ["451 4.3.0 try again later", "421 4.7.0 too busy"]

    first = delivery.deliver_due()
    message.refresh_from_db()
    after_first = (message.status, message.attempts, message.next_attempt_at, message.last_error)
    clock.shift(dt.timedelta(seconds=59))
    too_early = delivery.deliver_due()
    clock.shift(dt.timedelta(seconds=2))
    second = delivery.deliver_due()
    message.refresh_from_db()
    retry_at = message.next_attempt_at
    clock.move_to(retry_at + dt.timedelta(seconds=1))
    third = delivery.deliver_due()

    assert first.counts == {"retry": 1} and too_early.counts == {} and second.counts == {"retry": 1}
    assert after_first[:2] == (MessageStatus.PENDING, 1)
    assert after_first[2] is not None and abs((after_first[2] - NOW).total_seconds() - 60) < 5
    assert after_first[3] == "attempt 1: SMTP 451: 4.3.0 try again later"
    assert abs((retry_at - after_first[2]).total_seconds() - 121) < 5  # the second wait is twice the first
    assert third.counts == {"sent": 1}
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (MessageStatus.SENT, 3, "")
    assert len(smtp.received) == 1


def test_a_5xx_answer_fails_at_once_visibly_and_a_retry_by_hand_sends_it(books, smtp, manager):
    [message] = planned(books)
    smtp.refuse_next = ["550 5.1.1 mailbox unavailable"]

    result = delivery.deliver_due()
    message.refresh_from_db()

    assert result.counts == {"failed": 1}
    assert (message.status, message.last_error) == (
        MessageStatus.FAILED,
        "SMTP 550: 5.1.1 mailbox unavailable",
    )
    assert delivery.deliver_due().counts == {}  # a failed message is never retried by itself
    assert smtp.received == []
    assert TimelineEntry.objects.filter(kind="email_out").count() == 0

    services.message_retry(actor=manager, message=message)
    assert delivery.deliver_due().counts == {"sent": 1}
    with pytest.raises(DomainError, match="Only a failed message"):
        services.message_retry(actor=manager, message=message)
    assert len(smtp.received) == 1


def test_a_server_that_is_down_is_retried_and_after_the_last_attempt_the_failure_shows(
    books, settings, clock
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.RECOUP_SMTP_MAX_ATTEMPTS = 3
    [message] = planned(books)

    outcomes = []
    for _ in range(3):
        outcomes.append(delivery.deliver_due().counts)
        clock.shift(dt.timedelta(hours=1))
    message.refresh_from_db()

    assert outcomes == [{"retry": 1}, {"retry": 1}, {"failed": 1}]
    assert message.status == MessageStatus.FAILED
    assert message.last_error.startswith("gave up after 3 attempts: ConnectionRefusedError")


def test_a_customer_whose_contacts_were_removed_fails_with_the_reason(books, smtp):
    [message] = planned(books)
    message.customer.contacts.all().delete()

    assert delivery.deliver_due().counts == {"failed": 1}
    message.refresh_from_db()
    assert message.last_error == "the customer has no AP contact with an email address; add one and retry"


def test_a_claimed_message_cannot_be_claimed_again_until_its_lease_runs_out(books, smtp, settings, clock):
    settings.RECOUP_OUTBOX_LEASE_SECONDS = 300
    [message] = planned(books)

    token = delivery.claim(message.pk)
    again = delivery.claim(message.pk)
    not_yet = delivery.deliver_due().counts
    clock.shift(dt.timedelta(seconds=301))  # the first sender died holding it
    taken_over = delivery.deliver_due().counts

    assert (token is not None, again, not_yet, taken_over) == (True, None, {}, {"sent": 1})
    message.refresh_from_db()
    assert message.claim_token != token and message.attempts == 2
    # The dead sender, were it to wake, can no longer record anything: its token is gone.
    delivery._finish(message, token, status=MessageStatus.FAILED, error="late")
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(smtp.received) == 1


def test_delivering_the_same_ids_twice_sends_once(books, smtp):
    messages = planned(books, "ONE", "TWO")
    ids = [m.pk for m in messages]

    first = delivery.deliver(ids).counts
    second = delivery.deliver(ids).counts

    assert (first, second) == ({"sent": 2}, {})
    assert len(smtp.received) == 2


def test_dispatch_hands_each_due_message_to_the_queue_once_per_lease(books, smtp, clock):
    messages = planned(books, "ONE", "TWO")

    first = delivery.dispatch_ids()
    second = delivery.dispatch_ids()
    clock.shift(dt.timedelta(seconds=301))
    after_lease = delivery.dispatch_ids()

    assert first == [m.pk for m in messages] and second == [] and after_lease == first


def test_a_crash_in_the_middle_of_a_run_then_a_rerun_sends_each_message_exactly_once(
    books, smtp, monkeypatch
):
    for name in ("A", "B", "C", "D"):
        books.invoice(books.customer(name, emails=(f"ap@{name.lower()}.example",)), DUE)
    real_write = services._write
    calls = {"n": 0}

    def crash_on_third_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker lost")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(services, "_write", crash_on_third_chunk)
    with pytest.raises(RuntimeError, match="worker lost"):
        services.dunning_run(actor=None, as_of=DUE + dt.timedelta(days=3), chunk=1)
    crashed = DunningRun.objects.get()
    written_before = OutboundMessage.objects.count()
    monkeypatch.setattr(services, "_write", real_write)
    rerun = services.dunning_run(actor=None, as_of=DUE + dt.timedelta(days=3), chunk=1)
    delivery.deliver_due()

    assert (crashed.status, crashed.error) == ("failed", "RuntimeError: worker lost")
    assert written_before == 2  # two chunks committed; the third rolled back whole
    # The committed chunks' invoices stand at their new level, whose successor is not due yet.
    assert rerun.report["messages_total"] == 2 and rerun.report["skipped"] == {"not_due": 2}
    assert sorted(m.rcpt_tos[0] for m in smtp.received) == [
        "ap@a.example",
        "ap@b.example",
        "ap@c.example",
        "ap@d.example",
    ]
    assert DunningStep.objects.count() == 4


def test_a_stale_run_is_taken_over_but_a_live_one_blocks_a_second(books, smtp, settings, clock):
    settings.RECOUP_DUNNING_RUN_LEASE_SECONDS = 600
    live = DunningRun.objects.create(as_of=DUE)

    with pytest.raises(DomainError, match="Another dunning run has been in progress since"):
        services.dunning_run(actor=None, as_of=DUE)
    clock.shift(dt.timedelta(seconds=601))
    result = services.dunning_run(actor=None, as_of=DUE)

    live.refresh_from_db()
    assert (live.status, live.error) == ("failed", "abandoned: no heartbeat")
    assert result.run is not None and result.run.status == "planned"


def test_a_dry_run_shows_what_would_go_out_and_changes_nothing(books, smtp):
    books.invoice(books.customer("DRY"), DUE, "250.00", external_id="DRY-1")
    tables = (DunningRun, OutboundMessage, MessageItem, DunningStep, InvoiceDunning, Task, TimelineEntry)
    before = [model.objects.count() for model in tables]
    out = io.StringIO()

    call_command("dunning", "run", "--as-of", "2026-03-05", "--dry-run", stdout=out)

    assert [model.objects.count() for model in tables] == before
    assert smtp.received == []
    lines = out.getvalue().splitlines()
    assert lines[:2] == [
        "Dunning run as of 2026-03-05 (dry run)",
        "Customers: 1   messages: 1   invoices moved: 1",
    ]
    assert "DRY  email  Reminder  at 2026-03-05T09:00+00:00: DRY-1 (new)" in lines
    assert lines[-1] == "Dry run: nothing was written and nothing was sent."


def test_the_run_command_prints_its_summary_and_sends_in_the_embedded_mode(books, smtp):
    books.invoice(books.customer("CMD"), DUE, "10.00")
    books.invoice(books.customer("LATER"), DUE + dt.timedelta(days=20), "10.00")
    out = io.StringIO()

    call_command("dunning", "run", "--as-of", "2026-03-05", stdout=out)

    run = DunningRun.objects.get()
    assert out.getvalue().splitlines() == [
        f"Dunning run as of 2026-03-05 (run {run.pk})",
        "Customers: 1   messages: 1   invoices moved: 1",
        "",
        "level      email  letter    call",
        "Reminder       1       0       0",
        "",
        "Skipped invoices:",
        "         1  not_due: its next level is not due yet",
        "Delivered: 1 sent",
    ]
    assert run.report["messages"] == {"Reminder": {"email": 1}}
    assert len(smtp.received) == 1


def test_the_send_command_delivers_what_is_due(books, smtp):
    planned(books, "SEND")
    out = io.StringIO()

    call_command("dunning", "send", stdout=out)
    call_command("dunning", "send", stdout=out)

    assert out.getvalue().splitlines() == ["Delivered: 1 sent", "Delivered: nothing due"]
    assert len(smtp.received) == 1


def test_a_real_run_after_today_is_refused_but_a_dry_run_may_look_ahead(books):
    books.invoice(books.customer("AHEAD"), DUE)

    with pytest.raises(DomainError, match=r"A run as of 2026-06-02 is after today \(2026-06-01\)"):
        services.dunning_run(actor=None, as_of=D(2026, 6, 2))
    ahead = services.dunning_run(actor=None, as_of=D(2026, 6, 2), dry_run=True)

    assert ahead.run is None and ahead.report["messages_total"] == 1
    assert DunningRun.objects.count() == 0 and OutboundMessage.objects.count() == 0


def test_a_hold_needs_a_short_reason_and_an_end_that_is_not_past(books):
    customer = books.customer("HOLDS")

    with pytest.raises(DomainError, match="Say why"):
        services.hold_create(actor=None, customer=customer, reason="  ")
    with pytest.raises(DomainError, match="255 characters"):
        services.hold_create(actor=None, customer=customer, reason="x" * 256)
    with pytest.raises(DomainError, match=r"cannot end in the past \(2026-05-31\)"):
        services.hold_create(actor=None, customer=customer, reason="talks", until=D(2026, 5, 31))
    hold = services.hold_create(actor=None, customer=customer, reason=" talks ", until=D(2026, 6, 1))

    assert (hold.reason, hold.until) == ("talks", D(2026, 6, 1))
    services.hold_release(actor=None, hold=hold)
    with pytest.raises(DomainError, match="already released"):
        services.hold_release(actor=None, hold=hold)


def test_a_send_the_server_accepted_is_never_marked_failed_when_recording_it_fails(books, smtp, monkeypatch):
    [message] = planned(books)

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(delivery, "timeline_add", broken)
    with pytest.raises(RuntimeError, match="database went away"):
        delivery.deliver_due()

    message.refresh_from_db()
    assert len(smtp.received) == 1
    # Still claimed: it is sent again only once the lease lapses, like a sender that died at that moment.
    assert (message.status, message.last_error) == (MessageStatus.SENDING, "")
    assert TimelineEntry.objects.count() == 0
