"""Writes to the ledger. Every function is keyword-only, atomic, takes an `actor` and records an event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value, When, Window
from django.db.models.functions import Coalesce, Round
from django.utils import timezone

from recoup.core.errors import DomainError
from recoup.core.events import record_event
from recoup.core.models import AmountField
from recoup.core.money import AMOUNT_DECIMAL_PLACES, normalize_currency, parse_amount
from recoup.ledger.models import (
    Allocation,
    AllocationKind,
    Contact,
    CreditNote,
    Customer,
    FxRate,
    Invoice,
    Payment,
)

ZERO = Decimal(0)
CreditT = TypeVar("CreditT", Payment, CreditNote)
_AMOUNT = AmountField()

CUSTOMER_FIELDS = (
    "name",
    "currency",
    "payment_terms_days",
    "credit_limit",
    "collector",
    "timezone",
    "country",
    "language",
    "on_hold",
    "do_not_dun",
    "segment",
    "dunning_policy",
)


# Customers and contacts -----------------------------------------------------------------------


@transaction.atomic
def customer_create(*, actor: Any, external_id: str, name: str, **fields: Any) -> Customer:
    _check_fields(fields, CUSTOMER_FIELDS)
    if "currency" in fields:
        fields["currency"] = _currency(fields["currency"])
    if Customer.objects.filter(external_id=external_id).exists():
        raise DomainError(f"A customer with external id {external_id!r} already exists.", field="external_id")
    customer = Customer.objects.create(external_id=external_id, name=name, **fields)
    record_event(actor=actor, verb="customer.created", target=customer, data={"external_id": external_id})
    return customer


@transaction.atomic
def customer_update(*, actor: Any, customer: Customer, **fields: Any) -> Customer:
    _check_fields(fields, (*CUSTOMER_FIELDS, "external_id"))
    if "currency" in fields:
        fields["currency"] = _currency(fields["currency"])
    changes = {}
    for name, value in fields.items():
        old = getattr(customer, name)
        if old != value:
            changes[name] = [_jsonable(old), _jsonable(value)]
            setattr(customer, name, value)
    if changes:
        customer.save()
        record_event(actor=actor, verb="customer.updated", target=customer, data=changes)
    return customer


@transaction.atomic
def contact_create(
    *, actor: Any, customer: Customer, name: str = "", email: str = "", phone: str = "", is_ap: bool = True
) -> Contact:
    if not email and not phone:
        raise DomainError("A contact needs an email address or a phone number.", field="email")
    contact = Contact.objects.create(customer=customer, name=name, email=email, phone=phone, is_ap=is_ap)
    record_event(actor=actor, verb="contact.created", target=contact, data={"customer": customer.external_id})
    return contact


# Documents ------------------------------------------------------------------------------------


@transaction.atomic
def invoice_create(
    *,
    actor: Any,
    customer: Customer,
    external_id: str,
    issue_date: dt.date,
    due_date: dt.date,
    amount: Decimal,
    currency: str | None = None,
    dunning_policy: Any = None,
) -> Invoice:
    """A new invoice; `dunning_policy` (a DunningPolicy) overrides the customer's and the default one."""
    currency = _currency(currency or customer.currency)
    amount = _positive_amount(amount, currency)
    if due_date < issue_date:
        raise DomainError("The due date is before the issue date.", field="due_date")
    if Invoice.objects.filter(external_id=external_id).exists():
        raise DomainError(f"An invoice with external id {external_id!r} already exists.", field="external_id")
    invoice = Invoice.objects.create(
        customer=customer,
        external_id=external_id,
        issue_date=issue_date,
        due_date=due_date,
        amount=amount,
        currency=currency,
        open_amount=amount,
        dunning_policy=dunning_policy,
    )
    record_event(
        actor=actor,
        verb="invoice.created",
        target=invoice,
        data={"amount": str(amount), "currency": currency},
    )
    return invoice


@transaction.atomic
def invoice_set_dunning_policy(*, actor: Any, invoice: Invoice, dunning_policy: Any) -> Invoice:
    """Name the dunning policy of one invoice (None: the customer's or the default applies again). The only
    change an invoice takes after it is created: its amounts and dates are facts."""
    old = invoice.dunning_policy_id
    new = getattr(dunning_policy, "pk", None)
    if old != new:
        Invoice.objects.filter(pk=invoice.pk).update(dunning_policy=dunning_policy, updated_at=timezone.now())
        invoice.refresh_from_db()
        record_event(
            actor=actor, verb="invoice.dunning_policy", target=invoice, data={"from": old, "to": new}
        )
    return invoice


