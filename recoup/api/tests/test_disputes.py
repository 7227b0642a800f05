"""Disputes through the API: reasons, opening (in full, in part, several per invoice, never more than is
open), the queue and its filters, one dispute's story, every action, each outcome's effect on the ledger,
uploads, the figures, the query count of the list, and garbage that never gets a 500."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.http import HttpResponse
from django.urls import include, path, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from recoup.activity.models import TimelineEntry
from recoup.api.tests.test_fuzz import HOSTILE, scalars
from recoup.core.models import Event, Notification
from recoup.disputes import services
from recoup.disputes.defaults import install_reasons
from recoup.disputes.models import (
    Dispute,
    DisputeComment,
    DisputeDocument,
    DisputeReason,
    DisputeStatusChange,
)
from recoup.ledger import services as ledger
from recoup.ledger.models import Allocation, AllocationKind, CreditNote, Customer, Invoice
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory
from recoup.users.models import Role, Team, User
from recoup.users.services import token_create

pytestmark = pytest.mark.django_db
D = dt.date
TODAY = D(2026, 6, 1)  # the `clock` fixture's today
NOW = "2026-06-01T12:00:00Z"
DISPUTES = "/api/v1/disputes/"
REASONS = "/api/v1/dispute-reasons/"
METRICS = "/api/v1/reports/disputes"
CODES = "pricing, quantity, damaged_goods, not_received, duplicate_billing, tax, other"
ACCEPTED = ".pdf, .png, .jpg, .jpeg, .gif, .tif, .tiff, .xlsx, .docx, .txt, .csv, .eml"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def world(clock, settings, tmp_path):
    """Today is 2026-06-01; the default reasons exist (a flush by a transactional test removes the
    migration's); uploads go to a temporary directory."""
    install_reasons()
    settings.MEDIA_ROOT = tmp_path / "media"


# Helpers, shared with test_disputes_roles.py ----------------------------------------------------------------


def make_invoice(external_id: str = "INV-1", customer: str = "ACME", amount: str = "100.00") -> Invoice:
    found = Customer.objects.filter(external_id=customer).first()
    if found is None:
        found = CustomerFactory.create(external_id=customer, name=f"{customer} Ltd")
    return InvoiceFactory.create(external_id=external_id, customer=found, amount=Decimal(amount))


def open_dispute(
    invoice: Invoice, *, reason: str = "pricing", opened_on: dt.date = TODAY, **fields
) -> Dispute:
    return services.dispute_open(actor=None, invoice=invoice, reason=reason, opened_on=opened_on, **fields)


def member(make_user, role: str, username: str, team: Team | None) -> User:
    user = make_user(role, username)
    user.team = team
    user.save()
    return user


def upload(name: str = "note.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def snapshot() -> tuple[object, ...]:
    """Everything a dispute request may write."""
    return (
        list(
            Dispute.objects.order_by("id").values_list(
                "id", "status", "amount", "owner_id", "team_id", "outcome", "resolved_on"
            )
        ),
        list(DisputeReason.objects.order_by("id").values_list("code", "name", "sla_days", "is_active")),
        DisputeStatusChange.objects.count(),
        DisputeComment.objects.count(),
        DisputeDocument.objects.count(),
        Event.objects.count(),
        TimelineEntry.objects.count(),
        Notification.objects.count(),
        CreditNote.objects.count(),
        Allocation.objects.count(),
        list(Invoice.objects.order_by("id").values_list("open_amount", flat=True)),
    )


@pytest.fixture
def billing(db) -> Team:
    return Team.objects.create(name="Billing")


@pytest.fixture
def logistics(db) -> Team:
    return Team.objects.create(name="Logistics")


@pytest.fixture
def rita(make_user, billing) -> User:
    """A resolver in Billing."""
    return member(make_user, Role.RESOLVER, "rita", billing)


# Reasons ----------------------------------------------------------------------------------------------------


def test_every_role_reads_the_reasons_in_their_order(reader):
    response = reader.get(REASONS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 7
    assert ", ".join(r["code"] for r in body["results"]) == CODES
    pricing = DisputeReason.objects.get(code="pricing")
    expected = {
        "id": pricing.pk,
        "code": "pricing",
        "name": "Pricing",
        "sla_days": 10,
        "default_team": None,
        "is_active": True,
        "position": 0,
    }
    assert body["results"][0] == expected
    assert reader.get(f"{REASONS}{pricing.pk}/").json() == expected
    assert reader.get(REASONS, {"code": "tax"}).json()["results"][0]["sla_days"] == 10
    assert reader.get(REASONS, {"is_active": "false"}).json()["count"] == 0


def test_a_manager_creates_changes_and_deactivates_a_reason(api, billing):
    created = api.post(
        REASONS,
        {
            "code": "late_delivery",
            "name": "Late delivery",
            "sla_days": 3,
            "default_team": billing.pk,
            "position": 9,
        },
        format="json",
    )

    assert created.status_code == 201, created.json()
    reason = DisputeReason.objects.get(code="late_delivery")
    assert created.json() == {
        "id": reason.pk,
        "code": "late_delivery",
        "name": "Late delivery",
        "sla_days": 3,
        "default_team": billing.pk,
        "is_active": True,
        "position": 9,
    }
    assert (reason.sla_days, reason.default_team, reason.position) == (3, billing, 9)
    event = Event.objects.get(verb="dispute_reason.saved")
    assert (event.actor, event.data) == (api.user, {"sla_days": 3})

    patched = api.patch(f"{REASONS}{reason.pk}/", {"sla_days": 5, "default_team": None}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json() == {**created.json(), "sla_days": 5, "default_team": None}

    put = api.put(
        f"{REASONS}{reason.pk}/",
        {"code": "late", "name": "Late", "sla_days": 4, "is_active": False},
        format="json",
    )
    assert put.status_code == 200, put.json()
    assert put.json() == {**patched.json(), "code": "late", "name": "Late", "sla_days": 4, "is_active": False}
    reason.refresh_from_db()
    assert (reason.code, reason.is_active, reason.position) == ("late", False, 9)

    # An inactive reason takes no new dispute.
    make_invoice()
    refused = api.post(DISPUTES, {"invoice": "INV-1", "reason": "late"}, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"reason": [f"'late' is not a dispute reason; use one of: {CODES}."]}
    assert not Dispute.objects.exists()


def test_a_reason_in_use_keeps_its_code_and_reasons_are_never_deleted(api):
    open_dispute(make_invoice())
    pricing = DisputeReason.objects.get(code="pricing")
    url = f"{REASONS}{pricing.pk}/"

    renamed = api.patch(url, {"code": "price"}, format="json")
    assert renamed.status_code == 400
    assert renamed.json() == {"code": ["The code of a reason in use cannot change."]}
    assert api.patch(url, {"name": "Price"}, format="json").json()["name"] == "Price"

    assert api.delete(url).status_code == 405
    assert DisputeReason.objects.filter(pk=pricing.pk, code="pricing", name="Price").exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"code": "pricing", "name": "Again"}, {"code": ["A reason with code 'pricing' exists already."]}),
        ({"code": "new", "name": "New", "sla_days": 0}, {"sla_days": ["The SLA is between 1 and 365 days."]}),
        (
            {"code": "new", "name": "New", "sla_days": 10**30},
            {"sla_days": ["The SLA is between 1 and 365 days."]},
        ),
        (
            {"code": "not a slug!", "name": "New"},
            {"code": ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.']},
        ),
        ({"code": "new"}, {"name": ["This field is required."]}),
        (
            {"code": "new", "name": "x" * 101},
            {"name": ["Ensure this field has no more than 100 characters."]},
        ),
        (
            {"code": "new", "name": "New", "default_team": 10**30},
            {"default_team": ['Invalid pk "1000000000000000000000000000000" - object does not exist.']},
        ),
        (
            {"code": "new", "name": "New", "default_team": True},
            {"default_team": ["Give the id as a whole number."]},
        ),
        (
            {"code": "new", "name": "New", "position": 2**31},
            {"position": ["Ensure this value is less than or equal to 2147483647."]},
        ),
        ({"code": "new", "name": "New", "is_active": "maybe"}, {"is_active": ["Must be a valid boolean."]}),
    ],
)
def test_a_bad_reason_is_refused_by_field_and_nothing_is_written(api, body, errors):
    before = snapshot()
    response = api.post(REASONS, body, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert snapshot() == before


# Opening ----------------------------------------------------------------------------------------------------


def test_a_collector_opens_a_dispute_for_all_that_is_open(client_for):
    invoice = make_invoice()
    collector = client_for(Role.COLLECTOR)

    response = collector.post(
        DISPUTES, {"invoice": "INV-1", "reason": "pricing", "note": "Old price list"}, format="json"
    )

    assert response.status_code == 201, response.json()
    dispute = Dispute.objects.get()
    name = collector.user.username
    assert response.json() == {
        "id": dispute.pk,
        "invoice": "INV-1",
        "invoice_id": invoice.pk,
        "customer": "ACME",
        "customer_name": "ACME Ltd",
        "amount": "100.00",
        "currency": "USD",
        "status": "open",
        "reason": "pricing",
        "reason_name": "Pricing",
        "note": "Old price list",
        "owner": None,
        "owner_id": None,
        "team": None,
        "team_id": None,
        "opened_on": "2026-06-01",
        "sla_due_on": "2026-06-11",
        "sla_state": "on_track",
        "sla_breached_on": None,
        "resolved_on": None,
        "outcome": "",
        "resolution_note": "",
        "credit_note": None,
        "write_off_id": None,
        "created_by": name,
        "created_at": NOW,
        "comments_count": 0,
        "documents_count": 0,
        "history": [{"from": None, "to": "open", "at": NOW, "by": name, "note": "Old price list"}],
        "comments": [],
        "documents": [],
    }
    assert (dispute.amount, dispute.created_by) == (Decimal("100.00"), collector.user)
    event = Event.objects.get(verb="dispute.opened")
    assert (event.actor, event.data) == (
        collector.user,
        {"amount": "100.00", "currency": "USD", "reason": "pricing"},
    )
    assert list(TimelineEntry.objects.values_list("title", "body")) == [
        ("Dispute opened on INV-1: 100.00 USD (Pricing)", "Old price list")
    ]


def test_several_disputes_share_one_invoice_but_never_exceed_its_open_amount(api):
    make_invoice()
    first = api.post(
        DISPUTES,
        {"invoice": "INV-1", "reason": "pricing", "amount": "60.00", "opened_on": "2026-05-20"},
        format="json",
    )
    assert first.status_code == 201, first.json()
    assert (first.json()["amount"], first.json()["opened_on"], first.json()["sla_due_on"]) == (
        "60.00",
        "2026-05-20",
        "2026-05-30",
    )
    assert first.json()["sla_state"] == "overdue"
    before = snapshot()

    over = api.post(DISPUTES, {"invoice": "INV-1", "reason": "quantity", "amount": "40.01"}, format="json")

    assert over.status_code == 400
    assert over.json() == {
        "amount": ["INV-1 has 40.00 USD open and not yet disputed; a dispute of 40.01 would exceed it."]
    }
    assert snapshot() == before
    rest = api.post(DISPUTES, {"invoice": "INV-1", "reason": "quantity"}, format="json")
    assert rest.status_code == 201
    assert (rest.json()["amount"], rest.json()["reason"], rest.json()["sla_state"]) == (
        "40.00",
        "quantity",
        "on_track",
    )
    none_left = api.post(DISPUTES, {"invoice": "INV-1", "reason": "tax"}, format="json")
    assert none_left.json() == {"amount": ["INV-1 has nothing open that is not already disputed."]}
    listed = api.get(DISPUTES, {"invoice": "INV-1"}).json()
    assert [(d["amount"], d["reason"]) for d in listed["results"]] == [
        ("60.00", "pricing"),
        ("40.00", "quantity"),
    ]


def test_a_payment_shrinks_what_can_still_be_disputed(api):
    invoice = make_invoice()
    ledger.payment_create(
        actor=None,
        customer=invoice.customer,
        external_id="PAY-1",
        date=D(2026, 5, 1),
        amount=Decimal("70.00"),
        apply_to=[ledger.Application(invoice, Decimal("70.00"))],
    )
    over = api.post(DISPUTES, {"invoice": "INV-1", "reason": "pricing", "amount": "30.01"}, format="json")
    assert over.json() == {
        "amount": ["INV-1 has 30.00 USD open and not yet disputed; a dispute of 30.01 would exceed it."]
    }
    assert (
        api.post(DISPUTES, {"invoice": "INV-1", "reason": "pricing"}, format="json").json()["amount"]
        == "30.00"
    )


def test_the_owner_is_the_person_then_their_team_then_the_reason_default(api, rita, logistics):
    make_invoice()
    DisputeReason.objects.filter(code="not_received").update(default_team=logistics)

    person = api.post(
        DISPUTES, {"invoice": "INV-1", "reason": "pricing", "amount": "10", "owner": rita.pk}, format="json"
    )
    team = api.post(
        DISPUTES,
        {"invoice": "INV-1", "reason": "pricing", "amount": "10", "team": logistics.pk},
        format="json",
    )
    default = api.post(
        DISPUTES, {"invoice": "INV-1", "reason": "not_received", "amount": "10"}, format="json"
    )
    both = api.post(
        DISPUTES,
        {"invoice": "INV-1", "reason": "pricing", "amount": "10", "owner": rita.pk, "team": logistics.pk},
        format="json",
    )

    owners = [
        (r.json()["owner"], r.json()["owner_id"], r.json()["team"]) for r in (person, team, default, both)
    ]
    assert owners == [
        ("rita", rita.pk, "Billing"),
        (None, None, "Logistics"),
        (None, None, "Logistics"),
        ("rita", rita.pk, "Logistics"),
    ]
    assert default.json()["sla_due_on"] == "2026-06-08"  # not received: 7 days
    # Rita is told twice (she owns two); nobody is told of a team's dispute with no member.
    notices = Notification.objects.order_by("id")
    assert [(n.recipient, n.subject) for n in notices] == [
        (rita, "Dispute on INV-1 (ACME Ltd) assigned to you"),
        (rita, "Dispute on INV-1 (ACME Ltd) assigned to you"),
    ]


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"invoice": "NOPE"}, {"invoice": ["No invoice has the external id 'NOPE'."]}),
        ({"invoice": 5}, {"invoice": ["Invalid value."]}),
        ({"reason": "nope"}, {"reason": [f"'nope' is not a dispute reason; use one of: {CODES}."]}),
        ({"reason": None}, {"reason": ["This field may not be null."]}),
        ({"amount": "abc"}, {"amount": ["A valid number is required."]}),
        ({"amount": "1e3"}, {"amount": ["Enter a plain decimal amount such as 1250.00."]}),
        ({"amount": True}, {"amount": ["Enter a plain decimal amount such as 1250.00."]}),
        ({"amount": "10.001"}, {"amount": ["10.001 has more decimals than USD allows."]}),
        ({"amount": "-5"}, {"amount": ["A dispute must be for more than zero."]}),
        ({"amount": "0"}, {"amount": ["A dispute must be for more than zero."]}),
        ({"amount": 10**30}, {"amount": ["Ensure that there are no more than 19 digits in total."]}),
        ({"opened_on": "2026-06-02"}, {"opened_on": ["A dispute cannot open in the future."]}),
        (
            {"opened_on": "2025-12-31"},
            {"opened_on": ["A dispute cannot open before its invoice was issued (2026-01-01)."]},
        ),
        (
            {"opened_on": "2026-02-30"},
            {"opened_on": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
        ({"owner": "viewer"}, {"owner": ["viewer cannot own a dispute (role viewer)."]}),
        (
            {"owner": 10**30},
            {"owner": ['Invalid pk "1000000000000000000000000000000" - object does not exist.']},
        ),
        ({"owner": "12x"}, {"owner": ["Give the id as a whole number."]}),
        ({"owner": "\u00b2"}, {"owner": ["Give the id as a whole number."]}),  # a digit int() refuses
        ({"team": "\u0663"}, {"team": ["Give the id as a whole number."]}),  # an Arabic-Indic three
        ({"team": -1}, {"team": ['Invalid pk "-1" - object does not exist.']}),
        ({"note": "x" * 10_001}, {"note": ["Ensure this field has no more than 10000 characters."]}),
    ],
)
def test_a_bad_dispute_is_refused_by_field_and_nothing_is_written(api, viewer, changes, errors):
    make_invoice()
    if changes.get("owner") == "viewer":
        changes = {**changes, "owner": viewer.pk}
    before = snapshot()

    response = api.post(DISPUTES, {"invoice": "INV-1", "reason": "pricing", **changes}, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert snapshot() == before


def test_opening_needs_an_invoice_and_a_reason(api):
    response = api.post(DISPUTES, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {"invoice": ["This field is required."], "reason": ["This field is required."]}
    assert api.post(DISPUTES, ["INV-1"], format="json").json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


# The queue --------------------------------------------------------------------------------------------------


@pytest.fixture
def queue(rita, logistics) -> dict[str, Dispute]:
    """Five disputes, one in each SLA state as of 2026-06-01 (the keys), on ACME's and BETA's invoices."""
    d = {
        "overdue": open_dispute(make_invoice("INV-1"), opened_on=D(2026, 5, 1), owner=rita),
        "due_soon": open_dispute(
            make_invoice("INV-2", "BETA"), reason="not_received", opened_on=D(2026, 5, 27), team=logistics
        ),
        "on_track": open_dispute(make_invoice("INV-3"), reason="other", opened_on=D(2026, 5, 30)),
        "met": open_dispute(make_invoice("INV-4", "BETA"), reason="tax", opened_on=D(2026, 5, 2)),
        "missed": open_dispute(make_invoice("INV-5"), reason="quantity", opened_on=D(2026, 4, 1)),
    }
    services.dispute_review(actor=None, dispute=d["on_track"])
    services.dispute_resolve(actor=None, dispute=d["met"], outcome="rejected", resolved_on=D(2026, 5, 10))
    services.dispute_resolve(
        actor=None, dispute=d["missed"], outcome="customer_paid", resolved_on=D(2026, 5, 20)
    )
    return d


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_the_queue_lists_oldest_first_with_each_sla_state(reader, queue):
    body = reader.get(DISPUTES).json()

    order = ["missed", "overdue", "met", "due_soon", "on_track"]
    assert body["count"] == 5
    assert [row["id"] for row in body["results"]] == [queue[key].pk for key in order]
    assert [row["sla_state"] for row in body["results"]] == order
    assert [row["status"] for row in body["results"]] == ["resolved", "open", "resolved", "open", "in_review"]
    row = body["results"][1]
    assert {k: row[k] for k in ("invoice", "customer", "owner", "team", "sla_due_on", "comments_count")} == {
        "invoice": "INV-1",
        "customer": "ACME",
        "owner": "rita",
        "team": "Billing",
        "sla_due_on": "2026-05-11",
        "comments_count": 0,
    }
    assert "history" not in row
    assert ids(reader.get(DISPUTES, {"ordering": "-opened_on"})) == [queue[key].pk for key in reversed(order)]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "active"}, ["overdue", "due_soon", "on_track"]),
        ({"status": "open"}, ["overdue", "due_soon"]),
        ({"status": "in_review"}, ["on_track"]),
        ({"status": "resolved"}, ["missed", "met"]),
        ({"reason": "pricing"}, ["overdue"]),
        ({"reason": "nope"}, []),
        ({"customer": "ACME"}, ["missed", "overdue", "on_track"]),
        ({"customer": "BETA", "status": "active"}, ["due_soon"]),
        ({"invoice": "INV-2"}, ["due_soon"]),
        ({"sla": "overdue"}, ["overdue"]),
        ({"sla": "due_soon"}, ["due_soon"]),
        ({"sla": "on_track"}, ["on_track"]),
        ({"sla": "met"}, ["met"]),
        ({"sla": "missed"}, ["missed"]),
        ({"scope": "all"}, ["missed", "overdue", "met", "due_soon", "on_track"]),
        ({"scope": "mine"}, []),  # the manager owns none
        ({"scope": "team"}, []),  # and has no team
    ],
)
def test_the_queue_filters(api, queue, params, expected):
    assert ids(api.get(DISPUTES, params)) == [queue[key].pk for key in expected]


