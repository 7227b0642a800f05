"""The inbound-email pages: the queue of unmatched (and recently matched) email, one email with its text,
its HTML in a sandboxed frame and its attachments, and the two things a person does with it: assign it to a
customer (and invoices), or ignore it.

Every role reads; collectors, managers and admins assign and ignore (services.INBOUND_ROLES). The sender
wrote every byte shown here: the text is escaped, the HTML runs nothing and loads nothing from outside
(FRAME_CSP), and attachments are downloads that the browser never sniffs or opens in place.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import ListView
from django_htmx.http import HttpResponseClientRedirect

from recoup.activity import inbound_rules
from recoup.activity.models import InboundAttachment, InboundEmail, InboundStatus, Mailbox
from recoup.activity.services import (
    INBOUND_ROLES,
    inbound_assign,
    inbound_ignore,
    inbound_left_out,
    may_handle_inbound,
)
from recoup.core.errors import DomainError, NotAllowed
from recoup.core.htmx import is_partial, query_without_page
from recoup.dunning.views.common import FRAME_CSP
from recoup.ledger.models import Customer, Invoice
from recoup.ledger.selectors import customer_search
from recoup.users.permissions import RoleRequiredMixin

PAGE_SIZE = 50
PICKER_RESULTS = 20
INVOICE_CHOICES = 50
SEARCH_MAX_CHARS = 100
# An attachment is the sender's file: a download that can run nothing, even if opened in place.
ATTACHMENT_CSP = "default-src 'none'; sandbox"
TABS = (
    ("unmatched", "Unmatched", (InboundStatus.UNMATCHED,)),
    ("matched", "Matched", (InboundStatus.MATCHED, InboundStatus.ASSIGNED)),
    ("ignored", "Ignored", (InboundStatus.IGNORED,)),
    ("all", "All", ()),
)
STATUS_BADGES = {
    InboundStatus.UNMATCHED: "badge-warn",
    InboundStatus.MATCHED: "badge-ok",
    InboundStatus.ASSIGNED: "badge-info",
    InboundStatus.IGNORED: "badge-muted",
}


def _email(pk: int) -> InboundEmail:
    return get_object_or_404(InboundEmail.objects.select_related("customer", "assigned_by", "mailbox"), pk=pk)


def describe(emails: list[InboundEmail]) -> list[InboundEmail]:
    for email in emails:
        email.status_badge = STATUS_BADGES[InboundStatus(email.status)]  # type: ignore[attr-defined]
    return emails


# The queue --------------------------------------------------------------------------------------------------


class InboundListView(RoleRequiredMixin, ListView):
    """Unmatched email first (the work), then the other tabs; newest first, searchable by sender and
    subject."""

    template_name = "activity/inbound_list.html"
    context_object_name = "emails"
    paginate_by = PAGE_SIZE

    def get_template_names(self) -> list[str]:
        if is_partial(self.request):
            return ["activity/partials/inbound_table.html"]
        return [self.template_name]

    def get_queryset(self) -> QuerySet[InboundEmail]:
        shown = self.request.GET.get("show", "unmatched")
        self.show = shown if shown in {tab for tab, _, _ in TABS} else "unmatched"
        self.search = self.request.GET.get("q", "").strip()[:SEARCH_MAX_CHARS].replace("\x00", "")
        statuses = next(statuses for tab, _, statuses in TABS if tab == self.show)
        emails = InboundEmail.objects.select_related("customer").annotate(
            attachment_count=Count("attachments")
        )
        if statuses:
            emails = emails.filter(status__in=statuses)
        if self.search:
            emails = emails.filter(
                Q(from_address__icontains=self.search)
                | Q(from_name__icontains=self.search)
                | Q(subject__icontains=self.search)
            )
        return emails.order_by("-received_at", "-id")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        describe(context["object_list"])
        unmatched = InboundEmail.objects.filter(status=InboundStatus.UNMATCHED).count()
        context.update(
            nav="inbound",
            show=self.show,
            search=self.search,
            tabs=[(tab, label, unmatched if tab == "unmatched" else None) for tab, label, _ in TABS],
            mailboxes=list(Mailbox.objects.order_by("key")),
            list_query=query_without_page(self.request),
        )
        return context


# One email --------------------------------------------------------------------------------------------------


class AssignForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(),
        widget=forms.HiddenInput,
        error_messages={
            "required": "Choose the customer first.",
            "invalid_choice": "Choose the customer first.",
        },
    )
    invoices = forms.ModelMultipleChoiceField(queryset=Invoice.objects.all(), required=False)


def _named(email: InboundEmail) -> list[Invoice]:
    """The invoices whose numbers the email mentions, whoever's they are (a hint for assigning it)."""
    tokens = inbound_rules.invoice_tokens(email.subject, email.body_text)
    if not tokens:
        return []
    return list(
        Invoice.objects.filter(external_id__in=tokens).select_related("customer").order_by("external_id")[:20]
    )


