"""Insights: stored model versions, the predictions of every open invoice, each customer's priority terms, the
weights managers give those terms, and the backtests run.

Predictions and terms are derived data: `services.scores_refresh` rebuilds them all, `rescore_customer` one
customer's. The terms are columns, so a worklist orders customers by their weighted sum in SQL
(`selectors.priority_score_expression`).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from recoup.core.models import AmountField
from recoup.ledger.models import Customer, Invoice


class PredictionModel(models.Model):
    """One trained version: its training window, its validation figures and the fitted estimators (a joblib
    file kept in the database, never downloaded). Exactly one version is active at a time."""

    version = models.PositiveIntegerField(unique=True)
    algorithm = models.CharField(max_length=64)
    trained_at = models.DateTimeField(auto_now_add=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    train_from = models.DateField(help_text="The first issue date of the invoices learnt from.")
    trained_through = models.DateField(help_text="The last day whose facts the model saw.")
    invoices = models.PositiveIntegerField(help_text="Invoices issued in the window.")
    settled_invoices = models.PositiveIntegerField(help_text="Of those, the ones settled by its end.")
    moments = models.PositiveIntegerField(help_text="Training rows: each invoice at its issue and landmarks.")
    seconds = models.FloatField(default=0)
    config = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict, help_text="The time-split validation inside the window.")
    feature_names = models.JSONField(default=list)
    sklearn_version = models.CharField(max_length=32)
    estimator = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    is_active = models.BooleanField(default=False)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_model"
            )
        ]

    def __str__(self) -> str:
        return f"model v{self.version} (through {self.trained_through})"


class Method(models.TextChoices):
    MODEL = "model", "Model"
    CUSTOMER_AVERAGE = "customer_average", "Baseline: the customer's average"
    TERMS = "terms", "Baseline: the payment terms"


class InvoicePrediction(models.Model):
    """When one open invoice will be settled, as of `as_of`. Baseline rows (too little history for a model)
    say so in `method` and leave what the baseline cannot tell empty."""

    invoice = models.OneToOneField(
        Invoice, primary_key=True, on_delete=models.CASCADE, related_name="prediction"
    )
    # The invoice's customer, for rescoring one customer. No constraint of its own: the invoice's holds, and
    # a full scoring checks one key per row fewer at its commit (112k rows: seconds).
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    as_of = models.DateField()
    method = models.CharField(max_length=16, choices=Method.choices)
    # Derived rows, replaced whole by every scoring: no database constraint to check per row at its commit.
    model = models.ForeignKey(
        PredictionModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    predicted_date = models.DateField()
    p10_date = models.DateField(null=True, blank=True)
    p90_date = models.DateField(null=True, blank=True)
    p_paid_by_due = models.FloatField(null=True, blank=True)
    p_late_30 = models.FloatField(null=True, blank=True, help_text="P(settled more than 30 days late).")
    p_paid_7_days = models.FloatField(null=True, blank=True, help_text="P(settled within 7 days of as_of).")
    scored_at = models.DateTimeField()

    class Meta:
        ordering = ["predicted_date", "invoice_id"]

    def __str__(self) -> str:
        return f"{self.invoice_id} → {self.predicted_date}"


class CustomerPriority(models.Model):
    """A customer's priority terms as of `as_of`: the raw figures, and each term's points (`term_*`,
    signed: the terms that lower the rank are negative). `score` is the weighted sum of the points with the
    weights of `PriorityWeights`; selectors.priority_score_expression computes it in SQL for other weights."""

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.CASCADE, related_name="priority"
    )
    as_of = models.DateField()
    method = models.CharField(max_length=16, choices=Method.choices)
    model = models.ForeignKey(
        PredictionModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    currency = models.CharField(max_length=3, help_text="The base currency of the amounts.")
    open_amount = AmountField()
    amount_at_risk = AmountField(help_text="Σ open amount × P(late) over the open invoices.")
    disputed_amount = AmountField(help_text="Open amount in active disputes.")
    open_invoices = models.PositiveIntegerField()
    max_days_past_due = models.IntegerField()
    broken_promises = models.PositiveIntegerField(help_text="Promises known broken in the last 180 days.")
    p_paid_7_days = models.FloatField(
        null=True, blank=True, help_text="Amount-weighted P(paid within 7 days)."
    )
    risk = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    drivers = models.JSONField(default=list, help_text="What raises the risk most: [{group, label, points}].")
    term_amount_at_risk = models.FloatField()
    term_days_past_due = models.FloatField()
    term_broken_promises = models.FloatField()
    term_customer_risk = models.FloatField()
    term_about_to_pay = models.FloatField()
    term_open_dispute = models.FloatField()
    # Σ weight × points with the weights in force, kept by the services (scoring writes it, a change of
    # weights rewrites every row in its transaction): the worklist reads its head through an index.
    score = models.FloatField(default=0.0)
    scored_at = models.DateTimeField()

    class Meta:
        ordering = ["customer_id"]
        verbose_name_plural = "customer priorities"
        indexes = [models.Index(fields=["-score", "customer"], name="priority_score")]

    def __str__(self) -> str:
        return f"priority of {self.customer_id} as of {self.as_of}"


WEIGHT_VALIDATORS = [MinValueValidator(0.0), MaxValueValidator(10.0)]


class PriorityWeights(models.Model):
    """The weight of each priority term, set by managers: one row (pk 1). 0 leaves a term out."""

    amount_at_risk = models.FloatField(default=1.0, validators=WEIGHT_VALIDATORS)
    days_past_due = models.FloatField(default=1.0, validators=WEIGHT_VALIDATORS)
    broken_promises = models.FloatField(default=1.0, validators=WEIGHT_VALIDATORS)
    customer_risk = models.FloatField(default=1.0, validators=WEIGHT_VALIDATORS)
    about_to_pay = models.FloatField(default=1.0, validators=WEIGHT_VALIDATORS)
    open_dispute = models.FloatField(default=1.0, validators=WEIGHT_VALIDATORS)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "priority weights"

    def __str__(self) -> str:
        return "priority weights"


class BacktestKind(models.TextChoices):
    PAYMENTS = "payments", "Payment dates"
    FORECAST = "forecast", "Cash forecast"


class Backtest(models.Model):
    """One backtest run and everything it reported, kept so that the published accuracy has a record."""

    kind = models.CharField(max_length=16, choices=BacktestKind.choices)
    cutoff = models.DateField()
    results = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} backtest at {self.cutoff}"


class ForecastRecord(models.Model):
    """One week of a cash forecast as it was made (by each full scoring), kept so that what was collected can
    be set against what had been forecast for it. `made_on`: the as-of day of the predictions; week 1 runs
    from the day after it. Amounts are in `currency`, the base currency then."""

    made_on = models.DateField()
    week = models.PositiveSmallIntegerField()
    start = models.DateField()
    end = models.DateField()
    currency = models.CharField(max_length=3)
    expected = AmountField()
    low = AmountField()
    high = AmountField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-made_on", "week"]
        constraints = [models.UniqueConstraint(fields=["made_on", "week"], name="one_forecast_week_per_day")]

    def __str__(self) -> str:
        return f"forecast of {self.made_on}, week {self.week}"
