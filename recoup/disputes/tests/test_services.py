"""Disputes never exceed what is open, and each one is on the timeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from recoup.activity.models import TimelineEntry
from recoup.core.errors import DomainError
from recoup.disputes.models import Dispute
from recoup.disputes.services import dispute_open, dispute_resolve
from recoup.ledger.tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 2)


def test_several_disputes_on_one_invoice_never_exceed_its_open_amount():
    invoice = InvoiceFactory(amount=Decimal("100.00"))
    first = dispute_open(actor=None, invoice=invoice, amount="60.00", opened_on=TODAY)

    with pytest.raises(DomainError, match=r"has 40\.00 USD open and not yet disputed; a dispute of 40\.01"):
        dispute_open(actor=None, invoice=invoice, amount="40.01", opened_on=TODAY)
    rest = dispute_open(actor=None, invoice=invoice, opened_on=TODAY)  # all that is left

    assert (first.amount, rest.amount) == (Decimal("60.00"), Decimal("40.00"))
    with pytest.raises(DomainError, match="more than zero"):
        dispute_open(actor=None, invoice=invoice, opened_on=TODAY)
    dispute_resolve(actor=None, dispute=first, outcome="rejected", resolved_on=TODAY)
    again = dispute_open(actor=None, invoice=invoice, amount="60.00", opened_on=TODAY)
    assert again.amount == Decimal("60.00")
    assert Dispute.objects.filter(invoice=invoice).count() == 3
    titles = list(TimelineEntry.objects.order_by("id").values_list("title", flat=True))
    assert titles == [
        f"Dispute opened on {invoice.external_id}: 60.00 USD",
        f"Dispute opened on {invoice.external_id}: 40.00 USD",
        f"Dispute resolved on {invoice.external_id}: rejected",
        f"Dispute opened on {invoice.external_id}: 60.00 USD",
    ]
    with pytest.raises(DomainError, match="already resolved"):
        dispute_resolve(actor=None, dispute=first, outcome="rejected")
