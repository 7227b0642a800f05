"""Writes to the activity of a customer: tasks, timeline entries and promises."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from recoup.activity.models import EntryKind, Promise, PromiseStatus, Task, TaskStatus, TimelineEntry
from recoup.core.errors import DomainError
from recoup.core.events import record_event
from recoup.core.money import MoneyError, normalize_currency, parse_amount
from recoup.ledger.models import Customer, Invoice


@transaction.atomic
def task_create(
    *,
    actor: Any,
    customer: Customer,
    kind: str,
    title: str,
    due_date: dt.date,
    owner: Any = None,
    role: str = "",
    description: str = "",
    invoices: Iterable[Invoice | int] = (),
    source_key: str = "",
) -> tuple[Task, bool]:
    """Create a task, or return the open one with the same `source_key`; the flag says whether it is new.

    The partial unique constraint decides, not a look-up first: two workers creating the same task at once
    end with one task.
    """
    if source_key:
        existing = Task.objects.filter(source_key=source_key, status=TaskStatus.OPEN).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            task = Task.objects.create(
                customer=customer,
                kind=kind,
                title=title[:255],
                description=description,
                due_date=due_date,
                owner=owner,
                role=role,
                source_key=source_key,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        if not source_key:
            raise
        return Task.objects.get(source_key=source_key, status=TaskStatus.OPEN), False
    invoice_ids = [i if isinstance(i, int) else i.pk for i in invoices]
    if invoice_ids:
        task.invoices.set(invoice_ids)
    owner_name = owner.username if owner is not None else f"role {role or 'any'}"
    timeline_add(
        customer=customer,
        kind=EntryKind.CALL_TASK if kind == "call" else EntryKind.TASK,
        title=f"Task: {task.title}",
        body=f"Assigned to {owner_name}, due {due_date.isoformat()}.",
        status=task.status,
        source=task,
        invoices=invoice_ids,
        actor=actor,
    )
    record_event(actor=actor, verb="task.created", target=task, data={"source_key": source_key})
    return task, True


@transaction.atomic
def task_complete(*, actor: Any, task: Task) -> Task:
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.status != TaskStatus.OPEN:
        raise DomainError(f"The task is already {task.get_status_display().lower()}.", field="status")
    task.status = TaskStatus.DONE
    task.completed_at = timezone.now()
    task.save(update_fields=["status", "completed_at", "updated_at"])
    record_event(actor=actor, verb="task.completed", target=task)
    return task


def timeline_add(
    *,
    customer: Customer | int,
    kind: str,
    title: str,
    body: str = "",
    status: str = "",
    occurred_at: dt.datetime | None = None,
    source: models.Model | None = None,
    invoices: Sequence[int] = (),
    actor: Any = None,
) -> TimelineEntry:
    """Append one entry to a customer's timeline (in the caller's transaction)."""
    entry = TimelineEntry.objects.create(
        customer_id=customer if isinstance(customer, int) else customer.pk,
        kind=kind,
        occurred_at=occurred_at or timezone.now(),
        title=title[:255],
        body=body,
        status=status,
        source_type=source._meta.label_lower if source is not None else "",
        source_id=str(source.pk) if source is not None else "",
        actor=actor if getattr(actor, "pk", None) else None,
    )
    if invoices:
        entry.invoices.add(*invoices)  # a new entry: nothing to compare with, as set() would
    return entry


@transaction.atomic
def promise_create(
    *,
    actor: Any,
    customer: Customer,
    amount: Decimal | str,
    promised_date: dt.date,
    currency: str | None = None,
    invoices: Sequence[Invoice] = (),
    grace_days: int = 3,
    channel: str = "call",
) -> Promise:
    """Record a promise to pay. While pending, it pauses dunning on what it covers (DESIGN.md)."""
    try:
        code = normalize_currency(currency or customer.currency)
        value = parse_amount(amount, code)
    except MoneyError as exc:
        raise DomainError(str(exc), field="amount") from exc
    if value <= 0:
        raise DomainError("A promise must be for more than zero.", field="amount")
    if any(invoice.customer_id != customer.pk for invoice in invoices):
        raise DomainError("Every invoice of a promise must belong to its customer.", field="invoices")
    promise = Promise.objects.create(
        customer=customer,
        amount=value,
        currency=code,
        promised_date=promised_date,
        grace_days=grace_days,
        channel=channel,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    promise.invoices.set(invoices)
    timeline_add(
        customer=customer,
        kind=EntryKind.PROMISE,
        title=f"Promise to pay {value} {code} by {promised_date.isoformat()}",
        status=PromiseStatus.PENDING,
        source=promise,
        invoices=[i.pk for i in invoices],
        actor=actor,
    )
    record_event(
        actor=actor,
        verb="promise.created",
        target=promise,
        data={"amount": str(value), "currency": code, "date": promised_date.isoformat()},
    )
    return promise
