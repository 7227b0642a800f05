"""A payment or a dispute event rescores that customer once its transaction commits, and only then.

These tests commit for real (transaction=True): what runs "on commit" is the point.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import transaction

from recoup.core.models import Event
from recoup.disputes import services as disputes
from recoup.disputes.defaults import install_reasons
from recoup.insights import selectors, services
from recoup.insights.models import CustomerPriority, InvoicePrediction
from recoup.insights.tests.support import D, build_ledger
from recoup.ledger import services as ledger
from recoup.ledger.models import Invoice

pytestmark = pytest.mark.django_db(transaction=True)
TODAY = D(2026, 6, 1)


@pytest.fixture
def scored():
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        install_reasons()
        book = build_ledger(today=TODAY, customers=3, per_customer=12)
        services.model_train(actor=None)
        services.scores_refresh(actor=None)
        Event.objects.filter(verb="insights.customer_rescored").delete()  # those the ledger's set-up made
        yield book


def open_invoices(customer) -> list[Invoice]:
    return list(Invoice.objects.filter(customer=customer, open_amount__gt=0).order_by("due_date", "id"))


def rescored() -> list[str]:
    return list(Event.objects.filter(verb="insights.customer_rescored").values_list("target_id", flat=True))


def pay(customer, invoice, external_id: str) -> None:
    ledger.payment_create(
        actor=None,
        customer=customer,
        external_id=external_id,
        date=TODAY,
        amount=invoice.open_amount,
        apply_to=[ledger.Application(invoice=invoice)],
    )


def test_a_payment_rescores_its_customer_only(scored):
    prompt, slow, late = scored.customers
    before = dict(CustomerPriority.objects.values_list("customer_id", "scored_at"))
    invoice = open_invoices(late)[0]

    with time_machine.travel(dt.datetime(2026, 6, 1, 13, tzinfo=dt.UTC), tick=False):
        pay(late, invoice, "PAY-NOW")

    assert not InvoicePrediction.objects.filter(invoice=invoice).exists()
    row = CustomerPriority.objects.get(customer=late)
    assert row.open_invoices == len(open_invoices(late))
    assert row.scored_at > before[late.pk]
    after = dict(CustomerPriority.objects.values_list("customer_id", "scored_at"))
    assert (after[prompt.pk], after[slow.pk]) == (before[prompt.pk], before[slow.pk])
    assert rescored() == [str(late.pk)]


def test_many_payments_in_one_transaction_rescore_once_after_it(scored):
    late = scored.customers[2]
    invoices = open_invoices(late)

    with transaction.atomic():
        for n, invoice in enumerate(invoices):
            pay(late, invoice, f"BULK-{n}")
        assert rescored() == []  # nothing before the commit

    assert len(invoices) >= 2
    assert rescored() == [str(late.pk)]
    assert not CustomerPriority.objects.filter(customer=late).exists()  # nothing is open any more


def test_a_rolled_back_payment_rescores_nothing(scored):
    late = scored.customers[2]
    invoice = open_invoices(late)[0]

    with transaction.atomic():
        pay(late, invoice, "PAY-UNDONE")
        transaction.set_rollback(True)

    assert InvoicePrediction.objects.filter(invoice=invoice).exists()
    assert rescored() == []


def test_a_reversal_rescores_the_customer_of_its_invoice(scored):
    late = scored.customers[2]
    allocation = Invoice.objects.filter(customer=late, open_amount=0).first().allocations.get()

    ledger.allocation_reverse(actor=None, allocation=allocation, date=TODAY)

    assert rescored() == [str(late.pk)]
    assert InvoicePrediction.objects.filter(invoice_id=allocation.invoice_id).exists()  # open again


def test_an_open_dispute_lowers_the_rank_and_resolving_it_lifts_it_again(scored):
    late = scored.customers[2]
    invoice = open_invoices(late)[-1]

    def score():
        return {r.customer_id: r.score for r in selectors.priority_ranking()}[late.pk]

    before = score()
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        dispute = disputes.dispute_open(actor=None, invoice=invoice, reason="pricing", opened_on=TODAY)
        row = CustomerPriority.objects.get(customer=late)
        share = float(invoice.open_amount / row.open_amount)
        assert row.disputed_amount == invoice.open_amount
        assert row.term_open_dispute == pytest.approx(-100 * share, abs=1e-3)
        assert score() < before

        disputes.dispute_resolve(actor=None, dispute=dispute, outcome="rejected", resolved_on=TODAY)

    assert CustomerPriority.objects.get(customer=late).term_open_dispute == 0
    assert rescored() == [str(late.pk), str(late.pk)]