@dataclass(frozen=True)
class Application:
    """A request to apply (part of) a payment or credit note to one invoice; `amount=None`: all it can."""

    invoice: Invoice
    amount: Decimal | None = None


@transaction.atomic
def payment_create(
    *,
    actor: Any,
    customer: Customer,
    external_id: str,
    date: dt.date,
    amount: Decimal,
    currency: str | None = None,
    reference: str = "",
    apply_to: Sequence[Application] = (),
) -> Payment:
    """Record a payment and apply it to the invoices it names; the rest follows RECOUP_UNAPPLIED_CASH."""
    payment = _customer_credit_create(
        Payment,
        actor=actor,
        customer=customer,
        external_id=external_id,
        date=date,
        amount=amount,
        currency=currency,
        verb="payment.created",
        reference=reference,
    )
    _apply_credit(
        actor=actor,
        source=payment,
        apply_to=apply_to,
        oldest_first=settings.RECOUP_UNAPPLIED_CASH == "oldest_first",
    )
    payment.refresh_from_db()
    transaction.on_commit(partial(evaluate_promises, [customer.pk]), robust=True)
    return payment


def evaluate_promises(customer_ids: list[int] | None = None) -> None:
    """After payments commit: evaluate the pending promises of `customer_ids` (None: every customer's) as
    of today. The activity app does it; imported here, since the ledger does not depend on it."""
    from recoup.activity.promise_services import promises_evaluate

    promises_evaluate(actor=None, as_of=timezone.localdate(), customer_ids=customer_ids)


@transaction.atomic
def credit_note_create(
    *,
    actor: Any,
    customer: Customer,
    external_id: str,
    date: dt.date,
    amount: Decimal,
    currency: str | None = None,
    reason: str = "",
    apply_to: Sequence[Application] = (),
) -> CreditNote:
    """Record a credit note and apply it to the invoices it names; the rest stays as customer credit."""
    note = _customer_credit_create(
        CreditNote,
        actor=actor,
        customer=customer,
        external_id=external_id,
        date=date,
        amount=amount,
        currency=currency,
        verb="credit_note.created",
        reason=reason,
    )
    _apply_credit(actor=actor, source=note, apply_to=apply_to, oldest_first=False)
    note.refresh_from_db()
    return note


def _customer_credit_create(
    model: type[CreditT],
    *,
    actor: Any,
    customer: Customer,
    external_id: str,
    date: dt.date,
    amount: Decimal,
    currency: str | None,
    verb: str,
    **text: str,
) -> CreditT:
    """A new payment or credit note, wholly unapplied until _apply_credit applies it."""
    currency = _currency(currency or customer.currency)
    amount = _positive_amount(amount, currency)
    label = model._meta.verbose_name
    if model.objects.filter(external_id=external_id).exists():
        raise DomainError(f"A {label} with external id {external_id!r} already exists.", field="external_id")
    document = model.objects.create(
        customer=customer,
        external_id=external_id,
        date=date,
        amount=amount,
        currency=currency,
        unapplied_amount=amount,
        **text,
    )
    record_event(
        actor=actor,
        verb=verb,
        target=document,
        data={"amount": str(amount), "currency": currency},
    )
    return document


def _apply_credit(
    *, actor: Any, source: Payment | CreditNote, apply_to: Sequence[Application], oldest_first: bool
) -> None:
    remaining = source.amount
    for application in apply_to:
        invoice = Invoice.objects.select_for_update().get(pk=application.invoice.pk)
        wanted = min(invoice.open_amount, remaining) if application.amount is None else application.amount
        if wanted > 0:
            allocation_create(actor=actor, invoice=invoice, source=source, amount=wanted, date=source.date)
            remaining -= wanted
    if oldest_first and remaining > 0:
        oldest = (
            Invoice.objects.select_for_update()
            .filter(customer_id=source.customer_id, currency=source.currency, open_amount__gt=0)
            .order_by("due_date", "issue_date", "id")
        )
        for invoice in oldest:
            if remaining <= 0:
                break
            wanted = min(invoice.open_amount, remaining)
            allocation_create(actor=actor, invoice=invoice, source=source, amount=wanted, date=source.date)
            remaining -= wanted


# Allocations ----------------------------------------------------------------------------------


