"""The receivables ledger: customers, their documents, and the allocations that settle invoices.

Allocations are append-only. A correction is a new row that reverses an earlier one, so the open amount of
any invoice as of any past date is `amount - sum(allocations dated on or before that date)`.
`Invoice.open_amount` keeps that value for today; `Invoice.closed_on` is the date from which the invoice
stays settled, which lets past-date aging skip every invoice settled before its as-of date.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from recoup.core.models import AmountField, CurrencyField, TimeStamped


class Customer(TimeStamped):
    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    currency = CurrencyField(default="USD")
    payment_terms_days = models.PositiveIntegerField(default=30)
    credit_limit = AmountField(null=True, blank=True)
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    timezone = models.CharField(max_length=64, default="UTC")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code, for the holiday calendar")
    language = models.CharField(max_length=16, default="en")
    on_hold = models.BooleanField(default=False, help_text="Credit hold: no new orders")
    do_not_dun = models.BooleanField(default=False, help_text="Never send reminders")
    # A free label the finance team groups customers by in reports ("Enterprise", "Retail", "Public sector").
    # A database default too: rows written by raw SQL (imports, older migrations' models) get "" as well.
    segment = models.CharField(max_length=64, blank=True, default="", db_default="")
    # Dunning reads these; empty means the invoice's, else the customer's, else the default policy applies.
    dunning_policy = models.ForeignKey(
        "dunning.DunningPolicy", null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class Contact(TimeStamped):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=64, blank=True)
    is_ap = models.BooleanField(default=True, help_text="Accounts-payable contact: receives statements")

    class Meta:
        ordering = ["customer_id", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(email="") | ~Q(phone=""), name="contact_has_email_or_phone"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone


class Invoice(TimeStamped):
    # Unique through a constraint, not unique=True, which would add a second (varchar_pattern_ops) index on
    # PostgreSQL; the customer's index is the leading column of invoice_customer_issue. Fewer indexes to
    # rebuild after a bulk import.
    external_id = models.CharField(max_length=64)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices", db_index=False)
    issue_date = models.DateField()
    due_date = models.DateField()
    amount = AmountField()
    currency = CurrencyField()
    # Maintained by services from the allocations: the open amount today and the date it settled for good.
    open_amount = AmountField()
    closed_on = models.DateField(null=True, blank=True)
    # Few invoices name a policy of their own: a partial index, not one over every row.
    dunning_policy = models.ForeignKey(
        "dunning.DunningPolicy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
        db_index=False,
    )

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            # Aging as of today reads only open invoices.
            models.Index(
                fields=["customer", "due_date", "issue_date", "open_amount", "currency"],
                condition=Q(open_amount__gt=0),
                name="invoice_open_aging",
            ),
            # The invoices list and worklists page through open invoices by due date.
            models.Index(fields=["due_date", "id"], condition=Q(open_amount__gt=0), name="invoice_open_due"),
            # Aging as of a past date reads the invoices open today (invoice_open_aging) and those settled
            # after that date (this one). Open invoices have no closed_on, so a first import builds it empty.
            models.Index(
                fields=["closed_on", "issue_date"],
                condition=Q(closed_on__isnull=False),
                name="invoice_closed_on",
            ),
            models.Index(fields=["customer", "issue_date"], name="invoice_customer_issue"),
            # Credit sales by day (KPIs, the dashboard's monthly series): an index-only scan of the period.
            models.Index(fields=["issue_date", "currency", "amount"], name="invoice_issue_date"),
            models.Index(
                fields=["dunning_policy"],
                condition=Q(dunning_policy__isnull=False),
                name="invoice_dunning_policy",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="invoice_external_id_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive"),
            models.CheckConstraint(
                condition=Q(due_date__gte=models.F("issue_date")), name="invoice_due_after_issue"
            ),
            models.CheckConstraint(
                condition=Q(open_amount__gte=0) & Q(open_amount__lte=models.F("amount")),
                name="invoice_open_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def is_open(self) -> bool:
        return self.open_amount > Decimal(0)


class CustomerCredit(TimeStamped):
    """What payments and credit notes share: a dated amount that settles invoices, the rest is unapplied."""

    external_id = models.CharField(max_length=64)  # unique through each subclass's constraint
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    amount = AmountField()
    currency = CurrencyField()
    # Maintained by services: the part not applied to any invoice, today.
    unapplied_amount = AmountField()

    class Meta:
        abstract = True
        ordering = ["date", "id"]

    def __str__(self) -> str:
        return self.external_id


class Payment(CustomerCredit):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments", db_index=False)
    reference = models.CharField(max_length=255, blank=True)

    class Meta(CustomerCredit.Meta):
        indexes = [
            models.Index(fields=["customer", "date"], name="payment_customer_date"),
            # Collections by day (KPIs, the dashboard): an index-only scan of the period.
            models.Index(fields=["date", "currency", "amount"], name="payment_date"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="payment_external_id_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(unapplied_amount__gte=0) & Q(unapplied_amount__lte=models.F("amount")),
                name="payment_unapplied_within_amount",
            ),
        ]


class CreditNote(CustomerCredit):
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="credit_notes", db_index=False
    )
    reason = models.CharField(max_length=255, blank=True)

    class Meta(CustomerCredit.Meta):
        indexes = [models.Index(fields=["customer", "date"], name="creditnote_customer_date")]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="creditnote_external_id_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="creditnote_amount_positive"),
            models.CheckConstraint(
                condition=Q(unapplied_amount__gte=0) & Q(unapplied_amount__lte=models.F("amount")),
                name="creditnote_unapplied_within_amount",
            ),
        ]


class AllocationKind(models.TextChoices):
    PAYMENT = "payment", "Payment"
    CREDIT_NOTE = "credit_note", "Credit note"
    WRITE_OFF = "write_off", "Write-off"


class Allocation(models.Model):
    """One application of a payment, credit note or write-off to an invoice. Never edited, never deleted.

    A reversal is a new row with the negated amount that points at the row it reverses.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    kind = models.CharField(max_length=16, choices=AllocationKind.choices)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    credit_note = models.ForeignKey(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations"
    )
    amount = AmountField()
    currency = CurrencyField()
    date = models.DateField()
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    memo = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "id"]
        indexes = [
            # Aging as of a past date sums each candidate invoice's allocations up to that date: an index-only
            # probe per invoice.
            models.Index(fields=["invoice", "date", "amount"], name="allocation_invoice_date_amount"),
            models.Index(fields=["date"], name="allocation_date"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="payment", payment__isnull=False, credit_note__isnull=True)
                    | Q(kind="credit_note", credit_note__isnull=False, payment__isnull=True)
                    | Q(kind="write_off", payment__isnull=True, credit_note__isnull=True)
                ),
                name="allocation_source_matches_kind",
            ),
            # An original row applies a positive amount; only a reversal carries a negative one.
            models.CheckConstraint(
                condition=(Q(reverses__isnull=True, amount__gt=0) | Q(reverses__isnull=False, amount__lt=0)),
                name="allocation_sign_matches_reversal",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} → {self.invoice_id} on {self.date}"


