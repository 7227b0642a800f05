"""The customer's activity: the timeline of what happened, the tasks people must do, and promises to pay.

This is the part the dunning issue needs: tasks that rules create (call levels, escalations) without ever
duplicating an open one, timeline entries for every message sent, and promises whose pending window pauses
dunning. The collector workspace builds the rest (calls, notes, inbound email, promise evaluation) on it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from recoup.core.models import AmountField, CurrencyField, TimeStamped
from recoup.ledger.models import Customer, Invoice
from recoup.users.models import Role


class TaskKind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    REVIEW = "review", "Review"
    ESCALATION = "escalation", "Escalation"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class Task(TimeStamped):
    """Work for a person (`owner`) or, while nobody owns it, for everyone with `role`.

    `source_key` names the rule and subject that made the task, e.g. "dunning-call:1234". While a task is
    open no second task with the same key can exist, so a rule that fires twice creates one task.
    """

    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tasks")
    invoices = models.ManyToManyField(Invoice, blank=True, related_name="tasks")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    role = models.CharField(max_length=16, choices=Role.choices, blank=True)
    due_date = models.DateField()
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    source_key = models.CharField(max_length=128, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(fields=["customer", "status"], name="task_customer_status"),
            models.Index(fields=["owner", "status", "due_date"], name="task_owner_status_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source_key"],
                condition=Q(status="open") & ~Q(source_key=""),
                name="task_one_open_per_source",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class EntryKind(models.TextChoices):
    EMAIL_OUT = "email_out", "Email sent"
    LETTER = "letter", "Letter"
    CALL_TASK = "call_task", "Call task"
    TASK = "task", "Task"
    CREDIT_HOLD = "credit_hold", "Credit hold"
    PROMISE = "promise", "Promise to pay"
    DISPUTE = "dispute", "Dispute"


class TimelineEntry(models.Model):
    """One thing that happened with a customer, in the order it happened. Written by services, never edited.

    `source` names the row behind the entry ("dunning.outboundmessage:17"), so a page can link to it.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    occurred_at = models.DateTimeField()
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=32, blank=True)
    source_type = models.CharField(max_length=64, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    invoices = models.ManyToManyField(Invoice, blank=True, related_name="timeline_entries")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = "timeline entries"
        indexes = [models.Index(fields=["customer", "-occurred_at"], name="timeline_customer_time")]

    def __str__(self) -> str:
        return self.title


class PromiseStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    KEPT = "kept", "Kept"
    PARTIALLY_KEPT = "partially_kept", "Partially kept"
    BROKEN = "broken", "Broken"
    CANCELLED = "cancelled", "Cancelled"


class PromiseChannel(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    PORTAL = "portal", "Portal"


class Promise(TimeStamped):
    """A customer's promise to pay `amount` by `promised_date`.

    While it is pending, dunning leaves the invoices it covers alone until `promised_date + grace_days`; a
    promise that names no invoice covers all of the customer's invoices.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="promises")
    invoices = models.ManyToManyField(Invoice, blank=True, related_name="promises")
    amount = AmountField()
    currency = CurrencyField()
    promised_date = models.DateField()
    grace_days = models.PositiveIntegerField(default=3)
    channel = models.CharField(max_length=16, choices=PromiseChannel.choices, default=PromiseChannel.CALL)
    status = models.CharField(max_length=16, choices=PromiseStatus.choices, default=PromiseStatus.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["promised_date", "id"]
        indexes = [models.Index(fields=["status", "promised_date"], name="promise_status_date")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} by {self.promised_date}"
