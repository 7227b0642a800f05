"""The outbox: every message with its status, a message in detail, hand retries, letters to print."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import DetailView, ListView

from recoup.core.errors import DomainError
from recoup.core.htmx import is_partial, query_without_page
from recoup.dunning import selectors, services
from recoup.dunning.forms import (
    OutboxFilterForm,
)
from recoup.dunning.models import (
    MessageStatus,
    OutboundMessage,
)
from recoup.dunning.views.common import FRAME_CSP, safe_next
from recoup.users.models import MANAGE_ROLES
from recoup.users.permissions import RoleRequiredMixin

PAGE_SIZE = 50


# The outbox -------------------------------------------------------------------------------------------------


class OutboxView(RoleRequiredMixin, ListView):
    """Messages by status and channel; failed ones show their error, and managers may retry them."""

    template_name = "dunning/outbox.html"
    context_object_name = "outbox"
    paginate_by = PAGE_SIZE

    def get_template_names(self) -> list[str]:
        if is_partial(self.request):
            return ["dunning/partials/outbox_table.html"]
        return [self.template_name]

    def get_queryset(self) -> QuerySet[OutboundMessage]:
        self.form = OutboxFilterForm(self.request.GET or None)
        if self.form.is_bound and not self.form.is_valid():
            return OutboundMessage.objects.none()
        data = self.form.cleaned_data if self.form.is_bound else {}
        return selectors.outbox(
            status=data.get("status") or "",
            channel=data.get("channel") or "",
            run=data.get("run"),
            kind=data.get("kind") or "",
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        status = self.form.cleaned_data.get("status", "") if self.form.is_bound else ""
        return super().get_context_data(
            nav="dunning",
            subnav="outbox",
            form=self.form,
            status=status,
            run_filter=self.form.cleaned_data.get("run") if self.form.is_bound else None,
            list_query=query_without_page(self.request),
            **_status_counts(),
            **kwargs,
        )


def _status_counts() -> dict[str, Any]:
    counts = selectors.outbox_counts()
    return {
        "status_counts": [(s.value, s.label, counts[s.value]) for s in MessageStatus],
        "total_count": sum(counts.values()),
    }


def _message(pk: int) -> OutboundMessage:
    return get_object_or_404(
        OutboundMessage.objects.select_related(
            "customer", "level", "level__policy", "run", "template", "author"
        ),
        pk=pk,
    )


class MessageRetryView(RoleRequiredMixin, View):
    """Put a finally failed message back in the queue (htmx swaps its row in the outbox)."""

    write_roles = MANAGE_ROLES
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        message = _message(pk)
        error = ""
        try:
            message = services.message_retry(actor=request.user, message=message)
        except DomainError as refused:
            error = refused.message
        if is_partial(request):  # the row, and the counts by status out of band
            shown = QueryDict(urlsplit(safe_next(request, "")).query).get("status", "")
            context = {
                "message": message,
                "row_error": error,
                "retried": not error,
                "oob": True,
                "status": shown,
            }
            return render(request, "dunning/partials/outbox_row.html", {**context, **_status_counts()})
        if error:
            messages.error(request, error)
        else:
            messages.success(request, f"Message {message.pk} is queued again.")
        return redirect(safe_next(request, reverse("dunning-message-detail", args=[message.pk])))


class MessageDetailView(RoleRequiredMixin, DetailView):
    template_name = "dunning/message_detail.html"
    context_object_name = "message"

    def get_object(self, queryset: QuerySet[OutboundMessage] | None = None) -> OutboundMessage:
        return _message(self.kwargs["pk"])

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        message: OutboundMessage = self.object
        items = message.items.select_related("invoice", "level").order_by("invoice__due_date", "invoice_id")
        chosen = message.invoices.order_by("due_date", "id") if message.level_id is None else []
        return super().get_context_data(
            nav="dunning", subnav="outbox", items=list(items), chosen=list(chosen), **kwargs
        )

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        response["Content-Security-Policy"] = FRAME_CSP
        return response


class MessageDocumentView(RoleRequiredMixin, View):
    """A letter's PDF, through a role check: documents are never served from a public media URL."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        message = get_object_or_404(OutboundMessage, pk=pk)
        if not message.document:
            raise Http404("This message has no document")
        try:
            handle = message.document.open("rb")
        except FileNotFoundError as exc:
            raise Http404("The document file is missing") from exc
        return FileResponse(
            handle,
            as_attachment=True,
            filename=os.path.basename(message.document.name or "letter.pdf"),
            content_type="application/pdf",
        )
