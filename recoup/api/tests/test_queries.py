"""List endpoints read a page in a fixed number of queries, however many rows it holds (no N+1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from recoup.api.tests.conftest import dunned_customer
from recoup.dunning.policies import parse_policy
from recoup.dunning.services import dunning_run, hold_create, policy_save
from recoup.ledger import services
from recoup.ledger.models import Allocation
from recoup.ledger.services import Application
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory
from recoup.users.models import Role

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def ledger(manager, make_user, standard):
    collector = make_user(Role.COLLECTOR, "cara")
    for n in range(25):
        customer = CustomerFactory(collector=collector, dunning_policy=standard)
        services.contact_create(actor=manager, customer=customer, email=f"ap{n}@example.com")
        invoice = InvoiceFactory(customer=customer, amount=Decimal("100.00"), dunning_policy=standard)
        services.payment_create(
            actor=manager,
            customer=customer,
            external_id=f"P{n}",
            date=D(2026, 2, 1),
            amount=Decimal("60.00"),
            apply_to=[Application(invoice)],
        )
        services.credit_note_create(
            actor=manager,
            customer=customer,
            external_id=f"N{n}",
            date=D(2026, 2, 2),
            amount=Decimal("10.00"),
            apply_to=[Application(invoice)],
        )
        services.write_off_create(actor=manager, invoice=invoice, amount=Decimal("5.00"), date=D(2026, 2, 3))
        services.fx_rate_set(
            actor=manager, currency="EUR", date=D(2026, 1, 1) + dt.timedelta(days=n), rate=Decimal("1.1")
        )
    services.allocation_reverse(
        actor=manager, allocation=Allocation.objects.order_by("id")[0], date=D(2026, 3, 1)
    )


# Token auth (1) + count (1) + page (1) + one query per prefetched relation, for 25 or more rows.
LISTS = [
    ("/api/v1/customers/", 25, 4),
    ("/api/v1/contacts/", 25, 3),
    ("/api/v1/invoices/", 25, 3),
    ("/api/v1/payments/", 25, 4),
    ("/api/v1/credit-notes/", 25, 4),
    ("/api/v1/allocations/", 76, 3),
    ("/api/v1/fx-rates/", 25, 3),
]


def test_list_endpoints_do_not_query_per_row(client_for, ledger, django_assert_num_queries):
    client = client_for(Role.VIEWER)
    for url, rows, queries in LISTS:
        with django_assert_num_queries(queries, info=url):
            response = client.get(url)
        assert response.status_code == 200
        assert (response.json()["count"], len(response.json()["results"])) == (rows, rows)


@pytest.fixture
def dunning(clock, standard, manager):
    """25 or more of each: policies, runs, outbox messages (with their items) and holds."""
    for n in range(24):
        spec = parse_policy({"name": f"P{n:02d}", "levels": [{"name": "One", "offset_days": 1}]})
        policy_save(actor=None, spec=spec)
    customers = []
    for n in range(25):
        customer, _ = dunned_customer(f"D{n:02d}")
        ledger_invoice(customer)
        customers.append(customer)
    dunning_run(actor=manager, as_of=D(2026, 3, 5))  # one message per customer, listing two invoices
    for customer in customers:
        hold_create(actor=manager, customer=customer, reason=f"hold {customer.external_id}")
    for n in range(24):  # the holds keep these runs from sending more
        dunning_run(actor=manager, as_of=D(2026, 3, 6) + dt.timedelta(days=n))


def ledger_invoice(customer):
    return services.invoice_create(
        actor=None,
        customer=customer,
        external_id=f"{customer.external_id}-2",
        issue_date=D(2026, 1, 1),
        due_date=D(2026, 2, 1),
        amount=Decimal("10.00"),
    )


DUNNING_LISTS = [
    ("/api/v1/dunning-policies/", 25, 5),  # + levels, + their templates
    ("/api/v1/dunning-runs/", 25, 3),  # the message counts are in the page's query
    ("/api/v1/dunning-messages/", 25, 5),  # + items with invoices and levels, + manual emails' invoices
    ("/api/v1/dunning-holds/", 25, 3),
]


def test_dunning_lists_do_not_query_per_row(client_for, dunning, django_assert_num_queries):
    client = client_for(Role.VIEWER)
    for url, rows, queries in DUNNING_LISTS:
        with django_assert_num_queries(queries, info=url):
            response = client.get(url)
        assert response.status_code == 200
        assert (response.json()["count"], len(response.json()["results"])) == (rows, rows)
    items = client.get("/api/v1/dunning-messages/").json()["results"][0]["items"]
    assert len(items) == 2
