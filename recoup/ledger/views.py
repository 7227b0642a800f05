"""Ledger pages: customers, a customer, invoices, an invoice. Reads only, through the selectors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.generic import DetailView, ListView

from recoup.core.errors import DomainError
from recoup.core.htmx import is_partial, query_without_page
from recoup.ledger import aging, rules, selectors
from recoup.ledger.models import Customer, Invoice
from recoup.users.models import Team, User
from recoup.users.permissions import RoleRequiredMixin

PAGE_SIZE = 50
OPEN_INVOICES_SHOWN = 100
ZERO = Decimal(0)


class CountedPaginator(Paginator):
    """Counts the filtered rows without the list's aggregates: the count query skips the joins and sums."""

    def __init__(self, object_list: Any, per_page: int, *, count_from: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self._count_from = count_from

    @property
    def count(self) -> int:
        if not hasattr(self, "_count"):
            self._count = self._count_from.count()
        return self._count


class HtmxPartialMixin:
    """Answers an htmx request with the page's partial only, so search-as-you-type swaps just the table."""

    partial_template_name = ""

    def get_template_names(self) -> list[str]:
        request = self.request  # type: ignore[attr-defined]
        if is_partial(request):
            return [self.partial_template_name]
        return super().get_template_names()  # type: ignore[misc]


def _set_days_past_due(invoices: Iterable[Invoice], today: dt.date, as_of: dt.date | None = None) -> None:
    """For the rows of one page: days past the due date of each open invoice (None once settled), and
    `open_shown`, the open amount the row shows. With `as_of` (every row was open then), both as of then."""
    for invoice in invoices:
        if as_of is not None:
            invoice.days_past_due = rules.days_past(as_of, invoice.due_date)  # type: ignore[attr-defined]
            invoice.open_shown = invoice.open_on  # type: ignore[attr-defined]
            continue
        invoice.days_past_due = rules.days_past(today, invoice.due_date) if invoice.is_open else None  # type: ignore[attr-defined]
        invoice.open_shown = invoice.open_amount  # type: ignore[attr-defined]


class ScopeFields(forms.Form):
    """The dashboard's filters as the lists take them (its drill-down links carry them): the customers'
    collector (a user id, or "none" for no collector), their collector's team and their segment."""

    collector = forms.CharField(required=False, max_length=20, widget=forms.HiddenInput)
    team = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    segment = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    currency_field = "currency"  # the parameter that names the customers' currency

    def clean_collector(self) -> int | str | None:
        value: str = self.cleaned_data["collector"].strip()
        if value in ("", selectors.UNASSIGNED):
            return value or None
        if not value.isdigit():
            raise ValidationError("Name a collector by id, or “none” for customers without one.")
        return int(value)

    def scope(self) -> selectors.CustomerFilter | None:
        data = self.cleaned_data
        scope = selectors.CustomerFilter(
            collector=data.get("collector"),
            team=data.get("team"),
            segment=data.get("segment") or "",
            currency=(data.get(self.currency_field) or "").upper(),
        )
        return None if scope == selectors.CustomerFilter() else scope


def _scope_chips(scope: selectors.CustomerFilter | None, currency_label: str) -> list[tuple[str, str]]:
    """The scope in words, for the "filtered by" line: (what, which)."""
    if scope is None:
        return []
    chips: list[tuple[str, str]] = []
    if scope.collector == selectors.UNASSIGNED:
        chips.append(("Collector", "none assigned"))
    elif scope.collector is not None:
        user = User.objects.filter(pk=scope.collector).first()
        chips.append(
            ("Collector", (user.get_full_name() or user.username) if user else f"#{scope.collector}")
        )
    if scope.team is not None:
        team = Team.objects.filter(pk=scope.team).first()
        chips.append(("Team", team.name if team else f"#{scope.team}"))
    if scope.segment:
        chips.append(("Segment", scope.segment))
    if scope.currency:
        chips.append((currency_label, scope.currency))
    return chips


# Customers --------------------------------------------------------------------------------------------------


class CustomerFilterForm(ScopeFields):
    currency = forms.CharField(required=False, max_length=3, widget=forms.HiddenInput)
    overdue = forms.BooleanField(required=False, widget=forms.HiddenInput)
    paid_from = forms.DateField(required=False, widget=forms.HiddenInput)
    paid_to = forms.DateField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("paid_from") and data.get("paid_to") and data["paid_from"] > data["paid_to"]:
            self.add_error("paid_to", "The end of the range is before its start.")
        return data

    def chips(self) -> list[tuple[str, str]]:
        data = self.cleaned_data
        chips = _scope_chips(self.scope(), "Currency")
        if data.get("overdue"):
            chips.append(("Overdue", "only customers with overdue invoices"))
        if data.get("paid_from") or data.get("paid_to"):
            span = " to ".join(f"{d:%Y-%m-%d}" for d in (data.get("paid_from"), data.get("paid_to")) if d)
            chips.append(("Paid", span))
        return chips


class CustomerListView(RoleRequiredMixin, HtmxPartialMixin, ListView):
    template_name = "ledger/customer_list.html"
    partial_template_name = "ledger/partials/customer_table.html"
    context_object_name = "customers"
    paginate_by = PAGE_SIZE
    sorts = {
        "name": "Name",
        "-balance": "Balance",
        "-overdue": "Overdue",
    }

    def get_queryset(self) -> QuerySet[Customer]:
        self.search = self.request.GET.get("q", "").strip()[:100]
        sort = self.request.GET.get("sort", "-balance")
        self.sort = sort if sort in selectors.CUSTOMER_SORTS else "-balance"
        self.filter_form = CustomerFilterForm(self.request.GET)
        self.filters: dict[str, Any] = {}
        if not self.filter_form.is_valid():
            return Customer.objects.none()
        data = self.filter_form.cleaned_data
        self.filters = {
            "scope": self.filter_form.scope(),
            "overdue_only": data["overdue"],
            "paid_from": data["paid_from"],
            "paid_to": data["paid_to"],
        }
        return selectors.customer_list(
            today=timezone.localdate(), search=self.search, sort=self.sort, **self.filters
        )

    def get_paginator(
        self,
        queryset: Any,
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        **kwargs: Any,
    ) -> Paginator:
        return CountedPaginator(
            queryset,
            per_page,
            orphans=orphans,
            allow_empty_first_page=allow_empty_first_page,
            count_from=selectors.customer_filter(
                selectors.customer_search(Customer.objects.all(), self.search),
                today=timezone.localdate(),
                **self.filters,
            )
            if self.filter_form.is_valid()
            else Customer.objects.none(),
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        form = self.filter_form
        # The filters a search or a sort keeps: every parameter but the search, the sort and the page.
        kept = self.request.GET.copy()
        for name in ("q", "sort", "page"):
            kept.pop(name, None)
        context.update(
            search=self.search,
            sort=self.sort,
            nav="customers",
            list_query=query_without_page(self.request),
            filter_form=form,
            filter_query=kept.urlencode(),
            filter_chips=form.chips() if form.is_valid() else [],
        )
        return context


class CustomerDetailView(RoleRequiredMixin, DetailView):
    template_name = "ledger/customer_detail.html"
    context_object_name = "customer"

    def get_queryset(self) -> QuerySet[Customer]:
        return Customer.objects.select_related("collector").prefetch_related("contacts")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        customer: Customer = self.object
        today = timezone.localdate()
        try:
            report = aging.aging_report(as_of=today, by="customer", customer_ids=[customer.pk])
        except DomainError as exc:  # a currency with no FX rate yet: the page still shows, the strip says why
            report, aging_error = None, exc.message
        else:
            aging_error = ""
        if report is not None:
            row = report.rows[0] if report.rows else None
            buckets = row.buckets if row else (ZERO,) * len(report.labels)
            context["aging_cells"] = list(zip(report.labels, buckets, strict=True))
            context["aging_total"] = row.total if row else ZERO
        open_totals = selectors.customer_open_totals(customer=customer, today=today)
        own_open = next((t.open for t in open_totals if t.currency == customer.currency), ZERO)
        unapplied = selectors.customer_unapplied_as_of(customer=customer, as_of=today)
        open_invoices = list(selectors.customer_open_invoices(customer=customer)[:OPEN_INVOICES_SHOWN])
        _set_days_past_due(open_invoices, today)
        context.update(
            nav="customers",
            today=today,
            open_totals=open_totals,
            unapplied=sorted(unapplied.items()),
            # DESIGN.md: unapplied cash and credit notes net into the balance (in the customer's currency).
            net_balance=own_open - unapplied.get(customer.currency, ZERO),
            aging=report,
            aging_error=aging_error,
            open_invoices=open_invoices,
            open_invoices_count=sum(t.invoices for t in open_totals),
            payments=selectors.customer_recent_payments(customer=customer),
            credit_notes=selectors.customer_recent_credit_notes(customer=customer),
        )
        return context


# Invoices ---------------------------------------------------------------------------------------------------


class InvoiceFilterForm(ScopeFields):
    status = forms.ChoiceField(
        choices=[("open", "Open"), ("closed", "Closed"), ("all", "All")], required=False, initial="open"
    )
    overdue = forms.BooleanField(required=False, label="Overdue only")
    customer = forms.CharField(required=False, max_length=100, label="Customer")
    due_from = forms.DateField(
        required=False, label="Due from", widget=forms.DateInput(attrs={"type": "date"})
    )
    due_to = forms.DateField(required=False, label="Due to", widget=forms.DateInput(attrs={"type": "date"}))
    currency = forms.ChoiceField(required=False, label="Currency")
    band = forms.ChoiceField(
        required=False,
        label="Days past due",
        choices=[("", "Any"), *((label, selectors.band_name(label)) for label in selectors.DPD_BANDS)],
    )
    as_of = forms.DateField(required=False, label="Open on", widget=forms.DateInput(attrs={"type": "date"}))
    customer_currency = forms.CharField(required=False, max_length=3, widget=forms.HiddenInput)
    currency_field = "customer_currency"

    def __init__(self, *args: Any, currencies: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [("", "Any"), *((c, c) for c in currencies)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        due_from: dt.date | None = data.get("due_from")
        due_to: dt.date | None = data.get("due_to")
        if due_from and due_to and due_from > due_to:
            self.add_error("due_to", "The end of the range is before its start.")
        as_of: dt.date | None = data.get("as_of")
        if as_of and as_of > timezone.localdate():
            self.add_error("as_of", "Choose today or a past date.")
        return data

    def chips(self) -> list[tuple[str, str]]:
        return _scope_chips(self.scope(), "Customer currency")


class InvoiceListView(RoleRequiredMixin, HtmxPartialMixin, ListView):
    template_name = "ledger/invoice_list.html"
    partial_template_name = "ledger/partials/invoice_table.html"
    context_object_name = "invoices"
    paginate_by = PAGE_SIZE

    def get_queryset(self) -> QuerySet[Invoice]:
        self.form = InvoiceFilterForm(self.request.GET or None, currencies=selectors.invoice_currencies())
        self.as_of: dt.date | None = None
        filters: dict[str, Any] = {"status": "open"}
        if self.form.is_bound and self.form.is_valid():
            data = self.form.cleaned_data
            self.as_of = data["as_of"]
            filters = {
                "status": data["status"] or "open",
                "overdue_only": data["overdue"],
                "customer": data["customer"],
                "due_from": data["due_from"],
                "due_to": data["due_to"],
                "currency": data["currency"],
                "scope": self.form.scope(),
                "band": data["band"],
                "as_of": self.as_of,
            }
        elif self.form.is_bound:
            return Invoice.objects.none()
        return selectors.invoice_list(today=timezone.localdate(), **filters)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        today = timezone.localdate()
        _set_days_past_due(context["object_list"], today, self.as_of)
        valid = self.form.is_bound and self.form.is_valid()
        context.update(
            form=self.form,
            nav="invoices",
            today=today,
            as_of=self.as_of,
            list_query=query_without_page(self.request),
            filter_chips=self.form.chips() if valid else [],
        )
        return context


class InvoiceDetailView(RoleRequiredMixin, DetailView):
    template_name = "ledger/invoice_detail.html"
    context_object_name = "invoice"

    def get_object(self, queryset: QuerySet[Invoice] | None = None) -> Invoice:
        return get_object_or_404(Invoice.objects.select_related("customer"), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        invoice: Invoice = self.object
        today = timezone.localdate()
        _set_days_past_due([invoice], today)
        context.update(
            nav="invoices",
            today=today,
            days_past_due=invoice.days_past_due,  # type: ignore[attr-defined]
            applied=invoice.amount - invoice.open_amount,
            allocations=selectors.invoice_allocation_history(invoice=invoice),
        )
        return context
