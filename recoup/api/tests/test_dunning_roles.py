"""Who may do what with dunning: every role reads; managers and admins set policies, run and retry; any role
that writes (collectors and resolvers too) holds and releases; the ledger's dunning policy fields stay with
admins and managers; nobody anonymous."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from recoup.api.tests.conftest import dunned_customer
from recoup.core.models import Event
from recoup.dunning.models import (
    DunningHold,
    DunningLevel,
    DunningPolicy,
    DunningRun,
    MessageStatus,
    OutboundMessage,
)
from recoup.dunning.policies import parse_policy
from recoup.dunning.services import dunning_run, hold_create, policy_save
from recoup.ledger.models import Customer, Invoice
from recoup.users.models import LEDGER_WRITE_ROLES, MANAGE_ROLES, READ_ROLES, WRITE_ROLES, Role

pytestmark = pytest.mark.django_db
ROLES = [*Role.values, "anonymous"]
DRY_RUN = {"as_of": "2026-03-20", "dry_run": True}


@pytest.fixture
def world(clock, standard, strict) -> dict[str, Any]:
    customer, invoice = dunned_customer("ACME")
    run = dunning_run(actor=None, as_of=dt.date(2026, 3, 5)).run
    assert run is not None
    message = OutboundMessage.objects.get()
    OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, last_error="550")
    hold = hold_create(actor=None, customer=customer, reason="Talking to them")
    spare, _ = policy_save(
        actor=None, spec=parse_policy({"name": "Spare", "levels": [{"name": "One", "offset_days": 1}]})
    )
    return {
        "customer": customer,
        "invoice": invoice,
        "run": run,
        "message": message,
        "hold": hold,
        "strict": strict,
        "spare": spare,
    }


def requests(w: dict[str, Any]) -> list[tuple[str, str, Any, frozenset[str], int]]:
    """(method, url, payload, the roles allowed, the status they get) for every dunning endpoint."""
    strict = {"name": "Strict", "levels": [{"name": "Demand", "offset_days": 3}]}
    reads = [
        "/api/v1/dunning-policies/",
        f"/api/v1/dunning-policies/{w['strict'].pk}/",
        "/api/v1/dunning-runs/",
        f"/api/v1/dunning-runs/{w['run'].pk}/",
        "/api/v1/dunning-messages/",
        f"/api/v1/dunning-messages/{w['message'].pk}/",
        "/api/v1/dunning-holds/",
        f"/api/v1/dunning-holds/{w['hold'].pk}/",
        f"/api/v1/invoices/{w['invoice'].pk}/dunning/",
    ]
    return [
        *[("get", url, None, READ_ROLES, 200) for url in reads],
        (
            "post",
            "/api/v1/dunning-policies/",
            {"name": "New", "levels": [{"name": "One", "offset_days": 1}]},
            MANAGE_ROLES,
            201,
        ),
        ("put", f"/api/v1/dunning-policies/{w['strict'].pk}/", strict, MANAGE_ROLES, 200),
        ("delete", f"/api/v1/dunning-policies/{w['spare'].pk}/", None, MANAGE_ROLES, 204),
        ("post", "/api/v1/dunning-runs/", {"as_of": "2026-03-20"}, MANAGE_ROLES, 201),
        ("post", "/api/v1/dunning-runs/", DRY_RUN, MANAGE_ROLES, 200),
        ("post", f"/api/v1/dunning-messages/{w['message'].pk}/retry/", None, MANAGE_ROLES, 200),
        (
            "post",
            "/api/v1/dunning-holds/",
            {"customer": "ACME", "reason": "Asked for a week"},
            WRITE_ROLES,
            201,
        ),
        ("post", f"/api/v1/dunning-holds/{w['hold'].pk}/release/", None, WRITE_ROLES, 200),
        (
            "patch",
            f"/api/v1/invoices/{w['invoice'].pk}/",
            {"dunning_policy": "Strict"},
            LEDGER_WRITE_ROLES,
            200,
        ),
        (
            "patch",
            f"/api/v1/customers/{w['customer'].pk}/",
            {"dunning_policy": "Strict"},
            LEDGER_WRITE_ROLES,
            200,
        ),
    ]


def snapshot() -> tuple[object, ...]:
    return (
        list(DunningPolicy.objects.order_by("id").values_list("name", "updated_at")),
        DunningLevel.objects.count(),
        list(DunningRun.objects.values_list("id", "status")),
        list(OutboundMessage.objects.values_list("id", "status", "attempts")),
        list(DunningHold.objects.values_list("id", "released_at")),
        list(Customer.objects.values_list("id", "dunning_policy_id")),
        list(Invoice.objects.values_list("id", "dunning_policy_id")),
        Event.objects.count(),
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_exactly_what_its_role_allows_everywhere(client_for, world, role):
    client = APIClient() if role == "anonymous" else client_for(role)
    seen = []
    for method, url, payload, allowed, success in requests(world):
        # Each request rolls back, so that every role meets the same state.
        with transaction.atomic():
            before = snapshot()
            response = getattr(client, method)(url, payload, format="json")
            changed = snapshot() != before
            transaction.set_rollback(True)
        expected = 401 if role == "anonymous" else success if role in allowed else 403
        seen.append((method, url, response.status_code))
        assert response.status_code == expected, (method, url, response.status_code, response.content[:300])
        if expected in (401, 403):
            assert not changed, (method, url)
            if expected == 403:
                assert response.json() == {"detail": "Your role does not allow this."}
        else:  # what the request did: reads and dry runs change nothing, every other write something
            assert changed == (method != "get" and payload != DRY_RUN), (method, url)
    assert len(seen) == len(requests(world))
