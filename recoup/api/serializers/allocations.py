"""Allocations (append-only) and FX rates. Writes go through recoup.ledger.services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from recoup.api.fields import AmountField, CurrencyCodeField, ExternalIdField, too_many_decimals
from recoup.api.serializers.base import QuantizedAmountsSerializer
from recoup.ledger import services
from recoup.ledger.models import Allocation, AllocationKind, CreditNote, FxRate, Invoice, Payment


class AllocationSerializer(QuantizedAmountsSerializer):
    """Apply a payment or credit note to an invoice, or write part of an invoice off.

    `kind` says which: `payment` needs `payment`, `credit_note` needs `credit_note`,
    `write_off` needs neither.
    """

    invoice = ExternalIdField(queryset=Invoice.objects.all(), help_text="The invoice's external id.")
    payment = ExternalIdField(
        queryset=Payment.objects.all(),
        required=False,
        allow_null=True,
        help_text="The payment's external id.",
    )
    credit_note = ExternalIdField(
        queryset=CreditNote.objects.all(),
        required=False,
        allow_null=True,
        help_text="The credit note's external id.",
    )
    amount = AmountField(min_value=Decimal("0.0001"))
    date = serializers.DateField(
        required=False, help_text="Defaults to the source document's date (today for a write-off)."
    )
    reversed_by_id = serializers.SerializerMethodField()
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Allocation
        fields = [
            "id",
            "kind",
            "invoice",
            "invoice_id",
            "payment",
            "payment_id",
            "credit_note",
            "credit_note_id",
            "amount",
            "currency",
            "date",
            "memo",
            "reverses_id",
            "reversed_by_id",
            "created_by",
            "created_at",
        ]
        read_only_fields = [
            "invoice_id",
            "payment_id",
            "credit_note_id",
            "currency",
            "reverses_id",
            "created_at",
        ]

    def get_reversed_by_id(self, allocation: Allocation) -> int | None:
        reversal = getattr(allocation, "reversed_by", None)
        return reversal.pk if reversal is not None else None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind, invoice = attrs["kind"], attrs["invoice"]
        sources = {"payment": attrs.get("payment"), "credit_note": attrs.get("credit_note")}
        errors: dict[str, list[str]] = {}
        for name, source in sources.items():
            if kind == name and source is None:
                errors[name] = [f"A {kind} allocation names the {name.replace('_', ' ')} it applies."]
            elif kind != name and source is not None:
                errors[name] = [f"A {kind} allocation does not name a {name.replace('_', ' ')}."]
        if problem := too_many_decimals(attrs["amount"], invoice.currency):
            errors["amount"] = [problem]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Allocation:
        actor = self.context["request"].user
        common = {
            "actor": actor,
            "invoice": validated_data["invoice"],
            "amount": validated_data["amount"],
            "date": validated_data.get("date"),
            "memo": validated_data.get("memo", ""),
        }
        if validated_data["kind"] == AllocationKind.WRITE_OFF:
            return services.write_off_create(**common)
        source = validated_data.get("payment") or validated_data.get("credit_note")
        return services.allocation_create(source=source, **common)


class ReversalSerializer(serializers.Serializer):
    date = serializers.DateField(
        required=False, help_text="Defaults to today, or the allocation's date if that is later."
    )
    memo = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class FxRateSerializer(serializers.ModelSerializer):
    """1 unit of `currency` is worth `rate` units of the base currency from `date` until the next rate."""

    currency = CurrencyCodeField()
    rate = serializers.DecimalField(max_digits=20, decimal_places=10, min_value=Decimal("0.0000000001"))

    class Meta:
        model = FxRate
        fields = ["id", "currency", "date", "rate", "created_at"]
        validators: list[Any] = []  # setting a rate again for the same date replaces it (an upsert)

    def create(self, validated_data: dict[str, Any]) -> FxRate:
        return services.fx_rate_set(actor=self.context["request"].user, **validated_data)
