"""Settings → Email templates: the templates collectors send emails from by hand (recoup.dunning.manual).
Every role reads them; managers and admins create and change them. A template that emails were sent from is
never deleted: it is switched off instead, and leaves the collectors' choice."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from recoup.core.errors import DomainError
from recoup.dunning.forms import add_domain_error
from recoup.dunning.manual import message_template_save
from recoup.dunning.models import MessageTemplate, Tone
from recoup.users.models import MANAGE_ROLES
from recoup.users.permissions import RoleRequiredMixin


class MessageTemplateForm(forms.Form):
    name = forms.CharField(max_length=100)
    language = forms.CharField(max_length=16, initial="en", help_text="e.g. en, fr, de-CH")
    tone = forms.ChoiceField(choices=Tone.choices, initial=Tone.FRIENDLY)
    subject = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"class": "input-wide"}))
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "class": "input-wide mono"}),
        help_text="Django template syntax over the dunning variables (customer_name, contact_name, "
        "total_due, invoices, …) and sender_name. The chosen invoices are listed after the body.",
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Offered to collectors")


def _save(request: HttpRequest, form: MessageTemplateForm, template: MessageTemplate | None) -> bool:
    if not form.is_valid():
        return False
    try:
        saved = message_template_save(actor=request.user, template=template, **form.cleaned_data)
    except DomainError as refused:
        add_domain_error(form, refused)
        return False
    messages.success(request, f"Saved the template {saved}.")
    return True


class MessageTemplateListView(RoleRequiredMixin, View):
    """The templates, and (for managers) the form for a new one, which POST creates."""

    write_roles = MANAGE_ROLES
    template_name = "dunning/email_template_list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, MessageTemplateForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = MessageTemplateForm(request.POST)
        if _save(request, form, None):
            return redirect("dunning-email-templates")
        return self.page(request, form, status=400)

    def page(self, request: HttpRequest, form: MessageTemplateForm, status: int = 200) -> HttpResponse:
        templates = MessageTemplate.objects.annotate(used=Count("messages")).order_by("name", "language")
        context: dict[str, Any] = {"nav": "dunning", "subnav": "email-templates", "templates": templates}
        return render(request, self.template_name, {**context, "form": form}, status=status)


class MessageTemplateEditView(RoleRequiredMixin, View):
    read_roles = MANAGE_ROLES
    write_roles = MANAGE_ROLES
    template_name = "dunning/email_template_edit.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        template = get_object_or_404(MessageTemplate, pk=pk)
        fields = ("name", "language", "tone", "subject", "body", "is_active")
        form = MessageTemplateForm(initial={name: getattr(template, name) for name in fields})
        return self.page(request, template, form)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        template = get_object_or_404(MessageTemplate, pk=pk)
        form = MessageTemplateForm(request.POST)
        if _save(request, form, template):
            return redirect("dunning-email-templates")
        return self.page(request, template, form, status=400)

    def page(
        self, request: HttpRequest, template: MessageTemplate, form: MessageTemplateForm, status: int = 200
    ) -> HttpResponse:
        context = {"nav": "dunning", "subnav": "email-templates", "template": template, "form": form}
        return render(request, self.template_name, context, status=status)
