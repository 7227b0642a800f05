"""The customer's activity: the timeline of what happened, the tasks people must do, promises to pay, calls,
notes and the email that arrives in the collections mailbox.

Tasks are made by people and by rules (TaskRule), and a rule never duplicates an open task. Promises pause
dunning while pending and are evaluated against allocations. Inbound email is read over IMAP exactly once per
(mailbox, UIDVALIDITY, UID) and matched to a customer, or left in the unmatched queue.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from recoup.core.models import AmountField, CurrencyField, TimeStamped
from recoup.ledger.models import Customer, Invoice
from recoup.users.models import Role


class TaskTrigger(models.TextChoices):
    """What makes a rule create a task. Each trigger has at most one rule."""

    DUNNING_CALL = "dunning_call", "Dunning call level"
    BROKEN_PROMISE = "broken_promise", "Broken promise"
    DISPUTE_SLA = "dispute_sla", "Dispute SLA breach"
    CREDIT_LIMIT = "credit_limit", "Over the credit limit"


class TaskKind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    REVIEW = "review", "Review"
    ESCALATION = "escalation", "Escalation"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class TaskRule(TimeStamped):
    """How one trigger makes its tasks: the kind, when they are due, and the team whose members share them
    round robin when the customer has no collector."""

    trigger = models.CharField(max_length=32, choices=TaskTrigger.choices, unique=True)
    is_active = models.BooleanField(default=True)
    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    due_in_days = models.PositiveSmallIntegerField(default=0, help_text="Days after the trigger fires.")
    team = models.ForeignKey(
        "users.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="task_rules"
    )
    min_amount = AmountField(
        default=0, help_text="Fire only when the amount at stake, in the base currency, is at least this."
    )

    class Meta:
        ordering = ["trigger"]

    def __str__(self) -> str:
        return self.get_trigger_display()


class AssignmentRule(models.Model):
    """The last resort of assignment: customers of a segment, or of an open-balance band, go to a user or
    round robin to a team. The first active rule by position that matches wins."""

    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    segment = models.CharField(max_length=64, blank=True, help_text="Empty: any segment.")
    min_balance = AmountField(null=True, blank=True, help_text="Base-currency open balance, inclusive.")
    max_balance = AmountField(null=True, blank=True, help_text="Exclusive.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey("users.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(team__isnull=False), name="assignment_rule_has_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.segment or 'any segment'} → {self.user or self.team}"


class RoundRobin(models.Model):
    """Where a team's round robin stands: the member who got the last task."""

    team = models.OneToOneField("users.Team", on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"round robin of {self.team_id}"


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
    rule = models.ForeignKey(TaskRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
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
    EMAIL_IN = "email_in", "Email received"
    CALL = "call", "Call"
    NOTE = "note", "Note"
    LETTER = "letter", "Letter"
    CALL_TASK = "call_task", "Call task"
    TASK = "task", "Task"
    CREDIT_HOLD = "credit_hold", "Credit hold"
    PROMISE = "promise", "Promise to pay"
    DISPUTE = "dispute", "Dispute"
    # Read from the ledger when a timeline is shown, never stored: imports write millions of them.
    PAYMENT = "payment", "Payment"
    CREDIT_NOTE = "credit_note", "Credit note"


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
    """A customer's promise to pay `amount` by `promised_date`, made on `made_on`.

    While it is pending, dunning leaves the invoices it covers alone until `promised_date + grace_days`; a
    promise that names no invoice covers all of the customer's invoices. Evaluation counts the payments
    allocated to what it covers from `made_on` to the deadline into `paid_amount`; a shortfall of at most
    `tolerance_percent` of the amount is "partially kept".
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="promises")
    invoices = models.ManyToManyField(Invoice, blank=True, related_name="promises")
    amount = AmountField()
    currency = CurrencyField()
    promised_date = models.DateField()
    grace_days = models.PositiveIntegerField(default=3)
    channel = models.CharField(max_length=16, choices=PromiseChannel.choices, default=PromiseChannel.CALL)
    status = models.CharField(max_length=16, choices=PromiseStatus.choices, default=PromiseStatus.PENDING)
    made_on = models.DateField(null=True, blank=True, help_text="The business date the promise was made.")
    tolerance_percent = models.DecimalField(max_digits=5, decimal_places=2, default=10)
    paid_amount = AmountField(default=0)
    evaluated_on = models.DateField(null=True, blank=True)
    resolved_on = models.DateField(null=True, blank=True, help_text="When it was found kept or broken.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="promises",
        help_text="Who follows it up: its maker, else the customer's collector.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["promised_date", "id"]
        indexes = [models.Index(fields=["status", "promised_date"], name="promise_status_date")]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} by {self.promised_date}"


class CallOutcome(models.TextChoices):
    REACHED = "reached", "Reached"
    VOICEMAIL = "voicemail", "Voicemail"
    NO_ANSWER = "no_answer", "No answer"
    WRONG_NUMBER = "wrong_number", "Wrong number"


class Call(models.Model):
    """A phone call a collector made (or took), with what came of it."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="calls")
    contact = models.ForeignKey(
        "ledger.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    invoices = models.ManyToManyField(Invoice, blank=True, related_name="calls")
    outcome = models.CharField(max_length=16, choices=CallOutcome.choices)
    duration_seconds = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True)
    called_at = models.DateTimeField()
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    promise = models.OneToOneField(
        Promise, null=True, blank=True, on_delete=models.SET_NULL, related_name="call"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-called_at", "-id"]
        indexes = [models.Index(fields=["customer", "-called_at"], name="call_customer_time")]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} call to {self.customer_id}"


class Note(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    invoices = models.ManyToManyField(Invoice, blank=True, related_name="notes")
    body = models.TextField()
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.body[:50]


class Mailbox(models.Model):
    """Where the IMAP poller stands in one folder: the UIDVALIDITY it read under and the last UID it took.

    A new UIDVALIDITY means the server renumbered the folder: UIDs start over, and (mailbox, uidvalidity,
    uid) on each InboundEmail still keeps every message to one row.
    """

    key = models.CharField(max_length=255, unique=True, help_text="user@host:port/folder")
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.key


class InboundStatus(models.TextChoices):
    MATCHED = "matched", "Matched"
    UNMATCHED = "unmatched", "Unmatched"
    ASSIGNED = "assigned", "Assigned by hand"
    IGNORED = "ignored", "Ignored"


class MatchedBy(models.TextChoices):
    REPLY = "reply", "Reply to our message"
    SENDER = "sender", "Sender's address"
    DOMAIN = "domain", "Sender's domain"
    INVOICE = "invoice", "Invoice number"
    MANUAL = "manual", "By hand"


class InboundEmail(models.Model):
    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="emails")
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()
    message_id = models.CharField(max_length=998, blank=True)
    in_reply_to = models.TextField(blank=True)
    references = models.TextField(blank=True)
    from_address = models.CharField(max_length=320, blank=True)
    from_name = models.CharField(max_length=255, blank=True)
    to = models.TextField(blank=True)
    subject = models.TextField(blank=True)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="The Date header.")
    received_at = models.DateTimeField(auto_now_add=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_emails"
    )
    invoices = models.ManyToManyField(Invoice, blank=True, related_name="inbound_emails")
    status = models.CharField(max_length=16, choices=InboundStatus.choices)
    matched_by = models.CharField(max_length=16, choices=MatchedBy.choices, blank=True)
    is_auto_reply = models.BooleanField(default=False, help_text="An out-of-office or other automatic reply.")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="inbound_status_time"),
            models.Index(fields=["customer", "-received_at"], name="inbound_customer_time"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "uidvalidity", "uid"], name="inbound_once_per_uid"),
        ]

    def __str__(self) -> str:
        return self.subject[:80] or f"message {self.uid}"


class InboundAttachment(models.Model):
    email = models.ForeignKey(InboundEmail, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="inbound/%Y/%m/")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, blank=True)
    size = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename
