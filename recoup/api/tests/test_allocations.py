"""Allocations are append-only through the API: created, reversed by a new row, never edited or deleted."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings

from recoup.core.models import Event
from recoup.ledger import services
from recoup.ledger.models import Allocation, FxRate, Invoice
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/allocations/"
D = dt.date


@pytest.fixture
def ledger(manager):
    customer = CustomerFactory(external_id="C1")
    invoice = InvoiceFactory(external_id="I1", customer=customer, amount=Decimal("100.00"))
    payment = services.payment_create(
        actor=manager, customer=customer, external_id="P1", date=D(2026, 2, 1), amount=Decimal("70.00")
    )
    return invoice, payment


def test_apply_a_payment_then_reverse_it(api, ledger):
    invoice, payment = ledger
    response = api.post(
        URL, {"kind": "payment", "invoice": "I1", "payment": "P1", "amount": "70.00"}, format="json"
    )
    assert response.status_code == 201, response.json()
    original = Allocation.objects.get()
    body = response.json()
    assert (
        body["id"],
        body["kind"],
        body["invoice"],
        body["invoice_id"],
        body["payment"],
        body["payment_id"],
    ) == (original.pk, "payment", "I1", invoice.pk, "P1", payment.pk)
    assert (body["amount"], body["currency"], body["date"], body["created_by"]) == (
        "70.00",
        "USD",
        "2026-02-01",
        api.user.username,
    )
    invoice.refresh_from_db()
    assert invoice.open_amount == Decimal("30.00")

    response = api.post(
        f"{URL}{original.pk}/reverse/", {"date": "2026-03-01", "memo": "bounced"}, format="json"
    )
    assert response.status_code == 201, response.json()
    reversal = Allocation.objects.get(reverses=original)
    assert (response.json()["id"], response.json()["amount"], response.json()["reverses_id"]) == (
        reversal.pk,
        "-70.00",
        original.pk,
    )
    assert api.get(f"{URL}{original.pk}/").json()["reversed_by_id"] == reversal.pk
    invoice.refresh_from_db()
    original.refresh_from_db()
    assert (invoice.open_amount, original.amount) == (Decimal("100.00"), Decimal("70.00"))
    assert Event.objects.filter(verb="allocation.reversed", actor=api.user).count() == 1

    again = api.post(f"{URL}{original.pk}/reverse/", {}, format="json")
    assert again.status_code == 400
    assert again.json() == {"non_field_errors": [f"Allocation {original.pk} is already reversed."]}
    assert Allocation.objects.count() == 2


def test_allocations_cannot_be_edited_or_deleted(api, ledger):
    invoice, payment = ledger
    allocation = services.allocation_create(
        actor=None, invoice=invoice, source=payment, amount=Decimal("10.00")
    )
    for method in (api.put, api.patch):
        assert method(f"{URL}{allocation.pk}/", {"amount": "1.00"}, format="json").status_code == 405
    assert api.delete(f"{URL}{allocation.pk}/").status_code == 405
    allocation.refresh_from_db()
    assert allocation.amount == Decimal("10.00")


def test_write_off_needs_no_source_and_records_the_memo(api, ledger):
    invoice, _ = ledger
    response = api.post(
        URL,
        {"kind": "write_off", "invoice": "I1", "amount": "100.00", "date": "2026-03-01", "memo": "bankrupt"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    invoice.refresh_from_db()
    assert (invoice.open_amount, invoice.closed_on) == (Decimal("0"), D(2026, 3, 1))
    assert list(Allocation.objects.values_list("kind", "memo")) == [("write_off", "bankrupt")]


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            {"kind": "payment", "amount": "10.00"},
            {"payment": ["A payment allocation names the payment it applies."]},
        ),
        (
            {"kind": "write_off", "payment": "P1", "amount": "10.00"},
            {"payment": ["A write_off allocation does not name a payment."]},
        ),
        (
            {"kind": "payment", "payment": "P1", "amount": "80.00"},
            {"amount": ["Only 70.0000 USD of P1 is unapplied."]},
        ),
        (
            {"kind": "payment", "payment": "P1", "amount": "10.00", "date": "2026-01-01"},
            {"date": ["An allocation cannot be dated before P1 (2026-02-01)."]},
        ),
        (
            {"kind": "refund", "payment": "P1", "amount": "10.00"},
            {"kind": ['"refund" is not a valid choice.']},
        ),
        (
            {"kind": "payment", "payment": "P1", "amount": "-10.00"},
            {"amount": ["Ensure this value is greater than or equal to 0.0001."]},
        ),
    ],
)
def test_refused_allocations_write_nothing(api, ledger, payload, errors):
    response = api.post(URL, {"invoice": "I1", **payload}, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert not Allocation.objects.exists()
    assert Invoice.objects.get().open_amount == Decimal("100.00")


def test_filter_allocations_by_invoice_source_and_kind(reader, manager, ledger):
    invoice, payment = ledger
    other = InvoiceFactory(external_id="I2", customer=invoice.customer)
    services.allocation_create(actor=manager, invoice=invoice, source=payment, amount=Decimal("10.00"))
    services.allocation_create(actor=manager, invoice=other, source=payment, amount=Decimal("20.00"))
    services.write_off_create(actor=manager, invoice=other, amount=Decimal("5.00"), date=D(2026, 3, 1))

    def amounts(query: str) -> list[str]:
        response = reader.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json()
        return [row["amount"] for row in response.json()["results"]]

    assert amounts("invoice=I2") == ["20.00", "5.00"]
    assert amounts(f"invoice_id={invoice.pk}") == ["10.00"]
    assert amounts("payment=P1") == ["10.00", "20.00"]
    assert amounts("kind=write_off") == ["5.00"]
    assert amounts("date_after=2026-02-15") == ["5.00"]
    assert amounts("customer=C1&ordering=-amount") == ["20.00", "10.00", "5.00"]


def test_fx_rates_are_set_through_the_service_and_replaced_on_the_same_date(api):
    response = api.post(
        "/api/v1/fx-rates/", {"currency": "eur", "date": "2026-01-01", "rate": "1.0850"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["currency"], response.json()["rate"]) == ("EUR", "1.0850000000")
    response = api.post(
        "/api/v1/fx-rates/", {"currency": "EUR", "date": "2026-01-01", "rate": "1.09"}, format="json"
    )
    assert response.status_code == 201
    assert list(FxRate.objects.values_list("currency", "date", "rate")) == [
        ("EUR", D(2026, 1, 1), Decimal("1.09"))
    ]
    verbs = Event.objects.filter(verb__startswith="fx_rate").order_by("id").values_list("verb", flat=True)
    assert list(verbs) == ["fx_rate.created", "fx_rate.updated"]
    assert api.get("/api/v1/fx-rates/?currency=eur").json()["count"] == 1
    assert api.get("/api/v1/fx-rates/?currency=GBP").json()["count"] == 0


@override_settings(BASE_CURRENCY="USD")
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"currency": "USD", "rate": "1"}, "currency"),
        ({"currency": "EUR", "rate": "0"}, "rate"),
        ({"currency": "EUR", "rate": "NaN"}, "rate"),
        ({"currency": "EUR", "rate": "-1"}, "rate"),
    ],
)
def test_bad_fx_rates_are_refused(api, payload, field):
    response = api.post("/api/v1/fx-rates/", {"date": "2026-01-01", **payload}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not FxRate.objects.exists()
