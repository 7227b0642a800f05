"""Bulk create: up to 1,000 items, all written or none, errors keyed by item index and field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recoup.core.models import Event
from recoup.ledger.models import Allocation, Invoice, Payment
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory

pytestmark = pytest.mark.django_db
INVOICES = "/api/v1/invoices/bulk/"
PAYMENTS = "/api/v1/payments/bulk/"


def invoice(n: int, **overrides: object) -> dict[str, object]:
    return {
        "external_id": f"INV{n:04d}",
        "customer": "C1" if n % 2 else "C2",
        "issue_date": "2026-01-01",
        "due_date": "2026-01-31",
        "amount": f"{n}.25",
        **overrides,
    }


@pytest.fixture
def customers():
    return CustomerFactory(external_id="C1"), CustomerFactory(external_id="C2", currency="EUR")


def test_bulk_invoices_are_all_created_with_their_ids(api, customers):
    response = api.post(INVOICES, [invoice(n) for n in range(1, 6)], format="json")
    assert response.status_code == 201, response.json()
    created = dict(Invoice.objects.values_list("external_id", "pk"))
    assert response.json() == {
        "created": 5,
        "results": [{"id": created[f"INV{n:04d}"], "external_id": f"INV{n:04d}"} for n in range(1, 6)],
    }
    assert dict(Invoice.objects.values_list("external_id", "currency")) == {
        "INV0001": "USD",
        "INV0002": "EUR",
        "INV0003": "USD",
        "INV0004": "EUR",
        "INV0005": "USD",
    }
    assert Invoice.objects.get(external_id="INV0003").amount == Decimal("3.25")
    assert Event.objects.filter(verb="invoice.created").count() == 5


def test_one_bad_item_rejects_the_whole_list_with_errors_by_index(api, customers):
    InvoiceFactory(external_id="TAKEN", customer=customers[0])
    items = [invoice(n) for n in range(1, 8)]
    items[1]["due_date"] = "2026-02-30"
    items[3]["customer"] = "NOPE"
    items[4]["external_id"] = "TAKEN"
    items[5]["external_id"] = "INV0001"  # repeats item 0
    items[6] = "not an object"
    response = api.post(INVOICES, items, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "errors": {
            "1": {"due_date": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
            "3": {"customer": ["No customer has the external id 'NOPE'."]},
            "4": {"external_id": ["An invoice with external id 'TAKEN' already exists."]},
            "5": {"external_id": ["Repeats the external id of item 0."]},
            "6": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
        }
    }
    assert list(Invoice.objects.values_list("external_id", flat=True)) == ["TAKEN"]
    assert not Event.objects.filter(verb="invoice.created").exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"external_id": "INV1"}, "Send a JSON list of items."),
        ("INV1", "Send a JSON list of items."),
        ([], "The list is empty."),
    ],
)
def test_a_body_that_is_not_a_list_of_items_is_400(api, customers, body, message):
    response = api.post(INVOICES, body, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [message]}
    assert not Invoice.objects.exists()


def test_more_than_1000_items_is_refused_up_front(api, customers):
    response = api.post(INVOICES, [invoice(n) for n in range(1001)], format="json")
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["A bulk request holds at most 1000 items; this one has 1001."]
    }
    assert not Invoice.objects.exists()


def test_1000_invoices_in_one_request_with_lookups_batched(api, customers, django_assert_max_num_queries):
    # Per item, invoice_create's savepoint, duplicate check, insert, event and release; the customer and
    # external-id lookups are one query each for the whole list, not one per item.
    with django_assert_max_num_queries(5 * 1000 + 20):
        response = api.post(INVOICES, [invoice(n) for n in range(1, 1001)], format="json")
    assert response.status_code == 201
    assert response.json()["created"] == 1000
    assert Invoice.objects.count() == 1000


def test_bulk_payments_allocate_by_invoice_or_allocation_list(api, customers):
    InvoiceFactory(external_id="A", customer=customers[0], amount=Decimal("100.00"))
    InvoiceFactory(external_id="B", customer=customers[0], amount=Decimal("50.00"))
    items = [
        {"external_id": "P1", "customer": "C1", "date": "2026-02-01", "amount": "100.00", "invoice": "A"},
        {
            "external_id": "P2",
            "customer": "C1",
            "date": "2026-02-02",
            "amount": "40.00",
            "allocations": [{"invoice": "B", "amount": "30.00"}],
        },
        {"external_id": "P3", "customer": "C2", "date": "2026-02-03", "amount": "7.00"},
    ]
    response = api.post(PAYMENTS, items, format="json")
    assert response.status_code == 201, response.json()
    assert [r["external_id"] for r in response.json()["results"]] == ["P1", "P2", "P3"]
    assert dict(Invoice.objects.values_list("external_id", "open_amount")) == {
        "A": Decimal("0"),
        "B": Decimal("20.00"),
    }
    assert dict(Payment.objects.values_list("external_id", "unapplied_amount")) == {
        "P1": Decimal("0"),
        "P2": Decimal("10.00"),
        "P3": Decimal("7.00"),
    }


def test_a_refusal_by_the_service_midway_rolls_back_the_items_before_it(api, customers):
    InvoiceFactory(external_id="A", customer=customers[0], amount=Decimal("100.00"))
    items = [
        {
            "external_id": "P1",
            "customer": "C1",
            "date": "2026-02-01",
            "amount": "80.00",
            "allocations": [{"invoice": "A", "amount": "80.00"}],
        },
        {
            "external_id": "P2",
            "customer": "C1",
            "date": "2026-02-02",
            "amount": "40.00",
            "allocations": [{"invoice": "A", "amount": "40.00"}],
        },  # only 20 left open after P1
    ]
    response = api.post(PAYMENTS, items, format="json")
    assert response.status_code == 400
    assert response.json() == {"errors": {"1": {"amount": ["A has only 20.0000 USD open."]}}}
    assert not Payment.objects.exists()
    assert not Allocation.objects.exists()
    assert Invoice.objects.get().open_amount == Decimal("100.00")
    assert not Event.objects.filter(verb__startswith="payment").exists()


def test_bulk_payment_items_are_validated_like_single_ones(api, customers):
    InvoiceFactory(external_id="A", customer=customers[0], amount=Decimal("100.00"))
    items = [
        {"external_id": "P1", "customer": "C1", "date": "2026-02-01", "amount": "1e2", "invoice": "A"},
        {"external_id": "P2", "customer": "C2", "date": "2026-02-02", "amount": "5.00", "invoice": "A"},
        {"external_id": "P3", "customer": "C1", "date": "2026-02-02", "amount": "5.00", "invoice": "NOPE"},
        {"external_id": "P4", "customer": "C1", "date": "2026-02-02", "amount": "5.00"},
    ]
    response = api.post(PAYMENTS, items, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "errors": {
            "0": {"amount": ["Enter a plain decimal amount such as 1250.00."]},
            "1": {"invoice": ["A belongs to another customer."]},
            "2": {"invoice": ["No invoice has the external id 'NOPE'."]},
        }
    }
    assert not Payment.objects.exists()
