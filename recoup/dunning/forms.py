"""Forms of the dunning pages. They check the shape of the input; the rules live in policies and services,
whose DomainError lands on the field it names (`add_domain_error`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from recoup.core.errors import DomainError
from recoup.dunning.models import Channel, MessageStatus
from recoup.users.models import Role

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def add_domain_error(form: forms.Form, error: DomainError, aliases: dict[str, str] | None = None) -> None:
    """Show a refusal on the field it names (through `aliases` for the service's names), else on the form."""
    field = (aliases or {}).get(error.field or "", error.field)
    form.add_error(field if field in form.fields else None, error.message)


class PolicySettingsForm(forms.Form):
    """A policy's own settings. Its name is its key (services.policy_save), so it is not edited here."""

    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    is_default = forms.BooleanField(required=False, label="Default policy")
    allow_level_jump = forms.BooleanField(required=False, label="Allow level jumps")
    tolerance = forms.DecimalField(min_value=0, max_digits=18, decimal_places=4, label="Tolerance")
    default_language = forms.CharField(max_length=16, label="Default language")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["is_default"].help_text = "Applies to every invoice whose invoice and customer name none."
        self.fields[
            "allow_level_jump"
        ].help_text = (
            "Move an invoice straight to the highest level it qualifies for, instead of one level per send."
        )
        self.fields["tolerance"].help_text = "Invoices with less to collect (base currency) are skipped."


class LevelForm(forms.Form):
    name = forms.CharField(max_length=100)
    offset_days = forms.IntegerField(
        label="Offset (days)", help_text="Days after the due date; negative means before it."
    )
    channels = forms.MultipleChoiceField(
        choices=Channel.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    min_amount = forms.DecimalField(
        min_value=0, max_digits=18, decimal_places=4, label="Minimum amount", help_text="Base currency."
    )
    min_gap_days = forms.IntegerField(
        min_value=0, label="Minimum gap (days)", help_text="Since the customer's last reminder."
    )
    task_role = forms.ChoiceField(
        choices=[("", "No task"), *Role.choices], required=False, label="Review task for"
    )
    set_credit_hold = forms.BooleanField(required=False, label="Set a credit hold")

    # Where policies.parse_policy's field names land on this form.
    ALIASES = {"levels": "offset_days", "actions": "task_role"}


class TemplateForm(forms.Form):
    language = forms.CharField(max_length=16, help_text="e.g. en, fr, de-CH")
    subject = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"class": "input-wide"}))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10, "class": "input-wide mono"}))

    def alias_for(self, error: DomainError) -> dict[str, str]:
        """policies.check_template names "templates" (or "name") for both texts; its message says which."""
        part = "subject" if ": subject " in error.message else "body"
        return {"templates": part, "name": part}


class PolicyImportForm(forms.Form):
    file = forms.FileField(label="Policy file (YAML)")

    MAX_BYTES = 1_000_000

    file_name = ""

    def clean_file(self) -> str:
        upload = self.cleaned_data["file"]
        self.file_name = upload.name or "the policy file"
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("The file is larger than 1 MB.")
        try:
            return str(upload.read().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc


class RunForm(forms.Form):
    as_of = forms.DateField(label="As of", widget=_DATE)
    dry_run = forms.BooleanField(required=False, label="Dry run (write and send nothing)", initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"as_of": timezone.localdate(), "dry_run": True})
        super().__init__(*args, **kwargs)


class HoldForm(forms.Form):
    reason = forms.CharField(max_length=255)
    until = forms.DateField(required=False, label="Until (last day; empty: until released)", widget=_DATE)


class OutboxFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "All"), *MessageStatus.choices])
    channel = forms.ChoiceField(required=False, choices=[("", "All"), *Channel.choices])
    kind = forms.ChoiceField(
        required=False, choices=[("", "All"), ("reminder", "Reminders"), ("manual", "Sent by hand")]
    )
    run = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
