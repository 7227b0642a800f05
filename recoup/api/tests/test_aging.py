"""GET /api/v1/reports/aging: the aging report in JSON or CSV, and field errors for bad parameters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings

from recoup.ledger import services
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledger")]
URL = "/api/v1/reports/aging"
D = dt.date


@pytest.fixture
def ledger(manager):
    acme = CustomerFactory(external_id="ACME", name="Acme")
    euro = CustomerFactory(external_id="EURO", name="Euro GmbH", currency="EUR")
    InvoiceFactory(customer=acme, issue_date=D(2026, 1, 1), due_date=D(2026, 1, 31), amount=Decimal("100.00"))
    InvoiceFactory(
        customer=acme, issue_date=D(2025, 10, 1), due_date=D(2025, 10, 31), amount=Decimal("40.00")
    )
    InvoiceFactory(customer=euro, issue_date=D(2026, 2, 1), due_date=D(2026, 3, 3), amount=Decimal("200.00"))
    services.fx_rate_set(actor=manager, currency="EUR", date=D(2026, 1, 1), rate=Decimal("1.10"))


@override_settings(BASE_CURRENCY="USD")
def test_aging_by_customer_in_json(reader):
    response = reader.get(f"{URL}?as_of=2026-03-02")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "as_of": "2026-03-02",
        "basis": "due",
        "by": "customer",
        "currency": "USD",
        "labels": ["current", "1-30", "31-60", "61-90", "91-120", "120+"],
        "rates": [{"currency": "EUR", "rate": "1.1000000000", "date": "2026-01-01"}],
        "rows": [
            {
                "customer": "ACME",
                "name": "Acme",
                "buckets": {
                    "current": "0.00",
                    "1-30": "100.00",
                    "31-60": "0.00",
                    "61-90": "0.00",
                    "91-120": "0.00",
                    "120+": "40.00",
                },
                "total": "140.00",
            },
            {
                "customer": "EURO",
                "name": "Euro GmbH",
                "buckets": {
                    "current": "220.00",
                    "1-30": "0.00",
                    "31-60": "0.00",
                    "61-90": "0.00",
                    "91-120": "0.00",
                    "120+": "0.00",
                },
                "total": "220.00",
            },
        ],
        "total": {
            "customer": "TOTAL",
            "name": "Total",
            "buckets": {
                "current": "220.00",
                "1-30": "100.00",
                "31-60": "0.00",
                "61-90": "0.00",
                "91-120": "0.00",
                "120+": "40.00",
            },
            "total": "360.00",
        },
    }


@override_settings(BASE_CURRENCY="USD")
def test_aging_in_csv_with_custom_buckets_by_invoice_date(reader):
    response = reader.get(f"{URL}/?as_of=2026-03-02&basis=invoice&buckets=60,120&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="aging-2026-03-02.csv"'
    assert response.content.decode() == (
        "customer,current,1-60,61-120,120+,total\n"
        "ACME,0.00,100.00,0.00,40.00,140.00\n"
        "EURO,0.00,220.00,0.00,0.00,220.00\n"
        "TOTAL,0.00,320.00,0.00,40.00,360.00\n"
    )


@override_settings(BASE_CURRENCY="USD")
def test_aging_total_only(reader):
    body = reader.get(f"{URL}?as_of=2026-03-02&by=total").json()
    assert (body["rows"], body["total"]["total"]) == ([], "360.00")


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("", {"as_of": ["This field is required."]}),
        (
            "as_of=2026-02-30",
            {"as_of": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]},
        ),
        ("as_of=2026-03-02&by=region", {"by": ['"region" is not a valid choice.']}),
        ("as_of=2026-03-02&basis=ship", {"basis": ['"ship" is not a valid choice.']}),
        (
            "as_of=2026-03-02&buckets=60,30",
            {"buckets": ["bucket bounds must be positive and strictly increasing, not [60, 30]"]},
        ),
        (
            "as_of=2026-03-02&buckets=0,30",
            {"buckets": ["bucket bounds must be positive and strictly increasing, not [0, 30]"]},
        ),
        ("as_of=2026-03-02&buckets=a,b", {"buckets": ["'a,b' is not a comma-separated list of whole days"]}),
        ("as_of=0001-01-02&buckets=30", {"buckets": ["The last bucket reaches before the year 1."]}),
        (
            "as_of=2026-03-02&buckets=" + ",".join(str(n) for n in range(1, 30)),
            {"buckets": ["At most 24 bucket bounds, not 29."]},
        ),
    ],
)
def test_bad_parameters_are_field_errors(reader, query, errors):
    response = reader.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert response.json() == errors


@override_settings(BASE_CURRENCY="USD")
def test_a_missing_fx_rate_is_a_400_even_when_csv_was_asked_for(reader):
    InvoiceFactory(
        customer=CustomerFactory(currency="EUR"), issue_date=D(2025, 12, 1)
    )  # before the first rate
    response = reader.get(f"{URL}?as_of=2025-12-31&format=csv")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"as_of": ["No EUR→USD rate is dated on or before 2025-12-31."]}
