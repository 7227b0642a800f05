"""The customer's timeline panel, on the customer page, and what a collector records from it: a call (with a
promise made on it), a note, an email from a template.

Each action takes two clicks: a button opens its form in place (htmx), then submit. The answer is the whole
panel again, with the new item on top and a notice, or with the form and its errors. Without JavaScript the
same URLs work as pages. Every item links to the invoices it concerns; the filters (kind, invoice) and the
"older" link read the timeline a keyset page at a time.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views import View

from recoup.activity import selectors
from recoup.activity.models import PromiseChannel
from recoup.activity.services import PromiseSpec, call_log, note_add
from recoup.activity.timeline import KIND_GROUPS, TimelineItem, TimelinePage, customer_activity
from recoup.activity.views.timeline_forms import (
    CallForm,
    CustomerForm,
    EmailForm,
    NoteForm,
    TimelineFilterForm,
)
from recoup.core.errors import DomainError
from recoup.core.htmx import is_partial
from recoup.core.money import Money
from recoup.dunning.manual import email_preview, email_send
from recoup.dunning.models import MessageStatus, OutboundMessage
from recoup.ledger.models import Customer
from recoup.users.models import COLLECT_ROLES, WRITE_ROLES
from recoup.users.permissions import RoleRequiredMixin, user_has_role

log = logging.getLogger(__name__)
PAGE = 25
# The page each kind of stored entry links to, by the model behind it.
SOURCE_PAGES = {
    "dunning.outboundmessage": "dunning-message-detail",
    "disputes.dispute": "dispute-detail",
    "activity.inboundemail": "activity-inbound-detail",
}
PANEL = "activity/partials/timeline_panel.html"
ITEMS = "activity/partials/timeline_items.html"


def _customer(pk: int) -> Customer:
    return get_object_or_404(Customer.objects.select_related("collector"), pk=pk)


def _link(item: TimelineItem) -> str:
    name = SOURCE_PAGES.get(item.source_type)
    if name is None or item.source_pk is None:
        return ""
    try:
        return reverse(name, args=[item.source_pk])
    except NoReverseMatch:  # a page another part of the workspace has not built (yet)
        return ""


def _next_action(customer: Customer) -> Any:
    """The worklist's suggestion for the customer (next_action, in selectors or the worklist module), shown
    at the top of the panel by the worklist's partial; None hides it."""
    from recoup.activity import worklist

    suggest = getattr(selectors, "next_action", None) or getattr(worklist, "next_action", None)
    if suggest is None:
        return None
    try:
        return suggest(customer)
    except Exception:  # a suggestion must never take the timeline down with it
        log.exception("activity: next_action failed for customer %s", customer.pk)
        return None


def read_page(request: HttpRequest, customer: Customer) -> tuple[TimelineFilterForm, TimelinePage, str]:
    """The page the request's filters ask for, and the URL of the one after it ("" on the oldest page)."""
    filters = TimelineFilterForm(request.GET or None, customer=customer)
    data = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    kinds = KIND_GROUPS.get(data.get("kind") or "", ())
    invoice = data.get("invoice")
    try:
        page = customer_activity(
            customer=customer, kinds=kinds, invoice=invoice, before=data.get("before") or None, limit=PAGE
        )
    except DomainError as refused:  # a cursor that is no cursor: the first page, and why
        filters.add_error(None, refused.message)
        page = customer_activity(customer=customer, kinds=kinds, invoice=invoice, limit=PAGE)
    for item in page.items:
        item.link = _link(item)
    more = ""
    if page.next_cursor:
        query = {
            "kind": data.get("kind") or "",
            "invoice": invoice.pk if invoice else "",
            "before": page.next_cursor,
        }
        more = reverse("activity-timeline-items", args=[customer.pk]) + "?" + urlencode(query)
    return filters, page, more


def panel_context(
    request: HttpRequest,
    customer: Customer,
    *,
    form: CustomerForm | None = None,
    notice: str = "",
    notice_level: str = "success",
) -> dict[str, Any]:
    filters, page, more = read_page(request, customer)
    outgoing = (
        OutboundMessage.objects.filter(
            customer=customer,
            level__isnull=True,
            status__in=[MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.FAILED],
        )
        .select_related("template")
        .order_by("-id")[:5]
    )
    return {
        "nav": "customers",
        "customer": customer,
        "today": timezone.localdate(),
        "items": page.items,
        "more_url": more,
        "filters": filters,
        "filtered": bool(filters.is_bound and filters.is_valid() and any(filters.cleaned_data.values())),
        "tasks": list(selectors.customer_open_tasks(customer=customer)),
        "outgoing": list(outgoing),
        "next_action": _next_action(customer),
        "may_collect": user_has_role(request.user, COLLECT_ROLES),
        "may_note": user_has_role(request.user, WRITE_ROLES),
        "form": form,
        "form_template": FORM_TEMPLATES.get(type(form)) if form is not None else "",
        "notice": notice,
        "notice_level": notice_level,
    }