def test_the_queue_filters_by_owner_team_and_the_user_s_own_scope(
    client_for, queue, rita, billing, logistics
):
    rita_client = client_for(rita)
    manager = client_for(Role.MANAGER)
    manager.user.team = logistics
    manager.user.save()

    assert ids(manager.get(DISPUTES, {"owner": rita.pk})) == [queue["overdue"].pk]
    assert ids(manager.get(DISPUTES, {"team": billing.pk})) == [queue["overdue"].pk]
    assert ids(manager.get(DISPUTES, {"team": logistics.pk})) == [queue["due_soon"].pk]
    assert ids(manager.get(DISPUTES, {"scope": "team"})) == [queue["due_soon"].pk]
    assert ids(rita_client.get(DISPUTES, {"scope": "mine"})) == [queue["overdue"].pk]
    assert ids(rita_client.get(DISPUTES, {"scope": "team"})) == [queue["overdue"].pk]


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        (
            {"status": "lost"},
            {"status": ["Select a valid choice. lost is not one of the available choices."]},
        ),
        ({"sla": "late"}, {"sla": ["Select a valid choice. late is not one of the available choices."]}),
        (
            {"scope": "everyone"},
            {"scope": ["Select a valid choice. everyone is not one of the available choices."]},
        ),
        ({"owner": "abc"}, {"owner": ["Enter a whole number."]}),
        ({"team": "0"}, {"team": ["Ensure this value is greater than or equal to 1."]}),
        ({"team": str(2**63)}, {"team": ["Ensure this value is less than or equal to 9223372036854775807."]}),
        ({"customer": "A\x00"}, {"customer": ["Null characters are not allowed."]}),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(reader, queue, params, errors):
    response = reader.get(DISPUTES, params)
    assert response.status_code == 400
    assert response.json() == errors