@transaction.atomic
def allocation_create(
    *,
    actor: Any,
    invoice: Invoice,
    source: Payment | CreditNote | None,
    amount: Decimal,
    date: dt.date | None = None,
    memo: str = "",
) -> Allocation:
    """Apply `amount` of a payment or credit note (or, with no source, a write-off) to `invoice`."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    amount = _positive_amount(amount, invoice.currency)
    if source is None:
        kind, payment, credit_note = AllocationKind.WRITE_OFF, None, None
        date = date or timezone.localdate()
    else:
        source = type(source).objects.select_for_update().get(pk=source.pk)
        if source.customer_id != invoice.customer_id:
            raise DomainError(
                f"{source.external_id} belongs to another customer than {invoice.external_id}.",
                field="invoice",
            )
        if source.currency != invoice.currency:
            raise DomainError(
                f"{source.external_id} is in {source.currency} but {invoice.external_id} is in "
                f"{invoice.currency}; apply it through a conversion instead.",
                field="invoice",
            )
        if amount > source.unapplied_amount:
            raise DomainError(
                f"Only {source.unapplied_amount} {source.currency} of {source.external_id} is unapplied.",
                field="amount",
            )
        date = date or source.date
        if date < source.date:
            raise DomainError(
                f"An allocation cannot be dated before {source.external_id} ({source.date}).", field="date"
            )
        if isinstance(source, Payment):
            kind, payment, credit_note = AllocationKind.PAYMENT, source, None
        else:
            kind, payment, credit_note = AllocationKind.CREDIT_NOTE, None, source
    if amount > invoice.open_amount:
        raise DomainError(
            f"{invoice.external_id} has only {invoice.open_amount} {invoice.currency} open.", field="amount"
        )
    allocation = Allocation.objects.create(
        invoice=invoice,
        kind=kind,
        payment=payment,
        credit_note=credit_note,
        amount=amount,
        currency=invoice.currency,
        date=date,
        memo=memo,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _refresh_after([allocation])
    _rescore_on_commit(customer_id=invoice.customer_id)
    record_event(
        actor=actor,
        verb=f"allocation.{kind}",
        target=allocation,
        data={"invoice": invoice.external_id, "amount": str(amount), "date": date.isoformat()},
    )
    return allocation


def write_off_create(
    *, actor: Any, invoice: Invoice, amount: Decimal, date: dt.date | None = None, memo: str = ""
) -> Allocation:
    return allocation_create(actor=actor, invoice=invoice, source=None, amount=amount, date=date, memo=memo)


@transaction.atomic
def allocation_reverse(
    *, actor: Any, allocation: Allocation, date: dt.date | None = None, memo: str = ""
) -> Allocation:
    """Undo an allocation with a new, negated row dated `date`; the original row is never touched."""
    original = Allocation.objects.select_for_update().get(pk=allocation.pk)
    if original.reverses_id is not None:
        raise DomainError("A reversal cannot itself be reversed; record a new allocation instead.")
    if Allocation.objects.filter(reverses=original).exists():
        raise DomainError(f"Allocation {original.pk} is already reversed.")
    date = date or max(original.date, timezone.localdate())
    if date < original.date:
        raise DomainError(
            f"A reversal cannot be dated before the allocation it reverses ({original.date}).", field="date"
        )
    reversal = Allocation.objects.create(
        invoice_id=original.invoice_id,
        kind=original.kind,
        payment_id=original.payment_id,
        credit_note_id=original.credit_note_id,
        amount=-original.amount,
        currency=original.currency,
        date=date,
        reverses=original,
        memo=memo,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _refresh_after([reversal])
    _rescore_on_commit(invoice_id=original.invoice_id)
    record_event(
        actor=actor,
        verb="allocation.reversed",
        target=reversal,
        data={"reverses": original.pk, "amount": str(original.amount), "date": date.isoformat()},
    )
    return reversal


def _rescore_on_commit(**which: int) -> None:
    """After the commit, rescore the customer's payment predictions and priority terms (recoup.insights,
    which reads the ledger: imported here, so that the ledger does not depend on it)."""
    from recoup.insights.hooks import rescore_on_commit

    rescore_on_commit(**which)


def _refresh_after(allocations: Iterable[Allocation]) -> None:
    allocations = list(allocations)
    invoice_ids = {a.invoice_id for a in allocations}
    payment_ids = {a.payment_id for a in allocations if a.payment_id}
    note_ids = {a.credit_note_id for a in allocations if a.credit_note_id}
    refresh_balances(
        invoices=Invoice.objects.filter(pk__in=invoice_ids),
        payments=Payment.objects.filter(pk__in=payment_ids),
        credit_notes=CreditNote.objects.filter(pk__in=note_ids),
    )


def refresh_balances(
    *,
    invoices: QuerySet[Invoice],
    payments: QuerySet[Payment] | None = None,
    credit_notes: QuerySet[CreditNote] | None = None,
) -> None:
    """Recompute the kept balances from the allocations, set-based, and check them at every past date.

    Raises DomainError if any allocation history would make an open or unapplied amount leave
    [0, amount] on any date; the caller's transaction then rolls back.
    """
    check_allocation_history(invoices=invoices, payments=payments, credit_notes=credit_notes)
    applied = (
        Allocation.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    last_date = (
        Allocation.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(last=Max("date"))
        .values("last")
    )
    # Round to the stored scale: SQLite keeps decimals as binary floats; 0.1 + 0.2 - 0.3 must be 0 there too.
    invoices.update(
        open_amount=Round(
            F("amount") - Coalesce(Subquery(applied, output_field=_AMOUNT), Value(ZERO)),
            AMOUNT_DECIMAL_PLACES,
        )
    )
    invoices.update(closed_on=Case(When(open_amount=0, then=Subquery(last_date)), default=None))
    for field, queryset in (("payment", payments), ("credit_note", credit_notes)):
        if queryset is None:
            continue
        used = (
            Allocation.objects.filter(**{field: OuterRef("pk")})
            .order_by()
            .values(field)
            .annotate(total=Sum("amount"))
            .values("total")
        )
        queryset.update(
            unapplied_amount=Round(
                F("amount") - Coalesce(Subquery(used, output_field=_AMOUNT), Value(ZERO)),
                AMOUNT_DECIMAL_PLACES,
            )
        )


def check_allocation_history(
    *,
    invoices: QuerySet[Invoice],
    payments: QuerySet[Payment] | None = None,
    credit_notes: QuerySet[CreditNote] | None = None,
) -> None:
    """The running total of allocations, date by date, must stay within [0, document amount]."""
    checks: list[tuple[str, Any, QuerySet[Any]]] = [("invoice", Invoice, invoices)]
    if payments is not None:
        checks.append(("payment", Payment, payments))
    if credit_notes is not None:
        checks.append(("credit_note", CreditNote, credit_notes))
    for field, model, queryset in checks:
        running = Allocation.objects.filter(**{f"{field}__in": queryset.values("pk")}).annotate(
            running=Round(
                Window(Sum("amount"), partition_by=[F(field)], order_by=F("date").asc()),
                AMOUNT_DECIMAL_PLACES,
            ),
            limit=F(f"{field}__amount"),
        )
        # Django cannot OR two filters on a window expression, so the two bounds are two queries.
        for out_of_bounds in (Q(running__lt=0), Q(running__gt=F("limit"))):
            for external_id, date, total, limit in running.filter(out_of_bounds).values_list(
                f"{field}__external_id", "date", "running", "limit"
            )[:1]:
                raise DomainError(
                    f"{model._meta.verbose_name} {external_id} would have {total} applied on {date}, outside "
                    f"0 to {limit}: allocations must never over-settle a document at any date.",
                    field="amount",
                )


# FX rates -------------------------------------------------------------------------------------


@transaction.atomic
def fx_rate_set(*, actor: Any, currency: str, date: dt.date, rate: Decimal) -> FxRate:
    currency = _currency(currency)
    if currency == settings.BASE_CURRENCY:
        raise DomainError(f"{currency} is the base currency; its rate is always 1.", field="currency")
    if rate <= 0:
        raise DomainError("An FX rate must be positive.", field="rate")
    fx, created = FxRate.objects.update_or_create(currency=currency, date=date, defaults={"rate": rate})
    record_event(
        actor=actor,
        verb="fx_rate.created" if created else "fx_rate.updated",
        target=fx,
        data={"rate": str(rate)},
    )
    return fx


# Helpers --------------------------------------------------------------------------------------


def _currency(code: str) -> str:
    try:
        return normalize_currency(code)
    except ValueError as exc:
        raise DomainError(str(exc), field="currency") from exc


def _positive_amount(amount: Decimal | str, currency: str) -> Decimal:
    try:
        value = parse_amount(amount, currency)
    except ValueError as exc:
        raise DomainError(str(exc), field="amount") from exc
    if value <= 0:
        raise DomainError("The amount must be greater than zero.", field="amount")
    return value


def _check_fields(fields: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"unknown fields: {sorted(unknown)}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal | dt.date):
        return str(value)
    if hasattr(value, "pk"):
        return value.pk
    return value
