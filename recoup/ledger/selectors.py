"""Reads from the ledger."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from recoup.core.errors import DomainError
from recoup.ledger.models import Allocation, CreditNote, Customer, FxRate, Invoice, Payment

ZERO = Decimal(0)


def invoice_open_amount_as_of(*, invoice: Invoice, as_of: dt.date) -> Decimal:
    """amount − the allocations dated on or before `as_of` (DESIGN.md, "Open amount")."""
    applied = (Allocation.objects.filter(invoice=invoice, date__lte=as_of)
               .aggregate(total=Sum("amount"))["total"]) or ZERO
    return invoice.amount - applied


def customer_unapplied_as_of(*, customer: Customer, as_of: dt.date) -> dict[str, Decimal]:
    """Unapplied cash and credit notes dated on or before `as_of`, by currency."""
    totals: dict[str, Decimal] = {}
    for model, field in ((Payment, "payment"), (CreditNote, "credit_note")):
        docs = model.objects.filter(customer=customer, date__lte=as_of)
        for currency, amount in docs.values("currency").annotate(total=Sum("amount")).values_list(
                "currency", "total"):
            totals[currency] = totals.get(currency, ZERO) + amount
        used = (Allocation.objects.filter(**{f"{field}__customer": customer, f"{field}__date__lte": as_of},
                                          date__lte=as_of)
                .values("currency").annotate(total=Sum("amount")).values_list("currency", "total"))
        for currency, amount in used:
            totals[currency] = totals.get(currency, ZERO) - amount
    return {currency: total for currency, total in totals.items() if total}


@dataclass(frozen=True)
class RateUsed:
    currency: str
    rate: Decimal
    date: dt.date | None  # None for the base currency itself


def fx_rate_as_of(*, currency: str, as_of: dt.date) -> RateUsed:
    """The rate dated on or before `as_of`. Raises DomainError when there is none."""
    if currency == settings.BASE_CURRENCY:
        return RateUsed(currency, Decimal(1), None)
    fx = FxRate.objects.filter(currency=currency, date__lte=as_of).order_by("-date").first()
    if fx is None:
        raise DomainError(f"No {currency}→{settings.BASE_CURRENCY} rate is dated on or before {as_of}.",
                          field="currency", code="missing_fx_rate")
    return RateUsed(currency, fx.rate, fx.date)