# One dispute's story and the actions ------------------------------------------------------------------------


@pytest.fixture
def dispute(rita) -> Dispute:
    """60.00 of ACME's INV-1 (100.00) disputed on pricing, owned by Rita (Billing)."""
    invoice = make_invoice()
    Customer.objects.filter(pk=invoice.customer_id).update(
        collector=User.objects.create_user("cole", role="collector", email="cole@example.com")
    )
    return open_dispute(invoice, amount="60.00", opened_on=D(2026, 5, 25), owner=rita, note="Wrong price")


def url(dispute: Dispute, action: str = "") -> str:
    return f"{DISPUTES}{dispute.pk}/{action + '/' if action else ''}"


def test_the_detail_tells_the_story_history_comments_and_documents(api, dispute):
    assert (
        api.post(url(dispute, "review"), {"note": "Checking the price list"}, format="json").status_code
        == 200
    )
    assert (
        api.post(url(dispute, "comment"), {"body": "They have the 2025 list"}, format="json").status_code
        == 201
    )
    assert api.post(url(dispute, "attach"), {"file": upload("po.pdf")}, format="multipart").status_code == 201

    body = api.get(url(dispute)).json()

    comment = DisputeComment.objects.get()
    document = DisputeDocument.objects.get()
    name = api.user.username
    assert body["history"] == [
        {"from": None, "to": "open", "at": NOW, "by": None, "note": "Wrong price"},
        {"from": "open", "to": "in_review", "at": NOW, "by": name, "note": "Checking the price list"},
    ]
    assert body["comments"] == [
        {"id": comment.pk, "body": "They have the 2025 list", "author": name, "created_at": NOW}
    ]
    assert body["documents"] == [
        {
            "id": document.pk,
            "name": "po.pdf",
            "content_type": "application/pdf",
            "size": len(PDF),
            "sha256": hashlib.sha256(PDF).hexdigest(),
            "uploaded_by": name,
            "uploaded_at": NOW,
            "url": "http://testserver" + reverse("dispute-document", args=[dispute.pk, document.pk]),
        }
    ]
    assert (body["status"], body["comments_count"], body["documents_count"]) == ("in_review", 1, 1)
    assert api.get(DISPUTES).json()["results"][0]["comments_count"] == 1
    assert api.get(f"{DISPUTES}{dispute.pk + 1}/").status_code == 404