class FxRate(models.Model):
    """1 unit of `currency` is worth `rate` units of BASE_CURRENCY from `date` until the next rate."""

    currency = CurrencyField()
    date = models.DateField()
    rate = models.DecimalField(max_digits=20, decimal_places=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["currency", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "date"], name="fxrate_unique_currency_date"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="fxrate_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.rate} on {self.date}"


class LedgerRevision(models.Model):
    """How many times the ledger's dated facts of one month have changed: the watermark a stored figure (a
    month-end aging snapshot) is checked against before it is reused.

    Kept by database triggers (migration 0008), not by Python, so that no write can miss it: every insert,
    delete or fact-changing update of an invoice (issue date, due date, amount, currency, customer), an
    allocation (date, amount, invoice) or an FX rate (currency, date, rate) adds 1 to a row of the month of
    its date (the earliest date a statement touches; a TRUNCATE counts on 0001-01-01, before every month).
    A change of a customer's name, external id or collector (migration 0009), which aging shows and no date
    places, counts on `month` NULL.

    A figure as of D read `ledger_revision(through=D)` before it read the ledger; while that sum is unchanged,
    nothing dated on or before D has been committed since. Rows are only ever incremented, never deleted, so
    the sum only grows. A month has more than one row only when several transactions wrote to it at once: a
    writer takes a row of the month no one else holds (SKIP LOCKED), or adds one, and never waits for another.
    """

    month = models.DateField(null=True, help_text="The first day of the month; NULL: undated changes")
    changes = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["month", "id"]

    def __str__(self) -> str:
        return f"{self.month or 'undated'}: {self.changes} changes"
