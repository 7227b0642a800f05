"""Dispute pages: the queue with the dispute figures, a dispute with its story and its actions, document
downloads, the invoice page's disputes panel, and the reasons.

Reads go through the selectors; writes through the services, whose refusals (DomainError) show on the form
field they name. services.can decides which forms a user sees, and each POST asks it again: what it refuses
is a 403 and writes nothing. A dispute the user may not see (a resolver's other teams) is a 404. Forms post
with htmx and get back the parts of the page they changed; without JavaScript they post and redirect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import ListView
from django_htmx.http import HttpResponseClientRedirect

from recoup.core.errors import DomainError, NotAllowed
from recoup.core.htmx import is_partial, query_without_page
from recoup.core.money import Money
from recoup.disputes import rules, selectors, services
from recoup.disputes.forms import (
    SCOPES,
    AssignForm,
    CommentForm,
    OpenForm,
    QueueFilterForm,
    ReasonForm,
    ResolveForm,
    ReviewForm,
    UploadForm,
    add_domain_error,
)
from recoup.disputes.models import Dispute, DisputeDocument, DisputeReason, DisputeStatus
from recoup.disputes.rules import Action, SlaState
from recoup.ledger.models import Invoice
from recoup.users.models import MANAGE_ROLES
from recoup.users.permissions import RoleRequiredMixin

PAGE_SIZE = 50
# A document is the customer's file: served as a download that can run nothing, even if opened in place.
DOCUMENT_CSP = "default-src 'none'; sandbox"
SLA_BADGES = {
    SlaState.ON_TRACK: "badge-muted",
    SlaState.DUE_SOON: "badge-warn",
    SlaState.OVERDUE: "badge-danger",
    SlaState.MET: "badge-ok",
    SlaState.MISSED: "badge-warn",
}
STATUS_BADGES = {
    DisputeStatus.OPEN: "badge-info",
    DisputeStatus.IN_REVIEW: "badge-warn",
    DisputeStatus.RESOLVED: "badge-ok",
}
ZERO = Decimal(0)


def describe(disputes: Iterable[Dispute], today: dt.date) -> None:
    """For the rows shown: age in days, SLA state with its words and badge, the status badge."""
    for dispute in disputes:
        state = rules.sla_state(due_on=dispute.sla_due_on, resolved_on=dispute.resolved_on, today=today)
        dispute.age = dispute.age_days(today)  # type: ignore[attr-defined]
        dispute.sla = state  # type: ignore[attr-defined]
        dispute.sla_text = rules.SLA_TEXT[state]  # type: ignore[attr-defined]
        dispute.sla_badge = SLA_BADGES[state]  # type: ignore[attr-defined]
        dispute.status_badge = STATUS_BADGES[DisputeStatus(dispute.status)]  # type: ignore[attr-defined]


def _require(request: HttpRequest, action: Action, dispute: Dispute | None = None) -> None:
    if not services.can(request.user, action, dispute):
        raise PermissionDenied(f"Your role does not allow you to {action.value.replace('_', ' ')} this.")


def _dispute(request: HttpRequest, pk: int) -> Dispute:
    """The dispute, if the user may see it: a resolver asking for another team's gets a 404."""
    dispute = get_object_or_404(
        Dispute.objects.select_related(
            "invoice",
            "invoice__customer",
            "reason",
            "owner",
            "team",
            "created_by",
            "resolved_by",
            "credit_note",
            "write_off",
        ),
        pk=pk,
    )
    if not services.can_see(request.user, dispute):
        raise Http404("No such dispute")
    return dispute


# The queue --------------------------------------------------------------------------------------------------