class WithoutDownloads:
    """A URL configuration in which the web UI offers no document download."""

    urlpatterns = [
        path("api/", include("recoup.api.urls")),
        path("disputes/<int:pk>/", lambda request, pk: HttpResponse(), name="dispute-detail"),
    ]


def test_a_document_has_no_url_where_the_web_ui_offers_no_download(api, dispute, settings):
    services.dispute_attach(actor=None, dispute=dispute, upload=upload())
    settings.ROOT_URLCONF = WithoutDownloads

    [document] = api.get(url(dispute)).json()["documents"]

    assert (document["name"], document["url"]) == ("note.pdf", None)


def test_assigning_gives_the_dispute_to_a_person_or_a_team_and_tells_them(
    api, dispute, make_user, logistics, smtp, django_capture_on_commit_callbacks
):
    tom = member(make_user, Role.RESOLVER, "tom", logistics)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url(dispute, "assign"), {"owner": tom.pk}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["owner"], response.json()["owner_id"], response.json()["team"]) == (
        "tom",
        tom.pk,
        "Logistics",
    )
    dispute.refresh_from_db()
    assert (dispute.owner, dispute.team) == (tom, logistics)
    event = Event.objects.get(verb="dispute.assigned")
    assert (event.actor, event.data) == (api.user, {"owner": "tom", "team": "Logistics"})
    # Delivery sends what is due: Rita's notice of the opening, then Tom's of the assignment.
    assert [m.rcpt_tos for m in smtp.received] == [["rita@example.com"], ["tom@example.com"]]
    mail = smtp.received[1]
    assert mail.message["Subject"] == "Dispute on INV-1 (ACME Ltd) assigned to you"
    assert "for 60.00 USD (Pricing)" in mail.text

    team_only = api.post(url(dispute, "assign"), {"team": logistics.pk, "owner": None}, format="json")
    assert (team_only.json()["owner"], team_only.json()["team"]) == (None, "Logistics")


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"owner": ["Name a person or a team to own the dispute."]}),
        ({"owner": "rita"}, {"owner": ["The dispute is owned so already."]}),
        ({"owner": "viewer"}, {"owner": ["viewer cannot own a dispute (role viewer)."]}),
        ({"team": 10**20}, {"team": ['Invalid pk "100000000000000000000" - object does not exist.']}),
        ({"owner": [1]}, {"owner": ["Give the id as a whole number."]}),
    ],
)
def test_a_bad_assignment_is_refused_and_nothing_changes(api, dispute, rita, viewer, body, errors):
    ids_of = {"rita": rita.pk, "viewer": viewer.pk}
    body = {k: ids_of.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = snapshot()

    response = api.post(url(dispute, "assign"), body, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert snapshot() == before


def test_review_moves_an_open_dispute_in_review_once(api, dispute):
    response = api.post(url(dispute, "review"), {}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "in_review"
    assert [(h["from"], h["to"], h["note"]) for h in response.json()["history"]] == [
        (None, "open", "Wrong price"),
        ("open", "in_review", ""),
    ]
    before = snapshot()
    again = api.post(url(dispute, "review"), {"note": "again"}, format="json")
    assert again.status_code == 400
    assert again.json() == {"status": ["The dispute is in review, not open."]}
    assert snapshot() == before


def test_a_comment_is_stored_and_mailed_to_the_owner_and_the_collector(client_for, dispute, rita):
    collector = client_for(Role.COLLECTOR)
    response = collector.post(url(dispute, "comment"), {"body": "  The PO says 9.50  "}, format="json")

    assert response.status_code == 201, response.json()
    comment = DisputeComment.objects.get()
    assert response.json() == {
        "id": comment.pk,
        "body": "The PO says 9.50",
        "author": collector.user.username,
        "created_at": NOW,
    }
    notices = Notification.objects.filter(key__startswith="dispute-comment:").order_by("recipient__username")
    assert [(n.recipient.username, n.subject) for n in notices] == [
        ("cole", "Comment on the dispute on INV-1"),
        ("rita", "Comment on the dispute on INV-1"),
    ]
    assert "The PO says 9.50" in notices[0].body


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"body": "   "}, {"body": ["This field may not be blank."]}),
        ({}, {"body": ["This field is required."]}),
        ({"body": {"x": 1}}, {"body": ["Not a valid string."]}),
        ({"body": "x" * 10_001}, {"body": ["A comment is at most 10000 characters."]}),
    ],
)
def test_a_bad_comment_is_refused(api, dispute, body, errors):
    before = snapshot()
    response = api.post(url(dispute, "comment"), body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert snapshot() == before


# Uploads ----------------------------------------------------------------------------------------------------


def test_a_document_is_stored_with_its_checksum(api, dispute, settings):
    response = api.post(
        url(dispute, "attach"), {"file": upload("../../delivery note.PDF")}, format="multipart"
    )

    assert response.status_code == 201, response.json()
    document = DisputeDocument.objects.get()
    assert {k: response.json()[k] for k in ("id", "name", "content_type", "size", "sha256")} == {
        "id": document.pk,
        "name": "delivery_note.PDF",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }
    [stored] = stored_files(Path(settings.MEDIA_ROOT))
    assert stored.read_bytes() == PDF
    assert stored.parent == Path(settings.MEDIA_ROOT) / "disputes" / str(dispute.pk)
    assert stored.name == f"{document.token}-delivery_note.PDF"
    assert Event.objects.get(verb="dispute.document").data == {
        "document": document.pk,
        "name": "delivery_note.PDF",
    }


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        (
            "big.pdf",
            PDF + b"x" * (100 - len(PDF) + 1),
            "big.pdf is 101 bytes; a document is at most 100 bytes.",
        ),
        (
            "setup.exe",
            b"MZ\x90\x00\x03",
            f"'setup.exe' is not a kind of file a dispute accepts; use one of {ACCEPTED}.",
        ),
        (
            "page.html",
            b"<script>alert(1)</script>",
            f"'page.html' is not a kind of file a dispute accepts; use one of {ACCEPTED}.",
        ),
        (
            "logo.svg",
            b"<svg/>",
            f"'logo.svg' is not a kind of file a dispute accepts; use one of {ACCEPTED}.",
        ),
        (
            "invoice.pdf",
            b"MZ\x90\x00 not a pdf",
            "'invoice.pdf' is not a .pdf file: its content is of another kind.",
        ),
        ("photo.png", PDF, "'photo.png' is not a .png file: its content is of another kind."),
        ("notes.txt", b"text\x00\x01\x02", "'notes.txt' is not a text file: it holds binary data."),
        ("empty.pdf", b"", "empty.pdf is empty."),
    ],
)
def test_a_refused_upload_is_a_400_on_file_and_nothing_is_stored(
    api, dispute, settings, name, content, error
):
    settings.RECOUP_DISPUTE_UPLOAD_MAX_BYTES = 100
    before = snapshot()

    response = api.post(url(dispute, "attach"), {"file": upload(name, content)}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"file": [error]}
    assert snapshot() == before
    assert stored_files(Path(settings.MEDIA_ROOT)) == []


