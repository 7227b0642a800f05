"""Open amounts through payments, credit notes, write-offs and reversals, checked at every date."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from recoup.core.errors import DomainError
from recoup.core.models import Event
from recoup.ledger import services
from recoup.ledger.models import Allocation, Invoice
from recoup.ledger.selectors import invoice_open_amount_as_of
from recoup.ledger.services import Application
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory

D = dt.date
pytestmark = pytest.mark.django_db


def test_partial_payment_leaves_the_rest_open_and_history_exact(manager):
    invoice = InvoiceFactory(amount=Decimal("100.00"))
    payment = services.payment_create(
        actor=manager,
        customer=invoice.customer,
        external_id="P1",
        date=D(2026, 2, 10),
        amount=Decimal("40.00"),
        apply_to=[Application(invoice)],
    )
    invoice.refresh_from_db()
    assert invoice.open_amount == Decimal("60.00")
    assert invoice.closed_on is None
    assert payment.unapplied_amount == Decimal("0")
    assert invoice_open_amount_as_of(invoice=invoice, as_of=D(2026, 2, 9)) == Decimal("100.00")
    assert invoice_open_amount_as_of(invoice=invoice, as_of=D(2026, 2, 10)) == Decimal("60.00")
    assert Event.objects.filter(verb="allocation.payment", actor=manager).count() == 1


def test_overpayment_stays_as_unapplied_credit(manager):
    invoice = InvoiceFactory(amount=Decimal("100.00"))
    payment = services.payment_create(
        actor=manager,
        customer=invoice.customer,
        external_id="P1",
        date=D(2026, 2, 10),
        amount=Decimal("130.00"),
        apply_to=[Application(invoice)],
    )
    invoice.refresh_from_db()
    assert (invoice.open_amount, invoice.closed_on) == (Decimal("0"), D(2026, 2, 10))
    assert payment.unapplied_amount == Decimal("30.00")


def test_reversal_reopens_the_invoice_without_touching_the_original(manager):
    invoice = InvoiceFactory(amount=Decimal("100.00"))
    services.payment_create(
        actor=manager,
        customer=invoice.customer,
        external_id="P1",
        date=D(2026, 2, 10),
        amount=Decimal("100.00"),
        apply_to=[Application(invoice)],
    )
    original = Allocation.objects.get()
    reversal = services.allocation_reverse(actor=manager, allocation=original, date=D(2026, 3, 1))
    invoice.refresh_from_db()
    original.refresh_from_db()
    assert original.amount == Decimal("100.0000")
    assert reversal.amount == Decimal("-100.0000")
    assert (invoice.open_amount, invoice.closed_on) == (Decimal("100.00"), None)
    assert invoice.allocations.count() == 2
    assert invoice_open_amount_as_of(invoice=invoice, as_of=D(2026, 2, 20)) == Decimal("0")
    assert invoice_open_amount_as_of(invoice=invoice, as_of=D(2026, 3, 1)) == Decimal("100.00")
    with pytest.raises(DomainError, match="already reversed"):
        services.allocation_reverse(actor=manager, allocation=original, date=D(2026, 3, 2))


def test_allocation_beyond_open_amount_is_refused_and_nothing_is_written(manager):
    invoice = InvoiceFactory(amount=Decimal("100.00"))
    payment = services.payment_create(
        actor=manager,
        customer=invoice.customer,
        external_id="P1",
        date=D(2026, 2, 10),
        amount=Decimal("150.00"),
    )
    with pytest.raises(DomainError, match=r"only 100\.0000 USD open"):
        services.allocation_create(actor=manager, invoice=invoice, source=payment, amount=Decimal("120.00"))
    assert Allocation.objects.count() == 0
    invoice.refresh_from_db()
    assert invoice.open_amount == Decimal("100.00")


def test_backdated_allocation_that_would_oversettle_a_past_date_is_refused(manager):
    # Paid on 10 Feb, reversed on 1 Mar. A second payment dated 5 Feb would make 10–28 Feb over-settled.
    invoice = InvoiceFactory(amount=Decimal("100.00"))
    services.payment_create(
        actor=manager,
        customer=invoice.customer,
        external_id="P1",
        date=D(2026, 2, 10),
        amount=Decimal("100.00"),
        apply_to=[Application(invoice)],
    )
    services.allocation_reverse(actor=manager, allocation=Allocation.objects.get(), date=D(2026, 3, 1))
    early = services.payment_create(
        actor=manager,
        customer=invoice.customer,
        external_id="P2",
        date=D(2026, 2, 5),
        amount=Decimal("100.00"),
    )
    with pytest.raises(DomainError, match="outside 0 to 100"):
        services.allocation_create(actor=manager, invoice=invoice, source=early, amount=Decimal("100.00"))
    assert Allocation.objects.count() == 2


def test_credit_note_and_write_off_settle_an_invoice(manager):
    invoice = InvoiceFactory(amount=Decimal("100.00"))
    services.credit_note_create(
        actor=manager,
        customer=invoice.customer,
        external_id="CN1",
        date=D(2026, 2, 1),
        amount=Decimal("30.00"),
        apply_to=[Application(invoice)],
    )
    services.write_off_create(actor=manager, invoice=invoice, amount=Decimal("70.00"), date=D(2026, 2, 5))
    invoice.refresh_from_db()
    assert (invoice.open_amount, invoice.closed_on) == (Decimal("0"), D(2026, 2, 5))
    assert sorted(invoice.allocations.values_list("kind", flat=True)) == ["credit_note", "write_off"]


def test_payment_of_another_customer_or_currency_is_refused(manager):
    invoice = InvoiceFactory(amount=Decimal("100.00"))
    other = CustomerFactory()
    foreign = services.payment_create(
        actor=manager, customer=other, external_id="P9", date=D(2026, 2, 1), amount=Decimal("10.00")
    )
    with pytest.raises(DomainError, match="another customer"):
        services.allocation_create(actor=manager, invoice=invoice, source=foreign, amount=Decimal("10.00"))
    euro = services.payment_create(
        actor=manager,
        customer=invoice.customer,
        external_id="P10",
        date=D(2026, 2, 1),
        amount=Decimal("10.00"),
        currency="EUR",
    )
    with pytest.raises(DomainError, match="is in EUR"):
        services.allocation_create(actor=manager, invoice=invoice, source=euro, amount=Decimal("10.00"))
    assert Allocation.objects.count() == 0


def test_oldest_first_setting_applies_the_rest_to_oldest_invoices(manager, settings):
    settings.RECOUP_UNAPPLIED_CASH = "oldest_first"
    customer = CustomerFactory()
    newer = InvoiceFactory(customer=customer, issue_date=D(2026, 2, 1), amount=Decimal("50.00"))
    older = InvoiceFactory(customer=customer, issue_date=D(2026, 1, 1), amount=Decimal("50.00"))
    named = InvoiceFactory(customer=customer, issue_date=D(2026, 3, 1), amount=Decimal("20.00"))
    payment = services.payment_create(
        actor=manager,
        customer=customer,
        external_id="P1",
        date=D(2026, 3, 5),
        amount=Decimal("90.00"),
        apply_to=[Application(named)],
    )
    opens = {i.pk: i.open_amount for i in Invoice.objects.all()}
    assert opens == {named.pk: Decimal("0"), older.pk: Decimal("0"), newer.pk: Decimal("30.00")}
    assert payment.unapplied_amount == Decimal("0")
