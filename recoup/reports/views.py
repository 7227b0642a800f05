"""The dashboard: a page whose filter bar (collector, team, currency, segment) swaps its body through htmx,
and the JSON endpoints its charts are drawn from (dashboard.js fetches the URL on each <canvas>).

Every role may read. The filters are validated the same way everywhere: a bad one is a 400 that names the
field ({"collector": ["Select a valid choice. …"]}), on the page as on the endpoints. Anonymous users are
sent to the login page, or get a 403 in JSON from an endpoint.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django_htmx.http import push_url

from recoup.core.errors import DomainError
from recoup.core.htmx import is_partial
from recoup.ledger import kept
from recoup.ledger.models import Customer
from recoup.reports import collectors, dashboard, exports
from recoup.reports.exports import Params, collector_period
from recoup.reports.scope import Scope
from recoup.users.models import Role, Team, User
from recoup.users.permissions import RoleRequiredMixin, user_has_role


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.username)


def _currencies() -> list[tuple[str, str]]:
    codes = Customer.objects.order_by("currency").values_list("currency", flat=True).distinct()
    return [("", "All currencies"), *((code, code) for code in codes)]


def _segments() -> list[tuple[str, str]]:
    names = (
        Customer.objects.exclude(segment="").order_by("segment").values_list("segment", flat=True).distinct()
    )
    return [("", "All segments"), *((name, name) for name in names)]


class DashboardFilterForm(forms.Form):
    """The filter bar. Choices are read only when rendered or when a value needs checking."""

    collector = UserChoiceField(
        queryset=User.objects.none(), required=False, empty_label="All collectors", label="Collector"
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, empty_label="All teams", label="Team"
    )
    currency = forms.ChoiceField(choices=_currencies, required=False, label="Currency")
    segment = forms.ChoiceField(choices=_segments, required=False, label="Segment")
    by = forms.ChoiceField(
        choices=[(value, value) for value in dashboard.COLLECTIONS_BY],
        required=False,
        widget=forms.HiddenInput,
        label="Collections by",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Whoever collects a customer, and every collector: the people the chart shows.
        collectors = User.objects.filter(Q(role=Role.COLLECTOR) | Q(customers__isnull=False))
        self.fields["collector"].queryset = collectors.distinct().order_by("username")  # type: ignore[attr-defined]

    def scope(self) -> Scope:
        data = self.cleaned_data
        return Scope(
            collector_id=data["collector"].pk if data.get("collector") else None,
            team_id=data["team"].pk if data.get("team") else None,
            currency=data.get("currency") or "",
            segment=data.get("segment") or "",
        )

    def collections_by(self) -> str:
        return self.cleaned_data.get("by") or "week"


def _errors(form: forms.Form) -> dict[str, list[str]]:
    return {field: [str(message) for message in messages] for field, messages in form.errors.items()}


# The page ---------------------------------------------------------------------------------------------------

CHARTS = {  # canvas → its endpoint
    "aging": "dashboard-aging",
    "kpis": "dashboard-kpis",
    "collections": "dashboard-collections",
    "outlook": "dashboard-outlook",
    "collectors": "dashboard-collectors",
    "collector_activity": "dashboard-collector-activity-panel",  # a table, which htmx loads after the page
}


class DashboardView(RoleRequiredMixin, View):
    """The page; an htmx request (the filter bar, the collections toggle) gets its body only."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest) -> HttpResponse:
        form = DashboardFilterForm(request.GET)
        partial = is_partial(request)
        template = "reports/partials/dashboard_body.html" if partial else "reports/dashboard.html"
        context: dict[str, Any] = {"nav": "dashboard", "form": form, "today": timezone.localdate()}
        if not form.is_valid():
            return render(request, template, context, status=400)
        scope, by = form.scope(), form.collections_by()
        query = scope.as_query()
        today = context["today"]
        # The page's own URL, without empty or default parameters: what the address bar shows (HX-Push-Url).
        canonical = _page_query(query, by)
        context.update(
            scope=scope,
            by=by,
            today_iso=today.isoformat(),
            outlook_weeks=dashboard.PAST_WEEKS,
            urls={
                name: _with_query(reverse(url), canonical if name == "collections" else query)
                for name, url in CHARTS.items()
            },
            toggles=[
                (value, label, _with_query(reverse("dashboard"), _page_query(query, value)))
                for value, label in (("week", "Weekly"), ("month", "Monthly"))
            ],
            downloads=_dashboard_downloads(query, today),
        )
        try:
            dashboard.prepare(today)
            with kept.reusing():  # today's aging, which the charts' requests then reuse
                context.update(
                    receivables=dashboard.receivables(scope, today),
                    promises=dashboard.promise_figures(scope, today),
                    disputes=dashboard.dispute_figures(request.user, today, scope),
                    reminders=dashboard.reminder_figures(scope, today),
                )
        except DomainError as exc:  # a currency without an FX rate yet: the page says which
            context["error"] = exc.message
        response = render(request, template, context)
        if partial:
            push_url(response, _with_query(reverse("dashboard"), canonical))
        return response


def downloads(report: str, query: dict[str, str]) -> list[tuple[str, str]]:
    """The report's export in each format (CSV, XLSX, PDF) with these parameters: (label, URL)."""
    return [
        (fmt.upper(), _with_query(reverse("report-export", kwargs={"report": report, "fmt": fmt}), query))
        for fmt in exports.FORMATS
    ]


