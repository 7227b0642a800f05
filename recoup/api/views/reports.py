"""GET /api/v1/reports/aging: the aging report in JSON, or CSV with ?format=csv.
GET /api/v1/reports/kpis: the KPIs of a period, in JSON."""

from __future__ import annotations

import io
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recoup.api.serializers.reports import (
    AgingParamsSerializer,
    AgingReportSerializer,
    KpiParamsSerializer,
    KpiReportSerializer,
)
from recoup.ledger.aging import aging_report, report_as_csv, report_as_dict
from recoup.reports.selectors import kpis
from recoup.users.models import READ_ROLES


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return str(data).encode(self.charset)


class AgingReportView(APIView):
    """Open receivables as of a date, in the base currency, bucketed by days past due (or past issue)."""

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]

    @extend_schema(
        parameters=[
            AgingParamsSerializer,
            OpenApiParameter(
                "format", str, enum=["json", "csv"], description="csv: one row per customer, then TOTAL."
            ),
        ],
        responses={
            (200, "application/json"): AgingReportSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="customer,current,1-30,…,total"),
        },
    )
    def get(self, request: Request) -> Response:
        params = AgingParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        report = aging_report(**params.validated_data)
        if request.accepted_renderer.format == "csv":
            out = io.StringIO()
            report_as_csv(report, out)
            filename = f"aging-{report.as_of.isoformat()}.csv"
            return Response(
                out.getvalue(), headers={"Content-Disposition": f'attachment; filename="{filename}"'}
            )
        return Response(report_as_dict(report))

    def handle_exception(self, exc: Exception) -> Response:
        # Errors are always JSON, even when the report was asked for as CSV.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


class KpiReportView(APIView):
    """The KPIs of the period from–to, both days included, in the base currency: DSO, countback DSO, BPDSO,
    ADD, CEI, % current, % over 90 days, and the AR, credit sales and collections behind them. The same report
    as `recoup kpis --format json`; every formula is in docs/reports.md."""

    read_roles = READ_ROLES

    @extend_schema(parameters=[KpiParamsSerializer], responses={200: KpiReportSerializer})
    def get(self, request: Request) -> Response:
        params = KpiParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(kpis(**params.validated_data).as_dict())
