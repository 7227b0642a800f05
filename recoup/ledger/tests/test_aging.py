"""Aging as of any date: exact buckets, both query paths, FX conversion, and the command's output."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from recoup.core.errors import DomainError
from recoup.ledger import services
from recoup.ledger.aging import aging_report, report_as_csv, report_as_dict
from recoup.ledger.models import Allocation
from recoup.ledger.services import Application
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory

D = dt.date
pytestmark = pytest.mark.django_db
AS_OF = D(2026, 6, 30)


@pytest.fixture
def ledger(manager):
    """Two customers with invoices in every default bucket as of 2026-06-30, one partly paid."""
    acme = CustomerFactory(external_id="ACME", name="Acme")
    zeta = CustomerFactory(external_id="ZETA", name="Zeta")
    due_dates = {
        "A-current": D(2026, 6, 30),
        "A-1": D(2026, 6, 29),
        "A-30": D(2026, 5, 31),
        "A-31": D(2026, 5, 30),
        "A-95": D(2026, 3, 27),
        "A-121": D(2026, 3, 1),
    }
    for external_id, due in due_dates.items():
        InvoiceFactory(
            customer=acme,
            external_id=external_id,
            issue_date=due - dt.timedelta(days=30),
            due_date=due,
            amount=Decimal("100.00"),
        )
    z1 = InvoiceFactory(
        customer=zeta,
        external_id="Z-1",
        issue_date=D(2026, 5, 1),
        due_date=D(2026, 5, 20),
        amount=Decimal("250.50"),
    )
    InvoiceFactory(
        customer=zeta,
        external_id="Z-future",
        issue_date=D(2026, 7, 1),
        due_date=D(2026, 7, 31),
        amount=Decimal("999.00"),
    )
    services.payment_create(
        actor=manager,
        customer=zeta,
        external_id="ZP1",
        date=D(2026, 6, 10),
        amount=Decimal("50.25"),
        apply_to=[Application(z1)],
    )
    return acme, zeta


def test_buckets_are_exact_at_their_edges(ledger):
    report = aging_report(as_of=AS_OF)
    assert report.labels == ("current", "1-30", "31-60", "61-90", "91-120", "120+")
    assert [(r.key, r.buckets, r.total) for r in report.rows] == [
        (
            "ACME",
            tuple(Decimal(x) for x in ("100.00", "200.00", "100.00", "0.00", "100.00", "100.00")),
            Decimal("600.00"),
        ),
        (
            "ZETA",
            tuple(Decimal(x) for x in ("0.00", "0.00", "200.25", "0.00", "0.00", "0.00")),
            Decimal("200.25"),
        ),
    ]
    assert report.total.buckets == tuple(
        Decimal(x) for x in ("100.00", "200.00", "300.25", "0.00", "100.00", "100.00")
    )
    assert report.total.total == Decimal("800.25")


def test_past_date_ignores_later_payments_and_later_invoices(ledger):
    # On 2026-06-09 the Zeta payment has not arrived yet; on 2026-05-01 only four Acme invoices are issued.
    before_payment = aging_report(as_of=D(2026, 6, 9))
    assert {r.key: r.total for r in before_payment.rows} == {
        "ACME": Decimal("600.00"),
        "ZETA": Decimal("250.50"),
    }
    early = aging_report(as_of=D(2026, 5, 1))
    assert {r.key: r.total for r in early.rows} == {"ACME": Decimal("400.00"), "ZETA": Decimal("250.50")}


def test_both_query_paths_agree(ledger, manager):
    # A write-off dated after AS_OF forces the historical path for AS_OF; without it the kept amounts answer.
    fast = aging_report(as_of=AS_OF)
    invoice = ledger[0].invoices.get(external_id="A-121")
    services.write_off_create(actor=manager, invoice=invoice, amount=Decimal("100.00"), date=D(2026, 7, 15))
    historical = aging_report(as_of=AS_OF)
    assert historical.rows == fast.rows
    assert aging_report(as_of=D(2026, 7, 15)).total.total == Decimal("1699.25")  # Z-future issued 07-01


def test_reversal_reopens_from_its_date(ledger, manager):
    services.allocation_reverse(actor=manager, allocation=Allocation.objects.get(), date=D(2026, 6, 20))
    assert {r.key: r.total for r in aging_report(as_of=D(2026, 6, 15)).rows}["ZETA"] == Decimal("200.25")
    assert {r.key: r.total for r in aging_report(as_of=D(2026, 6, 20)).rows}["ZETA"] == Decimal("250.50")


def test_invoice_basis_and_custom_buckets(ledger):
    report = aging_report(as_of=AS_OF, basis="invoice", buckets=(45, 90))
    assert report.labels == ("current", "1-45", "46-90", "90+")
    acme = report.rows[0]
    # Issue dates are due - 30: 05-31, 05-30, 05-01, 04-30, 02-25, 01-30 → ages 30, 31, 60, 61, 125, 151 days.
    assert acme.buckets == (Decimal("0.00"), Decimal("200.00"), Decimal("200.00"), Decimal("200.00"))


def test_by_total_has_only_the_total(ledger):
    report = aging_report(as_of=AS_OF, by="total")
    assert report.rows == []
    assert report.total.total == Decimal("800.25")


def test_foreign_currency_is_converted_at_the_rate_of_the_day(manager):
    eu = CustomerFactory(external_id="EU1", currency="EUR")
    InvoiceFactory(
        customer=eu,
        external_id="E1",
        issue_date=D(2026, 1, 1),
        due_date=D(2026, 1, 31),
        amount=Decimal("100.00"),
    )
    with pytest.raises(DomainError, match="No EUR→USD rate"):
        aging_report(as_of=AS_OF)
    services.fx_rate_set(actor=manager, currency="EUR", date=D(2026, 1, 1), rate=Decimal("1.1"))
    services.fx_rate_set(actor=manager, currency="EUR", date=D(2026, 6, 1), rate=Decimal("1.123456"))
    services.fx_rate_set(actor=manager, currency="EUR", date=D(2026, 7, 1), rate=Decimal("2"))
    report = aging_report(as_of=AS_OF)
    assert report.rows[0].buckets[-1] == Decimal("112.35")  # 150 days past due on 2026-06-30
    assert [(r.currency, r.rate, r.date) for r in report.rates] == [
        ("EUR", Decimal("1.1234560000"), D(2026, 6, 1))
    ]
    assert report_as_dict(report)["rates"] == [
        {"currency": "EUR", "rate": "1.1234560000", "date": "2026-06-01"}
    ]


def test_csv_layout(ledger):
    out = io.StringIO()
    report_as_csv(aging_report(as_of=AS_OF), out)
    assert out.getvalue() == (
        "customer,current,1-30,31-60,61-90,91-120,120+,total\n"
        "ACME,100.00,200.00,100.00,0.00,100.00,100.00,600.00\n"
        "ZETA,0.00,0.00,200.25,0.00,0.00,0.00,200.25\n"
        "TOTAL,100.00,200.00,300.25,0.00,100.00,100.00,800.25\n"
    )


def test_command_prints_csv_and_refuses_bad_arguments(ledger):
    out = io.StringIO()
    call_command("aging", "--as-of", "2026-06-30", "--by", "total", "--format", "csv", stdout=out)
    assert out.getvalue().splitlines() == [
        "customer,current,1-30,31-60,61-90,91-120,120+,total",
        "TOTAL,100.00,200.00,300.25,0.00,100.00,100.00,800.25",
    ]
    with pytest.raises(CommandError, match="strictly increasing"):
        call_command("aging", "--as-of", "2026-06-30", "--buckets", "60,30", stdout=io.StringIO())
    with pytest.raises(CommandError, match="is not a date"):
        call_command("aging", "--as-of", "2026-02-30", stdout=io.StringIO())
