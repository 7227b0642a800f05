"""Dunning through the API: policies in the policy file's shape, runs (dry and real, with delivery), the
outbox and retries, holds, an invoice's dunning status, and the dunning policy of customers and invoices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recoup.api.serializers import dunning as dunning_serializers
from recoup.api.tests.conftest import DUE, dunned_customer
from recoup.core.models import Event
from recoup.dunning import policies, tasks
from recoup.dunning.models import (
    DunningHold,
    DunningPolicy,
    DunningRun,
    DunningStep,
    InvoiceDunning,
    MessageStatus,
    OutboundMessage,
)
from recoup.ledger import services as ledger
from recoup.ledger.models import Customer, Invoice
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
D = dt.date
POLICIES = "/api/v1/dunning-policies/"
RUNS = "/api/v1/dunning-runs/"
MESSAGES = "/api/v1/dunning-messages/"
HOLDS = "/api/v1/dunning-holds/"
MINIMAL = {"name": "Gentle", "levels": [{"name": "Nudge", "offset_days": 5}]}


def as_dict(policy: DunningPolicy) -> dict[str, Any]:
    return {"id": policy.pk, **policies.policy_as_dict(policy)}


# Policies ---------------------------------------------------------------------------------------------------


def test_policies_read_as_their_policy_file_with_an_id(reader, standard, strict):
    listed = reader.get(POLICIES)
    assert listed.status_code == 200
    assert listed.json()["count"] == 2
    assert listed.json()["results"] == [as_dict(standard), as_dict(strict)]  # by name
    detail = reader.get(f"{POLICIES}{standard.pk}/")
    assert detail.json() == as_dict(standard)
    body = detail.json()
    assert (body["name"], body["default"], [level["offset_days"] for level in body["levels"]]) == (
        "Standard",
        True,
        [-3, 3, 15, 30, 45, 60],
    )
    assert body["levels"][5]["actions"] == {"task_for_role": "manager", "credit_hold": True}
    assert reader.get(POLICIES, {"default": "true"}).json()["count"] == 1


def test_a_policy_is_created_from_the_policy_file_shape(api, standard):
    response = api.post(
        POLICIES,
        {**MINIMAL, "tolerance": 2.5, "levels": [{**MINIMAL["levels"][0], "min_amount": 10.25}]},
        format="json",
    )

    assert response.status_code == 201, response.json()
    policy = DunningPolicy.objects.get(name="Gentle")
    assert response.json() == as_dict(policy)
    body = response.json()
    assert (body["tolerance"], body["default"], body["levels"][0]["min_amount"]) == ("2.50", False, "10.25")
    assert sorted(body["levels"][0]["templates"]) == ["de", "en", "fr"]  # the built-in ones
    assert Event.objects.filter(verb="dunning_policy.created", actor=api.user).count() == 1


def test_creating_a_policy_under_a_name_taken_changes_nothing(api, standard):
    before = as_dict(standard)
    response = api.post(POLICIES, {**MINIMAL, "name": "Standard"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "name": [
            f"A policy named 'Standard' already exists; PUT /api/v1/dunning-policies/{standard.pk}/ "
            "changes it."
        ]
    }
    assert as_dict(DunningPolicy.objects.get(pk=standard.pk)) == before
    assert not Event.objects.filter(verb__startswith="dunning_policy").exists()


def level(**fields: Any) -> dict[str, Any]:
    return {"name": "L", "offset_days": 5, **fields}


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"levels": [level()]}, "name", "The policy: name is required."),
        ({"name": "X", "levels": []}, "levels", "The policy: levels must be a non-empty list."),
        (
            {"name": "X", "levels": [level(offset_days=5), level(offset_days=5)]},
            "levels",
            "level 2 (L) has offset_days 5",
        ),
        ({"name": "X", "levels": [level(offset_days="5")]}, "offset_days", "whole number of days"),
        ({"name": "X", "levels": [level(offset_days=5.0)]}, "offset_days", "whole number of days"),
        ({"name": "X", "levels": [level(channels=["fax"])]}, "channels", "email, letter, call"),
        ({"name": "X", "levels": [level(min_gap_days=-1)]}, "min_gap_days", "from 0 to 3650"),
        ({"name": "X", "levels": [level(actions={"task_for_role": "boss"})]}, "actions", "task_for_role"),
        (
            {"name": "X", "levels": [level(templates={"en": {"subject": "Hi", "body": "{% if %}"}})]},
            "body",
            "is not a valid template",
        ),
        (
            {"name": "X", "levels": [level(templates={"en": {"subject": "Hi", "body": "{% load x %}"}})]},
            "body",
            "not a valid template",
        ),
        ({"name": "X", "default": "yes", "levels": [level()]}, "non_field_errors", "true or false"),
        ({"name": "X", "colour": "red", "levels": [level()]}, "non_field_errors", "unknown keys ['colour']"),
        ({"name": "X", "tolerance": "-1", "levels": [level()]}, "tolerance", "zero or more"),
        # What the database holds, checked by the API.
        ({"name": "X", "levels": [level(offset_days=10**6)]}, "offset_days", "within 3650 days"),
        ({"name": "X", "levels": [level(min_gap_days=2**40)]}, "min_gap_days", "from 0 to 3650"),
        ({"name": "X", "tolerance": 1e20, "levels": [level()]}, "tolerance", "below 1,000,000,000,000,000"),
        ({"name": "X", "levels": [level(min_amount="1" * 30)]}, "min_amount", "below"),
        ({"name": "X", "levels": [level(offset_days=n) for n in range(51)]}, "levels", "at most 50 levels"),
        (
            {"name": "X", "levels": [level(templates={"x" * 17: {"subject": "Hi", "body": "Yo"}})]},
            "templates",
            "a code of 1 to 16 characters",
        ),
        ([MINIMAL], "non_field_errors", "must be a mapping"),
    ],
)
def test_a_bad_policy_is_refused_naming_its_field_and_nothing_is_stored(api, standard, body, field, text):
    before = list(DunningPolicy.objects.values_list("name", flat=True))
    response = api.post(POLICIES, body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    [message] = response.json()[field]
    assert text in message
    assert list(DunningPolicy.objects.values_list("name", flat=True)) == before


def test_put_replaces_a_policy_level_by_level_and_a_round_trip_changes_nothing(api, strict):
    url = f"{POLICIES}{strict.pk}/"
    current = api.get(url).json()
    assert api.put(url, current, format="json").json() == current  # `id` included: read-only, ignored

    changed = {**current, "allow_level_jump": True, "levels": [{"name": "Demand", "offset_days": 2}]}
    response = api.put(url, changed, format="json")

    assert response.status_code == 200, response.json()
    assert response.json() == as_dict(DunningPolicy.objects.get(pk=strict.pk))
    assert response.json()["allow_level_jump"] is True
    assert [(lv["name"], lv["offset_days"]) for lv in response.json()["levels"]] == [("Demand", 2)]


def test_put_keeps_the_policy_name(api, strict):
    response = api.put(f"{POLICIES}{strict.pk}/", {**MINIMAL, "name": "Renamed"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "name": ["A policy keeps its name: send 'Strict', or create a policy named 'Renamed'."]
    }
    assert DunningPolicy.objects.filter(name="Renamed").count() == 0


def test_a_level_invoices_have_reached_cannot_be_removed(api, clock, standard):
    dunned_customer("ACME")
    assert api.post(RUNS, {"as_of": "2026-03-05"}, format="json").status_code == 201
    body = {**as_dict(standard), "levels": as_dict(standard)["levels"][:1]}

    response = api.put(f"{POLICIES}{standard.pk}/", body, format="json")

    assert response.status_code == 400
    assert "Level 2 (Reminder) of Standard has been reached" in response.json()["levels"][0]
    assert standard.levels.count() == 6


def test_delete_removes_an_unused_policy_only(api, standard, strict):
    CustomerFactory(dunning_policy=strict)
    refused = api.delete(f"{POLICIES}{strict.pk}/")
    assert refused.status_code == 400
    assert refused.json() == {
        "non_field_errors": ["Strict is assigned to 1 customers or invoices; reassign them first."]
    }
    default = api.delete(f"{POLICIES}{standard.pk}/")
    assert default.status_code == 400
    assert "default policy cannot be deleted" in default.json()["non_field_errors"][0]

    Customer.objects.update(dunning_policy=None)
    assert api.delete(f"{POLICIES}{strict.pk}/").status_code == 204
    assert list(DunningPolicy.objects.values_list("name", flat=True)) == ["Standard"]
    assert api.get(f"{POLICIES}{strict.pk}/").status_code == 404


# The policy of customers and invoices -----------------------------------------------------------------------


def test_a_customer_names_its_policy_on_create_and_patch(api, strict):
    created = api.post(
        "/api/v1/customers/",
        {"external_id": "C1", "name": "Acme", "dunning_policy": " Strict "},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["dunning_policy"] == "Strict"
    customer = Customer.objects.get()
    assert customer.dunning_policy == strict

    unknown = api.patch(f"/api/v1/customers/{customer.pk}/", {"dunning_policy": "strict"}, format="json")
    assert unknown.status_code == 400
    assert unknown.json() == {
        "dunning_policy": ['No dunning policy is named "strict" (names match exactly, case included).']
    }
    customer.refresh_from_db()
    assert customer.dunning_policy == strict

    cleared = api.patch(f"/api/v1/customers/{customer.pk}/", {"dunning_policy": None}, format="json")
    assert cleared.json()["dunning_policy"] is None
    customer.refresh_from_db()
    assert customer.dunning_policy is None
    assert Event.objects.get(verb="customer.updated").data == {"dunning_policy": [strict.pk, None]}


def test_an_invoice_names_its_policy_on_create_and_patch_changes_nothing_else(api, strict, standard):
    CustomerFactory(external_id="C1")
    payload = {
        "external_id": "I1",
        "customer": "C1",
        "issue_date": "2026-01-01",
        "due_date": "2026-01-31",
        "amount": "10.00",
        "dunning_policy": "Strict",
    }
    created = api.post("/api/v1/invoices/", payload, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["dunning_policy"] == "Strict"
    invoice = Invoice.objects.get()
    url = f"/api/v1/invoices/{invoice.pk}/"

    patched = api.patch(url, {"dunning_policy": "Standard"}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json() == {
        **created.json(),
        "dunning_policy": "Standard",
        "updated_at": patched.json()["updated_at"],
    }
    event = Event.objects.get(verb="invoice.dunning_policy")
    assert (event.actor, event.data) == (api.user, {"from": strict.pk, "to": standard.pk})

    touching = api.patch(url, {"dunning_policy": "Strict", "amount": "1.00", "note": "x"}, format="json")
    assert touching.status_code == 400
    assert touching.json() == {
        "amount": [
            "An invoice's amount cannot change through the API: only dunning_policy can. Correct an "
            "invoice by re-importing it (recoup import invoices)."
        ],
        "note": ["Unknown field: an invoice PATCH takes only dunning_policy."],
    }
    assert api.patch(url, {}, format="json").json() == {"dunning_policy": ["This field is required."]}
    assert api.patch(url, {"dunning_policy": "Nope"}, format="json").status_code == 400
    assert api.patch(url, ["Strict"], format="json").status_code == 400
    assert api.put(url, payload, format="json").status_code == 405
    invoice.refresh_from_db()
    assert (invoice.dunning_policy, invoice.amount) == (standard, Decimal("10.00"))

    assert api.patch(url, {"dunning_policy": None}, format="json").json()["dunning_policy"] is None


def test_bulk_invoices_look_each_policy_name_up_once(api, strict):
    CustomerFactory(external_id="C1")
    items = [
        {
            "external_id": f"B{n}",
            "customer": "C1",
            "issue_date": "2026-01-01",
            "due_date": "2026-01-31",
            "amount": "10.00",
            "dunning_policy": "Strict" if n % 2 else None,
        }
        for n in range(20)
    ]
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/api/v1/invoices/bulk/", items, format="json")
    assert response.status_code == 201, response.json()
    assert Invoice.objects.filter(dunning_policy=strict).count() == 10
    policy_reads = [q["sql"] for q in queries.captured_queries if 'FROM "dunning_dunningpolicy"' in q["sql"]]
    assert len(policy_reads) == 1
    bad = api.post(
        "/api/v1/invoices/bulk/", [{**items[0], "external_id": "B99", "dunning_policy": "X"}], format="json"
    )
    assert bad.json() == {
        "errors": {
            "0": {"dunning_policy": ['No dunning policy is named "X" (names match exactly, case included).']}
        }
    }


# Runs -------------------------------------------------------------------------------------------------------


def test_a_dry_run_reports_what_would_go_out_and_stores_nothing(api, clock, standard):
    _, invoice = dunned_customer("ACME")
    response = api.post(RUNS, {"as_of": "2026-03-05", "dry_run": True}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["as_of"], body["dry_run"], body["messages_truncated"]) == ("2026-03-05", True, False)
    assert body["report"]["messages"] == {"Reminder": {"email": 1}}
    level = standard.levels.get(position=2)
    assert body["messages"] == [
        {
            "customer": "ACME",
            "customer_id": invoice.customer_id,
            "customer_name": "ACME Ltd",
            "channel": "email",
            "fallback_from": "",
            "policy": "Standard",
            "level": "Reminder",
            "level_id": level.pk,
            "send_at": "2026-03-05T09:00:00Z",
            "invoices": [
                {
                    "invoice": "ACME-1",
                    "invoice_id": invoice.pk,
                    "level": "Reminder",
                    "new": True,
                    "open_amount": "100.00",
                    "disputed_amount": "0.00",
                    "currency": "USD",
                    "days_past_due": 3,
                }
            ],
        }
    ]
    assert (DunningRun.objects.count(), OutboundMessage.objects.count(), InvoiceDunning.objects.count()) == (
        0,
        0,
        0,
    )
    assert mail.outbox == []


def test_a_dry_run_lists_a_bounded_number_of_messages_and_says_so(api, clock, standard, monkeypatch):
    monkeypatch.setattr(dunning_serializers, "DRY_RUN_MESSAGES", 2)
    for name in ("A1", "A2", "A3"):
        dunned_customer(name)
    body = api.post(RUNS, {"as_of": "2026-03-05", "dry_run": True}, format="json").json()

    assert [m["customer"] for m in body["messages"]] == ["A1", "A2"]
    assert (body["messages_truncated"], body["report"]["messages_total"]) == (True, 3)


def test_a_run_is_stored_with_its_report_and_its_messages_are_delivered(
    api, clock, standard, django_capture_on_commit_callbacks
):
    dunned_customer("ACME")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(RUNS, {"as_of": "2026-03-05"}, format="json")

    assert response.status_code == 201, response.json()
    run = DunningRun.objects.get()
    body = response.json()
    assert {key: body[key] for key in ("id", "as_of", "status", "actor", "message_count", "error")} == {
        "id": run.pk,
        "as_of": "2026-03-05",
        "status": "planned",
        "actor": api.user.username,
        "message_count": 1,
        "error": "",
    }
    assert body["report"] == run.report
    assert (body["report"]["messages"], body["report"]["dry_run"]) == ({"Reminder": {"email": 1}}, False)
    assert len(callbacks) == 1
    [sent] = mail.outbox
    assert sent.to == ["ap@acme.example"]
    message = OutboundMessage.objects.get()
    assert (message.status, message.dispatched_at) == (MessageStatus.SENT, None)  # the embedded sender

    listed = api.get(RUNS).json()
    assert [r["id"] for r in listed["results"]] == [run.pk]
    assert api.get(f"{RUNS}{run.pk}/").json() == listed["results"][0]


def test_with_workers_a_run_hands_its_messages_to_the_dispatch_task(
    api, clock, standard, monkeypatch, django_capture_on_commit_callbacks
):
    # With a broker, tasks.dispatch runs on a worker; here Celery is eager, so the task runs in-process.
    monkeypatch.setattr(tasks, "embedded", lambda: False)
    dunned_customer("ACME")
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(RUNS, {"as_of": "2026-03-05"}, format="json").status_code == 201

    message = OutboundMessage.objects.get()
    assert message.status == MessageStatus.SENT
    assert message.dispatched_at is not None  # stamped by dispatch_ids, which only the dispatch task calls
    assert len(mail.outbox) == 1


def test_a_run_earlier_than_the_last_is_refused_with_the_reason(api, clock, standard):
    dunned_customer("ACME")
    assert api.post(RUNS, {"as_of": "2026-03-10"}, format="json").status_code == 201

    for dry_run in (False, True):
        response = api.post(RUNS, {"as_of": "2026-03-09", "dry_run": dry_run}, format="json")
        assert response.status_code == 400
        assert response.json() == {
            "as_of": [
                "A run as of 2026-03-09 is refused: the last run was as of 2026-03-10, and runs never go "
                "back in time."
            ]
        }
    assert DunningRun.objects.count() == 1


def test_a_real_run_after_today_is_refused_but_may_be_planned(api, clock, standard):
    dunned_customer("ACME")
    response = api.post(RUNS, {"as_of": "2026-06-02"}, format="json")
    assert response.status_code == 400
    assert response.json()["as_of"][0].startswith("A run as of 2026-06-02 is after today (2026-06-01)")
    assert not DunningRun.objects.exists()

    planned = api.post(RUNS, {"as_of": "2026-06-02", "dry_run": True}, format="json")
    assert planned.status_code == 200
    assert planned.json()["report"]["messages_total"] == 1
    too_far = api.post(RUNS, {"as_of": "2027-06-03", "dry_run": True}, format="json")
    assert too_far.json() == {"as_of": ["Choose a date no later than 2027-06-02."]}
    for bad in ("2026-02-30", "0001-01-01", "", None, 5):
        assert api.post(RUNS, {"as_of": bad}, format="json").status_code == 400, bad


def test_a_run_without_a_date_runs_as_of_today(api, clock, standard):
    assert api.post(RUNS, {"dry_run": True}, format="json").json()["as_of"] == "2026-06-01"
    assert api.post(RUNS, {}, format="json").json()["as_of"] == "2026-06-01"


# The outbox -------------------------------------------------------------------------------------------------


def test_the_outbox_lists_messages_with_their_items_and_filters(reader, api, clock, standard):
    _, invoice = dunned_customer("ACME")
    dunned_customer("BETA", due=DUE + dt.timedelta(days=20))
    api.post(RUNS, {"as_of": "2026-03-05"}, format="json")
    run = DunningRun.objects.get()
    message = OutboundMessage.objects.get()

    body = reader.get(MESSAGES).json()
    assert body["count"] == 1
    [row] = body["results"]
    assert {
        k: row[k] for k in ("id", "key", "customer", "policy", "level", "channel", "as_of", "run", "status")
    } == {
        "id": message.pk,
        "key": message.key,
        "customer": "ACME",
        "policy": "Standard",
        "level": "Reminder",
        "channel": "email",
        "as_of": "2026-03-05",
        "run": run.pk,
        "status": "pending",  # nothing delivers inside the test's transaction
    }
    assert row["items"] == [
        {
            "invoice": "ACME-1",
            "invoice_id": invoice.pk,
            "level": "Reminder",
            "level_id": message.level_id,
            "is_new": True,
            "open_amount": "100.00",
            "disputed_amount": "0.00",
            "currency": "USD",
            "days_past_due": 3,
        }
    ]
    assert "body_text" not in row and "body_text" in reader.get(f"{MESSAGES}{message.pk}/").json()
    for params, count in [
        ({"status": "pending"}, 1),
        ({"status": "sent"}, 0),
        ({"channel": "email"}, 1),
        ({"channel": "letter"}, 0),
        ({"customer": "ACME"}, 1),
        ({"customer": "BETA"}, 0),
        ({"run": run.pk}, 1),
        ({"run": run.pk + 1}, 0),
        ({"as_of": "2026-03-05"}, 1),
        ({"as_of_after": "2026-03-06"}, 0),
        ({"as_of_before": "2026-03-05"}, 1),
    ]:
        assert reader.get(MESSAGES, params).json()["count"] == count, params
    assert reader.get(MESSAGES, {"status": "lost"}).status_code == 400


def test_a_failed_message_is_retried_and_delivered(api, clock, standard, django_capture_on_commit_callbacks):
    dunned_customer("ACME")
    api.post(RUNS, {"as_of": "2026-03-05"}, format="json")
    message = OutboundMessage.objects.get()
    url = f"{MESSAGES}{message.pk}/retry/"

    refused = api.post(url)
    assert refused.status_code == 400
    assert refused.json() == {"status": ["Only a failed message can be retried."]}

    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, attempts=8, last_error="gave up after 8 attempts: 451"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["attempts"]) == ("pending", 0)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)
    assert len(mail.outbox) == 1
    assert Event.objects.filter(verb="dunning_message.retried", actor=api.user).count() == 1


# An invoice's dunning status --------------------------------------------------------------------------------


def test_an_invoice_says_where_it_stands_and_why(api, reader, clock, standard):
    customer, invoice = dunned_customer("ACME")
    url = f"/api/v1/invoices/{invoice.pk}/dunning/"

    before = reader.get(url, {"as_of": "2026-03-05"})
    assert before.status_code == 200, before.json()
    assert before.json() == {
        "invoice": "ACME-1",
        "invoice_id": invoice.pk,
        "as_of": "2026-03-05",
        "policy": "Standard",
        "policy_id": standard.pk,
        "policy_source": "default",
        "level": None,
        "level_position": None,
        "since": None,
        "verdict": "moves",
        "reason": "",
        "explanation": "It is due for Reminder as of 2026-03-05; the next run for that date sends it.",
        "next_level": "Reminder",
        "steps": [],
        "messages": [],
        "holds": [],
    }

    api.post(RUNS, {"as_of": "2026-03-05"}, format="json")
    hold = api.post(HOLDS, {"customer": "ACME", "reason": "Talking to their CFO"}, format="json").json()
    after = reader.get(url, {"as_of": "2026-03-20"}).json()
    message = OutboundMessage.objects.get()
    run = DunningRun.objects.get()
    assert {k: after[k] for k in ("level", "level_position", "since", "verdict", "reason", "next_level")} == {
        "level": "Reminder",
        "level_position": 2,
        "since": "2026-03-05",
        "verdict": "skipped",
        "reason": "on_hold",
        "next_level": None,
    }
    assert after["explanation"] == "Not dunned as of 2026-03-20: dunning is on hold."
    assert after["steps"] == [
        {
            "as_of": "2026-03-05",
            "level": "Reminder",
            "level_id": message.level_id,
            "from_level": None,
            "run": run.pk,
            "dunned_amount": "100.00",
            "currency": "USD",
        }
    ]
    assert after["messages"] == [
        {
            "id": message.pk,
            "as_of": "2026-03-05",
            "channel": "email",
            "level": "Reminder",
            "status": "pending",
            "send_at": "2026-03-05T09:00:00Z",
            "sent_at": None,
        }
    ]
    assert after["holds"] == [
        {"id": hold["id"], "invoice_id": None, "reason": "Talking to their CFO", "until": None}
    ]

    ledger.customer_update(
        actor=None, customer=customer, dunning_policy=DunningPolicy.objects.get(name="Standard")
    )
    assert reader.get(url).json()["policy_source"] == "customer"
    assert reader.get(url).json()["as_of"] == "2026-06-01"  # today by default


def test_an_invoice_status_refuses_a_bad_date_and_a_missing_invoice(reader, clock, standard):
    invoice = InvoiceFactory()
    url = f"/api/v1/invoices/{invoice.pk}/dunning/"
    assert reader.get(url, {"as_of": "2026-02-30"}).json() == {
        "as_of": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]
    }
    assert reader.get(url, {"as_of": "9999-12-31"}).json() == {
        "as_of": ["Choose a date no later than 2027-06-02."]
    }
    assert reader.get(url, {"as_of": "1899-12-31"}).json() == {"as_of": ["Choose a date from 1900-01-01 on."]}
    assert reader.get(f"/api/v1/invoices/{invoice.pk + 1}/dunning/").status_code == 404


# Holds ------------------------------------------------------------------------------------------------------


def test_collectors_hold_and_release_dunning(client_for, clock, standard):
    collector = client_for(Role.COLLECTOR)
    customer, invoice = dunned_customer("ACME")
    dunned_customer("BETA")

    created = collector.post(
        HOLDS,
        {"customer": "ACME", "invoice": "ACME-1", "reason": " Disputed by phone ", "until": "2026-06-30"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    hold = DunningHold.objects.get()
    assert created.json() == {
        "id": hold.pk,
        "customer": "ACME",
        "customer_id": customer.pk,
        "invoice": "ACME-1",
        "invoice_id": invoice.pk,
        "reason": "Disputed by phone",
        "until": "2026-06-30",
        "active": True,
        "created_at": created.json()["created_at"],
        "created_by": collector.user.username,
        "released_at": None,
    }
    assert collector.get(HOLDS, {"active": "true"}).json()["count"] == 1

    released = collector.post(f"{HOLDS}{hold.pk}/release/")
    assert released.status_code == 200
    assert (released.json()["active"], released.json()["released_at"] is not None) == (False, True)
    again = collector.post(f"{HOLDS}{hold.pk}/release/")
    assert again.status_code == 400
    assert again.json() == {"non_field_errors": ["The hold is already released."]}
    assert collector.get(HOLDS, {"active": "true"}).json()["count"] == 0
    assert collector.get(HOLDS, {"active": "false", "customer": "ACME"}).json()["count"] == 1
    assert Event.objects.filter(verb__startswith="dunning_hold").count() == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"customer": "BETA", "invoice": "ACME-1", "reason": "x"}, "invoice"),
        ({"customer": "ACME", "reason": "   "}, "reason"),
        ({"customer": "ACME"}, "reason"),
        ({"customer": "NOPE", "reason": "x"}, "customer"),
        ({"customer": "ACME", "reason": "x", "until": "2026-05-31"}, "until"),
        ({"customer": "ACME", "reason": "x" * 256}, "reason"),
    ],
)
def test_a_bad_hold_is_refused_by_field_and_nothing_is_held(api, clock, payload, field):
    dunned_customer("ACME")
    dunned_customer("BETA")
    response = api.post(HOLDS, payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not DunningHold.objects.exists()


def test_steps_are_kept_when_runs_move_invoices(api, clock, standard):
    dunned_customer("ACME")
    api.post(RUNS, {"as_of": "2026-03-05"}, format="json")
    api.post(RUNS, {"as_of": "2026-03-17"}, format="json")
    assert DunningStep.objects.count() == 2
    assert [r["as_of"] for r in api.get(RUNS).json()["results"]] == ["2026-03-17", "2026-03-05"]
    assert [r["as_of"] for r in api.get(RUNS, {"as_of_before": "2026-03-10"}).json()["results"]] == [
        "2026-03-05"
    ]
