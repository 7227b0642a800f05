"""The aging report's query parameters and its JSON shape (for the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

from recoup.ledger.aging import BASES, GROUPINGS
from recoup.ledger.rules import DEFAULT_BUCKETS, BucketError, parse_buckets

MAX_BUCKETS = 24


class AgingParamsSerializer(serializers.Serializer):
    as_of = serializers.DateField(help_text="The date to age as of, YYYY-MM-DD.")
    by = serializers.ChoiceField(
        choices=GROUPINGS, default="customer", help_text="One row per customer, or the total only."
    )
    basis = serializers.ChoiceField(
        choices=tuple(BASES), default="due", help_text="Count days past the due date or the invoice date."
    )
    buckets = serializers.CharField(
        default=",".join(map(str, DEFAULT_BUCKETS)),
        max_length=200,
        help_text="Upper bounds of the day buckets, positive and increasing, e.g. 30,60,90,120.",
    )

    def validate_buckets(self, value: str) -> tuple[int, ...]:
        try:
            bounds = parse_buckets(value)
        except BucketError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        if len(bounds) > MAX_BUCKETS:
            raise serializers.ValidationError(f"At most {MAX_BUCKETS} bucket bounds, not {len(bounds)}.")
        return bounds

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            attrs["as_of"] - dt.timedelta(days=attrs["buckets"][-1])
        except OverflowError as exc:
            raise serializers.ValidationError(
                {"buckets": ["The last bucket reaches before the year 1."]}
            ) from exc
        return attrs


class AgingRowSerializer(serializers.Serializer):
    customer = serializers.CharField(help_text="The customer's external id, or TOTAL.")
    name = serializers.CharField()
    buckets = serializers.DictField(
        child=serializers.DecimalField(max_digits=19, decimal_places=4),
        help_text="Amount per bucket label, in the report currency.",
    )
    total = serializers.DecimalField(max_digits=19, decimal_places=4)


class RateUsedSerializer(serializers.Serializer):
    currency = serializers.CharField()
    rate = serializers.DecimalField(max_digits=20, decimal_places=10)
    date = serializers.DateField(allow_null=True)


class AgingReportSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    basis = serializers.CharField()
    by = serializers.CharField()
    currency = serializers.CharField(help_text="The base currency every amount is converted to.")
    labels = serializers.ListField(child=serializers.CharField())
    rates = RateUsedSerializer(many=True, help_text="The FX rate used for each other currency.")
    rows = AgingRowSerializer(many=True)
    total = AgingRowSerializer()

    def to_representation(self, instance: Any) -> Any:  # documentation only: the view returns report_as_dict
        return instance
