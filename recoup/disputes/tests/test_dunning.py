"""Disputes and dunning end to end, over real SMTP: the disputed amount is never asked for, the rest still is
and the reminder shows both, and a resolution lets dunning resume from the invoice's own level."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from recoup.disputes import services
from recoup.disputes.defaults import install_reasons
from recoup.dunning import delivery
from recoup.dunning.models import InvoiceDunning
from recoup.dunning.services import dunning_run

D = dt.date
DUE = D(2026, 3, 2)  # a Monday
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC), tick=True):
        yield


def run(as_of: dt.date) -> dict:
    result = dunning_run(actor=None, as_of=as_of)
    delivery.deliver_due()
    return result.report


def level_of(invoice) -> str | None:
    state = InvoiceDunning.objects.filter(invoice=invoice).select_related("level").first()
    return state.level.name if state else None


def test_a_partial_dispute_is_left_out_of_reminders_until_resolved_as_a_credit_note(books, smtp, manager):
    install_reasons()
    customer = books.customer("WIDGETS")
    invoice = books.invoice(customer, DUE, "300.00", external_id="W-1")
    run(DUE + dt.timedelta(days=3))
    assert level_of(invoice) == "Reminder"
    assert "W-1  due 2026-03-02 (3 days overdue)  300.00 USD  [Reminder]" in smtp.received[-1].text

    dispute = services.dispute_open(
        actor=manager,
        invoice=invoice,
        reason="quantity",
        amount="100.00",
        opened_on=DUE + dt.timedelta(days=5),
    )
    run(DUE + dt.timedelta(days=15))

    second = smtp.received[-1]
    assert level_of(invoice) == "Second reminder"
    assert (
        "W-1  due 2026-03-02 (15 days overdue)  200.00 USD  (open 300.00 USD, disputed 100.00 USD)"
        "  [Second reminder]" in second.text
    )
    assert "Under dispute, not requested: 100.00 USD" in second.text
    assert "Amounts under dispute (100.00 USD) are not requested." in second.text
    pdf = second.pdf_text()
    assert "Under dispute (USD)" in pdf and "100.00" in pdf

    services.dispute_resolve(
        actor=manager, dispute=dispute, outcome="credit_note", resolved_on=DUE + dt.timedelta(days=20)
    )
    run(DUE + dt.timedelta(days=30))

    third = smtp.received[-1]
    assert level_of(invoice) == "Call"  # on from its own level, never back to the first
    assert "W-1  due 2026-03-02 (30 days overdue)  200.00 USD  [Call]" in third.text
    assert "disputed" not in third.text.lower()
    assert len(smtp.received) == 3


def test_a_wholly_disputed_invoice_waits_and_resumes_at_its_next_level_when_rejected(books, smtp, manager):
    install_reasons()
    customer = books.customer("GADGETS")
    other = books.invoice(customer, DUE, "50.00", external_id="G-0")
    invoice = books.invoice(customer, DUE, "400.00", external_id="G-1")
    run(DUE + dt.timedelta(days=3))
    dispute = services.dispute_open(
        actor=manager, invoice=invoice, reason="pricing", opened_on=DUE + dt.timedelta(days=4)
    )

    report = run(DUE + dt.timedelta(days=15))

    assert report["skipped"] == {"disputed": 1}
    assert "G-1" not in smtp.received[-1].text  # the other invoice is still chased
    assert "G-0  due 2026-03-02 (15 days overdue)  50.00 USD" in smtp.received[-1].text
    assert (level_of(invoice), level_of(other)) == ("Reminder", "Second reminder")

    services.dispute_resolve(
        actor=manager, dispute=dispute, outcome="rejected", resolved_on=DUE + dt.timedelta(days=16)
    )
    run(DUE + dt.timedelta(days=21))

    assert level_of(invoice) == "Second reminder"
    assert "G-1  due 2026-03-02 (21 days overdue)  400.00 USD  [Second reminder]" in smtp.received[-1].text
