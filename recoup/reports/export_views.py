"""GET /reports/export/<report>.<fmt>: every report as a CSV, XLSX or PDF download (docs/reports.md,
"Exports"). Every role may read them; a browser session or an API token (Authorization: Token …) signs in.

Bad parameters are a 400 whose text names the parameter; an unknown report or format is a 404.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views import View
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from recoup.core.errors import DomainError
from recoup.reports import exports
from recoup.users.models import READ_ROLES
from recoup.users.permissions import RoleRequiredMixin


class ExportView(RoleRequiredMixin, View):
    read_roles = READ_ROLES

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # A script downloads with its API token, as it reads the API; a browser brings its session.
        if request.META.get("HTTP_AUTHORIZATION", "").startswith("Token "):
            try:
                found = TokenAuthentication().authenticate(request)  # type: ignore[arg-type]
            except AuthenticationFailed as exc:
                return HttpResponse(str(exc.detail), status=401, content_type="text/plain; charset=utf-8")
            if found is not None:
                request.user = found[0]
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, report: str, fmt: str) -> HttpResponse:
        if report not in exports.REPORTS or fmt not in exports.FORMATS:
            raise Http404(f"No export {report}.{fmt}")
        try:
            export = exports.build_export(report, request.GET, user=request.user)
        except DomainError as refused:
            return HttpResponseBadRequest(
                exports.error_text(refused), content_type="text/plain; charset=utf-8"
            )
        response = HttpResponse(exports.render(export, fmt), content_type=exports.FORMATS[fmt])
        response["Content-Disposition"] = f'attachment; filename="{export.filename}.{fmt}"'
        response["Cache-Control"] = "private, no-store"
        return response
