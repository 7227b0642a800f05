"""Property-based checks of the ledger: random histories of payments, credit notes, write-offs and reversals.

For every history hypothesis finds, at every date:
- the open amount equals an independent replay of the accepted allocations, and is never below zero;
- the kept open amount equals the replay at the end of time;
- aging buckets sum to the row total, and the report total equals the replay's sum of open invoices.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recoup.core.errors import DomainError
from recoup.ledger import services
from recoup.ledger.aging import aging_report
from recoup.ledger.models import Allocation, Invoice
from recoup.ledger.selectors import invoice_open_amount_as_of
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory

START = dt.date(2026, 1, 1)
cents = st.integers(1, 20_000).map(lambda c: Decimal(c).scaleb(-2))
day = st.integers(0, 120).map(lambda d: START + dt.timedelta(days=d))
operation = st.one_of(
    st.tuples(st.just("pay"), st.integers(0, 3), cents, day),
    st.tuples(st.just("credit"), st.integers(0, 3), cents, day),
    st.tuples(st.just("write_off"), st.integers(0, 3), cents, day),
    st.tuples(st.just("reverse"), st.integers(0, 50), st.integers(0, 30)),
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(cents, min_size=1, max_size=4), operations=st.lists(operation, max_size=12))
def test_random_histories_stay_exact(manager, amounts, operations):
    with transaction.atomic():
        customer = CustomerFactory()
        invoices = [
            InvoiceFactory(
                customer=customer,
                amount=amount,
                issue_date=START + dt.timedelta(days=7 * i),
                due_date=START + dt.timedelta(days=7 * i + 30),
            )
            for i, amount in enumerate(amounts)
        ]
        for n, op in enumerate(operations):
            _apply(manager, customer, invoices, n, op)
        _check(invoices)
        transaction.set_rollback(True)


def _apply(actor, customer, invoices, n, op):
    kind = op[0]
    try:
        with transaction.atomic():
            if kind == "reverse":
                originals = list(Allocation.objects.filter(reverses__isnull=True).order_by("id"))
                if originals:
                    original = originals[op[1] % len(originals)]
                    services.allocation_reverse(
                        actor=actor, allocation=original, date=original.date + dt.timedelta(days=op[2])
                    )
                return
            invoice = invoices[op[1] % len(invoices)]
            invoice.refresh_from_db()
            amount, date = op[2], op[3]
            application = [services.Application(invoice, min(amount, invoice.open_amount))]
            if kind == "pay":
                services.payment_create(
                    actor=actor,
                    customer=customer,
                    external_id=f"P{n}-{customer.pk}",
                    date=date,
                    amount=amount,
                    apply_to=application,
                )
            elif kind == "credit":
                services.credit_note_create(
                    actor=actor,
                    customer=customer,
                    external_id=f"CN{n}-{customer.pk}",
                    date=date,
                    amount=amount,
                    apply_to=application,
                )
            else:
                services.write_off_create(actor=actor, invoice=invoice, amount=amount, date=date)
    except DomainError:
        pass  # refused operations must leave no trace; _check replays only what was stored


def _check(invoices):
    rows = list(Allocation.objects.values_list("invoice_id", "date", "amount"))
    dates = sorted({START + dt.timedelta(days=d) for d in range(0, 200, 9)} | {d for _, d, _ in rows})
    for as_of in dates:
        expected_total = Decimal(0)
        for invoice in invoices:
            replay = invoice.amount - sum(
                (a for i, d, a in rows if i == invoice.pk and d <= as_of), Decimal(0)
            )
            assert replay >= 0
            assert invoice_open_amount_as_of(invoice=invoice, as_of=as_of) == replay
            if invoice.issue_date <= as_of and replay > 0:
                expected_total += replay
        report = aging_report(as_of=as_of)
        assert report.total.total == expected_total
        for row in (*report.rows, report.total):
            assert sum(row.buckets) == row.total
    for invoice in Invoice.objects.filter(pk__in=[i.pk for i in invoices]):
        replay = invoice.amount - sum((a for i, _, a in rows if i == invoice.pk), Decimal(0))
        assert invoice.open_amount == replay
        assert (invoice.closed_on is None) == (replay > 0)
