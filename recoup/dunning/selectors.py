"""Reads for the dunning pages and the API: an invoice's dunning status and why it was not dunned, runs, the
outbox."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from recoup.core.money import Money
from recoup.dunning.models import (
    DunningHold,
    DunningLevel,
    DunningPolicy,
    DunningRun,
    DunningStep,
    DunningTemplate,
    InvoiceDunning,
    MessageStatus,
    OutboundMessage,
)
from recoup.dunning.planning import NO_POLICY, build_plan
from recoup.dunning.rules import SKIP_TEXT, Skip
from recoup.ledger.models import Customer, Invoice


@dataclass(frozen=True)
class InvoiceDunningStatus:
    policy: DunningPolicy | None
    policy_source: str  # "invoice", "customer", "default" or "" (none applies)
    state: InvoiceDunning | None
    verdict: str  # "moves", "skipped", "paid", "not_issued"
    reason: str  # the skip code, or ""
    explanation: str  # one sentence a collector can read
    next_level: str  # the level the invoice would move to as of the date, when it would
    steps: list[DunningStep]
    messages: list[OutboundMessage]
    holds: list[DunningHold]


def policy_for(invoice: Invoice) -> tuple[DunningPolicy | None, str]:
    """The policy that applies: the invoice's, else the customer's, else the default (DESIGN.md)."""
    if invoice.dunning_policy_id:
        return invoice.dunning_policy, "invoice"
    return customer_policy(invoice.customer)


def customer_policy(customer: Customer) -> tuple[DunningPolicy | None, str]:
    """The policy of the customer's invoices that name none: its own, else the default ("" if none)."""
    if customer.dunning_policy_id:
        return customer.dunning_policy, "customer"
    default = DunningPolicy.objects.filter(is_default=True).first()
    return default, "default" if default else ""


def invoice_dunning_status(*, invoice: Invoice, as_of: dt.date) -> InvoiceDunningStatus:
    """Where the invoice stands in dunning, and the answer to "why was this not dunned?" as of `as_of`.

    The answer comes from planning the invoice's customer exactly as a run would, so the page and the run
    can never disagree.
    """
    policy, source = policy_for(invoice)
    state = InvoiceDunning.objects.filter(invoice=invoice).select_related("level").first()
    plan = build_plan(as_of=as_of, customer_ids=[invoice.customer_id], keep_decisions=True)
    decision = plan.decisions.get(invoice.pk)
    next_level = ""
    if invoice.issue_date > as_of:
        verdict, reason, text = "not_issued", "", f"It is issued after {as_of}."
    elif decision is None:
        verdict, reason = "paid", Skip.PAID
        settled = f" on {invoice.closed_on}" if invoice.closed_on else ""
        text = f"It is settled{settled}: nothing is left to collect, so no reminder goes out."
    elif decision.target is not None:
        verdict, reason = "moves", ""
        next_level = plan.level_name(decision.target.id)
        text = f"It is due for {next_level} as of {as_of}; the next run for that date sends it."
    else:
        verdict, reason = "skipped", str(decision.skip)
        text = _sentence(reason, decision, state, as_of)
    steps = list(
        DunningStep.objects.filter(invoice=invoice)
        .select_related("level", "from_level", "run")
        .order_by("as_of", "id")
    )
    messages = list(
        OutboundMessage.objects.filter(items__invoice=invoice)
        .select_related("level")
        .order_by("-as_of", "-id")
    )
    holds = list(
        DunningHold.objects.in_force(as_of).filter(
            Q(invoice=invoice) | Q(customer_id=invoice.customer_id, invoice__isnull=True)
        )
    )
    return InvoiceDunningStatus(
        policy, source, state, verdict, reason, text, next_level, steps, messages, holds
    )


def _sentence(reason: str, decision: Any, state: InvoiceDunning | None, as_of: dt.date) -> str:
    if reason == NO_POLICY:
        return "No dunning policy applies: the invoice and customer name none, and there is no default."
    text = SKIP_TEXT[Skip(reason)]
    detail = ""
    if reason == Skip.DISPUTED:
        detail = f" ({Money(decision.disputed, decision.currency)} under dispute)"
    elif reason in {Skip.NOT_DUE, Skip.LAST_LEVEL} and state is not None:
        detail = f" (at {state.level.name} since {state.moved_on})"
    elif reason == Skip.NOT_DUE and decision.days_past_due <= 0:
        detail = f" (due in {-decision.days_past_due} days)" if decision.days_past_due < 0 else " (due today)"
    return f"Not dunned as of {as_of}: {text}{detail}."


def policy_list() -> QuerySet[DunningPolicy]:
    """Every policy, with its number of levels and of the customers and invoices that name it (one query)."""

    def count(model: Any, field: str) -> Coalesce:
        rows = model.objects.filter(**{field: OuterRef("pk")}).order_by().values(field)
        return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0)

    return DunningPolicy.objects.annotate(
        level_count=count(DunningLevel, "policy"),
        customer_count=count(Customer, "dunning_policy"),
        invoice_count=count(Invoice, "dunning_policy"),
    ).order_by("-is_default", "name")


def with_levels(policies: QuerySet[DunningPolicy]) -> QuerySet[DunningPolicy]:
    """The policies, their levels and templates prefetched in order: what policy_as_dict and pages read."""
    levels = DunningLevel.objects.order_by("position").prefetch_related(
        Prefetch("templates", queryset=DunningTemplate.objects.order_by("language"))
    )
    return policies.prefetch_related(Prefetch("levels", queryset=levels))


def customer_holds(*, customer: Customer, as_of: dt.date) -> QuerySet[DunningHold]:
    """The customer's holds in force on `as_of`: on the whole customer first, then on single invoices."""
    return (
        DunningHold.objects.in_force(as_of)
        .filter(customer=customer)
        .select_related("invoice", "created_by")
        .order_by(F("invoice_id").asc(nulls_first=True), "-created_at", "-id")
    )


def run_list() -> QuerySet[DunningRun]:
    return (
        DunningRun.objects.select_related("actor")
        .annotate(message_count=Count("messages"))
        .order_by("-as_of", "-id")
    )


def outbox(
    *, status: str = "", channel: str = "", run: int | None = None, kind: str = ""
) -> QuerySet[OutboundMessage]:
    """The outbox, newest first; `kind` "reminder" keeps the dunning runs' messages, "manual" the emails
    people sent by hand."""
    messages = OutboundMessage.objects.select_related(
        "customer", "level", "level__policy", "template", "author"
    )
    if kind:
        messages = messages.filter(level__isnull=kind == "manual")
    if status:
        messages = messages.filter(status=status)
    if channel:
        messages = messages.filter(channel=channel)
    if run is not None:
        messages = messages.filter(run_id=run)
    return messages.order_by("-as_of", "-id")


def outbox_counts() -> dict[str, int]:
    rows = OutboundMessage.objects.values("status").annotate(n=Count("id")).values_list("status", "n")
    counts = {status: 0 for status in MessageStatus.values}
    counts.update(dict(rows))
    return counts
