"""Calls and notes: a call lands on the timeline with its outcome, can record a promise and complete its task;
a note's @mentions are recorded and each mentioned user is told once. Refusals name their field and write
nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from recoup.activity.models import Call, EntryKind, Note, Promise, Task, TaskStatus, TimelineEntry
from recoup.activity.services import PromiseSpec, call_log, mentioned_users, note_add, task_create
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.models import Event, Notification
from recoup.ledger import services as ledger
from recoup.ledger.models import Contact
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 2, 15, 30, tzinfo=dt.UTC)
D = dt.date


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def acme(books):
    customer = books.customer("ACME", emails=(), name="Acme Corp")
    pat = ledger.contact_create(actor=None, customer=customer, name="Pat Payables", phone="+1 555 0100")
    a1 = books.invoice(customer, D(2026, 2, 1), "300.00", external_id="A-1")
    a2 = books.invoice(customer, D(2026, 2, 15), "120.00", external_id="A-2")
    return customer, pat, a1, a2


def entries(customer, kind=None):
    rows = TimelineEntry.objects.filter(customer=customer).order_by("occurred_at", "id")
    if kind:
        rows = rows.filter(kind=kind)
    return [(e.kind, e.title, e.body, e.status) for e in rows]


def test_a_reached_call_records_a_promise_and_completes_its_task(acme, collector):
    customer, pat, a1, a2 = acme
    task, _ = task_create(
        actor=None, customer=customer, kind="call", title="Call Acme", due_date=D(2026, 3, 2), owner=collector
    )

    call = call_log(
        actor=collector,
        customer=customer,
        outcome="reached",
        duration_seconds=245,
        notes="Pat confirms the transfer of A-1 on Friday.",
        contact=pat,
        invoices=[a1, a2],
        task=task,
        promise=PromiseSpec(amount="300.00", promised_date=D(2026, 3, 6), invoices=[a1]),
    )

    call.refresh_from_db()
    promise = Promise.objects.get()
    assert (call.outcome, call.duration_seconds, call.contact_id, call.task_id, call.promise_id) == (
        "reached",
        245,
        pat.pk,
        task.pk,
        promise.pk,
    )
    assert (call.called_at, call.actor_id) == (NOW, collector.pk)
    assert sorted(call.invoices.values_list("external_id", flat=True)) == ["A-1", "A-2"]
    assert (promise.amount, promise.currency, promise.promised_date, promise.channel, promise.status) == (
        Decimal("300.00"),
        "USD",
        D(2026, 3, 6),
        "call",
        "pending",
    )
    assert list(promise.invoices.values_list("external_id", flat=True)) == ["A-1"]
    assert promise.created_by_id == collector.pk
    task.refresh_from_db()
    assert (task.status, task.completed_at) == (TaskStatus.DONE, NOW)
    assert entries(customer) == [
        ("call_task", "Task: Call Acme", f"Assigned to {collector.username}, due 2026-03-02.", "open"),
        (
            "call",
            "Call with Pat Payables: reached, 4 min 5 s",
            "Pat confirms the transfer of A-1 on Friday.",
            "reached",
        ),
        ("promise", "Promise to pay 300.00 USD by 2026-03-06", "", "pending"),
        ("task", "Task done: Call Acme", "", "done"),
    ]
    call_entry = TimelineEntry.objects.get(kind=EntryKind.CALL)
    assert (call_entry.source_type, call_entry.source_id, call_entry.actor_id) == (
        "activity.call",
        str(call.pk),
        collector.pk,
    )
    assert sorted(call_entry.invoices.values_list("external_id", flat=True)) == ["A-1", "A-2"]
    [event] = Event.objects.filter(verb="call.logged")
    assert event.data == {
        "outcome": "reached",
        "duration_seconds": 245,
        "promise": promise.pk,
        "task": task.pk,
    }


def test_a_voicemail_is_logged_without_duration_text_or_contact(acme, collector):
    customer, *_ = acme
    call_log(actor=collector, customer=customer, outcome="voicemail")

    assert entries(customer) == [("call", "Call: voicemail", "", "voicemail")]
    assert Promise.objects.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"outcome": "busy"}, "outcome", "reached, voicemail, no_answer, wrong_number"),
        ({"duration_seconds": -1}, "duration_seconds", "from 0 seconds to 24 hours"),
        ({"duration_seconds": 86_401}, "duration_seconds", "from 0 seconds to 24 hours"),
        ({"duration_seconds": "60"}, "duration_seconds", "whole seconds"),
        ({"notes": "x" * 10_001}, "notes", "10,000 characters"),
        ({"called_at": NOW + dt.timedelta(minutes=1)}, "called_at", "not in the future"),
        ({"called_at": dt.datetime(2026, 3, 2, 9)}, "called_at", "an aware time"),
        ({"outcome": "no_answer", "promise": "spec"}, "promise", "needs a call that reached someone"),
        ({"promise": "zero"}, "amount", "more than zero"),
        ({"stranger": "invoice"}, "invoices", "must belong to the customer"),
        ({"stranger": "contact"}, "contact", "another customer"),
        ({"stranger": "task"}, "task", "another customer"),
    ],
)
def test_a_refused_call_writes_nothing(acme, collector, books, kwargs, field, text):
    customer, *_ = acme
    other = books.customer("OTHER", emails=("ap@other.example",))
    args = {"actor": collector, "customer": customer, "outcome": "reached", **kwargs}
    if args.get("promise") == "spec":
        args["promise"] = PromiseSpec(amount="10.00", promised_date=D(2026, 3, 9))
    if args.get("promise") == "zero":
        args["promise"] = PromiseSpec(amount="0", promised_date=D(2026, 3, 9))
    stranger = args.pop("stranger", None)
    if stranger == "invoice":
        args["invoices"] = [books.invoice(other, D(2026, 2, 1))]
    if stranger == "contact":
        args["contact"] = Contact.objects.get(customer=other)
    if stranger == "task":
        args["task"], _ = task_create(
            actor=None, customer=other, kind="call", title="x", due_date=D(2026, 3, 2)
        )
    before = TimelineEntry.objects.count()

    with pytest.raises(DomainError, match=text) as refused:
        call_log(**args)

    assert refused.value.field == field
    assert (Call.objects.count(), Promise.objects.count(), TimelineEntry.objects.count()) == (0, 0, before)
    assert not Event.objects.filter(verb="call.logged").exists()


def test_a_call_cannot_complete_a_task_that_is_done_or_someone_elses(acme, collector, make_user):
    customer, *_ = acme
    other = make_user(Role.COLLECTOR, "olga")
    theirs, _ = task_create(
        actor=None, customer=customer, kind="call", title="Olga's", due_date=D(2026, 3, 2), owner=other
    )
    mine, _ = task_create(
        actor=None, customer=customer, kind="call", title="Mine", due_date=D(2026, 3, 2), owner=collector
    )
    call_log(actor=collector, customer=customer, outcome="no_answer", task=mine)

    with pytest.raises(DomainError, match="already done") as done:
        call_log(actor=collector, customer=customer, outcome="reached", task=mine)
    with pytest.raises(NotAllowed):
        call_log(actor=collector, customer=customer, outcome="reached", task=theirs)

    assert done.value.field == "task"
    assert Call.objects.count() == 1
    assert Task.objects.get(pk=theirs.pk).status == TaskStatus.OPEN


def test_mentions_are_parsed_and_each_mentioned_user_is_told_once(acme, collector, make_user):
    customer, _, a1, _ = acme
    mia = make_user(Role.MANAGER, "mia")
    sam = make_user(Role.RESOLVER, "sam.lee")
    make_user(Role.VIEWER, "gone").__class__.objects.filter(username="gone").update(is_active=False)

    note = note_add(
        actor=collector,
        customer=customer,
        body="@Mia can you approve the plan? @sam.lee, please check A-1. cc @mia @gone @nobody and "
        "ap@acme.example, also @collector.",
        invoices=[a1],
    )

    assert list(note.mentions.order_by("username").values_list("username", flat=True)) == [
        "collector",
        "mia",
        "sam.lee",
    ]
    notices = Notification.objects.order_by("to_email")
    assert [(n.to_email, n.subject, n.key) for n in notices] == [
        ("mia@example.com", "collector mentioned you on Acme Corp", f"note-mention:{note.pk}:{mia.pk}"),
        ("sam.lee@example.com", "collector mentioned you on Acme Corp", f"note-mention:{note.pk}:{sam.pk}"),
    ]
    assert notices[0].body == (
        f"collector wrote on Acme Corp (ACME):\n\n{note.body}\n\nhttp://127.0.0.1:8000/customers/{customer.pk}/\n"
    )
    [entry] = TimelineEntry.objects.filter(kind=EntryKind.NOTE)
    assert (entry.title, entry.body, entry.source_id, entry.actor_id) == (
        "Note by collector",
        note.body,
        str(note.pk),
        collector.pk,
    )
    assert list(entry.invoices.values_list("external_id", flat=True)) == ["A-1"]


def test_mentions_ignore_addresses_unknown_names_and_inactive_users(make_user):
    make_user(Role.COLLECTOR, "bob")
    make_user(Role.COLLECTOR, "ann").__class__.objects.filter(username="ann").update(is_active=False)

    assert mentioned_users("mail bob@acme.example or ann@x.y") == []
    assert [u.username for u in mentioned_users("(@BOB) and @ann and @carl")] == ["bob"]
    assert [u.username for u in mentioned_users("thanks @bob.")] == ["bob"]


def test_an_empty_or_too_long_note_or_a_strangers_invoice_is_refused(acme, collector, books):
    customer, *_ = acme
    other = books.customer("OTHER")
    for kwargs, field, text in (
        ({"body": "   "}, "body", "Write the note"),
        ({"body": "x" * 10_001}, "body", "10,000 characters"),
        (
            {"body": "ok", "invoices": [books.invoice(other, D(2026, 2, 1))]},
            "invoices",
            "belong to the customer",
        ),
    ):
        with pytest.raises(DomainError, match=text) as refused:
            note_add(actor=collector, customer=customer, **kwargs)
        assert refused.value.field == field
    assert (Note.objects.count(), Notification.objects.count()) == (0, 0)
    assert not TimelineEntry.objects.filter(kind=EntryKind.NOTE).exists()
