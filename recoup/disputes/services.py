"""Writes to disputes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from recoup.activity.models import EntryKind
from recoup.activity.services import timeline_add
from recoup.core.errors import DomainError
from recoup.core.events import record_event
from recoup.core.money import MoneyError, parse_amount, quantize
from recoup.disputes.models import ACTIVE_STATUSES, Dispute, DisputeStatus
from recoup.ledger.models import Invoice


@transaction.atomic
def dispute_open(
    *,
    actor: Any,
    invoice: Invoice,
    amount: Decimal | str | None = None,
    reason: str = "",
    note: str = "",
    opened_on: dt.date | None = None,
) -> Dispute:
    """Dispute `amount` of the invoice (all that is open when omitted). Together, the invoice's active
    disputes can never exceed its open amount."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    disputed = Dispute.objects.filter(invoice=invoice, status__in=ACTIVE_STATUSES).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)
    room = quantize(invoice.open_amount - disputed, invoice.currency)
    if amount is None:
        value = room
    else:
        try:
            value = parse_amount(amount, invoice.currency)
        except MoneyError as exc:
            raise DomainError(str(exc), field="amount") from exc
    if value <= 0:
        raise DomainError("A dispute must be for more than zero.", field="amount")
    if value > room:
        raise DomainError(
            f"{invoice.external_id} has {room} {invoice.currency} open and not yet disputed; "
            f"a dispute of {value} would exceed it.",
            field="amount",
        )
    dispute = Dispute.objects.create(
        invoice=invoice,
        amount=value,
        currency=invoice.currency,
        reason=reason,
        note=note,
        opened_on=opened_on or timezone.localdate(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _on_timeline(dispute, f"Dispute opened on {invoice.external_id}: {value} {invoice.currency}", note, actor)
    record_event(
        actor=actor, verb="dispute.opened", target=dispute, data={"amount": str(value), "reason": reason}
    )
    return dispute


@transaction.atomic
def dispute_resolve(
    *, actor: Any, dispute: Dispute, outcome: str, note: str = "", resolved_on: dt.date | None = None
) -> Dispute:
    """Close the dispute; dunning takes up its amount again from the invoice's current level."""
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    if dispute.status == DisputeStatus.RESOLVED:
        raise DomainError("The dispute is already resolved.", field="status")
    before = dispute.status
    dispute.status = DisputeStatus.RESOLVED
    dispute.outcome = outcome
    dispute.resolved_on = resolved_on or timezone.localdate()
    if note:
        dispute.note = f"{dispute.note}\n\n{note}".strip()
    dispute.save()
    _on_timeline(dispute, f"Dispute resolved on {dispute.invoice.external_id}: {outcome}", note, actor)
    record_event(
        actor=actor,
        verb="dispute.resolved",
        target=dispute,
        data={"from": before, "to": dispute.status, "outcome": outcome},
    )
    return dispute


def _on_timeline(dispute: Dispute, title: str, note: str, actor: Any) -> None:
    timeline_add(
        customer=dispute.invoice.customer_id,
        kind=EntryKind.DISPUTE,
        title=title,
        body=note,
        status=dispute.status,
        source=dispute,
        invoices=[dispute.invoice_id],
        actor=actor,
    )
