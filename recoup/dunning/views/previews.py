"""Previews: what a level would send a real customer, as an email and as a PDF. Nothing is written."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import TemplateSyntaxError
from django.utils import timezone
from django.utils.text import slugify
from django.views import View

from recoup.core.htmx import is_partial
from recoup.dunning import delivery, rendering
from recoup.dunning.models import (
    Channel,
)
from recoup.dunning.views.common import FRAME_CSP
from recoup.dunning.views.policies import describe_levels, level_or_404
from recoup.ledger.models import Customer
from recoup.ledger.selectors import customer_search
from recoup.users.permissions import RoleRequiredMixin

PICKER_RESULTS = 10


# Previews ---------------------------------------------------------------------------------------------------


def _preview_customer(request: HttpRequest) -> Customer | None:
    raw = request.GET.get("customer", "")
    return Customer.objects.filter(pk=int(raw)).first() if raw.isdigit() else None


class LevelPreviewView(RoleRequiredMixin, View):
    """What a level would send a real customer today: subject, HTML (sandboxed), text, and the PDF."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        level = level_or_404(pk)
        search = request.GET.get("q", "").strip()[:100]
        matches = (
            list(customer_search(Customer.objects.all(), search).order_by("name", "id")[:PICKER_RESULTS])
            if search
            else []
        )
        language = request.GET.get("language", "").strip()[:16]
        context: dict[str, Any] = {
            "nav": "dunning",
            "subnav": "policies",
            "level": describe_levels([level])[0],
            "search": search,
            "matches": matches,
            "language": language,
            "languages": [t.language for t in level.templates.all()],
        }
        if is_partial(request) and request.htmx.target == "customer-results":  # type: ignore[attr-defined]
            return render(request, "dunning/partials/customer_picker.html", context)
        customer = _preview_customer(request)
        context["customer"] = customer
        if customer is not None:
            today = timezone.localdate()
            letter = delivery.preview(level=level, customer=customer, as_of=today, language=language)
            context.update(today=today, letter=letter, total_due=letter.template_context()["total_due"])
            try:
                context["email"] = rendering.render_email(letter)
            except TemplateSyntaxError as exc:
                context["render_error"] = str(exc)
        response = render(request, "dunning/preview.html", context)
        response["Content-Security-Policy"] = FRAME_CSP
        return response


class LevelPreviewPdfView(RoleRequiredMixin, View):
    """The PDF the level would send: the statement an email attaches, or the letter of a letter level."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        level = level_or_404(pk)
        customer = _preview_customer(request)
        if customer is None:
            raise Http404("Pick a customer to preview")
        language = request.GET.get("language", "").strip()[:16]
        letter = delivery.preview(
            level=level, customer=customer, as_of=timezone.localdate(), language=language
        )
        try:
            pdf = rendering.render_statement_pdf(letter, with_letter=Channel.LETTER in level.channels)
        except TemplateSyntaxError as exc:
            return HttpResponse(f"The template cannot render: {exc}", status=422, content_type="text/plain")
        response = HttpResponse(pdf, content_type="application/pdf")
        name = f"preview-{slugify(customer.external_id) or customer.pk}-level-{level.position}.pdf"
        response["Content-Disposition"] = f'inline; filename="{name}"'
        return response
