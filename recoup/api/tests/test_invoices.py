"""Invoices through the API: created by invoice_create, filtered, and never edited in place or deleted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from recoup.core.models import Event
from recoup.ledger import services
from recoup.ledger.models import Invoice
from recoup.ledger.services import Application
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/invoices/"
D = dt.date


def invoice_payload(**overrides: object) -> dict[str, object]:
    return {
        "external_id": "INV1",
        "customer": "C1",
        "issue_date": "2026-01-01",
        "due_date": "2026-01-31",
        "amount": "1250.50",
        **overrides,
    }


def test_create_invoice_defaults_to_the_customer_currency(api):
    customer = CustomerFactory(external_id="C1", currency="EUR")
    response = api.post(URL, invoice_payload(), format="json")
    assert response.status_code == 201, response.json()
    invoice = Invoice.objects.get()
    assert response.json() == {
        "id": invoice.pk,
        "external_id": "INV1",
        "customer": "C1",
        "customer_id": customer.pk,
        "issue_date": "2026-01-01",
        "due_date": "2026-01-31",
        "amount": "1250.50",
        "currency": "EUR",
        "open_amount": "1250.50",
        "status": "open",
        "closed_on": None,
        "dunning_policy": None,
        "created_at": response.json()["created_at"],
        "updated_at": response.json()["updated_at"],
    }
    assert (invoice.amount, invoice.open_amount, invoice.currency) == (
        Decimal("1250.50"),
        Decimal("1250.50"),
        "EUR",
    )
    assert Event.objects.filter(verb="invoice.created", actor=api.user).count() == 1


def test_json_numbers_are_read_as_decimals_not_floats(api):
    CustomerFactory(external_id="C1")
    response = api.post(
        URL, invoice_payload(amount=Decimal("0.30")), format="json"
    )  # sent as the number 0.30
    assert response.status_code == 201
    assert Invoice.objects.get().amount == Decimal("0.30")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"customer": "NOPE"}, "customer", "No customer has the external id 'NOPE'."),
        ({"due_date": "2026-02-30"}, "due_date", None),
        ({"due_date": "2025-12-31"}, "due_date", "The due date is before the issue date."),
        ({"amount": "0"}, "amount", None),
        ({"amount": "-5"}, "amount", None),
        ({"amount": "NaN"}, "amount", None),
        ({"amount": "Infinity"}, "amount", None),
        ({"amount": "1e3"}, "amount", "Enter a plain decimal amount such as 1250.00."),
        ({"amount": "12.345"}, "amount", "12.345 has more decimals than USD allows."),
        ({"amount": "12.5", "currency": "JPY"}, "amount", "12.5 has more decimals than JPY allows."),
        ({"amount": "1" * 40}, "amount", None),
        ({"amount": True}, "amount", "Enter a plain decimal amount such as 1250.00."),
        ({"amount": [1]}, "amount", "Enter a plain decimal amount such as 1250.00."),
        ({"currency": "US"}, "currency", None),
        ({"external_id": ""}, "external_id", None),
        ({"external_id": "x" * 65}, "external_id", None),
    ],
)
def test_bad_invoice_input_is_a_field_error(api, overrides, field, message):
    CustomerFactory(external_id="C1")
    response = api.post(URL, invoice_payload(**overrides), format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    if message:
        assert response.json()[field] == [message]
    assert not Invoice.objects.exists()
    assert not Event.objects.filter(verb="invoice.created").exists()


def test_duplicate_invoice_external_id_is_400(api):
    InvoiceFactory(external_id="INV1", customer=CustomerFactory(external_id="C1"))
    response = api.post(URL, invoice_payload(), format="json")
    assert response.status_code == 400
    assert response.json() == {"external_id": ["An invoice with external id 'INV1' already exists."]}
    assert Invoice.objects.count() == 1


def test_invoices_are_never_edited_or_deleted_through_the_api(api):
    invoice = InvoiceFactory(amount=Decimal("100.00"))
    assert api.put(f"{URL}{invoice.pk}/", {"amount": "1.00"}, format="json").status_code == 405
    assert api.delete(f"{URL}{invoice.pk}/").status_code == 405
    # PATCH changes the dunning policy only (test_dunning.py); anything else is refused by name.
    response = api.patch(f"{URL}{invoice.pk}/", {"amount": "1.00"}, format="json")
    assert response.status_code == 400
    assert sorted(response.json()) == ["amount", "dunning_policy"]  # and the one field it takes is missing
    invoice.refresh_from_db()
    assert invoice.amount == Decimal("100.00")


def test_malformed_json_is_400(api):
    response = api.post(URL, '{"external_id": "INV1",', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    response = api.post(URL, '{"amount": NaN}', content_type="application/json")
    assert response.status_code == 400
    response = api.post(URL, "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}
    assert not Invoice.objects.exists()


@time_machine.travel(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC), tick=False)
def test_filters_by_customer_status_overdue_dates_and_currency(reader, manager):
    acme = CustomerFactory(external_id="ACME")
    other = CustomerFactory(external_id="OTHER", currency="EUR")
    InvoiceFactory(external_id="I-OLD", customer=acme, issue_date=D(2026, 1, 1), due_date=D(2026, 1, 31))
    InvoiceFactory(external_id="I-NEW", customer=acme, issue_date=D(2026, 2, 20), due_date=D(2026, 3, 20))
    paid = InvoiceFactory(
        external_id="I-PAID", customer=acme, issue_date=D(2026, 1, 5), due_date=D(2026, 2, 4)
    )
    InvoiceFactory(external_id="I-EUR", customer=other, issue_date=D(2026, 1, 10), due_date=D(2026, 2, 9))
    services.payment_create(
        actor=manager,
        customer=acme,
        external_id="P1",
        date=D(2026, 2, 1),
        amount=Decimal("100.00"),
        apply_to=[Application(paid)],
    )

    def ids(query: str) -> list[str]:
        response = reader.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json()
        return [row["external_id"] for row in response.json()["results"]]

    assert ids("customer=ACME") == ["I-OLD", "I-PAID", "I-NEW"]
    assert ids(f"customer_id={other.pk}") == ["I-EUR"]
    assert ids("status=open") == ["I-OLD", "I-EUR", "I-NEW"]
    assert ids("status=closed") == ["I-PAID"]
    assert ids("overdue=true") == ["I-OLD", "I-EUR"]
    assert ids("overdue=false") == ["I-PAID", "I-NEW"]
    assert ids("due_date_after=2026-02-01&due_date_before=2026-02-28") == ["I-PAID", "I-EUR"]
    assert ids("issue_date_after=2026-02-01") == ["I-NEW"]
    assert ids("currency=eur") == ["I-EUR"]
    assert ids("external_id=I-NEW") == ["I-NEW"]
    assert ids("ordering=-amount,external_id") == ["I-EUR", "I-NEW", "I-OLD", "I-PAID"]
    rows = {row["external_id"]: row for row in reader.get(URL).json()["results"]}
    assert (rows["I-PAID"]["status"], rows["I-PAID"]["open_amount"], rows["I-PAID"]["closed_on"]) == (
        "closed",
        "0.00",
        "2026-02-01",
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=maybe", "status"),
        ("due_date_after=2026-02-30", "due_date"),
        ("customer_id=abc", "customer_id"),
    ],
)
def test_bad_filters_are_400_with_the_field(reader, query, field):
    response = reader.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [field]
