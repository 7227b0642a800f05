"""What the promise, task-rule and worklist tests share: the default task rules, a collector's customers,
promises made through the service on a fixed day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from recoup.activity.defaults import install_task_rules
from recoup.activity.models import Promise
from recoup.activity.services import promise_create
from recoup.ledger import services as ledger
from recoup.ledger.models import Allocation, Invoice, Payment

D = dt.date
MADE = D(2026, 3, 1)
DATE = D(2026, 3, 10)  # the promised date
DEADLINE = D(2026, 3, 13)  # with the default grace of 3 days


@pytest.fixture
def task_rules(db):
    """The four default rules (a transactional test's flush removes the migration's)."""
    return {rule.trigger: rule for rule in install_task_rules()}


def promise(customer: Any, amount: str = "100.00", *, invoices=(), actor: Any = None, **kw: Any) -> Promise:
    kw.setdefault("made_on", MADE)
    kw.setdefault("promised_date", DATE)
    return promise_create(actor=actor, customer=customer, amount=amount, invoices=list(invoices), **kw)


def pay(invoice: Invoice, amount: str, date: dt.date, external_id: str | None = None) -> Payment:
    """A payment of `amount` applied to `invoice`, through the ledger service."""
    n = Payment.objects.count() + 1
    return ledger.payment_create(
        actor=None,
        customer=invoice.customer,
        external_id=external_id or f"PAY-{n:04d}",
        date=date,
        amount=Decimal(amount),
        apply_to=[ledger.Application(invoice, Decimal(amount))],
    )


def reverse(payment: Payment, date: dt.date) -> Allocation:
    return ledger.allocation_reverse(actor=None, allocation=payment.allocations.get(), date=date)