def test_an_upload_at_the_limit_is_taken_and_other_bodies_are_refused(api, dispute, settings):
    settings.RECOUP_DISPUTE_UPLOAD_MAX_BYTES = 100
    exact = PDF + b"x" * (100 - len(PDF))
    assert (
        api.post(url(dispute, "attach"), {"file": upload("ok.pdf", exact)}, format="multipart").json()["size"]
        == 100
    )

    assert api.post(url(dispute, "attach"), {}, format="multipart").json() == {
        "file": ["No file was submitted."]
    }
    text = api.post(url(dispute, "attach"), {"file": "just text"}, format="multipart")
    assert text.json() == {
        "file": ["The submitted data was not a file. Check the encoding type on the form."]
    }
    as_json = api.post(url(dispute, "attach"), {"file": "x"}, format="json")
    assert as_json.status_code == 415
    assert DisputeDocument.objects.count() == 1


# Resolution -------------------------------------------------------------------------------------------------


def test_a_credit_note_outcome_issues_a_credit_note_allocated_to_the_invoice(api, dispute):
    response = api.post(url(dispute, "resolve"), {"outcome": "credit_note", "note": "Agreed"}, format="json")

    assert response.status_code == 200, response.json()
    note = CreditNote.objects.get()
    assert (note.external_id, note.amount, note.customer, note.date, note.unapplied_amount) == (
        f"DSP-{dispute.pk}",
        Decimal("60.00"),
        dispute.invoice.customer,
        TODAY,
        Decimal("0.00"),
    )
    [allocation] = Allocation.objects.all()
    assert (allocation.kind, allocation.invoice_id, allocation.amount, allocation.credit_note) == (
        AllocationKind.CREDIT_NOTE,
        dispute.invoice_id,
        Decimal("60.00"),
        note,
    )
    assert Invoice.objects.get(pk=dispute.invoice_id).open_amount == Decimal("40.00")
    body = response.json()
    assert {
        k: body[k]
        for k in (
            "status",
            "outcome",
            "resolved_on",
            "resolution_note",
            "credit_note",
            "write_off_id",
            "sla_state",
        )
    } == {
        "status": "resolved",
        "outcome": "credit_note",
        "resolved_on": "2026-06-01",
        "resolution_note": "Agreed",
        "credit_note": f"DSP-{dispute.pk}",
        "write_off_id": None,
        "sla_state": "met",  # opened 2026-05-25, due 2026-06-04
    }
    assert body["history"][-1] == {
        "from": "open",
        "to": "resolved",
        "at": NOW,
        "by": api.user.username,
        "note": "Agreed",
    }