def _panel(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """htmx gets the panel; a browser without JavaScript gets it as a page of its own."""
    if is_partial(request):
        return render(request, PANEL, context)
    return render(request, "customer_panel_page.html", {**context, "panel": PANEL, "panel_title": "Timeline"})


class TimelinePanelView(RoleRequiredMixin, View):
    """The panel the customer page loads: suggestion, actions, filters, the first page, open tasks.
    `?open=call` (or note, email) opens that form at once, as the worklist's "next action" link asks."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = _customer(pk)
        form_class = OPENABLE.get(request.GET.get("open", ""))
        form = None
        if form_class is not None and user_has_role(request.user, form_class.roles):
            form = form_class(customer=customer)
        return _panel(request, panel_context(request, customer, form=form))


class TimelineItemsView(RoleRequiredMixin, View):
    """One page of items (a filter changed, or "older"); without htmx, the panel at that page."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = _customer(pk)
        if not is_partial(request):
            return _panel(request, panel_context(request, customer))
        filters, page, more = read_page(request, customer)
        context = {"customer": customer, "items": page.items, "more_url": more, "filters": filters}
        context["filtered"] = bool(
            filters.is_bound and filters.is_valid() and any(filters.cleaned_data.values())
        )
        context["appending"] = bool(request.GET.get("before"))
        return render(request, ITEMS, context)


class _ActionView(RoleRequiredMixin, View):
    """GET: the form, in place; POST: record it, then the panel (or the form with its errors)."""

    read_roles = COLLECT_ROLES  # the form itself is for those who may submit it
    write_roles = COLLECT_ROLES
    form_class: type[CustomerForm]
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = _customer(pk)
        form = self.form_class(customer=customer)
        if is_partial(request):
            context = {"customer": customer, "form": form, **self.extra(customer, form)}
            return render(request, FORM_TEMPLATES[self.form_class], context)
        return _panel(request, panel_context(request, customer, form=form))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = _customer(pk)
        form = self.form_class(request.POST, customer=customer)
        if form.is_valid():
            try:
                notice, level = self.perform(request, customer, form)
            except DomainError as refused:
                form.add_domain_error(refused)
            else:
                if not is_partial(request):
                    getattr(messages, "error" if level == "danger" else "success")(request, notice)
                    return redirect("customer-detail", customer.pk)
                return _panel(request, panel_context(request, customer, notice=notice, notice_level=level))
        return _panel(request, panel_context(request, customer, form=form))

    def extra(self, customer: Customer, form: forms.Form) -> dict[str, Any]:
        return {}

    def perform(self, request: HttpRequest, customer: Customer, form: Any) -> tuple[str, str]:
        raise NotImplementedError


class CallView(_ActionView):
    form_class = CallForm

    def perform(self, request: HttpRequest, customer: Customer, form: CallForm) -> tuple[str, str]:
        data = form.cleaned_data
        promise = None
        if form.has_promise:
            promise = PromiseSpec(
                amount=data["promise_amount"],
                promised_date=data["promise_date"],
                invoices=list(data["promise_invoices"] or data["invoices"]),
                channel=data["promise_channel"] or PromiseChannel.CALL,
            )
        call = call_log(
            actor=request.user,
            customer=customer,
            outcome=data["outcome"],
            duration_seconds=(data["duration_minutes"] or 0) * 60,
            notes=data["notes"],
            contact=data["contact"],
            invoices=list(data["invoices"]),
            task=data["task"],
            promise=promise,
        )
        text = f"Call logged: {call.get_outcome_display().lower()}."
        if call.promise is not None:
            promised = Money(call.promise.amount, call.promise.currency)
            text += f" Promise to pay {promised} by {call.promise.promised_date:%Y-%m-%d} recorded."
        if call.task is not None:
            text += f" Task done: {call.task.title}."
        return text, "success"


class NoteView(_ActionView):
    form_class = NoteForm
    read_roles = WRITE_ROLES
    write_roles = WRITE_ROLES

    def perform(self, request: HttpRequest, customer: Customer, form: NoteForm) -> tuple[str, str]:
        data = form.cleaned_data
        note = note_add(
            actor=request.user, customer=customer, body=data["body"], invoices=list(data["invoices"])
        )
        told = [user.username for user in note.mentions.order_by("username") if user.pk != request.user.pk]
        return "Note added." + (f" Told by email: {', '.join(told)}." if told else ""), "success"


class EmailView(_ActionView):
    form_class = EmailForm

    def perform(self, request: HttpRequest, customer: Customer, form: EmailForm) -> tuple[str, str]:
        data = form.cleaned_data
        message, created = email_send(
            actor=request.user,
            customer=customer,
            template=data["template"],
            request_key=data["request_key"],
            contact=data["contact"],
            invoices=list(data["invoices"]),
        )
        message.refresh_from_db()  # in the embedded mode it went out once this committed
        to = ", ".join(message.recipients)
        if not created:
            return f"This email was already submitted ({message.get_status_display().lower()}).", "info"
        if message.status == MessageStatus.SENT:
            return f"Email sent to {to}: {message.subject}", "success"
        if message.status == MessageStatus.FAILED:
            return f"The email to {to} failed: {message.last_error}", "danger"
        return f"Email to {to} queued: {message.subject}", "info"


class EmailPreviewView(RoleRequiredMixin, View):
    """What the email form would send, as the form now stands (htmx swaps it under the form)."""

    read_roles = COLLECT_ROLES
    http_method_names = ["get"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = _customer(pk)
        form = EmailForm(request.GET, customer=customer)
        context: dict[str, Any] = {"customer": customer}
        if form.is_valid():
            data = form.cleaned_data
            try:
                context["preview"] = email_preview(
                    customer=customer,
                    template=data["template"],
                    invoices=list(data["invoices"]),
                    contact=data["contact"],
                    author=request.user,
                )
            except DomainError as refused:
                context["preview_error"] = refused.message
        else:
            context["preview_error"] = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        return render(request, "activity/partials/email_preview.html", context)


FORM_TEMPLATES: dict[type[CustomerForm], str] = {
    CallForm: "activity/partials/call_form.html",
    NoteForm: "activity/partials/note_form.html",
    EmailForm: "activity/partials/email_form.html",
}
# What `?open=` may open, and who may see each form.
OPENABLE: dict[str, type[CustomerForm]] = {"call": CallForm, "note": NoteForm, "email": EmailForm}