class DisputeListView(RoleRequiredMixin, ListView):
    """The queue, oldest first, by scope, status, reason and SLA state; the figures on top."""

    template_name = "disputes/dispute_list.html"
    context_object_name = "disputes"
    paginate_by = PAGE_SIZE

    def get_template_names(self) -> list[str]:
        if is_partial(self.request):
            return ["disputes/partials/queue_table.html"]
        return [self.template_name]

    def get_queryset(self) -> QuerySet[Dispute]:
        self.today = timezone.localdate()
        self.form = QueueFilterForm(self.request.GET or None, reasons=list(DisputeReason.objects.all()))
        if self.form.is_bound and not self.form.is_valid():
            return Dispute.objects.none()
        self.filters = filters = self.form.filters()
        return selectors.dispute_queue(
            user=self.request.user,
            today=self.today,
            scope=filters["scope"],
            status=filters["status"],
            reason=filters["reason"],
            sla=filters["sla"],
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        describe(context["object_list"], self.today)
        scope = getattr(self, "filters", {}).get("scope", "all")
        query = self.request.GET.copy()
        query.pop("page", None)
        tabs = []
        for value, label in SCOPES:
            query["scope"] = value
            tabs.append((value, label, query.urlencode()))
        context.update(
            nav="disputes",
            today=self.today,
            form=self.form,
            scope=scope,
            tabs=tabs,
            no_team=scope == "team" and self.request.user.team_id is None,  # type: ignore[union-attr]
            list_query=query_without_page(self.request),
            oob=is_partial(self.request),
        )
        if not is_partial(self.request):
            context.update(_figures(self.request, self.today))
        return context


def _figures(request: HttpRequest, today: dt.date) -> dict[str, Any]:
    try:
        figures = selectors.dispute_metrics(as_of=today, user=request.user)
    except DomainError as exc:  # a currency with no FX rate yet: the queue still shows, the strip says why
        return {"figures": None, "figures_error": exc.message}
    return {"figures": figures, "figures_error": ""}


# One dispute ------------------------------------------------------------------------------------------------


def dispute_context(request: HttpRequest, dispute: Dispute, **bound: forms.Form) -> dict[str, Any]:
    """Everything the dispute page and its parts show; `bound` holds forms posted with errors."""
    user = request.user
    today = timezone.localdate()
    describe([dispute], today)
    may = {action.value: services.can(user, action, dispute) for action in Action}
    active = dispute.is_active
    context = {
        "nav": "disputes",
        "today": today,
        "dispute": dispute,
        "invoice": dispute.invoice,
        "customer": dispute.invoice.customer,
        "story": selectors.dispute_story(dispute=dispute),
        "may_comment": may[Action.COMMENT],
        "may_attach": may[Action.ATTACH],
        "may_assign": may[Action.ASSIGN] and active,
        "may_review": may[Action.REVIEW] and dispute.status == DisputeStatus.OPEN,
        "may_resolve": may[Action.RESOLVE] and active,
        "may_write_off": may[Action.WRITE_OFF],
        "comment_form": CommentForm(auto_id="id_comment_%s"),
        "upload_form": UploadForm(auto_id="id_upload_%s"),
        "assign_form": AssignForm(
            initial={"owner": dispute.owner_id, "team": dispute.team_id}, auto_id="id_assign_%s"
        ),
        "review_form": ReviewForm(auto_id="id_review_%s"),
        "resolve_form": ResolveForm(may_write_off=may[Action.WRITE_OFF], auto_id="id_resolve_%s"),
    }
    context["show_actions"] = any(context[k] for k in ("may_assign", "may_review", "may_resolve")) or (
        not active and may[Action.RESOLVE]
    )
    context.update(bound)
    return context


class DisputeDetailView(RoleRequiredMixin, View):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return render(
            request, "disputes/dispute_detail.html", dispute_context(request, _dispute(request, pk))
        )


class DisputeActionView(RoleRequiredMixin, View):
    """A POST on one dispute: checked by services.can, written by a service. htmx gets back the part the
    form is in (`part`) with its flash, and, when the dispute itself changed, its other parts out of band."""

    http_method_names = ["post"]
    action: ClassVar[Action]
    form_name: ClassVar[str]  # the form's name in dispute_context
    part: ClassVar[str] = "actions"  # "story" or "actions"
    changes_dispute: ClassVar[bool] = True

    def make_form(self, request: HttpRequest, dispute: Dispute) -> forms.Form:
        raise NotImplementedError

    def perform(self, request: HttpRequest, dispute: Dispute, data: dict[str, Any]) -> str:
        """Call the service; the words that say what it did."""
        raise NotImplementedError

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        dispute = _dispute(request, pk)
        _require(request, self.action, dispute)
        form = self.make_form(request, dispute)
        if form.is_valid():
            try:
                done = self.perform(request, dispute, form.cleaned_data)
            except NotAllowed as refused:
                raise PermissionDenied(refused.message) from refused
            except DomainError as refused:
                add_domain_error(form, refused)
            else:
                return self.done(request, pk, done)
        context = dispute_context(request, dispute, **{self.form_name: form})
        if not is_partial(request):
            return render(request, "disputes/dispute_detail.html", context)
        return render(request, "disputes/partials/dispute_update.html", {**context, "main": self.part})

    def done(self, request: HttpRequest, pk: int, text: str) -> HttpResponse:
        dispute = get_object_or_404(Dispute, pk=pk)
        if not services.can_see(request.user, dispute):  # given to another team: off this user's queue
            messages.success(request, f"{text} It is no longer on your queue.")
            url = reverse("dispute-list")
            return HttpResponseClientRedirect(url) if is_partial(request) else redirect(url)
        if not is_partial(request):
            messages.success(request, text)
            return redirect("dispute-detail", pk)
        context = dispute_context(request, _dispute(request, pk))
        context.update(main=self.part, flash=text, changed=self.changes_dispute)
        return render(request, "disputes/partials/dispute_update.html", context)


class DisputeCommentView(DisputeActionView):
    action = Action.COMMENT
    form_name = "comment_form"
    part = "story"
    changes_dispute = False

    def make_form(self, request: HttpRequest, dispute: Dispute) -> forms.Form:
        return CommentForm(request.POST, auto_id="id_comment_%s")

    def perform(self, request: HttpRequest, dispute: Dispute, data: dict[str, Any]) -> str:
        services.dispute_comment(actor=request.user, dispute=dispute, body=data["body"])
        return "Comment added."


class DisputeAttachView(DisputeActionView):
    action = Action.ATTACH
    form_name = "upload_form"
    part = "story"
    changes_dispute = False

    def make_form(self, request: HttpRequest, dispute: Dispute) -> forms.Form:
        return UploadForm(request.POST, request.FILES, auto_id="id_upload_%s")

    def perform(self, request: HttpRequest, dispute: Dispute, data: dict[str, Any]) -> str:
        document = services.dispute_attach(actor=request.user, dispute=dispute, upload=data["file"])
        return f"Added {document.name}."


class DisputeAssignView(DisputeActionView):
    action = Action.ASSIGN
    form_name = "assign_form"

    def make_form(self, request: HttpRequest, dispute: Dispute) -> forms.Form:
        return AssignForm(request.POST, auto_id="id_assign_%s")

    def perform(self, request: HttpRequest, dispute: Dispute, data: dict[str, Any]) -> str:
        dispute = services.dispute_assign(
            actor=request.user, dispute=dispute, owner=data["owner"], team=data["team"]
        )
        return f"Assigned to {owner_text(dispute)}."


class DisputeReviewView(DisputeActionView):
    action = Action.REVIEW
    form_name = "review_form"

    def make_form(self, request: HttpRequest, dispute: Dispute) -> forms.Form:
        return ReviewForm(request.POST, auto_id="id_review_%s")

    def perform(self, request: HttpRequest, dispute: Dispute, data: dict[str, Any]) -> str:
        services.dispute_review(actor=request.user, dispute=dispute, note=data["note"])
        return "The dispute is in review."


class DisputeResolveView(DisputeActionView):
    action = Action.RESOLVE
    form_name = "resolve_form"

    def make_form(self, request: HttpRequest, dispute: Dispute) -> forms.Form:
        may_write_off = services.can(request.user, Action.WRITE_OFF, dispute)
        return ResolveForm(request.POST, may_write_off=may_write_off, auto_id="id_resolve_%s")

    def perform(self, request: HttpRequest, dispute: Dispute, data: dict[str, Any]) -> str:
        dispute = services.dispute_resolve(
            actor=request.user,
            dispute=dispute,
            outcome=data["outcome"],
            note=data["note"],
            amount=data["amount"] or None,
            credit_note_external_id=data["credit_note_external_id"],
        )
        return f"Resolved: {dispute.get_outcome_display().lower()}."


def owner_text(dispute: Dispute) -> str:
    if dispute.owner is not None and dispute.team is not None:
        return f"{dispute.owner.username} ({dispute.team.name})"
    if dispute.owner is not None:
        return dispute.owner.username
    return f"team {dispute.team.name}" if dispute.team is not None else "nobody"


class DisputeDocumentView(RoleRequiredMixin, View):
    """A document, to those who may see its dispute: a download with its checked type that runs nothing."""

    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int, doc_pk: int) -> HttpResponseBase:
        dispute = _dispute(request, pk)
        document = get_object_or_404(DisputeDocument, pk=doc_pk, dispute=dispute)
        try:
            handle = document.file.open("rb")
        except FileNotFoundError as exc:
            raise Http404("The document's file is missing") from exc
        response = FileResponse(
            handle, as_attachment=True, filename=document.name, content_type=document.content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = DOCUMENT_CSP
        return response


# The invoice page's panel -----------------------------------------------------------------------------------


def _invoice(pk: int) -> Invoice:
    return get_object_or_404(Invoice.objects.select_related("customer"), pk=pk)


def invoice_panel_context(
    request: HttpRequest, invoice: Invoice, form: OpenForm | None = None, *, show_form: bool = False
) -> dict[str, Any]:
    """The invoice's disputes the user may see, what is open and not disputed, and the form to open one
    (behind a button until asked for, or when it comes back with errors)."""
    user = request.user
    today = timezone.localdate()
    every = selectors.invoice_disputes(invoice=invoice)
    scoped = services.visible_to(user)  # an empty filter for who sees every dispute
    disputes = list(every.filter(scoped))
    describe(disputes, today)
    hidden = every.count() - len(disputes) if scoped else 0
    disputed = selectors.disputed_open(invoice=invoice)
    room = max(invoice.open_amount - disputed, ZERO)
    return {
        "nav": "invoices",
        "today": today,
        "invoice": invoice,
        "disputes": disputes,
        "hidden_count": hidden,
        "disputed": disputed,
        "undisputed": room,
        "may_open": services.can(user, Action.OPEN) and room > 0,
        "may_open_role": services.can(user, Action.OPEN),
        "show_form": show_form or form is not None,
        "open_form": form or OpenForm(auto_id="id_open_%s"),
    }


def _panel(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """htmx gets the panel; a browser without JavaScript gets it as a page of its own."""
    name = "disputes/partials/invoice_disputes.html"
    return render(request, name if is_partial(request) else "disputes/invoice_panel_page.html", context)


class InvoicePanelView(RoleRequiredMixin, View):
    http_method_names = ["get", "head"]

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        show_form = request.GET.get("form") == "open"
        return _panel(request, invoice_panel_context(request, _invoice(pk), show_form=show_form))


class DisputeOpenView(RoleRequiredMixin, View):
    """Open a dispute on an invoice; on success the browser goes to it (HX-Redirect for htmx)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        _require(request, Action.OPEN)
        invoice = _invoice(pk)
        form = OpenForm(request.POST, auto_id="id_open_%s")
        if form.is_valid():
            data = form.cleaned_data
            try:
                dispute = services.dispute_open(
                    actor=request.user,
                    invoice=invoice,
                    reason=data["reason"],
                    amount=data["amount"] or None,
                    note=data["note"],
                    owner=data["owner"],
                    team=data["team"],
                )
            except NotAllowed as refused:
                raise PermissionDenied(refused.message) from refused
            except DomainError as refused:
                add_domain_error(form, refused)
            else:
                money = Money(dispute.amount, dispute.currency)
                messages.success(request, f"Dispute opened on {invoice.external_id} for {money}.")
                url = reverse("dispute-detail", args=[dispute.pk])
                return HttpResponseClientRedirect(url) if is_partial(request) else redirect(url)
        return _panel(request, invoice_panel_context(request, invoice, form))


# Reasons ----------------------------------------------------------------------------------------------------


def _reasons() -> QuerySet[DisputeReason]:
    # An aggregate drops Meta.ordering: the order is given again.
    return (
        DisputeReason.objects.select_related("default_team")
        .annotate(dispute_count=Count("disputes"))
        .order_by("position", "name")
    )


def _save_reason(
    request: HttpRequest, form: ReasonForm, reason: DisputeReason | None
) -> DisputeReason | None:
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        return services.reason_save(
            actor=request.user,
            code=data["code"],
            name=data["name"],
            sla_days=data["sla_days"],
            default_team=data["default_team"],
            is_active=data["is_active"],
            position=data["position"] or 0,
            reason=reason,
        )
    except NotAllowed as refused:
        raise PermissionDenied(refused.message) from refused
    except (DomainError, ValidationError) as refused:
        add_domain_error(form, refused)
        return None


class ReasonListView(RoleRequiredMixin, View):
    """Every role reads the reasons; managers add them here and edit each one in place."""

    write_roles = MANAGE_ROLES
    http_method_names = ["get", "head", "post"]

    def _render(self, request: HttpRequest, form: ReasonForm, **extra: Any) -> HttpResponse:
        context = {
            "nav": "disputes",
            "reasons": list(_reasons()),
            "may_edit": services.can(request.user, Action.CONFIGURE),  # what reason_save asks
            "form": form,
            **extra,
        }
        name = "disputes/partials/reasons.html" if is_partial(request) else "disputes/reason_list.html"
        return render(request, name, context)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, ReasonForm(auto_id="id_new_%s"))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ReasonForm(request.POST, auto_id="id_new_%s")
        saved = _save_reason(request, form, None)
        if saved is None:
            return self._render(request, form)
        if not is_partial(request):
            messages.success(request, f"Added the reason {saved.name}.")
            return redirect("dispute-reason-list")
        return self._render(request, ReasonForm(auto_id="id_new_%s"), just_saved=saved.pk)


class ReasonEditView(RoleRequiredMixin, View):
    """One reason, edited in place (htmx swaps its row for a form and back) or on a page of its own."""

    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES
    http_method_names = ["get", "head", "post"]

    def _render(self, request: HttpRequest, reason: DisputeReason, form: ReasonForm | None) -> HttpResponse:
        context = {"nav": "disputes", "reason": reason, "form": form, "may_edit": True}
        if not is_partial(request):
            return render(request, "disputes/reason_edit.html", context)
        name = "disputes/partials/reason_form_row.html" if form else "disputes/partials/reason_row.html"
        return render(request, name, context)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        reason = get_object_or_404(_reasons(), pk=pk)
        if request.GET.get("view") == "row":  # the editor's Cancel
            if not is_partial(request):
                return redirect("dispute-reason-list")
            return self._render(request, reason, None)
        return self._render(request, reason, ReasonForm.for_reason(reason))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        reason = get_object_or_404(_reasons(), pk=pk)
        form = ReasonForm.for_reason(reason, data=request.POST)
        saved = _save_reason(request, form, reason)
        if saved is None:
            return self._render(request, reason, form)
        if not is_partial(request):
            messages.success(request, f"Saved the reason {saved.name}.")
            return redirect("dispute-reason-list")
        context = {"reason": get_object_or_404(_reasons(), pk=pk), "may_edit": True, "just_saved": saved.pk}
        return render(request, "disputes/partials/reason_row.html", context)
