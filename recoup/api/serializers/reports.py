"""The reports' query parameters and their JSON shapes (for the OpenAPI schema): aging and KPIs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from recoup.api.serializers.dunning import AHEAD_DAYS, EARLIEST_AS_OF, check_as_of
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


# KPIs -------------------------------------------------------------------------------------------------------


class KpiParamsSerializer(serializers.Serializer):
    # "from" is a Python keyword, so that parameter is declared through the class namespace.
    locals()["from"] = serializers.DateField(
        help_text=f"The first day of the period, YYYY-MM-DD, from {EARLIEST_AS_OF} on."
    )
    to = serializers.DateField(
        help_text=f"The last day of the period, YYYY-MM-DD, at most {AHEAD_DAYS} days after today."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        latest = timezone.localdate() + dt.timedelta(days=AHEAD_DAYS)
        for name in ("from", "to"):
            try:
                check_as_of(attrs[name], latest=latest)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({name: exc.detail}) from exc
        if attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"from": ["The period ends before it starts."]})
        return {"start": attrs["from"], "end": attrs["to"]}


class KpiPeriodSerializer(serializers.Serializer):
    locals()["from"] = serializers.DateField()
    to = serializers.DateField()


def _figure(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=help_text)


def _amount(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=19, decimal_places=4, help_text=help_text)


class KpiReportSerializer(serializers.Serializer):
    """Amounts are strings in the base currency's minor unit; days and percentages are numbers rounded to 2
    decimals, null when their denominator is zero. Formulas: docs/reports.md."""

    period = KpiPeriodSerializer(help_text="The period, both days included.")
    days = serializers.IntegerField(help_text="Days in the period: to − from + 1.")
    currency = serializers.CharField(help_text="The base currency every amount is converted to.")
    begin_ar = _amount("Open AR at the end of the day before `from`.")
    credit_sales = _amount("Invoices issued in the period, each at the rate of its issue date.")
    end_ar = _amount("Open AR at the end of `to`.")
    end_current_ar = _amount("What of end AR is not yet due (0 days past due or fewer).")
    collected = _amount("Payments received in the period, each at the rate of its date.")
    dso = _figure("end AR ÷ credit sales × days.")
    countback_dso = _figure("end AR counted back over the calendar months' credit sales, newest first.")
    bpdso = _figure("end current AR ÷ credit sales × days.")
    add = _figure("DSO − BPDSO.")
    cei = _figure(
        "(begin AR + credit sales − end AR) ÷ (begin AR + credit sales − end current AR) × 100, "
        "not divided by a number of months."
    )
    pct_current = _figure("end current AR ÷ end AR × 100.")
    pct_over_90 = _figure("AR more than 90 days past due ÷ end AR × 100.")

    def to_representation(self, instance: Any) -> Any:  # documentation only: the view returns as_dict()
        return instance


# Collector activity ---------------------------------------------------------------------------------------


class CollectorParamsSerializer(KpiParamsSerializer):
    """from and to: the period, both days included; checked like the KPIs'."""


class CollectorRowSerializer(serializers.Serializer):
    collector = serializers.IntegerField(
        allow_null=True, help_text="The user's id; null for the row of no collector (and in the total)."
    )
    name = serializers.CharField(help_text="The user's full name, else username; 'No collector'; 'Total'.")
    username = serializers.CharField()
    customers = serializers.IntegerField(help_text="Customers whose collector this is (today).")
    collected = _amount("Payments dated in the period of those customers, each at the rate of its date.")
    touches = serializers.IntegerField(help_text="calls + notes + emails.")
    calls = serializers.IntegerField(help_text="Calls this user made in the period.")
    notes = serializers.IntegerField(help_text="Notes this user wrote in the period.")
    emails = serializers.IntegerField(
        help_text="Emails this user sent by hand in the period; dunning reminders are no one's."
    )
    promises = serializers.IntegerField(help_text="Promises made in the period that this user follows up.")
    came_due = serializers.IntegerField(help_text="Their promises dated in the period and decided.")
    kept = serializers.IntegerField(help_text="Of those, kept in full.")
    kept_rate = _figure("kept ÷ came due × 100, rounded to 2 decimals; null when none came due.")
    credit_sales = _amount("Invoices of those customers issued in the period.")
    end_ar = _amount("AR of those customers open at the end of `to`.")
    dso = _figure("end AR ÷ credit sales × days, rounded to 2 decimals; null without sales.")


class CollectorReportSerializer(serializers.Serializer):
    period = KpiPeriodSerializer(help_text="The period, both days included.")
    days = serializers.IntegerField()
    currency = serializers.CharField(help_text="The base currency every amount is converted to.")
    places = serializers.IntegerField(help_text="The base currency's minor unit.")
    rows = CollectorRowSerializer(many=True, help_text="Users by name, then 'No collector'.")
    total = CollectorRowSerializer(help_text="Every customer's figures, each rounded once.")

    def to_representation(self, instance: Any) -> Any:  # documentation only: the view returns as_dict()
        return instance
