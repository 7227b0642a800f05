"""Run pages: the runs with their reports, and the form that starts a run or a dry run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.generic import DetailView, ListView

from recoup.core.errors import DomainError
from recoup.dunning import selectors, services, tasks
from recoup.dunning.forms import (
    RunForm,
    add_domain_error,
)
from recoup.dunning.models import (
    Channel,
    DunningRun,
)
from recoup.dunning.planning import Plan
from recoup.dunning.rules import CHANNELS
from recoup.dunning.views.common import SKIP_TEXTS
from recoup.users.models import MANAGE_ROLES
from recoup.users.permissions import RoleRequiredMixin

PAGE_SIZE = 50
RUN_MESSAGES_SHOWN = 50
DRY_RUN_MESSAGES_SHOWN = 500


# Runs -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WouldSend:
    """One message a dry run would write."""

    customer_id: int
    customer_ref: str
    customer_name: str
    channel: str
    fallback: bool
    level: str
    send_at: dt.datetime
    invoices: list[tuple[str, bool]]  # external id, moves now


def would_send(plan: Plan) -> list[WouldSend]:
    return [
        WouldSend(
            customer_id=customer_plan.customer.id,
            customer_ref=customer_plan.customer.external_id,
            customer_name=customer_plan.customer.name,
            channel=Channel(communication.channel).label,
            fallback=bool(communication.fallback_from),
            level=plan.level_name(communication.level.id),
            send_at=communication.send_at,
            invoices=[(d.external_id, d.target is not None) for d in customer_plan.listed()],
        )
        for customer_plan, communication in plan.outgoing()
    ]


def report_context(report: dict[str, Any]) -> dict[str, Any]:
    """A run's stored report as the page's tables: messages by level × channel, skipped by reason."""
    by_level = [
        (label, [counts.get(c, 0) for c in CHANNELS], sum(counts.values()))
        for label, counts in report.get("messages", {}).items()
    ]
    totals = [sum(row[1][i] for row in by_level) for i in range(len(CHANNELS))]
    skipped = sorted(
        ((code, SKIP_TEXTS.get(code, code), count) for code, count in report.get("skipped", {}).items()),
        key=lambda row: (-row[2], row[0]),
    )
    return {
        "report": report,
        "channel_labels": [Channel(c).label for c in CHANNELS],
        "by_level": by_level,
        "channel_totals": totals,
        "skipped": skipped,
        "skipped_total": sum(row[2] for row in skipped),
        "actions": report.get("actions", {}),
    }


class RunListView(RoleRequiredMixin, ListView):
    """The runs; managers start one (or a dry run, which shows its report and writes nothing)."""

    template_name = "dunning/run_list.html"
    context_object_name = "runs"
    paginate_by = PAGE_SIZE
    write_roles = MANAGE_ROLES

    def get_queryset(self) -> QuerySet[DunningRun]:
        return selectors.run_list()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("run_form", RunForm())
        return super().get_context_data(nav="dunning", subnav="runs", **kwargs)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = RunForm(request.POST)
        if form.is_valid():
            as_of, dry_run = form.cleaned_data["as_of"], form.cleaned_data["dry_run"]
            try:
                result = services.dunning_run(actor=request.user, as_of=as_of, dry_run=dry_run)
            except DomainError as refused:
                add_domain_error(form, refused)
            else:
                if result.run is None:
                    rows = would_send(result.plan)
                    context = {
                        "nav": "dunning",
                        "subnav": "runs",
                        "dry_run": True,
                        "as_of": as_of,
                        "would_send": rows[:DRY_RUN_MESSAGES_SHOWN],
                        "would_send_count": len(rows),
                        **report_context(result.report),
                    }
                    return render(request, "dunning/run_detail.html", context)
                messages.success(request, _run_summary(result.run, result.report))
                return redirect("dunning-run-detail", result.run.pk)
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(run_form=form))


def _run_summary(run: DunningRun, report: dict[str, Any]) -> str:
    """Say what the run wrote, and send what is due now: in-process when embedded, else by the workers."""
    written = (
        f"Run {run.pk} as of {run.as_of}: {report['messages_total']} message(s) queued, "
        f"{report['invoices_moved']} invoice(s) moved."
    )
    delivered = tasks.send_due()
    if delivered is None:
        return f"{written} The workers send what is due."
    return f"{written} Delivered now: {delivered}."


class RunDetailView(RoleRequiredMixin, DetailView):
    template_name = "dunning/run_detail.html"
    context_object_name = "run"

    def get_queryset(self) -> QuerySet[DunningRun]:
        return DunningRun.objects.select_related("actor")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        run: DunningRun = self.object
        outbox = selectors.outbox(run=run.pk)
        return super().get_context_data(
            nav="dunning",
            subnav="runs",
            as_of=run.as_of,
            run_messages=list(outbox[:RUN_MESSAGES_SHOWN]),
            run_message_count=outbox.count(),
            **report_context(run.report or {}),
            **kwargs,
        )
