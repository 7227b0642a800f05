"""Writes to promises to pay beyond recording one (services.promise_create): evaluation and cancellation.

Evaluation (DESIGN.md, "Promises to pay") counts the payment allocations to what a pending promise covers
(its invoices, or all of the customer's when it names none), dated from the day it was made to its date plus
grace (never past the evaluation date), net of reversals dated by then, converted to the promise's currency.
Paid in full is kept at once; after the deadline a shortfall within the tolerance is partially kept and
anything else broken. A broken promise makes a task through the rule engine; dunning, which pauses only on
pending promises, resumes by itself. Kept and broken are final: a reversal booked after the decision reopens
the invoice for dunning but does not reopen the promise.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from recoup.activity import rules
from recoup.activity.models import EntryKind, Promise, PromiseStatus, TaskTrigger
from recoup.activity.permissions import PROMISE_REFUSED, may_cancel
from recoup.activity.services import timeline_add
from recoup.activity.task_services import rule_task
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.events import record_event
from recoup.core.money import Money, quantize
from recoup.ledger.aging import rates_as_of
from recoup.ledger.models import Allocation, AllocationKind, Invoice

CHUNK = 500  # customers evaluated in one transaction
STATUS_OF = {
    rules.Outcome.KEPT: PromiseStatus.KEPT,
    rules.Outcome.PARTIALLY_KEPT: PromiseStatus.PARTIALLY_KEPT,
    rules.Outcome.BROKEN: PromiseStatus.BROKEN,
}
DECIDED_STATUSES = (PromiseStatus.KEPT, PromiseStatus.PARTIALLY_KEPT, PromiseStatus.BROKEN)


@dataclass
class Evaluation:
    as_of: dt.date
    counts: Counter[str] = field(default_factory=Counter)  # pending, kept, partially_kept, broken
    tasks: int = 0

    def __str__(self) -> str:
        parts = [f"{self.counts[s]} {s.replace('_', ' ')}" for s in ("kept", "partially_kept", "broken")]
        return (
            f"Promises as of {self.as_of.isoformat()}: {', '.join(parts)}, {self.counts['pending']} still "
            f"pending; {self.tasks} task{'s' if self.tasks != 1 else ''} made."
        )


def promises_evaluate(*, actor: Any, as_of: dt.date, customer_ids: Sequence[int] | None = None) -> Evaluation:
    """Evaluate every pending promise (of `customer_ids`, when given) as of `as_of`. Safe to run twice: only
    pending promises change, each once."""
    result = Evaluation(as_of=as_of)
    pending = Promise.objects.filter(status=PromiseStatus.PENDING, made_on__lte=as_of)
    if customer_ids is not None:
        pending = pending.filter(customer_id__in=list(customer_ids))
    customers = sorted(set(pending.values_list("customer_id", flat=True)))
    for start in range(0, len(customers), CHUNK):
        with transaction.atomic():
            chunk = customers[start : start + CHUNK]
            _evaluate_chunk(actor=actor, as_of=as_of, customer_ids=chunk, result=result)
    return result


def _evaluate_chunk(*, actor: Any, as_of: dt.date, customer_ids: list[int], result: Evaluation) -> None:
    pending = list(
        Promise.objects.select_for_update(of=("self",))
        .filter(status=PromiseStatus.PENDING, made_on__lte=as_of, customer_id__in=customer_ids)
        .select_related("customer", "owner")
        .prefetch_related(Prefetch("invoices", queryset=Invoice.objects.only("id")))
        .order_by("id")
    )
    if not pending:
        return
    since = min(p.made_on for p in pending if p.made_on is not None)
    # Promises already decided may have taken payments a pending one would otherwise count again.
    decided = list(
        Promise.objects.filter(
            customer_id__in=customer_ids, status__in=DECIDED_STATUSES, resolved_on__gte=since
        ).prefetch_related(Prefetch("invoices", queryset=Invoice.objects.only("id")))
    )
    rates = {c: r.rate for c, r in rates_as_of(as_of).items()}
    facts = [_facts(p, as_of) for p in (*decided, *pending)]
    paid = rules.attribute_payments(facts, _payments(customer_ids, since, as_of), rates)
    for promise in pending:
        amount_paid = quantize(paid.get(promise.pk, Decimal(0)), promise.currency)
        deadline = rules.promise_deadline(promise.promised_date, promise.grace_days)
        outcome = rules.promise_outcome(
            amount=promise.amount,
            paid_amount=amount_paid,
            tolerance_percent=promise.tolerance_percent,
            deadline=deadline,
            as_of=as_of,
        )
        result.counts[outcome.value] += 1
        if outcome == rules.Outcome.PENDING:
            Promise.objects.filter(pk=promise.pk).update(
                paid_amount=amount_paid, evaluated_on=as_of, updated_at=timezone.now()
            )
            continue
        if _decide(actor=actor, promise=promise, outcome=outcome, paid=amount_paid, as_of=as_of, rates=rates):
            result.tasks += 1


def _facts(promise: Promise, as_of: dt.date) -> rules.PromiseFacts:
    deadline = rules.promise_deadline(promise.promised_date, promise.grace_days)
    end = rules.promise_window_end(deadline=deadline, as_of=as_of)
    if promise.status != PromiseStatus.PENDING and promise.resolved_on is not None:
        end = min(end, promise.resolved_on)  # what it took when it was decided
    return rules.PromiseFacts(
        id=promise.pk,
        customer_id=promise.customer_id,
        amount=promise.amount,
        currency=promise.currency,
        made_on=promise.made_on or promise.created_at.date(),
        window_end=end,
        invoice_ids=frozenset(i.pk for i in promise.invoices.all()),
        decided=promise.status != PromiseStatus.PENDING,
    )


def _payments(customer_ids: Iterable[int], since: dt.date, as_of: dt.date) -> list[rules.PaymentFacts]:
    """The original payment allocations to the customers' invoices dated from `since` to `as_of`, each with
    the date of its reversal if it has one."""
    rows = Allocation.objects.filter(
        kind=AllocationKind.PAYMENT,
        reverses__isnull=True,
        invoice__customer_id__in=list(customer_ids),
        date__gte=since,
        date__lte=as_of,
    ).values_list(
        "id", "invoice__customer_id", "invoice_id", "date", "amount", "currency", "reversed_by__date"
    )
    return [
        rules.PaymentFacts(
            id=pk,
            customer_id=customer_id,
            invoice_id=invoice_id,
            date=date,
            amount=Decimal(amount),
            currency=currency,
            reversed_on=reversed_on,
        )
        for pk, customer_id, invoice_id, date, amount, currency, reversed_on in rows
    ]


def _decide(
    *,
    actor: Any,
    promise: Promise,
    outcome: rules.Outcome,
    paid: Decimal,
    as_of: dt.date,
    rates: dict[str, Decimal],
) -> bool:
    """Record the outcome, its timeline entry and event; a broken promise asks the rule engine for a task.
    Returns whether a task was made."""
    status = STATUS_OF[outcome]
    Promise.objects.filter(pk=promise.pk).update(
        status=status, paid_amount=paid, evaluated_on=as_of, resolved_on=as_of, updated_at=timezone.now()
    )
    promised = Money(promise.amount, promise.currency)
    got = Money(paid, promise.currency)
    invoice_ids = [i.pk for i in promise.invoices.all()]
    title = {
        rules.Outcome.KEPT: f"Promise kept: {promised} paid",
        rules.Outcome.PARTIALLY_KEPT: f"Promise partially kept: {got} of {promised} paid",
        rules.Outcome.BROKEN: f"Promise broken: {got} of {promised} paid",
    }[outcome]
    deadline = rules.promise_deadline(promise.promised_date, promise.grace_days)
    timeline_add(
        customer=promise.customer_id,
        kind=EntryKind.PROMISE,
        title=title,
        body=f"Promised by {promise.promised_date.isoformat()}, grace to {deadline.isoformat()}.",
        status=status,
        source=promise,
        invoices=invoice_ids,
        actor=actor,
    )
    record_event(
        actor=actor,
        verb=f"promise.{status}",
        target=promise,
        data={"from": PromiseStatus.PENDING, "to": status, "paid": str(paid), "as_of": as_of.isoformat()},
    )
    if outcome != rules.Outcome.BROKEN:
        return False
    base = settings.BASE_CURRENCY
    base_amount = rules.convert(promise.amount - paid, promise.currency, base, rates)
    task, created = rule_task(
        trigger=TaskTrigger.BROKEN_PROMISE,
        customer=promise.customer,
        subject=promise.pk,
        title=f"Broken promise: {promised} by {promise.promised_date.isoformat()} ({promise.customer.name})",
        description=(
            f"{promise.customer.name} promised {promised} by {promise.promised_date.isoformat()} "
            f"(grace to {deadline.isoformat()}) and paid {got}. Dunning resumes on what it covered."
        ),
        invoices=invoice_ids,
        amount=base_amount,
        today=as_of,
        actor=actor,
        owner=promise.owner,
    )
    return task is not None and created


@transaction.atomic
def promise_cancel(*, actor: Any, promise: Promise, reason: str = "") -> Promise:
    """Withdraw a pending promise (recorded by mistake, or replaced by a new one): dunning resumes on what it
    covered. Only its maker, the person who follows it up, and managers may."""
    promise = Promise.objects.select_for_update().get(pk=promise.pk)
    if not may_cancel(actor, promise):
        raise NotAllowed(PROMISE_REFUSED)
    if promise.status != PromiseStatus.PENDING:
        raise DomainError(
            f"Only a pending promise can be cancelled; this one is {promise.get_status_display().lower()}.",
            field="status",
        )
    promise.status = PromiseStatus.CANCELLED
    promise.resolved_on = timezone.localdate()
    promise.save(update_fields=["status", "resolved_on", "updated_at"])
    timeline_add(
        customer=promise.customer_id,
        kind=EntryKind.PROMISE,
        title=f"Promise cancelled: {Money(promise.amount, promise.currency)} by {promise.promised_date}",
        body=reason.strip(),
        status=promise.status,
        source=promise,
        invoices=list(promise.invoices.values_list("pk", flat=True)),
        actor=actor,
    )
    record_event(
        actor=actor,
        verb="promise.cancelled",
        target=promise,
        data={"from": PromiseStatus.PENDING, "to": PromiseStatus.CANCELLED, "reason": reason.strip()},
    )
    return promise
