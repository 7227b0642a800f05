"""Query-string filters for the list endpoints (django-filter). References take external ids or ids."""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from recoup.disputes import selectors as dispute_selectors
from recoup.disputes.models import ACTIVE_STATUSES, Dispute, DisputeReason, DisputeStatus
from recoup.dunning.models import (
    Channel,
    DunningHold,
    DunningPolicy,
    DunningRun,
    MessageStatus,
    OutboundMessage,
    RunStatus,
    hold_in_force,
)
from recoup.ledger.models import (
    Allocation,
    AllocationKind,
    Contact,
    CreditNote,
    Customer,
    FxRate,
    Invoice,
    Payment,
)


class IdFilter(filters.NumberFilter):
    """A row id: a whole number in the range of a database id, else a 400 naming the parameter."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(**kwargs)


def _upper(queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
    return queryset.filter(**{name: value.strip().upper()})


class CustomerFilter(filters.FilterSet):
    external_id = filters.CharFilter(help_text="Exact external id.")
    collector = filters.CharFilter(field_name="collector__username", help_text="The collector's username.")
    collector_id = IdFilter()
    currency = filters.CharFilter(method=_upper)
    on_hold = filters.BooleanFilter()
    do_not_dun = filters.BooleanFilter()

    class Meta:
        model = Customer
        fields: list[str] = []


class ContactFilter(filters.FilterSet):
    customer = filters.CharFilter(field_name="customer__external_id", help_text="The customer's external id.")
    customer_id = IdFilter()
    email = filters.CharFilter(lookup_expr="iexact")
    is_ap = filters.BooleanFilter()

    class Meta:
        model = Contact
        fields: list[str] = []


class InvoiceFilter(filters.FilterSet):
    external_id = filters.CharFilter(help_text="Exact external id.")
    customer = filters.CharFilter(field_name="customer__external_id", help_text="The customer's external id.")
    customer_id = IdFilter()
    status = filters.ChoiceFilter(
        choices=[("open", "open"), ("closed", "closed")],
        method="filter_status",
        help_text="open: something is left to collect (open_amount > 0); closed: settled.",
    )
    overdue = filters.BooleanFilter(method="filter_overdue", help_text="Open and due before today.")
    due_date = filters.DateFromToRangeFilter(help_text="due_date_after / due_date_before, inclusive.")
    issue_date = filters.DateFromToRangeFilter(help_text="issue_date_after / issue_date_before, inclusive.")
    currency = filters.CharFilter(method=_upper)

    class Meta:
        model = Invoice
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet[Invoice], name: str, value: str) -> QuerySet[Invoice]:
        return queryset.filter(open_amount__gt=0) if value == "open" else queryset.filter(open_amount=0)

    def filter_overdue(self, queryset: QuerySet[Invoice], name: str, value: bool) -> QuerySet[Invoice]:
        overdue = Q(open_amount__gt=0, due_date__lt=timezone.localdate())
        return queryset.filter(overdue if value else ~overdue)


class CustomerCreditFilter(filters.FilterSet):
    external_id = filters.CharFilter(help_text="Exact external id.")
    customer = filters.CharFilter(field_name="customer__external_id", help_text="The customer's external id.")
    customer_id = IdFilter()
    date = filters.DateFromToRangeFilter(help_text="date_after / date_before, inclusive.")
    currency = filters.CharFilter(method=_upper)
    unapplied = filters.BooleanFilter(method="filter_unapplied", help_text="Has an unapplied part left.")

    def filter_unapplied(self, queryset: QuerySet[Any], name: str, value: bool) -> QuerySet[Any]:
        return queryset.filter(unapplied_amount__gt=0) if value else queryset.filter(unapplied_amount=0)


class PaymentFilter(CustomerCreditFilter):
    class Meta:
        model = Payment
        fields: list[str] = []


class CreditNoteFilter(CustomerCreditFilter):
    class Meta:
        model = CreditNote
        fields: list[str] = []


class AllocationFilter(filters.FilterSet):
    invoice = filters.CharFilter(field_name="invoice__external_id", help_text="The invoice's external id.")
    invoice_id = IdFilter()
    payment = filters.CharFilter(field_name="payment__external_id", help_text="The payment's external id.")
    payment_id = IdFilter()
    credit_note = filters.CharFilter(field_name="credit_note__external_id")
    credit_note_id = IdFilter()
    customer = filters.CharFilter(field_name="invoice__customer__external_id")
    kind = filters.ChoiceFilter(choices=AllocationKind.choices)
    date = filters.DateFromToRangeFilter(help_text="date_after / date_before, inclusive.")

    class Meta:
        model = Allocation
        fields: list[str] = []


class FxRateFilter(filters.FilterSet):
    currency = filters.CharFilter(method=_upper)
    date = filters.DateFromToRangeFilter(help_text="date_after / date_before, inclusive.")

    class Meta:
        model = FxRate
        fields: list[str] = []


class DunningPolicyFilter(filters.FilterSet):
    name = filters.CharFilter(help_text="Exact name.")
    default = filters.BooleanFilter(field_name="is_default", help_text="The default policy.")

    class Meta:
        model = DunningPolicy
        fields: list[str] = []


class DunningRunFilter(filters.FilterSet):
    as_of = filters.DateFromToRangeFilter(help_text="as_of_after / as_of_before, inclusive.")
    status = filters.ChoiceFilter(choices=RunStatus.choices)

    class Meta:
        model = DunningRun
        fields: list[str] = []


class OutboundMessageFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=MessageStatus.choices)
    channel = filters.ChoiceFilter(choices=Channel.choices)
    kind = filters.ChoiceFilter(
        choices=[("reminder", "Reminder"), ("manual", "Sent by hand")],
        method="filter_kind",
        help_text="reminder: written by a dunning run; manual: an email a person sent from a template.",
    )
    customer = filters.CharFilter(field_name="customer__external_id", help_text="The customer's external id.")
    customer_id = IdFilter()
    run = IdFilter(field_name="run_id", help_text="The run that wrote the message.")
    as_of = filters.DateFilter(help_text="The run date, exactly.")
    as_of_after = filters.DateFilter(field_name="as_of", lookup_expr="gte", help_text="Inclusive.")
    as_of_before = filters.DateFilter(field_name="as_of", lookup_expr="lte", help_text="Inclusive.")

    class Meta:
        model = OutboundMessage
        fields: list[str] = []

    def filter_kind(
        self, queryset: QuerySet[OutboundMessage], name: str, value: str
    ) -> QuerySet[OutboundMessage]:
        return queryset.filter(level__isnull=value == "manual")


class DunningHoldFilter(filters.FilterSet):
    customer = filters.CharFilter(field_name="customer__external_id", help_text="The customer's external id.")
    customer_id = IdFilter()
    invoice = filters.CharFilter(field_name="invoice__external_id", help_text="The invoice's external id.")
    invoice_id = IdFilter()
    active = filters.BooleanFilter(
        method="filter_active", help_text="In force today: not released and not past its last day."
    )

    class Meta:
        model = DunningHold
        fields: list[str] = []

    def filter_active(self, queryset: QuerySet[DunningHold], name: str, value: bool) -> QuerySet[DunningHold]:
        active = hold_in_force(timezone.localdate())
        return queryset.filter(active if value else ~active)


class DisputeReasonFilter(filters.FilterSet):
    code = filters.CharFilter(help_text="Exact code.")
    is_active = filters.BooleanFilter()

    class Meta:
        model = DisputeReason
        fields: list[str] = []


class DisputeFilter(filters.FilterSet):
    status = filters.ChoiceFilter(
        choices=[("active", "active"), *DisputeStatus.choices],
        method="filter_status",
        help_text="A status, or active: open or in review.",
    )
    reason = filters.CharFilter(field_name="reason__code", help_text="The reason's code.")
    owner = IdFilter(field_name="owner_id", help_text="The owner's user id.")
    team = IdFilter(field_name="team_id", help_text="The owning team's id.")
    customer = filters.CharFilter(
        field_name="invoice__customer__external_id", help_text="The customer's external id."
    )
    invoice = filters.CharFilter(field_name="invoice__external_id", help_text="The invoice's external id.")
    sla = filters.ChoiceFilter(
        choices=[(state, state) for state in dispute_selectors.SLA_FILTERS],
        method="filter_sla",
        help_text="Against the SLA today: overdue, due_soon, on_track (active); met, missed (resolved).",
    )
    scope = filters.ChoiceFilter(
        choices=[(scope, scope) for scope in dispute_selectors.SCOPES],
        method="filter_scope",
        help_text="mine: owned by you; team: owned by your team; all (default): every dispute you may see.",
    )

    class Meta:
        model = Dispute
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet[Dispute], name: str, value: str) -> QuerySet[Dispute]:
        if value == "active":
            return queryset.filter(status__in=ACTIVE_STATUSES)
        return queryset.filter(status=value)

    def filter_sla(self, queryset: QuerySet[Dispute], name: str, value: str) -> QuerySet[Dispute]:
        return queryset.filter(dispute_selectors.sla_filter(value, timezone.localdate()))

    def filter_scope(self, queryset: QuerySet[Dispute], name: str, value: str) -> QuerySet[Dispute]:
        user = self.request.user if self.request is not None else None
        if value == "mine":
            return queryset.filter(owner_id=getattr(user, "pk", None))
        if value == "team":
            team_id = getattr(user, "team_id", None)
            return queryset.filter(team_id=team_id) if team_id is not None else queryset.none()
        return queryset
