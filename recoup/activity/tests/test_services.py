"""Tasks made by rules never duplicate while open; promises are checked; each lands on the timeline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from recoup.activity.models import Task, TaskKind, TaskStatus, TimelineEntry
from recoup.activity.services import promise_create, task_complete, task_create
from recoup.core.errors import DomainError
from recoup.ledger.tests.factories import CustomerFactory, InvoiceFactory

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 2)


def make(customer, key: str) -> tuple[Task, bool]:
    return task_create(
        actor=None, customer=customer, kind=TaskKind.CALL, title="Call", due_date=TODAY, source_key=key
    )


def test_the_same_rule_for_the_same_subject_makes_one_task_while_it_is_open(collector):
    customer = CustomerFactory()
    first, created = make(customer, "rule:1")
    again, created_again = make(customer, "rule:1")
    other, created_other = make(customer, "rule:2")

    assert (created, created_again, created_other) == (True, False, True)
    assert again.pk == first.pk and other.pk != first.pk
    task_complete(actor=collector, task=first)
    after, created_after = make(customer, "rule:1")

    assert created_after is True and after.pk != first.pk
    assert Task.objects.filter(source_key="rule:1").count() == 2
    assert list(Task.objects.filter(source_key="rule:1").values_list("status", flat=True).order_by("id")) == [
        TaskStatus.DONE,
        TaskStatus.OPEN,
    ]
    assert TimelineEntry.objects.filter(customer=customer, kind="call_task").count() == 3
    with pytest.raises(DomainError, match="already done"):
        task_complete(actor=collector, task=first)


def test_a_promise_must_be_positive_and_cover_the_customers_own_invoices():
    customer = CustomerFactory()
    stranger = InvoiceFactory()

    with pytest.raises(DomainError, match="more than zero"):
        promise_create(actor=None, customer=customer, amount="0", promised_date=TODAY)
    with pytest.raises(DomainError, match="belong to its customer"):
        promise_create(actor=None, customer=customer, amount="10", promised_date=TODAY, invoices=[stranger])
    with pytest.raises(DomainError, match="more decimals than USD allows"):
        promise_create(actor=None, customer=customer, amount="10.001", promised_date=TODAY)
    promise = promise_create(actor=None, customer=customer, amount="10.50", promised_date=TODAY)

    assert (promise.amount, promise.currency, promise.status, promise.grace_days) == (
        Decimal("10.50"),
        "USD",
        "pending",
        3,
    )
    assert TimelineEntry.objects.get(customer=customer).title == "Promise to pay 10.50 USD by 2026-03-02"