def _dashboard_downloads(query: dict[str, str], today: dt.date) -> dict[str, list[tuple[str, str]]]:
    """The exports of what the dashboard shows, for its filters: aging today, the month-end trend, the KPIs
    of the 12 closed months its chart covers, reminder effectiveness and the dispute figures."""
    months = dashboard.month_ends(dashboard.MONTHS, today)
    period = {"from": months[0].replace(day=1).isoformat(), "to": months[-1].isoformat()}
    return {
        "aging": downloads("aging", query),
        "trend": downloads("aging-trend", {**query, "months": str(dashboard.MONTHS)}),
        "kpis": downloads("kpis", {**query, **period}),
        "reminders": downloads("reminders", query),
        "disputes": downloads("disputes", query),
    }


def _page_query(query: dict[str, str], by: str) -> dict[str, str]:
    """The filters, and `by` unless it is the default (weekly collections)."""
    return {**query, "by": by} if by != "week" else query


def _with_query(url: str, query: dict[str, str]) -> str:
    return f"{url}?{urlencode(query)}" if query else url


# The JSON endpoints -----------------------------------------------------------------------------------------


class DashboardDataView(RoleRequiredMixin, View):
    """GET → the figures for the filters, as JSON. A bad filter or a missing FX rate is a 400 that names the
    field; anonymous, or a role that may not read, a 403."""

    http_method_names = ["get", "head"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # JSON, not the login page's redirect: the caller is a script.
        if not user_has_role(request.user, self.read_roles):
            authenticated = request.user.is_authenticated
            detail = "Your role does not allow this." if authenticated else "Log in to read the dashboard."
            return JsonResponse({"detail": detail}, status=403)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        form = DashboardFilterForm(request.GET)
        if not form.is_valid():
            return JsonResponse(_errors(form), status=400)
        try:
            # The endpoints age the same day (the page did too): each reuses the report while the ledger
            # is unchanged.
            with kept.reusing():
                data = self.figures(request, form, timezone.localdate())
        except DomainError as exc:
            return JsonResponse({exc.field or "detail": [exc.message]}, status=400)
        data["filters"] = form.scope().as_query()
        return JsonResponse(data, json_dumps_params={"ensure_ascii": False})

    def figures(self, request: HttpRequest, form: DashboardFilterForm, today: dt.date) -> dict[str, Any]:
        raise NotImplementedError


class AgingData(DashboardDataView):
    def figures(self, request: HttpRequest, form: DashboardFilterForm, today: dt.date) -> dict[str, Any]:
        return dashboard.aging(form.scope(), today)


class KpiData(DashboardDataView):
    def figures(self, request: HttpRequest, form: DashboardFilterForm, today: dt.date) -> dict[str, Any]:
        return dashboard.kpi_trend(form.scope(), today)


class CollectionsData(DashboardDataView):
    def figures(self, request: HttpRequest, form: DashboardFilterForm, today: dt.date) -> dict[str, Any]:
        return dashboard.collections(form.scope(), today, form.collections_by())


class CashOutlookData(DashboardDataView):
    def figures(self, request: HttpRequest, form: DashboardFilterForm, today: dt.date) -> dict[str, Any]:
        return dashboard.cash_outlook(form.scope(), today)


class TopOverdueData(DashboardDataView):
    def figures(self, request: HttpRequest, form: DashboardFilterForm, today: dt.date) -> dict[str, Any]:
        return dashboard.top_overdue(form.scope(), today)


class CollectorData(DashboardDataView):
    def figures(self, request: HttpRequest, form: DashboardFilterForm, today: dt.date) -> dict[str, Any]:
        return dashboard.overdue_by_collector(form.scope(), today)


class FigureData(DashboardDataView):
    def figures(self, request: HttpRequest, form: DashboardFilterForm, today: dt.date) -> dict[str, Any]:
        return dashboard.figures(form.scope(), today, request.user)


# Collector activity: a period's table (the month to date unless `from`/`to` say otherwise) -----------------


class CollectorActivityData(DashboardDataView):
    def figures(self, request: HttpRequest, form: DashboardFilterForm, today: dt.date) -> dict[str, Any]:
        start, end = collector_period(Params(request.GET))
        return {"as_of": today.isoformat(), **collectors.dashboard_table(form.scope(), start, end)}


class CollectorActivityPanel(RoleRequiredMixin, View):
    """The dashboard's collector activity table (htmx swaps it in once the page has loaded, and again when
    its period changes): the same figures as CollectorActivityData."""

    http_method_names = ["get", "head"]
    template = "reports/partials/collector_activity.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = DashboardFilterForm(request.GET)
        context: dict[str, Any] = {"loaded": True, "panel_url": reverse("dashboard-collector-activity-panel")}
        # htmx swaps only a 2xx answer: in the page, the panel says what it refused in place.
        refused = 200 if is_partial(request) else 400
        if not form.is_valid():
            refusals = _errors(form).items()
            context["error"] = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in refusals)
            return render(request, self.template, context, status=refused)
        scope = form.scope()
        context["hidden"] = filters = scope.as_query()
        try:
            start, end = collector_period(Params(request.GET))
            period = {"from": start.isoformat(), "to": end.isoformat()}
            context.update(period=period, downloads=downloads("collectors", {**filters, **period}))
            with kept.reusing():  # today's aging, when the period ends today: the page's own
                context["activity"] = collectors.dashboard_table(scope, start, end)
        except DomainError as exc:
            context["error"] = f"{exc.field}: {exc.message}" if exc.field else exc.message
            asked = {"from": request.GET.get("from", ""), "to": request.GET.get("to", "")}
            context.setdefault("period", asked)
            return render(request, self.template, context, status=refused)
        return render(request, self.template, context)
