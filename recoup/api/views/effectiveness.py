"""GET /api/v1/reports/reminder-effectiveness: the share of dunning sends paid within 7 days, by level and
channel."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recoup.api.serializers.reports import KpiParamsSerializer, KpiPeriodSerializer
from recoup.dunning.models import Channel
from recoup.reports.effectiveness import reminder_effectiveness
from recoup.users.models import READ_ROLES


class EffectivenessParamsSerializer(KpiParamsSerializer):
    """from and to: the days the messages were sent (TIME_ZONE), both included; checked like the KPIs'."""


class _Figures(serializers.Serializer):
    sends = serializers.IntegerField(help_text="Dunning messages sent in the period.")
    effective = serializers.IntegerField(
        help_text="Sends after which a listed invoice was paid within 7 days."
    )
    share = serializers.FloatField(
        allow_null=True, help_text="effective ÷ sends × 100, rounded to 2 decimals; null without sends."
    )


class _LevelFigures(_Figures):
    level = serializers.CharField(help_text="The dunning level's name.")


class _ChannelFigures(_Figures):
    channel = serializers.ChoiceField(choices=Channel.choices)


class EffectivenessReportSerializer(_Figures):
    period = KpiPeriodSerializer(help_text="The days of the sends, both included.")
    days = serializers.IntegerField(help_text="The window after each send, in days, the send day included.")
    by_level = _LevelFigures(many=True, help_text="Per level name, in level order; only levels with sends.")
    by_channel = _ChannelFigures(many=True, help_text="Per channel: email, letter, call.")


class ReminderEffectivenessView(APIView):
    """Reminder effectiveness over the sends of the period from–to: a send is effective when an invoice it
    listed received a payment (not reversed) within 7 days of the send day, that day included. Per level,
    per channel and overall; the definition is in docs/reports.md."""

    read_roles = READ_ROLES

    @extend_schema(parameters=[EffectivenessParamsSerializer], responses={200: EffectivenessReportSerializer})
    def get(self, request: Request) -> Response:
        params = EffectivenessParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data: dict[str, Any] = params.validated_data
        return Response(reminder_effectiveness(start=data["start"], end=data["end"]).as_dict())
