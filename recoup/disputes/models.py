"""Disputes: a customer contests part or all of an invoice. While a dispute is open, its amount is not dunned.

This is the record the dunning issue needs (amount, status, dates); the disputes workflow (reasons with SLAs,
owners, documents, comments, outcomes that act through the ledger) builds on it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from recoup.core.models import AmountField, CurrencyField, TimeStamped
from recoup.ledger.models import Invoice


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    RESOLVED = "resolved", "Resolved"


ACTIVE_STATUSES = (DisputeStatus.OPEN, DisputeStatus.IN_REVIEW)


class Dispute(TimeStamped):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="disputes")
    amount = AmountField()
    currency = CurrencyField()
    status = models.CharField(max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    reason = models.CharField(max_length=64, blank=True)
    note = models.TextField(blank=True)
    opened_on = models.DateField()
    resolved_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=32, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-opened_on", "-id"]
        indexes = [
            models.Index(fields=["invoice"], condition=~Q(status="resolved"), name="dispute_active_invoice"),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="dispute_amount_positive")]

    def __str__(self) -> str:
        return f"Dispute {self.pk} on {self.invoice_id}: {self.amount} {self.currency}"
