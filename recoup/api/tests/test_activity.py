"""The workspace API: the merged timeline, calls (with a promise), notes, email templates and sending an
email by hand. Every role reads; collectors, managers and admins call and email; every writer notes. Every
refusal is a 400 naming its field, never a 500, and writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from recoup.activity.models import Call, Note, Promise, TimelineEntry
from recoup.activity.services import note_add, timeline_add
from recoup.core.models import Event, Notification
from recoup.dunning.manual import message_template_save
from recoup.dunning.models import MessageTemplate, OutboundMessage
from recoup.ledger import services as ledger
from recoup.users.models import COLLECT_ROLES, READ_ROLES, WRITE_ROLES, Role

pytestmark = pytest.mark.django_db
ROLES = [*Role.values, "anonymous"]
NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
KEY = "3b9f2c4e-1d2a-4b5c-9e8f-7a6b5c4d3e2f"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def world(books) -> dict[str, Any]:
    acme = books.customer("ACME", emails=(), name="Acme Corp")
    pat = ledger.contact_create(actor=None, customer=acme, name="Pat", email="pat@acme.example")
    a1 = books.invoice(acme, dt.date(2026, 2, 1), "300.00", external_id="A-1")
    a2 = books.invoice(acme, dt.date(2026, 2, 10), "120.00", external_id="A-2")
    other = books.customer("OTHER", emails=("ap@other.example",))
    o1 = books.invoice(other, dt.date(2026, 2, 1), external_id="O-1")
    template = message_template_save(
        actor=None,
        name="Nudge",
        language="en",
        subject="About {{ total_due }}",
        body="Hello {{ contact_name }}",
    )
    call = Call.objects.create(customer=acme, outcome="voicemail", called_at=NOW - dt.timedelta(hours=1))
    note = note_add(actor=None, customer=acme, body="First note", invoices=[a1])
    return {"acme": acme, "pat": pat, "a1": a1, "a2": a2, "other": other, "o1": o1, "template": template,
            "call": call, "note": note}  # fmt: skip


def requests(w: dict[str, Any]) -> list[tuple[str, str, Any, frozenset[str], int]]:
    reads = [
        "/api/v1/activities/?customer=ACME",
        "/api/v1/calls/",
        f"/api/v1/calls/{w['call'].pk}/",
        "/api/v1/notes/",
        f"/api/v1/notes/{w['note'].pk}/",
        "/api/v1/email-templates/",
        f"/api/v1/email-templates/{w['template'].pk}/",
    ]
    return [
        *[("get", url, None, READ_ROLES, 200) for url in reads],
        ("post", "/api/v1/calls/", {"customer": "ACME", "outcome": "reached"}, COLLECT_ROLES, 201),
        ("post", "/api/v1/notes/", {"customer": "ACME", "body": "Called back"}, WRITE_ROLES, 201),
        (
            "post",
            "/api/v1/emails/",
            {"customer": "ACME", "template": w["template"].pk, "request_key": KEY},
            COLLECT_ROLES,
            201,
        ),
    ]


def snapshot() -> tuple[object, ...]:
    return (
        Call.objects.count(),
        Note.objects.count(),
        OutboundMessage.objects.count(),
        TimelineEntry.objects.count(),
        Event.objects.count(),
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_exactly_what_its_role_allows(client_for, world, role):
    client = APIClient() if role == "anonymous" else client_for(role)
    for method, url, payload, allowed, success in requests(world):
        with transaction.atomic():
            before = snapshot()
            response = getattr(client, method)(url, payload, format="json")
            changed = snapshot() != before
            transaction.set_rollback(True)
        expected = 401 if role == "anonymous" else success if role in allowed else 403
        assert response.status_code == expected, (method, url, response.status_code, response.content[:300])
        assert changed == (expected == 201), (method, url)
        if expected == 403:
            assert response.json() == {"detail": "Your role does not allow this."}
    assert client.put(f"/api/v1/calls/{world['call'].pk}/", {}, format="json").status_code in (401, 403, 405)


def test_the_timeline_pages_by_cursor_and_filters(world, reader):
    acme, a1 = world["acme"], world["a1"]
    for n in range(4):
        timeline_add(customer=acme, kind="note", title=f"Old {n}", occurred_at=NOW - dt.timedelta(days=n + 1))
    ledger.payment_create(
        actor=None,
        customer=acme,
        external_id="PAY-1",
        date=dt.date(2026, 2, 28),
        amount=Decimal("100.00"),
        apply_to=[ledger.Application(a1, Decimal("100.00"))],
    )

    first = reader.get("/api/v1/activities/", {"customer": "ACME", "page_size": 3}).json()
    second = reader.get(first["next"]).json()
    payments = reader.get(
        "/api/v1/activities/", {"customer_id": acme.pk, "kind": "payment,credit_note"}
    ).json()
    about_a1 = reader.get("/api/v1/activities/", {"customer": "ACME", "invoice": "A-1"}).json()

    titles = [item["title"] for page in (first, second) for item in page["results"]]
    assert titles == ["Note by Recoup", "Old 0", "Old 1", "Payment PAY-1", "Old 2", "Old 3"]
    assert first["next"].startswith("http://testserver/api/v1/activities/?") and second["next"] is None
    [payment] = payments["results"]
    assert payment == {
        "kind": "payment",
        "kind_label": "Payment",
        "occurred_at": "2026-02-28T00:00:00Z",
        "on_date": "2026-02-28",
        "title": "Payment PAY-1",
        "body": "",
        "status": "",
        "actor": "",
        "amount": "100.00",
        "currency": "USD",
        "source_type": "ledger.payment",
        "source_id": payment["source_id"],
        "invoices": [
            {"id": a1.pk, "number": "A-1", "amount": "100.00", "currency": "USD", "reversed_on": None}
        ],
        "attachments": [],
        "cursor": payment["cursor"],
    }
    assert [item["title"] for item in about_a1["results"]] == ["Note by Recoup", "Payment PAY-1"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "customer"),
        ({"customer": "NOPE"}, "customer"),
        ({"customer_id": "abc"}, "customer_id"),
        ({"customer": "ACME", "kind": "tweet"}, "kind"),
        ({"customer": "ACME", "invoice": "O-1"}, "invoice"),
        ({"customer": "ACME", "before": "garbage"}, "before"),
        ({"customer": "ACME", "page_size": "0"}, "page_size"),
        ({"customer": "ACME", "customer_id": "999999"}, "customer_id"),
    ],
)
def test_a_timeline_query_that_cannot_be_answered_is_a_400_naming_the_parameter(world, reader, query, field):
    response = reader.get("/api/v1/activities/", query)

    assert response.status_code == 400 and list(response.json()) == [field], response.json()


def test_a_call_with_a_promise(world, client_for):
    client = client_for(Role.COLLECTOR)
    response = client.post(
        "/api/v1/calls/",
        {
            "customer": "ACME",
            "outcome": "reached",
            "duration_seconds": 300,
            "notes": "Will pay Friday",
            "contact": world["pat"].pk,
            "invoices": ["A-1", "A-2"],
            "promise": {"amount": "300.00", "promised_date": "2026-03-06", "invoices": ["A-1"]},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    promise = Promise.objects.get()
    assert body == {
        "id": body["id"],
        "customer": "ACME",
        "customer_id": world["acme"].pk,
        "contact_id": world["pat"].pk,
        "outcome": "reached",
        "duration_seconds": 300,
        "notes": "Will pay Friday",
        "called_at": body["called_at"],
        "invoices": ["A-1", "A-2"],
        "task_id": None,
        "promise": {
            "id": promise.pk,
            "amount": "300.00",
            "currency": "USD",
            "promised_date": "2026-03-06",
            "channel": "call",
            "status": "pending",
        },
        "actor": client.user.username,
        "created_at": body["created_at"],
    }
    assert list(promise.invoices.values_list("external_id", flat=True)) == ["A-1"]


NOT_REACHED = "A promise to pay needs a call that reached someone."
BELONG = "Every invoice must belong to the customer."


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"outcome": "busy"}, {"outcome": ['"busy" is not a valid choice.']}),
        (
            {"outcome": "reached", "duration_seconds": -1},
            {"duration_seconds": ["Ensure this value is greater than or equal to 0."]},
        ),
        ({"outcome": "reached", "invoices": ["O-1"]}, {"invoices": [BELONG]}),
        (
            {"outcome": "reached", "invoices": "A-1"},
            {"invoices": ['Expected a list of items but got type "str".']},
        ),
        ({"outcome": "reached", "contact": "x"}, {"contact": ["Give the id as a whole number."]}),
        (
            {"outcome": "no_answer", "promise": {"amount": "5", "promised_date": "2026-03-09"}},
            {"promise": [NOT_REACHED]},
        ),
        (
            {"outcome": "reached", "promise": {"amount": "5.001", "promised_date": "2026-03-09"}},
            {"promise": {"amount": ["5.001 has more decimals than USD allows."]}},
        ),
        (
            {"outcome": "reached", "promise": {"amount": "0", "promised_date": "2026-03-09"}},
            {"promise": {"amount": ["A promise must be for more than zero."]}},
        ),
        (
            {"outcome": "reached", "promise": {"amount": "5"}},
            {"promise": {"promised_date": ["This field is required."]}},
        ),
        (
            {"outcome": "reached", "called_at": "2026-03-03T00:00:00Z"},
            {"called_at": ["A call is logged when it happened: an aware time, not in the future."]},
        ),
    ],
)
def test_a_refused_call_is_a_400_on_its_field_and_writes_nothing(world, client_for, payload, errors):
    client = client_for(Role.COLLECTOR)
    before = snapshot()
    response = client.post("/api/v1/calls/", {"customer": "ACME", **payload}, format="json")

    assert (response.status_code, response.json()) == (400, errors)
    assert snapshot() == before and Promise.objects.count() == 0


def test_a_note_with_mentions(world, client_for, make_user):
    make_user(Role.MANAGER, "mia")
    client = client_for(Role.RESOLVER)
    response = client.post(
        "/api/v1/notes/", {"customer": "ACME", "body": "@mia see A-2", "invoices": ["A-2"]}, format="json"
    )

    assert response.status_code == 201
    assert {k: response.json()[k] for k in ("body", "invoices", "mentions", "author")} == {
        "body": "@mia see A-2",
        "invoices": ["A-2"],
        "mentions": ["mia"],
        "author": client.user.username,
    }
    assert Notification.objects.get().to_email == "mia@example.com"
    listed = client.get("/api/v1/notes/", {"mentions": "mia"}).json()
    assert [n["body"] for n in listed["results"]] == ["@mia see A-2"]
    empty = client.post("/api/v1/notes/", {"customer": "ACME", "body": "   "}, format="json")
    assert (empty.status_code, empty.json()) == (400, {"body": ["This field may not be blank."]})


@pytest.mark.django_db(transaction=True)  # the email goes out when the request commits
def test_an_email_is_queued_once_per_request_key(world, client_for, smtp):
    client = client_for(Role.COLLECTOR)
    payload = {"customer": "ACME", "template": world["template"].pk, "request_key": KEY, "invoices": ["A-1"]}

    first = client.post("/api/v1/emails/", payload, format="json")
    again = client.post("/api/v1/emails/", {**payload, "invoices": []}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    body = first.json()
    assert again.json()["id"] == body["id"]
    assert {
        k: body[k] for k in ("kind", "level", "template", "author", "request_key", "status", "recipients")
    } == {
        "kind": "manual",
        "level": None,
        "template": "Nudge",
        "author": client.user.username,
        "request_key": KEY,
        "status": "sent",
        "recipients": ["pat@acme.example"],
    }
    assert body["invoices"] == [world["a1"].pk] and body["subject"] == "About 300.00 USD"
    assert body["key"] == f"manual:{KEY}" and body["message_id"].startswith("<dunning.")
    assert len(smtp.received) == 1 and OutboundMessage.objects.count() == 1
    manual = client.get("/api/v1/dunning-messages/", {"kind": "manual"}).json()["results"]
    reminders = client.get("/api/v1/dunning-messages/", {"kind": "reminder"}).json()["results"]
    assert ([m["id"] for m in manual], reminders) == ([body["id"]], [])


KEY_TEXT = "Give a request key of 8 to 64 letters, digits, '.', '_', ':' or '-' (a UUID will do)."


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        ({"request_key": "short"}, {"request_key": [KEY_TEXT]}),
        ({"template": 999999}, {"template": ['Invalid pk "999999" - object does not exist.']}),
        ({"customer": "OTHER", "invoices": ["A-1"]}, {"invoices": [BELONG]}),
        ({"recipients": ["nope"]}, {"recipients": {"0": ["Enter a valid email address."]}}),
        (
            {"recipients": ["x@y.example"], "contact": 1},
            {"recipients": ["Give a contact or recipients, not both."]},
        ),
        ({"send_at": "2026-09-01T09:00:00Z"}, {"send_at": ["Schedule it at most 90 days ahead."]}),
    ],
)
def test_a_refused_email_is_a_400_on_its_field(world, client_for, change, errors):
    payload = {"customer": "ACME", "template": world["template"].pk, "request_key": KEY, **change}
    if "contact" in change:
        payload["contact"] = world["pat"].pk
    response = client_for(Role.MANAGER).post("/api/v1/emails/", payload, format="json")

    assert (response.status_code, response.json()) == (400, errors)
    assert OutboundMessage.objects.count() == 0


def test_inactive_templates_are_listed_but_cannot_be_sent(world, client_for):
    MessageTemplate.objects.filter(pk=world["template"].pk).update(is_active=False)
    client = client_for(Role.COLLECTOR)
    listed = client.get("/api/v1/email-templates/").json()["results"]
    response = client.post(
        "/api/v1/emails/",
        {"customer": "ACME", "template": world["template"].pk, "request_key": KEY},
        format="json",
    )

    assert {t["name"]: t["is_active"] for t in listed}["Nudge"] is False
    assert (response.status_code, response.json()) == (
        400,
        {"template": ["The template Nudge (en) is no longer in use."]},
    )


def count(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_lists_do_not_grow_their_queries_with_rows(world, reader):
    acme, a1 = world["acme"], world["a1"]
    urls = ["/api/v1/calls/", "/api/v1/notes/", "/api/v1/activities/?customer=ACME"]
    small = [count(reader, url) for url in urls]
    for n in range(15):
        note_add(actor=None, customer=acme, body=f"@nobody note {n}", invoices=[a1])
        Call.objects.create(customer=acme, outcome="reached", called_at=NOW).invoices.set([a1])
    big = [count(reader, url) for url in urls]

    assert big == small
