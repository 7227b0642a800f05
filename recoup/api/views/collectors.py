"""GET /api/v1/reports/collectors: each collector's activity over a period: collected, touches, promises,
kept rate and their customers' DSO."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recoup.api.serializers.reports import KpiParamsSerializer, KpiPeriodSerializer
from recoup.reports.collectors import collector_activity
from recoup.users.models import READ_ROLES


class CollectorParamsSerializer(KpiParamsSerializer):
    """from and to: the period, both days included; checked like the KPIs'."""


def _amount(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=19, decimal_places=4, help_text=help_text)


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
    kept_rate = serializers.FloatField(
        allow_null=True, help_text="kept ÷ came due × 100, rounded to 2 decimals; null when none came due."
    )
    credit_sales = _amount("Invoices of those customers issued in the period.")
    end_ar = _amount("AR of those customers open at the end of `to`.")
    dso = serializers.FloatField(
        allow_null=True, help_text="end AR ÷ credit sales × days, rounded to 2 decimals; null without sales."
    )


class CollectorReportSerializer(serializers.Serializer):
    period = KpiPeriodSerializer(help_text="The period, both days included.")
    days = serializers.IntegerField()
    currency = serializers.CharField(help_text="The base currency every amount is converted to.")
    places = serializers.IntegerField(help_text="The base currency's minor unit.")
    rows = CollectorRowSerializer(many=True, help_text="Users by name, then 'No collector'.")
    total = CollectorRowSerializer(help_text="Every customer's figures, each rounded once.")

    def to_representation(self, instance: Any) -> Any:  # documentation only: the view returns as_dict()
        return instance


class CollectorActivityView(APIView):
    """Per collector, over the period from–to: what their customers paid, their calls, notes and emails sent
    by hand, the promises they obtained and the share kept, and their customers' DSO. Every definition is in
    docs/reports.md, "Collector activity"."""

    read_roles = READ_ROLES

    @extend_schema(parameters=[CollectorParamsSerializer], responses={200: CollectorReportSerializer})
    def get(self, request: Request) -> Response:
        params = CollectorParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data: dict[str, Any] = params.validated_data
        return Response(collector_activity(start=data["start"], end=data["end"]).as_dict())
