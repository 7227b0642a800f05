"""Disputes through the API: reasons, disputes with their history, comments and documents, the actions on a
dispute, and the dispute figures. Writes go through recoup.disputes.services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recoup.api.fields import AmountField, ExternalIdField, check_amount_for_currency
from recoup.api.serializers.base import QuantizedAmountsSerializer
from recoup.api.serializers.dunning import AHEAD_DAYS, check_as_of
from recoup.disputes import rules, services
from recoup.disputes.models import (
    Dispute,
    DisputeComment,
    DisputeDocument,
    DisputeReason,
    DisputeStatus,
    DisputeStatusChange,
    Outcome,
)
from recoup.ledger.models import Invoice
from recoup.users.models import Team, User

MAX_ID = 2**63 - 1
MAX_POSITION = 2**31 - 1
NOTE_MAX_CHARS = 10_000
CREDIT_NOTE_ID_MAX_CHARS = 64


@extend_schema_field(OpenApiTypes.INT)
class RowIdField(serializers.PrimaryKeyRelatedField):
    """A row by its id: a whole number in the range of a database id (never a boolean), else a 400."""

    default_error_messages = {"incorrect_type": "Give the id as a whole number."}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and data.isascii() and data.isdigit() and len(data) <= 19:
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        if not 1 <= data <= MAX_ID:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


# A status is documented as a string that names its values, not as an enum: drf-spectacular names an enum
# after its field, and "status" is the outbox's message statuses already (a warning, which CI fails on).
@extend_schema_field({"type": "string"})
class StatusField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", f"One of {', '.join(DisputeStatus.values)}.")
        super().__init__(choices=DisputeStatus.choices, **kwargs)


def today(context: Mapping[str, Any]) -> dt.date:
    return context.get("today") or timezone.localdate()


# Reasons ----------------------------------------------------------------------------------------------------


class DisputeReasonSerializer(serializers.ModelSerializer):
    # The service checks what the model cannot: a code unique and fixed once in use, an SLA of 1 to 365 days.
    code = serializers.SlugField(max_length=32, help_text="A short code: letters, digits, - and _.")
    sla_days = serializers.IntegerField(
        required=False, help_text="Calendar days from opening to resolution, 1 to 365; default 10."
    )
    default_team = RowIdField(
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="The id of the team that owns a dispute that names no owner; null: none.",
    )
    is_active = serializers.BooleanField(
        required=False, help_text="false: no new dispute may use it; old disputes keep it."
    )
    position = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_POSITION, help_text="Where it sorts in lists."
    )

    class Meta:
        model = DisputeReason
        fields = ["id", "code", "name", "sla_days", "default_team", "is_active", "position"]

    def save_reason(self, reason: DisputeReason | None, data: dict[str, Any]) -> DisputeReason:
        current: dict[str, Any] = (
            {field: getattr(reason, field) for field in ("sla_days", "default_team", "is_active", "position")}
            if reason is not None
            else {"sla_days": DisputeReason._meta.get_field("sla_days").get_default()}
        )
        if reason is not None:
            current.update(code=reason.code, name=reason.name)
        return services.reason_save(actor=self.context["request"].user, reason=reason, **{**current, **data})

    def create(self, validated_data: dict[str, Any]) -> DisputeReason:
        return self.save_reason(None, validated_data)

    def update(self, instance: DisputeReason, validated_data: dict[str, Any]) -> DisputeReason:
        return self.save_reason(instance, validated_data)


# Disputes ---------------------------------------------------------------------------------------------------


class DisputeSerializer(QuantizedAmountsSerializer):
    invoice = serializers.CharField(source="invoice.external_id", help_text="The invoice's external id.")
    customer = serializers.CharField(
        source="invoice.customer.external_id", help_text="The customer's external id."
    )
    customer_name = serializers.CharField(source="invoice.customer.name")
    reason = serializers.CharField(source="reason.code", help_text="The reason's code.")
    reason_name = serializers.CharField(source="reason.name")
    owner = serializers.CharField(
        source="owner.username", allow_null=True, help_text="The owner's username; null: a team only."
    )
    team = serializers.CharField(source="team.name", allow_null=True, help_text="The owning team's name.")
    sla_state = serializers.SerializerMethodField()
    credit_note = serializers.CharField(
        source="credit_note.external_id",
        allow_null=True,
        help_text="The external id of the credit note the outcome issued.",
    )
    status = StatusField(help_text="open, then in_review, then resolved.")
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    comments_count = serializers.IntegerField()
    documents_count = serializers.IntegerField()

    class Meta:
        model = Dispute
        fields = [
            "id",
            "invoice",
            "invoice_id",
            "customer",
            "customer_name",
            "amount",
            "currency",
            "status",
            "reason",
            "reason_name",
            "note",
            "owner",
            "owner_id",
            "team",
            "team_id",
            "opened_on",
            "sla_due_on",
            "sla_state",
            "sla_breached_on",
            "resolved_on",
            "outcome",
            "resolution_note",
            "credit_note",
            "write_off_id",
            "created_by",
            "created_at",
            "comments_count",
            "documents_count",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=[state.value for state in rules.SlaState]))
    def get_sla_state(self, dispute: Dispute) -> str:
        """Where it stands against its SLA today: on_track, due_soon, overdue; once resolved met or missed."""
        return rules.sla_state(
            due_on=dispute.sla_due_on, resolved_on=dispute.resolved_on, today=today(self.context)
        ).value


class DisputeStatusChangeSerializer(serializers.Serializer):
    # "from" is a Python keyword, so that field is declared through the class namespace.
    locals()["from"] = StatusField(
        source="from_status",
        allow_null=True,
        help_text=f"One of {', '.join(DisputeStatus.values)}; null on the first row: the opening.",
    )
    to = StatusField(source="to_status")
    at = serializers.DateTimeField(source="changed_at")
    by = serializers.CharField(source="changed_by.username", allow_null=True, help_text="null: Recoup.")
    note = serializers.CharField()

    def to_representation(self, instance: DisputeStatusChange) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["from"] = data["from"] or None  # stored as "" on the first row
        return data


class DisputeCommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", allow_null=True, help_text="null: Recoup.")

    class Meta:
        model = DisputeComment
        fields = ["id", "body", "author", "created_at"]
        read_only_fields = fields


class DisputeDocumentSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.CharField(source="uploaded_by.username", allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = DisputeDocument
        fields = ["id", "name", "content_type", "size", "sha256", "uploaded_by", "uploaded_at", "url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, document: DisputeDocument) -> str | None:
        """Where a signed-in user downloads it (the web UI's route); null where the UI offers none."""
        try:
            path = reverse("dispute-document", args=[document.dispute_id, document.pk])
        except NoReverseMatch:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class DisputeDetailSerializer(DisputeSerializer):
    history = DisputeStatusChangeSerializer(
        source="status_changes", many=True, help_text="Every status change, oldest first."
    )
    comments = DisputeCommentSerializer(many=True)
    documents = DisputeDocumentSerializer(many=True)

    class Meta(DisputeSerializer.Meta):
        fields = [*DisputeSerializer.Meta.fields, "history", "comments", "documents"]
        read_only_fields = fields


# Actions ----------------------------------------------------------------------------------------------------


class DisputeOpenSerializer(serializers.Serializer):
    invoice = ExternalIdField(queryset=Invoice.objects.all(), help_text="The invoice's external id.")
    amount = AmountField(
        required=False,
        allow_null=True,
        help_text="Default: all of the invoice that is open and not yet disputed.",
    )
    reason = serializers.CharField(max_length=64, help_text="An active reason's code.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX_CHARS)
    owner = RowIdField(
        queryset=User.objects.all(), required=False, allow_null=True, help_text="The owner's user id."
    )
    team = RowIdField(
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="The owning team's id; default the owner's team, else the reason's default team.",
    )
    opened_on = serializers.DateField(required=False, help_text="Default today; not in the future.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_amount_for_currency(attrs.get("amount"), attrs["invoice"].currency)
        return attrs


class DisputeAssignSerializer(serializers.Serializer):
    owner = RowIdField(queryset=User.objects.all(), required=False, allow_null=True)
    team = RowIdField(
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="Default: the new owner's own team.",
    )


class DisputeNoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX_CHARS)


class DisputeCommentRequestSerializer(serializers.Serializer):
    body = serializers.CharField(help_text=f"At most {services.COMMENT_MAX_CHARS:,} characters.")


class DisputeAttachSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=True,  # the service refuses an empty file, with its own message
        help_text="A PDF, image, spreadsheet, Word document, text, CSV or email: "
        f"{', '.join(rules.ACCEPTED_EXTENSIONS)}; its content must match its name.",
    )


class DisputeResolveSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text="written_off needs a manager.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX_CHARS)
    resolved_on = serializers.DateField(required=False, help_text="Default today; not in the future.")
    amount = AmountField(
        required=False,
        allow_null=True,
        help_text="credit_note and written_off only: what to credit or write off; default the disputed "
        "amount.",
    )
    credit_note_external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=CREDIT_NOTE_ID_MAX_CHARS,
        help_text="credit_note only: the new credit note's external id; default DSP-<dispute id>.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        check_amount_for_currency(attrs.get("amount"), self.context["dispute"].currency)
        return attrs


# Figures ----------------------------------------------------------------------------------------------------


class DisputeMetricsParamsSerializer(serializers.Serializer):
    as_of = serializers.DateField(
        required=False, help_text=f"YYYY-MM-DD; default today, at most {AHEAD_DAYS} days ahead."
    )
    # "from" is a Python keyword, so that parameter is declared through the class namespace.
    locals()["from"] = serializers.DateField(
        required=False, help_text="The first day of the period; default 89 days before its end."
    )
    to = serializers.DateField(required=False, help_text="The last day of the period; default as_of.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        latest = timezone.localdate() + dt.timedelta(days=AHEAD_DAYS)
        checked: dict[str, Any] = {}
        for name in ("as_of", "from", "to"):
            if attrs.get(name) is not None:
                try:
                    checked[name] = check_as_of(attrs[name], latest=latest)
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({name: exc.detail}) from exc
        return {
            "as_of": checked.get("as_of", timezone.localdate()),
            "start": checked.get("from"),
            "end": checked.get("to"),
        }


class DisputePeriodSerializer(serializers.Serializer):
    locals()["from"] = serializers.DateField()
    to = serializers.DateField()


class DisputeMetricsSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    period = DisputePeriodSerializer(help_text="The resolutions counted: resolved on these days.")
    currency = serializers.CharField(help_text="The base currency of the AR amounts.")
    resolved = serializers.IntegerField(help_text="Disputes resolved in the period.")
    cycle_time_mean_days = serializers.FloatField(
        allow_null=True, help_text="Mean of resolved − opened, in days, over those; null: none."
    )
    cycle_time_median_days = serializers.FloatField(allow_null=True)
    sla_hit_rate = serializers.FloatField(
        allow_null=True, help_text="Per cent of those resolved within their SLA."
    )
    open = serializers.IntegerField(help_text="Disputes open on as_of.")
    open_by_reason = serializers.DictField(child=serializers.IntegerField(), help_text="Reason name → count.")
    open_by_age = serializers.DictField(child=serializers.IntegerField(), help_text="Age band → count.")
    overdue_ar = serializers.DecimalField(max_digits=19, decimal_places=4, help_text="AR past due on as_of.")
    overdue_disputed = serializers.DecimalField(
        max_digits=19, decimal_places=4, help_text="What of it is under dispute."
    )
    overdue_disputed_share = serializers.FloatField(allow_null=True, help_text="In per cent.")

    def to_representation(self, instance: Any) -> Any:  # documentation only: the view returns as_dict()
        return instance
