"""Dunning: policies and their levels, runs, each invoice's dunning state, and the outbox of messages.

A run for an as-of date moves invoices up their policy's levels and writes, per customer and channel, one
outbox row whose key (customer, level, channel, as-of date) is unique. The row is committed before anything
is sent; senders claim rows with a conditional UPDATE, so no message goes out twice and none is lost.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from recoup.core.models import AmountField, CurrencyField, TimeStamped
from recoup.dunning.rules import MESSAGE_CHANNELS
from recoup.ledger.models import Customer, Invoice
from recoup.users.models import Role


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter (PDF)"
    CALL = "call", "Call task"


class DunningPolicy(TimeStamped):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    allow_level_jump = models.BooleanField(
        default=False,
        help_text="Move an invoice straight to the highest level it qualifies for, instead of one per send.",
    )
    tolerance = AmountField(
        default=1,
        help_text="Invoices whose dunnable amount is below this (in the base currency) are skipped.",
    )
    default_language = models.CharField(max_length=16, default="en")
    use_suggested_timing = models.BooleanField(
        default=False,
        help_text="Send at the hour of the day the customer's touches were answered best (the insights' "
        "next best action) instead of the configured send time.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "dunning policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_policy"
            )
        ]

    def __str__(self) -> str:
        return self.name


class DunningLevel(models.Model):
    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField(help_text="1 for the first level, then 2, 3, …")
    name = models.CharField(max_length=100)
    offset_days = models.IntegerField(help_text="Days after the due date; negative means before it.")
    channels = models.JSONField(default=list, blank=True, help_text="Some of: email, letter, call.")
    min_amount = AmountField(default=0, help_text="Smallest dunnable amount, in the base currency.")
    min_gap_days = models.PositiveIntegerField(
        default=0, help_text="Days that must pass since the customer's last reminder."
    )
    task_role = models.CharField(
        max_length=16, choices=Role.choices, blank=True, help_text="Create a review task for this role."
    )
    set_credit_hold = models.BooleanField(default=False)

    class Meta:
        ordering = ["policy_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="dunning_level_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} · {self.position}. {self.name}"

    @property
    def writes(self) -> bool:
        """Whether the level writes to the customer (email or letter), not only acts."""
        return bool(MESSAGE_CHANNELS.intersection(self.channels))


class DunningTemplate(TimeStamped):
    """A level's message in one language: Django template syntax over plain values (docs/dunning.md)."""

    level = models.ForeignKey(DunningLevel, on_delete=models.CASCADE, related_name="templates")
    language = models.CharField(max_length=16)
    subject = models.CharField(max_length=255)
    body = models.TextField()

    class Meta:
        ordering = ["level_id", "language"]
        constraints = [
            models.UniqueConstraint(fields=["level", "language"], name="dunning_template_language_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.level} [{self.language}]"


class RunStatus(models.TextChoices):
    PLANNING = "planning", "Planning"
    PLANNED = "planned", "Planned"
    FAILED = "failed", "Failed"


class DunningRun(models.Model):
    """One run for one as-of date, with its report. Dry runs are never stored."""

    as_of = models.DateField()
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PLANNING)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-as_of", "-id"]
        constraints = [
            # Runs never overlap: a second run waits for (or takes over a stale) one in progress.
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="planning"), name="one_dunning_run_planning"
            ),
        ]

    def __str__(self) -> str:
        return f"Dunning run {self.pk} as of {self.as_of}"


