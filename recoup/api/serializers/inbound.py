"""Inbound email through the API: what arrived in the collections mailbox, and what a person does with an
email (assign it to a customer and invoices, or ignore it). Writes go through recoup.activity.services."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recoup.activity.models import InboundAttachment, InboundEmail, InboundStatus, MatchedBy
from recoup.api.fields import ExternalIdField, is_external_id
from recoup.ledger.models import Customer, Invoice

MAX_INVOICES = 100


def _values(choices: type[InboundStatus] | type[MatchedBy]) -> str:
    return ", ".join(choice for choice in choices.values if choice)


# Strings that name their values, not enums: drf-spectacular names an enum after its field, and "status" is
# another resource's already (a warning, which CI fails on).
@extend_schema_field({"type": "string"})
class InboundStatusField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", f"One of {_values(InboundStatus)}.")
        super().__init__(read_only=True, **kwargs)


@extend_schema_field({"type": "string"})
class MatchedByField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text", f"How the customer was found: {_values(MatchedBy)}; empty: not matched."
        )
        super().__init__(read_only=True, **kwargs)


class InboundAttachmentSerializer(serializers.ModelSerializer):
    content_type = serializers.CharField(help_text="As the sender declared it: shown, never trusted.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = InboundAttachment
        fields = ["id", "filename", "content_type", "size", "url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, attachment: InboundAttachment) -> str:
        """Where to download it (a download of opaque bytes, application/octet-stream)."""
        path = reverse("api-inbound-email-attachment", args=[attachment.email_id, attachment.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class InboundEmailSerializer(serializers.ModelSerializer):
    status = InboundStatusField()
    matched_by = MatchedByField()
    customer: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="external_id", read_only=True, help_text="The customer's external id; null: unmatched."
    )
    customer_name = serializers.CharField(source="customer.name", allow_null=True, read_only=True)
    invoices: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="external_id", many=True, read_only=True, help_text="The invoices it concerns."
    )
    is_auto_reply = serializers.BooleanField(
        read_only=True,
        help_text="An out-of-office or other automatic reply: never a response from the customer.",
    )
    attachment_count = serializers.IntegerField(read_only=True)
    assigned_by = serializers.CharField(
        source="assigned_by.username",
        allow_null=True,
        read_only=True,
        help_text="Who assigned or ignored it; null: nobody (the poller matched it, or nobody yet).",
    )

    class Meta:
        model = InboundEmail
        fields = [
            "id",
            "received_at",
            "sent_at",
            "from_address",
            "from_name",
            "to",
            "subject",
            "status",
            "matched_by",
            "is_auto_reply",
            "customer",
            "customer_id",
            "customer_name",
            "invoices",
            "attachment_count",
            "assigned_by",
            "assigned_at",
        ]
        read_only_fields = fields


class InboundEmailDetailSerializer(InboundEmailSerializer):
    attachments = InboundAttachmentSerializer(many=True, read_only=True)
    body_html = serializers.CharField(
        read_only=True, help_text="The sender's HTML, as it came: never render it outside a sandbox."
    )

    class Meta(InboundEmailSerializer.Meta):
        fields = [
            *InboundEmailSerializer.Meta.fields,
            "message_id",
            "in_reply_to",
            "references",
            "body_text",
            "body_html",
            "attachments",
        ]
        read_only_fields = fields


class InboundAssignSerializer(serializers.Serializer):
    customer = ExternalIdField(queryset=Customer.objects.all(), help_text="The customer's external id.")
    invoices = serializers.ListField(
        child=serializers.CharField(max_length=64, trim_whitespace=False),
        required=False,
        max_length=MAX_INVOICES,
        help_text=f"The external ids of the customer's invoices it concerns, at most {MAX_INVOICES}.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        numbers = list(dict.fromkeys(attrs.get("invoices", [])))
        bad = [n for n in numbers if not is_external_id(n)]
        if bad:
            raise serializers.ValidationError({"invoices": [f"{bad[0]!r} is not an invoice's external id."]})
        found = {i.external_id: i for i in Invoice.objects.filter(external_id__in=numbers)}
        missing = [n for n in numbers if n not in found]
        if missing:
            raise serializers.ValidationError(
                {"invoices": [f"No invoice has the external id {missing[0]!r}."]}
            )
        customer: Customer = attrs["customer"]
        strangers = [n for n in numbers if found[n].customer_id != customer.pk]
        if strangers:
            raise serializers.ValidationError(
                {"invoices": [f"{', '.join(strangers)}: not invoices of {customer.external_id}."]}
            )
        attrs["invoices"] = [found[n] for n in numbers]
        return attrs