def _invoice_choices(customer: Customer, named: list[Invoice], linked: list[Invoice]) -> list[Invoice]:
    """What the assign form offers: the customer's invoices the email names or is linked to, then its open
    invoices, oldest due first."""
    first = {i.pk: i for i in [*named, *linked] if i.customer_id == customer.pk}
    open_ones = Invoice.objects.filter(customer=customer, open_amount__gt=0).exclude(pk__in=list(first))
    return [*first.values(), *open_ones.order_by("due_date", "id")[:INVOICE_CHOICES]]


def detail_context(
    request: HttpRequest,
    email: InboundEmail,
    *,
    form: AssignForm | None = None,
    chosen: Customer | None = None,
    search: str = "",
) -> dict[str, Any]:
    describe([email])
    named = _named(email)
    linked = list(email.invoices.order_by("external_id"))
    candidate = chosen or email.customer
    if form is not None and form.is_bound:
        selected = {str(v) for v in form.data.getlist("invoices")}  # type: ignore[attr-defined]
    else:
        selected = {str(i.pk) for i in linked} or {
            str(i.pk) for i in named if i.customer_id == getattr(candidate, "pk", None)
        }
    return {
        "nav": "inbound",
        "email": email,
        "attachments": list(email.attachments.all()),
        "left_out": inbound_left_out(email),
        "linked": linked,
        "named": named,
        "may_handle": may_handle_inbound(request.user) and request.user.is_authenticated,
        "candidate": candidate,
        "invoice_choices": _invoice_choices(candidate, named, linked) if candidate is not None else [],
        "selected": selected,
        "form": form,
        "search": search,
        "matches": _matches(search),
    }


def _matches(search: str) -> list[Customer]:
    if not search:
        return []
    return list(customer_search(Customer.objects.all(), search).order_by("name", "id")[:PICKER_RESULTS])


def _chosen(request: HttpRequest) -> Customer | None:
    raw = request.GET.get("customer", "")
    return Customer.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 19 else None


def _framed(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = FRAME_CSP  # the HTML frame inherits it: nothing loads from outside
    return response


class InboundDetailView(RoleRequiredMixin, View):
    """One email. htmx asks for parts of it: the customer picker's results (`?q=`) and the assign panel
    for a chosen customer (`?customer=`)."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        email = _email(pk)
        search = request.GET.get("q", "").strip()[:SEARCH_MAX_CHARS].replace("\x00", "")
        context = detail_context(request, email, chosen=_chosen(request), search=search)
        target = getattr(request.htmx, "target", None) if is_partial(request) else None  # type: ignore[attr-defined]
        if target == "customer-results":
            return render(request, "activity/partials/inbound_customers.html", context)
        if target == "assign-panel":
            return _framed(render(request, "activity/partials/inbound_assign.html", context))
        return _framed(render(request, "activity/inbound_detail.html", context))


class InboundAssignView(RoleRequiredMixin, View):
    http_method_names = ["post"]
    write_roles = INBOUND_ROLES

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        email = _email(pk)
        form = AssignForm(request.POST)
        if form.is_valid():
            customer = form.cleaned_data["customer"]
            try:
                inbound_assign(
                    actor=request.user, email=email, customer=customer, invoices=form.cleaned_data["invoices"]
                )
            except NotAllowed as refused:
                raise PermissionDenied(refused.message) from refused
            except DomainError as refused:
                form.add_error(refused.field if refused.field in form.fields else None, refused.message)
            else:
                messages.success(request, f"Assigned to {customer.name}; it is on the customer's timeline.")
                url = reverse("activity-inbound-detail", args=[pk])
                return HttpResponseClientRedirect(url) if is_partial(request) else redirect(url)
        chosen = form.cleaned_data.get("customer") if hasattr(form, "cleaned_data") else None
        context = detail_context(request, email, form=form, chosen=chosen)
        template = (
            "activity/partials/inbound_assign.html" if is_partial(request) else "activity/inbound_detail.html"
        )
        # htmx swaps only a 2xx answer: the panel with its errors comes back as one.
        return _framed(render(request, template, context, status=200 if is_partial(request) else 400))


class InboundIgnoreView(RoleRequiredMixin, View):
    http_method_names = ["post"]
    write_roles = INBOUND_ROLES

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        email = _email(pk)
        try:
            inbound_ignore(actor=request.user, email=email)
        except NotAllowed as refused:
            raise PermissionDenied(refused.message) from refused
        except DomainError as refused:
            messages.error(request, refused.message)
            url = reverse("activity-inbound-detail", args=[pk])
        else:
            messages.success(request, f"Ignored “{email.subject or 'the email'}”.")
            url = reverse("activity-inbound-list")
        return HttpResponseClientRedirect(url) if is_partial(request) else redirect(url)


class InboundAttachmentView(RoleRequiredMixin, View):
    """An attachment, to signed-in users: always a download of opaque bytes. The sender chose its name and
    its declared type, so neither decides how a browser treats it."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponseBase:
        attachment = get_object_or_404(InboundAttachment, pk=attachment_pk, email_id=pk)
        return attachment_response(attachment)


def attachment_response(attachment: InboundAttachment) -> FileResponse:
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The attachment's file is missing") from exc
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.filename, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ATTACHMENT_CSP
    return response
