"""Insights through the API: predictions, priority terms with their weights, the weights themselves, model
versions, backtests and the cash forecast. The one write, the weights, goes through insights.services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recoup.insights import rules
from recoup.insights.models import Backtest, CustomerPriority, InvoicePrediction, Method, PredictionModel
from recoup.insights.selectors import CashForecast


def _amount(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=19, decimal_places=4, **kwargs)


class InvoicePredictionSerializer(serializers.ModelSerializer):
    invoice = serializers.IntegerField(source="invoice_id", read_only=True)
    invoice_external_id = serializers.CharField(source="invoice.external_id", read_only=True)
    customer = serializers.IntegerField(source="customer_id", read_only=True)
    is_baseline = serializers.SerializerMethodField(
        help_text="True when the baseline, not a model, answered."
    )
    model_version = serializers.IntegerField(
        source="model.version", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = InvoicePrediction
        fields = [
            "invoice",
            "invoice_external_id",
            "customer",
            "as_of",
            "method",
            "is_baseline",
            "model_version",
            "predicted_date",
            "p10_date",
            "p90_date",
            "p_paid_by_due",
            "p_late_30",
            "p_paid_7_days",
        ]
        read_only_fields = fields

    def get_is_baseline(self, row: InvoicePrediction) -> bool:
        return row.method != Method.MODEL


class TermSerializer(serializers.Serializer):
    term = serializers.ChoiceField(choices=rules.TERMS)
    label = serializers.CharField()  # type: ignore[assignment]
    points = serializers.FloatField(help_text="The term on its 0–100 scale (negative: lowers the rank).")
    weight = serializers.FloatField()
    contribution = serializers.FloatField(help_text="weight × points: what it adds to the score.")


class DriverSerializer(serializers.Serializer):
    group = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    points = serializers.IntegerField(help_text="Risk points this group of facts adds.")


class CustomerPrioritySerializer(serializers.ModelSerializer):
    """One customer's priority: the score (Σ weight × points) and every term it is made of."""

    customer = serializers.IntegerField(source="customer_id", read_only=True)
    customer_external_id = serializers.CharField(source="customer.external_id", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    is_baseline = serializers.SerializerMethodField()
    open_amount = _amount(read_only=True)
    amount_at_risk = _amount(read_only=True)
    disputed_amount = _amount(read_only=True)
    drivers = DriverSerializer(many=True, read_only=True)
    terms = serializers.SerializerMethodField()
    score = serializers.SerializerMethodField()

    class Meta:
        model = CustomerPriority
        fields = [
            "customer",
            "customer_external_id",
            "customer_name",
            "as_of",
            "method",
            "is_baseline",
            "currency",
            "open_amount",
            "amount_at_risk",
            "disputed_amount",
            "open_invoices",
            "max_days_past_due",
            "broken_promises",
            "p_paid_7_days",
            "risk",
            "drivers",
            "terms",
            "score",
        ]
        read_only_fields = fields

    def _weights(self) -> dict[str, float]:
        return dict(self.context["weights"])

    def get_is_baseline(self, row: CustomerPriority) -> bool:
        return row.method != Method.MODEL

    @extend_schema_field(TermSerializer(many=True))
    def get_terms(self, row: CustomerPriority) -> list[dict[str, Any]]:
        weights = self._weights()
        out = []
        for term in rules.TERMS:
            points = float(getattr(row, f"term_{term}"))
            out.append(
                {
                    "term": term,
                    "label": rules.TERM_LABELS[term],
                    "points": points,
                    "weight": weights[term],
                    "contribution": round(weights[term] * points, 4),
                }
            )
        return out

    def get_score(self, row: CustomerPriority) -> float:
        points = {t: float(getattr(row, f"term_{t}")) for t in rules.TERMS}
        return round(rules.weighted_score(points, self._weights()), 4)


def _weight() -> serializers.FloatField:
    return serializers.FloatField(min_value=0.0, max_value=rules.MAX_WEIGHT)


class PriorityWeightsSerializer(serializers.Serializer):
    """The weight of each term, from 0 (left out) to 10. The score is Σ weight × points."""

    amount_at_risk = _weight()
    days_past_due = _weight()
    broken_promises = _weight()
    customer_risk = _weight()
    about_to_pay = _weight()
    open_dispute = _weight()


class PredictionModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = PredictionModel
        fields = [
            "version",
            "algorithm",
            "is_active",
            "trained_at",
            "train_from",
            "trained_through",
            "invoices",
            "settled_invoices",
            "moments",
            "seconds",
            "config",
            "metrics",
            "feature_names",
            "sklearn_version",
            "sha256",
        ]
        read_only_fields = fields


class BacktestSerializer(serializers.ModelSerializer):
    class Meta:
        model = Backtest
        fields = ["id", "kind", "cutoff", "created_at", "results"]
        read_only_fields = fields


class ForecastParamsSerializer(serializers.Serializer):
    weeks = serializers.IntegerField(min_value=1, max_value=52, default=13, help_text="Weeks ahead, 1 to 52.")


class ForecastWeekSerializer(serializers.Serializer):
    week = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    expected = _amount()
    low = _amount(help_text="The 80 % band's lower end.")
    high = _amount()


class ForecastRateSerializer(serializers.Serializer):
    currency = serializers.CharField()
    rate = serializers.DecimalField(max_digits=20, decimal_places=10)
    date = serializers.DateField(allow_null=True)


class CashForecastSerializer(serializers.Serializer):
    """Expected collections per week of the open invoices, in the base currency (docs/insights.md)."""

    as_of = serializers.DateField(help_text="The date of the predictions it is made from.")
    currency = serializers.CharField()
    open_amount = _amount()
    invoices = serializers.IntegerField()
    baseline_invoices = serializers.IntegerField(help_text="Of those, the ones the baseline predicted.")
    cash_share = serializers.FloatField(help_text="The share of settlements that came as cash last year.")
    weeks = ForecastWeekSerializer(many=True)
    later = _amount(help_text="Expected after the last week.")
    rates = ForecastRateSerializer(many=True)

    def to_representation(self, instance: Any) -> Any:  # documentation only: the view returns as_dict()
        return instance.as_dict() if isinstance(instance, CashForecast) else instance


class EvidenceSerializer(serializers.Serializer):
    """What one option did: n judged touches, k of them followed by a payment within 7 days."""

    option = serializers.CharField(help_text="call, email; friendly, firm; a weekday; an hour (HH:00).")
    n = serializers.IntegerField(help_text="Judged touches.")
    k = serializers.IntegerField(help_text="Of those, the ones followed by a payment within 7 days.")
    rate = serializers.FloatField(allow_null=True, help_text="k ÷ n; null without touches.")
    smoothed = serializers.FloatField(help_text="The Beta-smoothed rate the choice is made on.")
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["customer", "similar", "all", "default"], help_text="Whose touches n and k count."
    )