def test_a_credit_note_may_be_for_part_under_its_own_number(api, dispute):
    response = api.post(
        url(dispute, "resolve"),
        {
            "outcome": "credit_note",
            "amount": "25.50",
            "credit_note_external_id": " CN-77 ",
            "resolved_on": "2026-05-30",
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["credit_note"] == "CN-77"
    assert response.json()["resolved_on"] == "2026-05-30"
    note = CreditNote.objects.get()
    assert (note.external_id, note.amount, note.date) == ("CN-77", Decimal("25.50"), D(2026, 5, 30))
    assert Invoice.objects.get(pk=dispute.invoice_id).open_amount == Decimal("74.50")


def test_a_written_off_outcome_writes_the_amount_off(api, dispute):
    response = api.post(url(dispute, "resolve"), {"outcome": "written_off", "amount": 60}, format="json")

    assert response.status_code == 200, response.json()
    [allocation] = Allocation.objects.all()
    assert (
        allocation.kind,
        allocation.amount,
        allocation.credit_note,
        allocation.payment,
        allocation.date,
    ) == (
        AllocationKind.WRITE_OFF,
        Decimal("60.00"),
        None,
        None,
        TODAY,
    )
    assert (response.json()["outcome"], response.json()["write_off_id"], response.json()["credit_note"]) == (
        "written_off",
        allocation.pk,
        None,
    )
    assert not CreditNote.objects.exists()
    assert Invoice.objects.get(pk=dispute.invoice_id).open_amount == Decimal("40.00")


@pytest.mark.parametrize("outcome", ["rejected", "customer_paid"])
def test_rejected_and_customer_paid_write_nothing_to_the_ledger(api, dispute, outcome):
    response = api.post(url(dispute, "resolve"), {"outcome": outcome}, format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["outcome"]) == ("resolved", outcome)
    assert (response.json()["credit_note"], response.json()["write_off_id"]) == (None, None)
    assert (CreditNote.objects.count(), Allocation.objects.count()) == (0, 0)
    assert Invoice.objects.get(pk=dispute.invoice_id).open_amount == Decimal("100.00")
    # Resolved, its amount may be disputed again.
    again = api.post(DISPUTES, {"invoice": "INV-1", "reason": "tax"}, format="json")
    assert again.json()["amount"] == "100.00"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"outcome": "refund"}, {"outcome": ['"refund" is not a valid choice.']}),
        ({}, {"outcome": ["This field is required."]}),
        ({"outcome": "rejected", "amount": "1.00"}, {"amount": ["A rejected outcome takes no amount."]}),
        (
            {"outcome": "credit_note", "amount": "60.01"},
            {"amount": ["The amount settled is more than zero and at most the disputed 60.00 USD."]},
        ),
        (
            {"outcome": "written_off", "amount": "0"},
            {"amount": ["The amount settled is more than zero and at most the disputed 60.00 USD."]},
        ),
        (
            {"outcome": "credit_note", "amount": "1.001"},
            {"amount": ["1.001 has more decimals than USD allows."]},
        ),
        (
            {"outcome": "credit_note", "credit_note_external_id": "CN-1"},
            {"credit_note_external_id": ["A credit note with external id 'CN-1' already exists."]},
        ),
        (
            {"outcome": "rejected", "resolved_on": "2026-05-24"},
            {"resolved_on": ["A dispute cannot be resolved before it opened (2026-05-25)."]},
        ),
        (
            {"outcome": "rejected", "resolved_on": "2026-06-02"},
            {"resolved_on": ["A dispute cannot be resolved in the future."]},
        ),
        (
            {"outcome": "credit_note", "credit_note_external_id": "x" * 65},
            {"credit_note_external_id": ["Ensure this field has no more than 64 characters."]},
        ),
    ],
)
def test_a_bad_resolution_is_refused_and_nothing_is_written(api, dispute, body, errors):
    ledger.credit_note_create(
        actor=None, customer=dispute.invoice.customer, external_id="CN-1", date=TODAY, amount=Decimal("1.00")
    )
    before = snapshot()

    response = api.post(url(dispute, "resolve"), body, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert snapshot() == before


def test_a_resolved_dispute_takes_no_further_action(api, dispute, rita):
    api.post(url(dispute, "resolve"), {"outcome": "rejected"}, format="json")
    before = snapshot()

    for action, body in [
        ("resolve", {"outcome": "rejected"}),
        ("assign", {"team": rita.team_id, "owner": None}),
        ("review", {}),
    ]:
        response = api.post(url(dispute, action), body, format="json")
        assert response.status_code == 400, action
        assert list(response.json()) == ["status"], action
    assert snapshot() == before
    # Comments and documents may still come.
    assert api.post(url(dispute, "comment"), {"body": "Closed by phone"}, format="json").status_code == 201


def test_disputes_offer_no_put_patch_or_delete(api, dispute):
    before = snapshot()
    assert api.put(url(dispute), {"note": "x"}, format="json").status_code == 405
    assert api.patch(url(dispute), {"note": "x"}, format="json").status_code == 405
    assert api.delete(url(dispute)).status_code == 405
    assert api.delete(DISPUTES).status_code == 405
    assert snapshot() == before


# Figures ----------------------------------------------------------------------------------------------------


@pytest.fixture
def figures() -> None:
    """Three invoices (two overdue on 2026-06-01), two disputes resolved in May and three open."""
    one, two = make_invoice("INV-1"), make_invoice("INV-2", amount="50.00")  # due 2026-01-31
    three = InvoiceFactory.create(
        external_id="INV-3", customer=one.customer, amount=Decimal("200.00"), issue_date=D(2026, 5, 20)
    )  # due 2026-06-19: current
    old = open_dispute(two, reason="damaged_goods", amount="10.00", opened_on=D(2026, 3, 1))
    services.dispute_review(actor=None, dispute=old)
    met = open_dispute(one, amount="40.00", opened_on=D(2026, 5, 1))  # due 05-11
    missed = open_dispute(two, reason="not_received", amount="40.00", opened_on=D(2026, 5, 1))  # due 05-08
    services.dispute_resolve(actor=None, dispute=met, outcome="rejected", resolved_on=D(2026, 5, 8))
    services.dispute_resolve(actor=None, dispute=missed, outcome="customer_paid", resolved_on=D(2026, 5, 21))
    open_dispute(one, reason="tax", amount="30.00", opened_on=D(2026, 5, 20))
    open_dispute(three, amount="80.00", opened_on=D(2026, 5, 28))


def test_the_figures_of_a_small_case_are_exact(reader, figures):
    response = reader.get(METRICS)

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "as_of": "2026-06-01",
        "period": {"from": "2026-03-04", "to": "2026-06-01"},
        "currency": "USD",
        "resolved": 2,
        "cycle_time_mean_days": 13.5,  # (7 + 20) / 2
        "cycle_time_median_days": 13.5,
        "sla_hit_rate": 50.0,  # one met, one missed
        "open": 3,
        "open_by_reason": {"Damaged goods": 1, "Pricing": 1, "Tax": 1},
        "open_by_age": {"0–7 days": 1, "8–30 days": 1, "31–60 days": 0, "over 60 days": 1},
        "overdue_ar": "150.00",  # INV-1 and INV-2; INV-3 is current
        "overdue_disputed": "40.00",  # 30.00 on INV-1, 10.00 on INV-2; 80.00 on INV-3 is not overdue
        "overdue_disputed_share": 26.67,
    }
    assert reader.get(METRICS + "/").json() == response.json()


