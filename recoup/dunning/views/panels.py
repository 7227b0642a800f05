"""The dunning panels of the invoice and customer pages, and dunning holds."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from recoup.core.errors import DomainError
from recoup.core.htmx import is_partial
from recoup.dunning import selectors, services
from recoup.dunning.forms import (
    HoldForm,
    add_domain_error,
)
from recoup.dunning.models import (
    DunningHold,
)
from recoup.dunning.views.common import SOURCE_TEXT
from recoup.ledger.models import Customer, Invoice
from recoup.users.permissions import RoleRequiredMixin

# Panels of the invoice and customer pages -------------------------------------------------------------------


def _invoice(pk: int) -> Invoice:
    return get_object_or_404(
        Invoice.objects.select_related("customer", "customer__dunning_policy", "dunning_policy"), pk=pk
    )


def invoice_panel_context(invoice: Invoice, *, hold_form: HoldForm | None = None) -> dict[str, Any]:
    """The invoice's dunning status as of today: why it is (not) dunned, its history, its holds."""
    today = timezone.localdate()
    status = selectors.invoice_dunning_status(invoice=invoice, as_of=today)
    prefetch_related_objects(status.holds, "created_by")
    return {
        "invoice": invoice,
        "today": today,
        "dunning": status,
        "source_text": SOURCE_TEXT.get(status.policy_source, "none applies"),
        "hold_form": hold_form or HoldForm(),
    }


def customer_panel_context(customer: Customer, *, hold_form: HoldForm | None = None) -> dict[str, Any]:
    today = timezone.localdate()
    policy, source = selectors.customer_policy(customer)
    return {
        "customer": customer,
        "today": today,
        "policy": policy,
        "source_text": SOURCE_TEXT.get(source, "none applies"),
        "holds": list(selectors.customer_holds(customer=customer, as_of=today)),
        "hold_form": hold_form or HoldForm(),
    }


def _panel(request: HttpRequest, partial: str, context: dict[str, Any]) -> HttpResponse:
    """htmx gets the panel; a browser without JavaScript gets it as a page of its own."""
    context = {**context, "panel": partial}
    return render(request, partial if is_partial(request) else "dunning/panel_page.html", context)


class InvoicePanelView(RoleRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = _invoice(pk)
        context = {"nav": "invoices", **invoice_panel_context(invoice)}
        return _panel(request, "dunning/partials/invoice_dunning.html", context)


def _customer(pk: int) -> Customer:
    return get_object_or_404(Customer.objects.select_related("dunning_policy"), pk=pk)


class CustomerPanelView(RoleRequiredMixin, View):
    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        context = {"nav": "customers", **customer_panel_context(_customer(pk))}
        return _panel(request, "dunning/partials/customer_dunning.html", context)


# Holds ------------------------------------------------------------------------------------------------------


class InvoiceHoldCreateView(RoleRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = _invoice(pk)
        form = HoldForm(request.POST)
        if form.is_valid() and _hold_create(request, form, invoice.customer, invoice):
            if not is_partial(request):
                messages.success(request, f"Dunning of {invoice.external_id} is on hold.")
                return redirect("invoice-detail", invoice.pk)
            form = HoldForm()
        context = {"nav": "invoices", **invoice_panel_context(invoice, hold_form=form)}
        return _panel(request, "dunning/partials/invoice_dunning.html", context)


class CustomerHoldCreateView(RoleRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = _customer(pk)
        form = HoldForm(request.POST)
        if form.is_valid() and _hold_create(request, form, customer, None):
            if not is_partial(request):
                messages.success(request, f"Dunning of {customer.name} is on hold.")
                return redirect("customer-detail", customer.pk)
            form = HoldForm()
        context = {"nav": "customers", **customer_panel_context(customer, hold_form=form)}
        return _panel(request, "dunning/partials/customer_dunning.html", context)


def _hold_create(request: HttpRequest, form: HoldForm, customer: Customer, invoice: Invoice | None) -> bool:
    try:
        services.hold_create(
            actor=request.user,
            customer=customer,
            invoice=invoice,
            reason=form.cleaned_data["reason"],
            until=form.cleaned_data["until"],
        )
    except DomainError as refused:
        add_domain_error(form, refused)
        return False
    return True


class HoldReleaseView(RoleRequiredMixin, View):
    """Release a hold, from the invoice's panel (`invoice` names it) or the customer's."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        hold = get_object_or_404(DunningHold.objects.select_related("customer"), pk=pk)
        raw = request.POST.get("invoice", "")
        invoice = _invoice(int(raw)) if raw.isdigit() else None
        if invoice is not None and invoice.customer_id != hold.customer_id:
            invoice = None
        try:
            services.hold_release(actor=request.user, hold=hold)
            error = ""
        except DomainError as refused:
            error = refused.message
        if not is_partial(request):
            if error:
                messages.error(request, error)
            else:
                messages.success(request, f"Released the hold: {hold.reason}")
            if invoice is not None:
                return redirect("invoice-detail", invoice.pk)
            return redirect("customer-detail", hold.customer_id)
        if invoice is not None:
            context = {"nav": "invoices", "hold_error": error, **invoice_panel_context(invoice)}
            return render(request, "dunning/partials/invoice_dunning.html", context)
        context = {
            "nav": "customers",
            "hold_error": error,
            **customer_panel_context(_customer(hold.customer_id)),
        }
        return render(request, "dunning/partials/customer_dunning.html", context)
