"""GET /api/v1/reports/collectors: each collector's activity over a period: collected, touches, promises,
kept rate and their customers' DSO."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recoup.api.serializers.reports import CollectorParamsSerializer, CollectorReportSerializer
from recoup.reports.collectors import collector_activity
from recoup.users.models import READ_ROLES


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