class InvoiceDunning(models.Model):
    """An invoice's own dunning state: the level it reached and when it last moved."""

    invoice = models.OneToOneField(
        Invoice, on_delete=models.CASCADE, primary_key=True, related_name="dunning"
    )
    level = models.ForeignKey(DunningLevel, on_delete=models.PROTECT, related_name="+")
    moved_on = models.DateField()
    run = models.ForeignKey(DunningRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "invoice dunning state"

    def __str__(self) -> str:
        return f"{self.invoice_id} at {self.level_id} since {self.moved_on}"


class DunningStep(models.Model):
    """The history of the states: one row each time an invoice moves to a level."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="dunning_steps")
    level = models.ForeignKey(DunningLevel, on_delete=models.PROTECT, related_name="+")
    from_level = models.ForeignKey(
        DunningLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    run = models.ForeignKey(DunningRun, on_delete=models.PROTECT, related_name="steps")
    as_of = models.DateField()
    dunned_amount = AmountField()
    currency = CurrencyField()

    class Meta:
        ordering = ["as_of", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "level", "as_of"], name="dunning_step_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} → {self.level_id} as of {self.as_of}"


def hold_in_force(as_of: dt.date) -> Q:
    """A hold pauses dunning on `as_of` while it is not released and not past its last day."""
    return Q(released_at__isnull=True) & (Q(until__isnull=True) | Q(until__gte=as_of))


class DunningHoldQuerySet(models.QuerySet["DunningHold"]):
    def in_force(self, as_of: dt.date) -> DunningHoldQuerySet:
        return self.filter(hold_in_force(as_of))


class DunningHold(models.Model):
    """A pause: no dunning for the customer (invoice empty) or for one invoice, until `until` or release."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="dunning_holds")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="dunning_holds"
    )
    reason = models.CharField(max_length=255)
    until = models.DateField(null=True, blank=True, help_text="Last day of the hold; empty: until released.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)

    objects = DunningHoldQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["customer"], condition=Q(released_at__isnull=True), name="dunning_hold_active"
            ),
        ]

    def __str__(self) -> str:
        return f"Hold on {self.invoice_id or self.customer_id}: {self.reason}"

    def in_force_on(self, as_of: dt.date) -> bool:
        """hold_in_force, for one hold in hand."""
        return self.released_at is None and (self.until is None or self.until >= as_of)


class Tone(models.TextChoices):
    FRIENDLY = "friendly", "Friendly"
    FIRM = "firm", "Firm"


class MessageTemplate(TimeStamped):
    """A template for an email a collector sends by hand, outside any dunning level ("Copy of invoice",
    "Payment plan proposal"). It goes out through the same outbox as reminders."""

    name = models.CharField(max_length=100)
    language = models.CharField(max_length=16, default="en")
    tone = models.CharField(max_length=16, choices=Tone.choices, default=Tone.FRIENDLY)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["name", "language"], name="message_template_name_language"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class OutboundMessage(models.Model):
    """One communication to one customer on one channel: the outbox row.

    A reminder has a level, and (customer, level, channel, as_of) is its idempotency key. An email a
    person sends by hand has no level: its subject and body are rendered when it is queued, and
    `request_key` (one per submitted form or API request) is its idempotency key. `message_id` is fixed
    when the row is written, so a retry carries the same Message-ID and replies thread onto it.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="dunning_messages")
    level = models.ForeignKey(
        DunningLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    request_key = models.CharField(max_length=64, blank=True)
    invoices = models.ManyToManyField(
        Invoice, blank=True, related_name="+", help_text="The invoices a manual email concerns."
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    as_of = models.DateField()
    run = models.ForeignKey(
        DunningRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    send_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True, help_text="Last handed to a worker queue.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    language = models.CharField(max_length=16, default="en")
    recipients = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    document = models.FileField(upload_to="dunning/letters/%Y/%m/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        indexes = [
            # The sender's queue: what is due, oldest first.
            models.Index(
                fields=["send_at"], condition=Q(status__in=["pending", "sending"]), name="outbox_due"
            ),
            models.Index(fields=["customer", "as_of"], name="outbox_customer_as_of"),
            models.Index(fields=["message_id"], condition=~Q(message_id=""), name="outbox_message_id"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "level", "channel", "as_of"], name="outbox_idempotency_key"
            ),
            models.UniqueConstraint(
                fields=["request_key"], condition=~Q(request_key=""), name="outbox_request_key"
            ),
            models.CheckConstraint(
                condition=Q(level__isnull=False) | ~Q(request_key=""), name="outbox_manual_has_request_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} to {self.customer_id} ({self.level_id}) as of {self.as_of}"

    @property
    def key(self) -> str:
        if self.level_id is None:
            return f"manual:{self.request_key}"
        return f"{self.customer_id}:{self.level_id}:{self.channel}:{self.as_of.isoformat()}"


class MessageItem(models.Model):
    """An invoice a message lists, at its level, with the amounts as planned."""

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="items")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+")
    level = models.ForeignKey(DunningLevel, on_delete=models.PROTECT, related_name="+")
    is_new = models.BooleanField(default=True, help_text="Moved to this level by this run.")
    open_amount = AmountField()
    disputed_amount = AmountField(default=0)
    currency = CurrencyField()
    days_past_due = models.IntegerField()

    class Meta:
        ordering = ["message_id", "id"]
        constraints = [models.UniqueConstraint(fields=["message", "invoice"], name="message_item_unique")]

    def __str__(self) -> str:
        return f"{self.invoice_id} in message {self.message_id}"