def test_the_figures_as_of_a_past_date_and_over_a_chosen_period(reader, figures):
    then = reader.get(METRICS, {"as_of": "2026-05-10"}).json()
    assert {k: v for k, v in then.items() if k not in ("currency",)} == {
        "as_of": "2026-05-10",
        "period": {"from": "2026-02-10", "to": "2026-05-10"},
        "resolved": 1,
        "cycle_time_mean_days": 7.0,
        "cycle_time_median_days": 7.0,
        "sla_hit_rate": 100.0,
        "open": 2,  # the not-received one (resolved later) and the damaged goods
        "open_by_reason": {"Damaged goods": 1, "Not received": 1},
        "open_by_age": {"0–7 days": 0, "8–30 days": 1, "31–60 days": 0, "over 60 days": 1},
        "overdue_ar": "150.00",
        "overdue_disputed": "50.00",  # 40.00 + 10.00 on INV-2, at most its 50.00 open
        "overdue_disputed_share": 33.33,
    }
    may = reader.get(METRICS, {"from": "2026-05-15", "to": "2026-05-31"}).json()
    assert (may["period"], may["resolved"], may["cycle_time_mean_days"], may["sla_hit_rate"]) == (
        {"from": "2026-05-15", "to": "2026-05-31"},
        1,
        20.0,
        0.0,
    )
    none = reader.get(METRICS, {"from": "2026-01-01", "to": "2026-01-31"}).json()
    assert (
        none["resolved"],
        none["cycle_time_mean_days"],
        none["cycle_time_median_days"],
        none["sla_hit_rate"],
    ) == (
        0,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        (
            {"as_of": "2026-02-30"},
            {"as_of": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
        ({"as_of": "9999-12-31"}, {"as_of": ["Choose a date no later than 2027-06-02."]}),
        ({"from": "0001-01-01"}, {"from": ["Choose a date from 1900-01-01 on."]}),
        ({"to": "1899-12-31"}, {"to": ["Choose a date from 1900-01-01 on."]}),
        ({"from": "2026-05-02", "to": "2026-05-01"}, {"from": ["The period ends before it starts."]}),
        (
            {"from": "x\x00"},
            {"from": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
    ],
)
def test_bad_figure_dates_are_a_400_naming_them(reader, params, errors):
    response = reader.get(METRICS, params)
    assert response.status_code == 400
    assert response.json() == errors


def test_figures_in_another_currency_need_its_rate(reader):
    customer = CustomerFactory.create(external_id="EURO", currency="EUR")
    open_dispute(InvoiceFactory.create(external_id="E-1", customer=customer), amount="10.00")
    response = reader.get(METRICS)
    assert response.status_code == 400
    assert list(response.json()) == ["as_of"]
    assert "EUR" in response.json()["as_of"][0]


# Query counts -----------------------------------------------------------------------------------------------


def add_disputes(n: int, start: int) -> None:
    for k in range(start, start + n):
        dispute = open_dispute(make_invoice(f"Q-{k}", f"QC{k}"), owner=User.objects.get(username="rita"))
        services.dispute_comment(actor=None, dispute=dispute, body=f"comment {k}")
        services.dispute_attach(actor=None, dispute=dispute, upload=upload(f"d{k}.txt", b"hello"))


def test_the_list_and_the_detail_read_in_a_fixed_number_of_queries(reader, rita, django_assert_num_queries):
    # Token auth (1) + count (1) + page (1), the counts of comments and documents in the page's query.
    for total in (3, 25):
        add_disputes(total - Dispute.objects.count(), Dispute.objects.count())
        with django_assert_num_queries(3, info=f"{total} disputes"):
            response = reader.get(DISPUTES)
        assert (response.json()["count"], len(response.json()["results"])) == (total, total)
        assert {
            (row["comments_count"], row["documents_count"], row["owner"])
            for row in response.json()["results"]
        } == {(1, 1, "rita")}
    # The detail: token, the dispute, then its history, comments and documents.
    first = Dispute.objects.first()
    with django_assert_num_queries(5):
        assert reader.get(url(first)).status_code == 200


# Garbage ----------------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FIELDS = {
    "": ["invoice", "amount", "reason", "note", "owner", "team", "opened_on"],
    "assign": ["owner", "team"],
    "review": ["note"],
    "comment": ["body"],
    "resolve": ["outcome", "note", "resolved_on", "amount", "credit_note_external_id"],
}
GARBAGE = [
    *HOSTILE,
    2**63,
    -(2**63) - 1,
    "\u00b2",
    "\u0663",
    "1" * 20,
    "INV-1",
    "pricing",
    "credit_note",
    "written_off",
    "2026-05-30",
]
values = st.one_of(scalars, st.sampled_from(GARBAGE), st.lists(scalars, max_size=2))


@pytest.fixture
def fuzzed(client_for, rita) -> tuple[APIClient, Dispute]:
    dispute = open_dispute(make_invoice(), amount="60.00", opened_on=D(2026, 5, 25), owner=rita)
    return client_for(Role.MANAGER), dispute


@FUZZ
@given(
    action=st.sampled_from(sorted(FIELDS)),
    data=st.data(),
)
def test_garbage_posted_to_every_dispute_write_gets_a_4xx_or_a_success(fuzzed, action, data):
    client, dispute = fuzzed
    payload = data.draw(
        st.one_of(st.fixed_dictionaries({}, optional={f: values for f in FIELDS[action]}), values)
    )
    target = DISPUTES if action == "" else url(dispute, action)
    with transaction.atomic():  # each example rolls back, so every one meets the same dispute
        response = client.post(target, json.dumps(payload), content_type="application/json")
        transaction.set_rollback(True)
    assert response.status_code in (200, 201, 400), (payload, response.content[:300])
    assert isinstance(response.json(), dict)


@FUZZ
@given(
    payload=st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                f: values for f in ["code", "name", "sla_days", "default_team", "is_active", "position"]
            },
        ),
        values,
    )
)
def test_garbage_posted_and_patched_to_reasons_gets_a_4xx_or_a_success(api, payload):
    pricing = DisputeReason.objects.get(code="pricing")
    for method, target in [("post", REASONS), ("patch", f"{REASONS}{pricing.pk}/")]:
        with transaction.atomic():
            response = getattr(api, method)(target, json.dumps(payload), content_type="application/json")
            transaction.set_rollback(True)
        assert response.status_code in (200, 201, 400), (method, payload, response.content[:300])


def multipart(filename: bytes, content: bytes, boundary: str = "b0undary") -> tuple[bytes, str]:
    """A multipart body with one file part, its name sent as given: a test client would clean it first."""
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


HOSTILE_NAMES = [
    "a.pdf",
    "a.txt",
    "..",
    "../../etc/passwd.txt",
    "x\x00.pdf",
    "ü.csv",
    "a" * 300 + ".pdf",
    "",
    ".pdf",
]


