"""Disputes: a customer contests part or all of an invoice. While a dispute is open, its amount is not dunned.

A dispute has a reason (with an SLA and a default owner team), an owner (a user, a team or both), a status
that moves open → in review → resolved, and on resolution an outcome that acts through the ledger services.
Comments, documents and every status change are rows of their own, never edited.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from recoup.core.models import AmountField, CurrencyField, TimeStamped
from recoup.ledger.models import Allocation, CreditNote, Invoice
from recoup.users.models import Team


class DisputeReason(models.Model):
    """A configurable reason code. `sla_days` after a dispute opens, it is due resolved."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100, unique=True)
    sla_days = models.PositiveIntegerField(default=10, help_text="Calendar days from opening to resolution.")
    default_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="dispute_reasons"
    )
    is_active = models.BooleanField(default=True, help_text="Inactive reasons stay on old disputes only.")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    RESOLVED = "resolved", "Resolved"


ACTIVE_STATUSES = (DisputeStatus.OPEN, DisputeStatus.IN_REVIEW)


class Outcome(models.TextChoices):
    CREDIT_NOTE = "credit_note", "Credit note"
    REJECTED = "rejected", "Rejected"
    CUSTOMER_PAID = "customer_paid", "Customer paid"
    WRITTEN_OFF = "written_off", "Written off"


class Dispute(TimeStamped):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="disputes")
    amount = AmountField()
    currency = CurrencyField()
    status = models.CharField(max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    reason = models.ForeignKey(DisputeReason, on_delete=models.PROTECT, related_name="disputes")
    note = models.TextField(blank=True)
    # The owner: a person, a team, or a person in a team. A resolver sees the disputes of their team.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_disputes",
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="disputes")
    opened_on = models.DateField()
    sla_due_on = models.DateField(help_text="The last day to resolve it within the reason's SLA.")
    sla_breached_on = models.DateField(
        null=True, blank=True, help_text="When the SLA check found it unresolved past its SLA."
    )
    resolved_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    # What the outcome wrote to the ledger: the credit note it issued, or the write-off.
    credit_note = models.ForeignKey(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="disputes"
    )
    write_off = models.ForeignKey(
        Allocation, null=True, blank=True, on_delete=models.PROTECT, related_name="disputes"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["opened_on", "id"]
        indexes = [
            models.Index(fields=["invoice"], condition=~Q(status="resolved"), name="dispute_active_invoice"),
            models.Index(fields=["status", "opened_on"], name="dispute_status_opened"),
            models.Index(fields=["team", "status"], name="dispute_team_status"),
            models.Index(fields=["owner", "status"], name="dispute_owner_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="dispute_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_on__isnull=False) & ~Q(outcome="")
                | ~Q(status="resolved") & Q(resolved_on__isnull=True, outcome=""),
                name="dispute_resolved_has_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.pk} on {self.invoice_id}: {self.amount} {self.currency}"

    @property
    def is_active(self) -> bool:
        return self.status != DisputeStatus.RESOLVED

    def age_days(self, today: dt.date) -> int:
        return ((self.resolved_on or today) - self.opened_on).days


class DisputeStatusChange(models.Model):
    """One move of a dispute's status: who, when, from, to. The first row of every dispute has no `from`."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=16, choices=DisputeStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=DisputeStatus.choices)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"


class DisputeComment(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="comments")
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:60]


def document_path(document: DisputeDocument, filename: str) -> str:
    # The stored name never comes from the user: a random part, then the already-sanitised name.
    return f"disputes/{document.dispute_id}/{document.token}-{filename}"


class DisputeDocument(models.Model):
    """A file attached to a dispute, kept in Django's storage and served only to signed-in users."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="documents")
    file = models.FileField(upload_to=document_path, max_length=255)
    token = models.CharField(max_length=32, editable=False)
    name = models.CharField(max_length=150, help_text="The uploaded file's name, made safe.")
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.name
