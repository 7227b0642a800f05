"""Stored month-end aging: the close of each month, small enough to answer the dashboard's trends at once.

A snapshot is derived data. Each figure can be rebuilt exactly from the ledger's dated facts (recoup
reports snapshots), so nothing here is a source of truth (docs/reports.md, "Month-end snapshots").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from recoup.core.models import AmountField, CurrencyField

# The aging buckets a snapshot keeps, in order: the default ones (30, 60, 90, 120), by due date.
BUCKET_FIELDS = ("current", "days_1_30", "days_31_60", "days_61_90", "days_91_120", "days_over_120")


class AgingSnapshotMonth(models.Model):
    """That a month-end's snapshot exists (a month with no open AR has no AgingSnapshot rows), when it was
    built, and the FX rates its amounts were converted at. Its row is also what two builders of the same
    month-end queue on."""

    month_end = models.DateField(unique=True)
    built_at = models.DateTimeField()
    # [{"currency": "EUR", "rate": "1.0800000000", "date": "2020-01-01"}, …]: the currencies other than the
    # base one that had AR open at the month-end, each with the rate it was converted at.
    rates = models.JSONField(default=list)
    # The base currency the amounts are in, and the ledger's watermark up to the month-end read before the
    # build read the ledger (recoup.ledger.selectors.ledger_revisions; NULL: built before it was kept). While
    # both are still the same, the snapshot is the ledger's answer for that day, to the cent, and kpis() uses
    # it; otherwise it is only the close as reported.
    currency = CurrencyField(blank=True, default="")
    ledger_revision = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["month_end"]

    def __str__(self) -> str:
        return f"Aging snapshot of {self.month_end}"


class AgingSnapshot(models.Model):
    """The AR open at the end of `month_end`, in BASE_CURRENCY, for one group of customers and one currency.

    One row per (month_end, collector, currency, customer currency, segment): grouped, never per customer,
    so three years of month-ends stay a few thousand rows, and every filter of the dashboard (collector, team
    through the collector's team, currency, segment) sums rows instead of aging the ledger again.

    The collector, the segment and the customer's currency are the customer's **when the snapshot was
    built**: a customer moved to another collector later still counts for the old one in a stored month-end,
    until that month-end is rebuilt. The team is not stored: it is read through the collector's team today.

    The amounts are exactly aging_report(as_of=month_end)'s: each customer's per-currency bucket sums,
    converted at the rate dated on or before the month-end and rounded to the base currency's minor unit,
    then added up.
    """

    month_end = models.DateField()
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    currency = CurrencyField(help_text="The invoices' currency (the amounts are in the base currency).")
    customer_currency = CurrencyField(help_text="The customers' currency: the dashboard's currency filter.")
    segment = models.CharField(max_length=64, blank=True, default="")
    current = AmountField(help_text="Not yet due: 0 days past due or fewer.")
    days_1_30 = AmountField()
    days_31_60 = AmountField()
    days_61_90 = AmountField()
    days_91_120 = AmountField()
    days_over_120 = AmountField()
    total = AmountField()
    open_invoices = models.PositiveIntegerField()
    built_at = models.DateTimeField()

    class Meta:
        ordering = ["month_end", "collector_id", "currency", "customer_currency", "segment"]
        # No unique constraint: a month-end's rows are replaced as a whole in one transaction, and a deleted
        # collector's rows fall to "no collector" next to that group's own, which sums to the same figures.
        indexes = [models.Index(fields=["month_end"], name="agingsnapshot_month_end")]

    def __str__(self) -> str:
        return f"Aging at {self.month_end}: {self.total} ({self.currency}, {self.segment or 'no segment'})"