@FUZZ
@given(
    name=st.one_of(
        st.sampled_from(HOSTILE_NAMES).map(str.encode),
        st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=20),
    ),
    content=st.one_of(
        st.sampled_from([PDF, b"", b"\x00", b"\xff\xd8\xff", b"\xc3", b"plain text"]), st.binary(max_size=64)
    ),
)
def test_garbage_uploads_get_a_400_or_are_stored_under_a_safe_name(fuzzed, name, content):
    client, dispute = fuzzed
    body, content_type = multipart(name, content)
    with transaction.atomic():
        response = client.generic("POST", url(dispute, "attach"), body, content_type=content_type)
        stored = list(DisputeDocument.objects.values_list("name", "file"))
        transaction.set_rollback(True)
    assert response.status_code in (201, 400), (name, content, response.content[:300])
    if response.status_code == 201:
        [(safe, file)] = stored
        assert "/" not in safe and "\x00" not in safe and not safe.startswith(".")
        assert file.startswith(f"disputes/{dispute.pk}/") and ".." not in file
    else:
        assert stored == []
        assert isinstance(response.json(), dict)


def test_a_body_too_large_for_any_document_is_refused_before_it_is_read(api, dispute, settings):
    settings.RECOUP_DISPUTE_UPLOAD_MAX_BYTES = 100
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body, content_type = multipart(b"big.pdf", PDF + b"x" * 70_000)  # over 100 + 1000 + 64 KiB

    response = api.generic("POST", url(dispute, "attach"), body, content_type=content_type)

    assert response.status_code == 400
    assert response.json() == {
        "file": [f"The upload is {len(body):,} bytes; a document is at most 100 bytes."]
    }
    assert DisputeDocument.objects.count() == 0
    assert stored_files(Path(settings.MEDIA_ROOT)) == []
    # Just under the allowance, the body is read and the service measures the file itself.
    body, content_type = multipart(b"big.pdf", PDF + b"x" * 60_000)
    read = api.generic("POST", url(dispute, "attach"), body, content_type=content_type)
    assert read.json() == {
        "file": [f"big.pdf is {len(PDF) + 60_000:,} bytes; a document is at most 100 bytes."]
    }


def test_hostile_file_names_are_made_safe(fuzzed, settings):
    client, dispute = fuzzed
    for raw, safe in [
        (b"../../etc/passwd.txt", "passwd.txt"),
        (b"C:\\Users\\x\\report.csv", "report.csv"),
        ("r\u00e9sum\u00e9 (1).txt".encode(), "résumé_1.txt"),
        (b".hidden.txt", "hidden.txt"),
    ]:
        body, content_type = multipart(raw, b"hello")
        response = client.generic("POST", url(dispute, "attach"), body, content_type=content_type)
        assert response.status_code == 201, (raw, response.json())
        assert response.json()["name"] == safe, raw
    names = sorted(p.name.split("-", 1)[1] for p in stored_files(Path(settings.MEDIA_ROOT)))
    assert names == ["hidden.txt", "passwd.txt", "report.csv", "résumé_1.txt"]
    # A name that leaves nothing: Django's parser drops the file (".."), or reads the part as text ("").
    for raw, error in [
        (b"..", "No file was submitted."),
        (b"", "The submitted data was not a file. Check the encoding type on the form."),
    ]:
        body, content_type = multipart(raw, b"hello")
        refused = client.generic("POST", url(dispute, "attach"), body, content_type=content_type)
        assert (refused.status_code, refused.json()) == (400, {"file": [error]}), raw
    assert DisputeDocument.objects.count() == 4


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "status",
                "reason",
                "owner",
                "team",
                "customer",
                "invoice",
                "sla",
                "scope",
                "ordering",
                "page",
                "page_size",
                "as_of",
                "from",
                "to",
            ]
        ),
        st.one_of(st.sampled_from([str(v) for v in GARBAGE]), st.text(max_size=12)),
        max_size=4,
    )
)
def test_garbage_query_strings_get_a_4xx_or_a_success(fuzzed, params):
    client, _ = fuzzed
    for target in (DISPUTES, REASONS, METRICS):
        response = client.get(target, params)
        assert response.status_code in (200, 400, 404), (target, params, response.content[:300])


NOT_JSON = [b"{", b'{"amount": NaN}', b'{"note": "a\\u0000b"}', b"\xff\xfe", b"[" * 10000]
NOT_A_DICT = [b"null", b"[]", b'"x"', b"0"]


@pytest.mark.parametrize("body", [*NOT_JSON, *NOT_A_DICT])
@pytest.mark.parametrize("action", ["", "assign", "review", "comment", "resolve"])
def test_malformed_bodies_get_a_400_and_write_nothing(fuzzed, action, body):
    client, dispute = fuzzed
    before = snapshot()
    response = client.post(
        DISPUTES if action == "" else url(dispute, action), body, content_type="application/json"
    )
    assert response.status_code == 400, response.content[:300]
    if body in NOT_JSON:
        assert list(response.json()) == ["detail"]
        assert response.json()["detail"].startswith("JSON parse error")
    else:
        assert list(response.json()) == ["non_field_errors"]
    assert snapshot() == before


def test_a_missing_dispute_or_reason_is_a_404(api):
    for method, target in [
        ("get", f"{DISPUTES}1/"),
        ("post", f"{DISPUTES}1/assign/"),
        ("post", f"{DISPUTES}{'9' * 18}/resolve/"),
        ("get", f"{REASONS}{'9' * 18}/"),
        ("get", f"{DISPUTES}{'9' * 19}/"),
        ("get", f"{DISPUTES}abc/"),
    ]:
        assert getattr(api, method)(target, {}, format="json").status_code == 404, target


def test_the_schema_documents_every_dispute_endpoint_without_a_warning(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(target))
    schema = yaml.safe_load(target.read_text())

    methods = {
        path: sorted(set(operations) - {"parameters"})
        for path, operations in schema["paths"].items()
        if "dispute" in path
    }
    assert methods == {
        "/api/v1/dispute-reasons/": ["get", "post"],
        "/api/v1/dispute-reasons/{id}/": ["get", "patch", "put"],
        "/api/v1/disputes/": ["get", "post"],
        "/api/v1/disputes/{id}/": ["get"],
        "/api/v1/disputes/{id}/assign/": ["post"],
        "/api/v1/disputes/{id}/attach/": ["post"],
        "/api/v1/disputes/{id}/comment/": ["post"],
        "/api/v1/disputes/{id}/resolve/": ["post"],
        "/api/v1/disputes/{id}/review/": ["post"],
        "/api/v1/reports/disputes": ["get"],
    }
    attach = schema["paths"]["/api/v1/disputes/{id}/attach/"]["post"]["requestBody"]["content"]
    assert list(attach) == ["multipart/form-data"]
    listing = schema["paths"]["/api/v1/disputes/"]["get"]["parameters"]
    assert {"status", "reason", "owner", "team", "customer", "invoice", "sla", "scope", "page"} <= {
        p["name"] for p in listing
    }
    history = schema["components"]["schemas"]["DisputeStatusChange"]["properties"]
    assert list(history) == ["from", "to", "at", "by", "note"]


def test_tokens_are_needed(db):
    anonymous = APIClient()
    assert anonymous.get(DISPUTES).status_code == 401
    assert anonymous.get(METRICS).status_code == 401
    user = User.objects.create_user("gone", role=Role.MANAGER, is_active=False)
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user, actor=None).key}")
    assert anonymous.get(DISPUTES).status_code == 401
