"""The insights on the web pages: a customer's priority terms, risk and predictions (a panel of the customer
page, loaded by htmx), and Settings → Priority weights, where managers weigh the terms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from recoup.core.errors import DomainError
from recoup.core.htmx import is_partial
from recoup.insights import actions, rules, selectors, services
from recoup.insights.models import PriorityWeights
from recoup.ledger.models import Customer
from recoup.users.models import MANAGE_ROLES
from recoup.users.permissions import RoleRequiredMixin

PREDICTIONS_SHOWN = 20


class CustomerPanelView(RoleRequiredMixin, View):
    """The customer page's insights: the suggested next best action with its evidence, the priority terms
    with their weights, the risk and its drivers, and the predicted settlement of the open invoices."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Customer, pk=pk)
        predictions = selectors.invoice_predictions(customer_id=pk).order_by(
            "invoice__due_date", "invoice_id"
        )
        panel = "insights/partials/customer_panel.html"
        context = {
            "nav": "customers",
            "customer": customer,
            "priority": selectors.priority_terms([pk]).get(pk),
            "action": actions.next_best_action(pk, today=timezone.localdate()),
            "predictions": list(predictions[:PREDICTIONS_SHOWN]),
            "predictions_count": predictions.count(),
            "panel": panel,
            "panel_title": "Insights",
        }
        return render(request, panel if is_partial(request) else "customer_panel_page.html", context)


class WeightsForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for term in rules.TERMS:
            self.fields[term] = forms.FloatField(
                min_value=0.0,
                max_value=rules.MAX_WEIGHT,
                label=rules.TERM_LABELS[term],
                widget=forms.NumberInput(attrs={"step": "0.1"}),
            )


class WeightsView(RoleRequiredMixin, View):
    """Settings → Priority weights: 0 leaves a term out, 10 makes it count ten times; saving re-ranks every
    worklist in the same transaction."""

    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, WeightsForm(initial=selectors.priority_weights()))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = WeightsForm(request.POST)
        if form.is_valid():
            try:
                services.priority_weights_update(actor=request.user, **form.cleaned_data)
            except DomainError as refused:
                form.add_error(refused.field if refused.field in form.fields else None, refused.message)
            else:
                messages.success(request, "The weights are saved; every worklist is ranked by them now.")
                return redirect("insights-weights")
        return self.page(request, form, status=400)

    def page(self, request: HttpRequest, form: WeightsForm, status: int = 200) -> HttpResponse:
        row = PriorityWeights.objects.select_related("updated_by").filter(pk=1).first()
        context = {"nav": "settings", "form": form, "row": row, "labels": rules.TERM_LABELS}
        return render(request, "insights/weights.html", context, status=status)