class NextBestActionSerializer(serializers.Serializer):
    """A customer's suggested next best action and its evidence (docs/insights.md, "The next best action")."""

    customer = serializers.IntegerField(source="customer_id")
    channel = serializers.CharField(help_text="call, email or wait.")  # no enum: "channel" names others
    contact_channel = serializers.ChoiceField(
        choices=["call", "email"], help_text="The channel to use, after waiting if channel is wait."
    )
    wait_reason = serializers.CharField(help_text="promise_pending, nothing_overdue, about_to_pay, or empty.")
    reason = serializers.CharField()
    weekday = serializers.IntegerField(help_text="0 = Monday … 6 = Sunday, in the customer's time zone.")
    hour = serializers.IntegerField(help_text="0–23, in the customer's time zone.")
    timezone = serializers.CharField()
    tone = serializers.ChoiceField(choices=["friendly", "firm"])
    p_paid_7_days = serializers.FloatField(allow_null=True)
    similar_group = serializers.CharField(help_text="The similar customers the evidence falls back on.")
    channel_evidence = EvidenceSerializer(many=True)
    weekday_evidence = EvidenceSerializer()
    hour_evidence = EvidenceSerializer()
    tone_evidence = EvidenceSerializer(many=True)


class NextActionParamsSerializer(serializers.Serializer):
    customer_id = serializers.ListField(
        child=serializers.CharField(),
        help_text="Customer ids: the parameter repeated, or a comma-separated list; at most 100.",
    )

    def validate_customer_id(self, values: list[str]) -> list[int]:
        ids = []
        for value in (part.strip() for raw in values for part in raw.split(",")):
            if not value.isdigit() or not 1 <= int(value) <= 2**63 - 1:
                raise serializers.ValidationError(f"{value!r} is not a customer id.")
            ids.append(int(value))
        if not ids:
            raise serializers.ValidationError("Give at least one customer id.")
        if len(set(ids)) > MAX_NEXT_ACTIONS:
            raise serializers.ValidationError(f"At most {MAX_NEXT_ACTIONS} customers at a time.")
        return ids


MAX_NEXT_ACTIONS = 100
