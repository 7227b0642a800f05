"""The customer timeline, calls, notes and emails sent by hand through the API. Writes go through
recoup.activity.services and recoup.dunning.manual; the timeline is read by recoup.activity.timeline."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recoup.activity.models import Call, CallOutcome, EntryKind, Note, PromiseChannel, Task
from recoup.activity.services import MAX_TEXT, PromiseSpec
from recoup.activity.timeline import MAX_LIMIT
from recoup.api.fields import (
    AmountField,
    CurrencyCodeField,
    ExternalIdField,
    check_amount_for_currency,
    money,
)
from recoup.api.serializers.disputes import RowIdField
from recoup.dunning.manual import MAX_INVOICES, MAX_RECIPIENTS
from recoup.dunning.models import MessageTemplate, Tone
from recoup.ledger.models import Contact, Customer, Invoice
from recoup.users.models import User


# Choices are documented as strings that name their values, not as enums: drf-spectacular names an enum after
# its field, and "kind", "channel" and "outcome" mean other sets elsewhere in the API (a warning, which CI
# fails on).
@extend_schema_field({"type": "string"})
class NamedChoiceField(serializers.ChoiceField):
    def __init__(self, choices: Any, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", f"One of {', '.join(str(value) for value, _ in choices)}.")
        super().__init__(choices=choices, **kwargs)


def _invoice_list(help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=ExternalIdField(queryset=Invoice.objects.all()),
        required=False,
        max_length=MAX_INVOICES,
        help_text=help_text,
    )


# The timeline ---------------------------------------------------------------------------------------------


class ActivityParamsSerializer(serializers.Serializer):
    customer = ExternalIdField(
        queryset=Customer.objects.all(), required=False, help_text="The customer's external id."
    )
    customer_id = RowIdField(
        queryset=Customer.objects.all(),
        required=False,
        help_text="Or the customer's id; one of them is required.",
    )
    kind = serializers.CharField(
        required=False,
        help_text=f"Comma-separated kinds to keep, among {', '.join(EntryKind.values)}; default all.",
    )
    invoice = serializers.CharField(
        required=False, help_text="Only what concerns this invoice (external id)."
    )
    invoice_id = serializers.IntegerField(required=False, min_value=1, help_text="Or the invoice's id.")
    before = serializers.CharField(
        required=False,
        max_length=100,
        help_text="The `next` cursor of the previous page: the items after it.",
    )
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=50)

    def validate_kind(self, value: str) -> list[str]:
        kinds = [part.strip() for part in value.split(",") if part.strip()]
        unknown = [kind for kind in kinds if kind not in EntryKind.values]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown kind {unknown[0]!r}; choose among {', '.join(EntryKind.values)}."
            )
        return kinds

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        customer = attrs.pop("customer", None)
        by_id = attrs.pop("customer_id", None)
        if customer is None and by_id is None:
            raise serializers.ValidationError({"customer": ["Name the customer: customer or customer_id."]})
        if customer is not None and by_id is not None and customer.pk != by_id.pk:
            raise serializers.ValidationError(
                {"customer_id": ["customer and customer_id name different customers."]}
            )
        attrs["customer"] = customer or by_id
        invoices = Invoice.objects.filter(customer=attrs["customer"])
        number, pk = attrs.pop("invoice", None), attrs.pop("invoice_id", None)
        if number is not None or pk is not None:
            found = invoices.filter(**({"external_id": number} if number is not None else {"pk": pk})).first()
            if found is None:
                raise serializers.ValidationError(
                    {"invoice" if number is not None else "invoice_id": ["The customer has no such invoice."]}
                )
            attrs["invoice"] = found
        return attrs


class InvoiceRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="The invoice's external id.")
    amount = serializers.CharField(allow_null=True, help_text="What a payment or credit note applied to it.")
    currency = serializers.CharField(allow_blank=True)
    reversed_on = serializers.DateField(allow_null=True, help_text="When that application was reversed.")


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    filename = serializers.CharField()
    size = serializers.IntegerField()


class ActivitySerializer(serializers.Serializer):
    kind = NamedChoiceField(choices=EntryKind.choices)
    kind_label = serializers.CharField()
    occurred_at = serializers.DateTimeField(help_text="A payment or credit note: the start of its date.")
    on_date = serializers.DateField(allow_null=True, help_text="A payment or credit note's business date.")
    title = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    status = serializers.CharField(allow_blank=True)
    actor = serializers.CharField(allow_blank=True, help_text="Who did it (username); empty: the system.")
    amount = serializers.SerializerMethodField()
    currency = serializers.CharField(allow_blank=True)
    source_type = serializers.CharField(
        allow_blank=True, help_text='The row behind it, e.g. "activity.call".'
    )
    source_id = serializers.CharField(allow_blank=True)
    invoices = InvoiceRefSerializer(many=True)
    attachments = AttachmentSerializer(many=True)
    cursor = serializers.CharField(help_text="Pass as `before` to read the items after this one.")

    def get_amount(self, item: Any) -> str | None:
        return money(item.amount, item.currency) if item.amount is not None else None

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for ref, raw in zip(data["invoices"], instance.invoices, strict=True):
            ref["amount"] = money(raw.amount, raw.currency) if raw.amount is not None else None
        return data


class ActivityPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next (older) page; null on the oldest.")
    results = ActivitySerializer(many=True)


# Calls ----------------------------------------------------------------------------------------------------


class PromiseBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    promised_date = serializers.DateField()
    channel = serializers.CharField()
    status = serializers.CharField()


class CallSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    outcome = NamedChoiceField(choices=CallOutcome.choices, read_only=True)
    invoices: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="external_id", many=True, read_only=True
    )
    actor: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    promise = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = [
            "id",
            "customer",
            "customer_id",
            "contact_id",
            "outcome",
            "duration_seconds",
            "notes",
            "called_at",
            "invoices",
            "task_id",
            "promise",
            "actor",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(PromiseBriefSerializer(allow_null=True))
    def get_promise(self, call: Call) -> dict[str, Any] | None:
        promise = call.promise
        if promise is None:
            return None
        return {
            "id": promise.pk,
            "amount": money(promise.amount, promise.currency),
            "currency": promise.currency,
            "promised_date": promise.promised_date,
            "channel": promise.channel,
            "status": promise.status,
        }


class PromiseRequestSerializer(serializers.Serializer):
    amount = AmountField()
    currency = CurrencyCodeField(required=False, help_text="Default: the customer's currency.")
    promised_date = serializers.DateField()
    invoices = _invoice_list("External ids of the invoices it covers; none: the whole account.")
    channel = NamedChoiceField(choices=PromiseChannel.choices, default=PromiseChannel.CALL)

    def validate_amount(self, value: Any) -> Any:
        if value <= 0:
            raise serializers.ValidationError("A promise must be for more than zero.")
        return value


class CallCreateSerializer(serializers.Serializer):
    customer = ExternalIdField(queryset=Customer.objects.all(), help_text="The customer's external id.")
    outcome = NamedChoiceField(choices=CallOutcome.choices)
    duration_seconds = serializers.IntegerField(required=False, min_value=0, max_value=24 * 3600, default=0)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT, default="")
    contact = RowIdField(
        queryset=Contact.objects.all(), required=False, allow_null=True, help_text="A contact id."
    )
    invoices = _invoice_list("External ids of the invoices discussed.")
    task = RowIdField(
        queryset=Task.objects.all(), required=False, allow_null=True, help_text="Completed by the call."
    )
    called_at = serializers.DateTimeField(required=False, help_text="Default: now; never in the future.")
    promise = PromiseRequestSerializer(
        required=False, allow_null=True, help_text="A promise to pay made on the call."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        promise = attrs.get("promise")
        if promise:
            currency = promise.get("currency") or attrs["customer"].currency
            try:
                check_amount_for_currency(promise["amount"], currency)
            except serializers.ValidationError as exc:
                raise serializers.ValidationError({"promise": exc.detail}) from exc
            attrs["promise"] = PromiseSpec(
                amount=promise["amount"],
                promised_date=promise["promised_date"],
                invoices=promise.get("invoices", []),
                currency=promise.get("currency"),
                channel=promise["channel"],
            )
        return attrs


# Notes ----------------------------------------------------------------------------------------------------


class NoteSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    invoices: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="external_id", many=True, read_only=True
    )
    mentions: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", many=True, read_only=True, help_text="The users it mentions (@username)."
    )
    author: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Note
        fields = ["id", "customer", "customer_id", "body", "invoices", "mentions", "author", "created_at"]
        read_only_fields = fields


class NoteCreateSerializer(serializers.Serializer):
    customer = ExternalIdField(queryset=Customer.objects.all(), help_text="The customer's external id.")
    body = serializers.CharField(max_length=MAX_TEXT, help_text="@username mentions are told by email.")
    invoices = _invoice_list("External ids of the invoices it is about.")


# Emails sent by hand --------------------------------------------------------------------------------------


class MessageTemplateSerializer(serializers.ModelSerializer):
    tone = NamedChoiceField(choices=Tone.choices, read_only=True)

    class Meta:
        model = MessageTemplate
        fields = ["id", "name", "language", "tone", "subject", "body", "is_active", "updated_at"]
        read_only_fields = fields


class EmailSendSerializer(serializers.Serializer):
    customer = ExternalIdField(queryset=Customer.objects.all(), help_text="The customer's external id.")
    template = RowIdField(
        queryset=MessageTemplate.objects.all(), help_text="The id of a template to send from."
    )
    request_key = serializers.CharField(
        max_length=64,
        help_text="One per email: a repeat with the same key returns the email the first request queued "
        "(200) and sends nothing more. 8 to 64 letters, digits, '.', '_', ':' or '-'; a UUID will do.",
    )
    contact = RowIdField(
        queryset=Contact.objects.all(),
        required=False,
        allow_null=True,
        help_text="Send to this contact alone.",
    )
    recipients = serializers.ListField(
        child=serializers.EmailField(),
        required=False,
        max_length=MAX_RECIPIENTS,
        help_text="Or these addresses; neither: every AP contact with an address.",
    )
    invoices = _invoice_list("External ids of the invoices it lists.")
    send_at = serializers.DateTimeField(required=False, help_text="Default: now; at most 90 days ahead.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("contact") is not None and attrs.get("recipients"):
            raise serializers.ValidationError({"recipients": ["Give a contact or recipients, not both."]})
        return attrs
