"""API test helpers: a client per role, authenticated with a real token; dunning policies and customers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from recoup.dunning.defaults import DEFAULT_POLICY
from recoup.dunning.models import DunningPolicy
from recoup.dunning.policies import parse_policy
from recoup.dunning.services import policy_save
from recoup.ledger import services as ledger
from recoup.ledger.models import Customer, Invoice
from recoup.users.models import Role, User
from recoup.users.services import token_create


@pytest.fixture
def client_for(make_user) -> Callable[..., APIClient]:
    """client_for(Role.MANAGER) or client_for(user): an APIClient sending that user's API token."""

    def make(who: str | User) -> APIClient:
        user = who if isinstance(who, User) else make_user(who)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user, actor=None).key}")
        client.user = user  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def api(client_for) -> APIClient:
    """A manager's client: allowed every ledger write."""
    return client_for(Role.MANAGER)


@pytest.fixture
def reader(client_for) -> APIClient:
    return client_for(Role.VIEWER)


# Dunning ----------------------------------------------------------------------------------------------------

DUE = dt.date(2026, 3, 2)  # a Monday; a run as of DUE + 3 days sends the Standard policy's "Reminder"


@pytest.fixture
def clock():
    """Today is 2026-06-01, after every due date and send time the dunning tests use."""
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def standard(db) -> DunningPolicy:
    """The default policy the first migration creates (made again through the service after a flush)."""
    existing = DunningPolicy.objects.filter(is_default=True).first()
    if existing is not None:
        return existing
    policy, _ = policy_save(actor=None, spec=parse_policy(DEFAULT_POLICY))
    return policy


@pytest.fixture
def strict(db) -> DunningPolicy:
    spec = parse_policy(
        {
            "name": "Strict",
            "levels": [{"name": "Demand", "offset_days": 1}, {"name": "Final", "offset_days": 8}],
        }
    )
    policy, _ = policy_save(actor=None, spec=spec)
    return policy


def dunned_customer(
    external_id: str, *, due: dt.date = DUE, amount: str = "100.00"
) -> tuple[Customer, Invoice]:
    """A customer with an AP email address and one open invoice, made through the ledger services."""
    customer = ledger.customer_create(actor=None, external_id=external_id, name=f"{external_id} Ltd")
    ledger.contact_create(actor=None, customer=customer, name="AP", email=f"ap@{external_id.lower()}.example")
    invoice = ledger.invoice_create(
        actor=None,
        customer=customer,
        external_id=f"{external_id}-1",
        issue_date=due - dt.timedelta(days=30),
        due_date=due,
        amount=Decimal(amount),
    )
    return customer, invoice
