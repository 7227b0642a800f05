"""Payments and credit notes through the API: applied to the invoices they name, immutable afterwards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from recoup.ledger.models import Allocation, CreditNote, Invoice, Payment
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/payments/"
D = dt.date


@pytest.fixture
def acme():
    customer = CustomerFactory(external_id="C1")
    InvoiceFactory(external_id="I1", customer=customer, amount=Decimal("100.00"))
    InvoiceFactory(external_id="I2", customer=customer, amount=Decimal("50.00"))
    return customer


def open_amounts() -> dict[str, Decimal]:
    return dict(Invoice.objects.values_list("external_id", "open_amount"))


def test_payment_naming_one_invoice_settles_it_and_keeps_the_rest_unapplied(api, acme):
    response = api.post(
        URL,
        {
            "external_id": "P1",
            "customer": "C1",
            "date": "2026-02-10",
            "amount": "130.00",
            "invoice": "I1",
            "reference": "wire 42",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    payment = Payment.objects.get()
    assert (body["id"], body["external_id"], body["customer"], body["customer_id"]) == (
        payment.pk,
        "P1",
        "C1",
        acme.pk,
    )
    assert (body["amount"], body["unapplied_amount"], body["currency"], body["reference"]) == (
        "130.00",
        "30.00",
        "USD",
        "wire 42",
    )
    allocation = Allocation.objects.get()
    assert body["allocations"] == [
        {
            "id": allocation.pk,
            "invoice": "I1",
            "invoice_id": allocation.invoice_id,
            "amount": "100.00",
            "date": "2026-02-10",
            "reverses_id": None,
        }
    ]
    assert open_amounts() == {"I1": Decimal("0"), "I2": Decimal("50.00")}


def test_payment_with_an_allocation_list_applies_each_amount(api, acme):
    response = api.post(
        URL,
        {
            "external_id": "P1",
            "customer": "C1",
            "date": "2026-02-10",
            "amount": "80.00",
            "allocations": [{"invoice": "I1", "amount": "60.00"}, {"invoice": "I2", "amount": "20.00"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert open_amounts() == {"I1": Decimal("40.00"), "I2": Decimal("30.00")}
    assert Payment.objects.get().unapplied_amount == Decimal("0")
    assert [a["amount"] for a in response.json()["allocations"]] == ["60.00", "20.00"]


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        (
            {"allocations": [{"invoice": "I1", "amount": "60.00"}, {"invoice": "I2", "amount": "30.00"}]},
            {"allocations": ["They apply 90.0000, more than the document's amount 80.0000."]},
        ),
        (
            {"allocations": [{"invoice": "I1", "amount": "10.001"}]},
            {"allocations": {"0": {"amount": ["10.001 has more decimals than USD allows."]}}},
        ),
        (
            {"allocations": [{"invoice": "I1"}, {"invoice": "X9"}]},
            {"allocations": {"1": {"invoice": ["No invoice has the external id 'X9'."]}}},
        ),
        (
            {"allocations": [{"invoice": "OTHER1"}]},
            {"allocations": {"0": {"invoice": ["OTHER1 belongs to another customer."]}}},
        ),
        ({"invoice": "OTHER1"}, {"invoice": ["OTHER1 belongs to another customer."]}),
        ({"invoice": "I1", "currency": "EUR"}, {"invoice": ["I1 is in USD, not EUR."]}),
        (
            {"allocations": "I1"},
            {"allocations": {"non_field_errors": ['Expected a list of items but got type "str".']}},
        ),
        (
            {"date": "2026-13-01"},
            {"date": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
    ],
)
def test_bad_applications_are_refused_before_anything_is_written(api, acme, overrides, errors):
    InvoiceFactory(external_id="OTHER1")
    payload = {"external_id": "P1", "customer": "C1", "date": "2026-02-10", "amount": "80.00", **overrides}
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert not Payment.objects.exists()
    assert not Allocation.objects.exists()


def test_applying_more_than_is_open_is_a_400_from_the_service(api, acme):
    response = api.post(
        URL,
        {
            "external_id": "P1",
            "customer": "C1",
            "date": "2026-02-10",
            "amount": "150.00",
            "allocations": [{"invoice": "I2", "amount": "70.00"}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"amount": ["I2 has only 50.0000 USD open."]}
    assert not Payment.objects.exists()
    assert open_amounts() == {"I1": Decimal("100.00"), "I2": Decimal("50.00")}


def test_payments_are_immutable_and_never_deleted(api, acme):
    api.post(
        URL, {"external_id": "P1", "customer": "C1", "date": "2026-02-10", "amount": "10.00"}, format="json"
    )
    payment = Payment.objects.get()
    assert api.patch(f"{URL}{payment.pk}/", {"amount": "5.00"}, format="json").status_code == 405
    assert api.put(f"{URL}{payment.pk}/", {"amount": "5.00"}, format="json").status_code == 405
    assert api.delete(f"{URL}{payment.pk}/").status_code == 405
    payment.refresh_from_db()
    assert payment.amount == Decimal("10.00")


def test_payment_filters(reader, manager, acme):
    other = CustomerFactory(external_id="C2")
    for external_id, customer, date in (
        ("P1", acme, D(2026, 1, 5)),
        ("P2", other, D(2026, 2, 5)),
        ("P3", acme, D(2026, 3, 5)),
    ):
        Payment.objects.create(
            external_id=external_id,
            customer=customer,
            date=date,
            amount=Decimal("10"),
            unapplied_amount=Decimal("10"),
            currency="USD",
        )

    def ids(query: str) -> list[str]:
        response = reader.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json()
        return [row["external_id"] for row in response.json()["results"]]

    assert ids("customer=C1") == ["P1", "P3"]
    assert ids(f"customer_id={other.pk}") == ["P2"]
    assert ids("date_after=2026-02-01") == ["P2", "P3"]
    assert ids("date_after=2026-02-01&date_before=2026-02-28") == ["P2"]
    assert ids("ordering=-date") == ["P3", "P2", "P1"]
    assert ids("external_id=P2") == ["P2"]
    assert ids("unapplied=true") == ["P1", "P2", "P3"]


def test_credit_note_applied_to_an_invoice(api, acme):
    response = api.post(
        "/api/v1/credit-notes/",
        {
            "external_id": "CN1",
            "customer": "C1",
            "date": "2026-02-01",
            "amount": "30.00",
            "invoice": "I2",
            "reason": "damaged",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    note = CreditNote.objects.get()
    assert (note.reason, note.unapplied_amount) == ("damaged", Decimal("0"))
    assert response.json()["allocations"][0]["invoice"] == "I2"
    assert open_amounts() == {"I1": Decimal("100.00"), "I2": Decimal("20.00")}
    assert Allocation.objects.get().kind == "credit_note"
    assert api.delete(f"/api/v1/credit-notes/{note.pk}/").status_code == 405
    duplicate = api.post(
        "/api/v1/credit-notes/",
        {"external_id": "CN1", "customer": "C1", "date": "2026-02-01", "amount": "1.00"},
        format="json",
    )
    assert duplicate.status_code == 400
    assert duplicate.json() == {"external_id": ["A credit note with external id 'CN1' already exists."]}
    assert CreditNote.objects.count() == 1
