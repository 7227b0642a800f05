"""Forms of the dispute pages. They check the shape of the input; the rules live in the services, whose
DomainError lands on the field it names (`add_domain_error`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from recoup.core.errors import DomainError
from recoup.disputes import rules
from recoup.disputes.models import DisputeReason, DisputeStatus, Outcome
from recoup.disputes.services import COMMENT_MAX_CHARS
from recoup.users.models import Team, User

_AMOUNT = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "size": 12})


def add_domain_error(form: forms.Form, error: DomainError | ValidationError) -> None:
    """Show a refusal on the field it names, else on the form."""
    if isinstance(error, ValidationError):
        form.add_error(None, error)
        return
    form.add_error(error.field if error.field in form.fields else None, error.message)


def owner_choices() -> QuerySet[User]:
    """Who can own a dispute: active users whose role may (rules.OWNER_ROLES)."""
    return (
        User.objects.filter(is_active=True, role__in=rules.OWNER_ROLES)
        .select_related("team")
        .order_by("username")
    )


class OwnerField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        name = obj.get_full_name() or obj.username
        return f"{name} ({obj.team.name})" if obj.team is not None else name


class OwnerFieldsMixin(forms.Form):
    owner = OwnerField(queryset=User.objects.none(), required=False, empty_label="—", label="Owner")
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False, empty_label="—", label="Team")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owner_choices()  # type: ignore[attr-defined]
        self.fields["team"].queryset = Team.objects.order_by("name")  # type: ignore[attr-defined]


# The queue --------------------------------------------------------------------------------------------------

SCOPES = (("mine", "Mine"), ("team", "My team"), ("all", "All"))
STATUS_FILTERS = (
    ("active", "Active"),
    (DisputeStatus.OPEN, "Open"),
    (DisputeStatus.IN_REVIEW, "In review"),
    (DisputeStatus.RESOLVED, "Resolved"),
    ("any", "Any"),
)
SLA_FILTERS = (
    ("", "Any"),
    (rules.SlaState.OVERDUE, "Overdue"),
    (rules.SlaState.DUE_SOON, "Due soon"),
    (rules.SlaState.ON_TRACK, "On track"),
    (rules.SlaState.MET, "Met"),
    (rules.SlaState.MISSED, "Missed"),
)


class QueueFilterForm(forms.Form):
    scope = forms.ChoiceField(choices=SCOPES, required=False, widget=forms.HiddenInput)
    status = forms.ChoiceField(choices=STATUS_FILTERS, required=False, label="Status")
    reason = forms.ChoiceField(required=False, label="Reason")
    sla = forms.ChoiceField(choices=SLA_FILTERS, required=False, label="SLA")

    def __init__(self, *args: Any, reasons: list[DisputeReason], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].widget.attrs["id"] = "queue-scope"
        self.fields["reason"].choices = [("", "Any"), *((r.code, r.name) for r in reasons)]  # type: ignore[attr-defined]

    def filters(self) -> dict[str, str]:
        """The selector's arguments: the defaults where the input is missing or not valid."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        status = data.get("status") or "active"
        return {
            "scope": data.get("scope") or "all",
            "status": "" if status == "any" else status,
            "reason": data.get("reason") or "",
            "sla": data.get("sla") or "",
        }


# One dispute ------------------------------------------------------------------------------------------------


class OpenForm(OwnerFieldsMixin, forms.Form):
    amount = forms.CharField(
        required=False,
        max_length=32,
        widget=_AMOUNT,
        label="Amount",
    )
    reason = forms.ModelChoiceField(
        queryset=DisputeReason.objects.none(), to_field_name="code", empty_label=None, label="Reason"
    )
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 1}), label="Note")

    field_order = ["amount", "reason", "owner", "team", "note"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].queryset = DisputeReason.objects.filter(is_active=True)  # type: ignore[attr-defined]


class AssignForm(OwnerFieldsMixin, forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].help_text = "Empty with a person: their own team."


class ReviewForm(forms.Form):
    note = forms.CharField(required=False, max_length=1000, label="Note")


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices, label="Outcome")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note")
    amount = forms.CharField(
        required=False,
        max_length=32,
        widget=_AMOUNT,
        label="Amount",
        help_text="Credit note or write-off only; empty: the disputed amount.",
    )
    credit_note_external_id = forms.CharField(
        required=False,
        max_length=64,
        label="Credit note id",
        help_text="Empty: DSP-<dispute number>.",
    )

    def __init__(self, *args: Any, may_write_off: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every outcome validates, so a write-off by someone who may not is refused by the service (403);
        # the select offers only the outcomes the user may choose.
        shown = [c for c in Outcome.choices if may_write_off or c[0] != Outcome.WRITTEN_OFF]
        self.fields["outcome"].widget.choices = shown


class CommentForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=COMMENT_MAX_CHARS,
        label="Comment",
        help_text="The owners and the customer's collector get it by email.",
    )


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Document",
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(rules.ACCEPTED_EXTENSIONS)}),
        help_text=f"{', '.join(e.lstrip('.').upper() for e in rules.ACCEPTED_EXTENSIONS)}.",
    )


# Reasons ----------------------------------------------------------------------------------------------------


class ReasonForm(forms.Form):
    code = forms.SlugField(max_length=32, label="Code")
    name = forms.CharField(max_length=100, label="Name")
    sla_days = forms.IntegerField(min_value=1, max_value=365, label="SLA (days)")
    default_team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="—", label="Default team"
    )
    position = forms.IntegerField(min_value=0, initial=0, label="Position")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_team"].queryset = Team.objects.order_by("name")  # type: ignore[attr-defined]
        self.fields["sla_days"].widget.attrs["size"] = 4
        self.fields["position"].widget.attrs["size"] = 4

    @classmethod
    def for_reason(cls, reason: DisputeReason, **kwargs: Any) -> ReasonForm:
        initial = {
            "code": reason.code,
            "name": reason.name,
            "sla_days": reason.sla_days,
            "default_team": reason.default_team_id,
            "position": reason.position,
            "is_active": reason.is_active,
        }
        return cls(initial=initial, auto_id=f"id_reason{reason.pk}_%s", **kwargs)
