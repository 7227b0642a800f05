"""Invoices, payments and credit notes. Writes go through recoup.ledger.services."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from recoup.api.fields import (
    AmountField,
    CurrencyCodeField,
    ExternalIdField,
    PolicyNameField,
    check_amount_for_currency,
    external_id_field,
    money,
    too_many_decimals,
)
from recoup.api.serializers.base import QuantizedAmountsSerializer
from recoup.ledger import services
from recoup.ledger.models import Allocation, CreditNote, Customer, Invoice, Payment
from recoup.ledger.services import Application

CUSTOMER_HELP = "The customer's external id, e.g. C00001."


class InvoiceSerializer(QuantizedAmountsSerializer):
    external_id = external_id_field(Invoice)
    customer = ExternalIdField(queryset=Customer.objects.all(), help_text=CUSTOMER_HELP)
    amount = AmountField(min_value=Decimal("0.0001"))
    currency = CurrencyCodeField(required=False, help_text="ISO 4217; defaults to the customer's currency.")
    open_amount = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    dunning_policy = PolicyNameField(
        required=False,
        allow_null=True,
        help_text="The name of the invoice's own dunning policy (exact), which overrides its customer's; "
        "null: the customer's, else the default, applies. The one field PATCH can change.",
    )

    class Meta:
        model = Invoice
        fields = [
            "id",
            "external_id",
            "customer",
            "customer_id",
            "issue_date",
            "due_date",
            "amount",
            "currency",
            "open_amount",
            "status",
            "closed_on",
            "dunning_policy",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["customer_id", "closed_on"]

    def get_open_amount(self, invoice: Invoice) -> str:
        return str(money(invoice.open_amount, invoice.currency))

    def get_status(self, invoice: Invoice) -> str:
        """`open` while anything is left to collect, else `closed`."""
        return "open" if invoice.open_amount > 0 else "closed"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["currency"] = attrs.get("currency") or attrs["customer"].currency
        check_amount_for_currency(attrs["amount"], attrs["currency"])
        if attrs["due_date"] < attrs["issue_date"]:
            raise serializers.ValidationError({"due_date": ["The due date is before the issue date."]})
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Invoice:
        return services.invoice_create(actor=self.context["request"].user, **validated_data)


class InvoicePolicySerializer(serializers.Serializer):
    """PATCH of an invoice: its dunning policy, and nothing else (an invoice's amounts and dates are ledger
    facts; re-import an invoice to correct them)."""

    dunning_policy = PolicyNameField(
        allow_null=True,
        help_text="The name of the invoice's own dunning policy; null: the customer's, else the default, "
        "applies.",
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # Every other key is refused by name, alongside any problem with the policy.
        others = sorted(k for k in data if k != "dunning_policy") if isinstance(data, Mapping) else []
        errors: dict[str, Any] = {str(key): [_fixed(str(key))] for key in others}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            errors.update(exc.detail)
        if errors:
            raise serializers.ValidationError(errors)
        return dict(value)


def _fixed(name: str) -> str:
    if name in InvoiceSerializer.Meta.fields:
        return (
            f"An invoice's {name} cannot change through the API: only dunning_policy can. Correct an "
            "invoice by re-importing it (recoup import invoices)."
        )
    return "Unknown field: an invoice PATCH takes only dunning_policy."


class AppliedSerializer(QuantizedAmountsSerializer):
    """One application of a payment or credit note to an invoice: `amount` omitted means all it can."""

    invoice = ExternalIdField(queryset=Invoice.objects.all(), help_text="The invoice's external id.")
    amount = AmountField(min_value=Decimal("0.0001"), required=False, allow_null=True)

    class Meta:
        model = Allocation
        fields = ["id", "invoice", "invoice_id", "amount", "date", "reverses_id"]
        read_only_fields = ["invoice_id", "date", "reverses_id"]


class CustomerCreditSerializer(QuantizedAmountsSerializer):
    """What payments and credit notes share: a dated amount, applied to the invoices it names."""

    customer = ExternalIdField(queryset=Customer.objects.all(), help_text=CUSTOMER_HELP)
    amount = AmountField(min_value=Decimal("0.0001"))
    currency = CurrencyCodeField(required=False, help_text="ISO 4217; defaults to the customer's currency.")
    unapplied_amount = serializers.SerializerMethodField()
    invoice = ExternalIdField(
        queryset=Invoice.objects.all(),
        write_only=True,
        required=False,
        help_text="Shortcut: the external id of one invoice to apply as much as possible to.",
    )
    allocations = AppliedSerializer(
        many=True,
        required=False,
        help_text="Invoices to apply this document to, in order. The rest stays unapplied customer credit.",
    )

    common_fields = [
        "id",
        "external_id",
        "customer",
        "customer_id",
        "date",
        "amount",
        "currency",
        "unapplied_amount",
        "invoice",
        "allocations",
        "created_at",
        "updated_at",
    ]

    def get_unapplied_amount(self, document: Payment | CreditNote) -> str:
        return str(money(document.unapplied_amount, document.currency))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        customer: Customer = attrs["customer"]
        currency = attrs["currency"] = attrs.get("currency") or customer.currency
        check_amount_for_currency(attrs["amount"], currency)
        shortcut: Invoice | None = attrs.pop("invoice", None)
        if shortcut is not None and (problem := _misfit(shortcut, customer, currency)):
            raise serializers.ValidationError({"invoice": [problem]})
        items = attrs.pop("allocations", [])
        errors: dict[str, Any] = {}
        for index, item in enumerate(items):
            invoice, amount = item["invoice"], item.get("amount")
            if problem := _misfit(invoice, customer, currency):
                errors[str(index)] = {"invoice": [problem]}
            elif problem := too_many_decimals(amount, currency):
                errors[str(index)] = {"amount": [problem]}
        if errors:
            raise serializers.ValidationError({"allocations": errors})
        named = sum((item["amount"] for item in items if item.get("amount") is not None), Decimal(0))
        if named > attrs["amount"]:
            raise serializers.ValidationError(
                {"allocations": [f"They apply {named}, more than the document's amount {attrs['amount']}."]}
            )
        attrs["apply_to"] = [Application(shortcut)] if shortcut is not None else []
        attrs["apply_to"] += [Application(item["invoice"], item.get("amount")) for item in items]
        return attrs


def _misfit(invoice: Invoice, customer: Customer, currency: str) -> str | None:
    """Why this document cannot be applied to `invoice`, or None."""
    if invoice.customer_id != customer.pk:
        return f"{invoice.external_id} belongs to another customer."
    if invoice.currency != currency:
        return f"{invoice.external_id} is in {invoice.currency}, not {currency}."
    return None


class PaymentSerializer(CustomerCreditSerializer):
    external_id = external_id_field(Payment)

    class Meta:
        model = Payment
        fields = [*CustomerCreditSerializer.common_fields, "reference"]

    def create(self, validated_data: dict[str, Any]) -> Payment:
        return services.payment_create(actor=self.context["request"].user, **validated_data)


class CreditNoteSerializer(CustomerCreditSerializer):
    external_id = external_id_field(CreditNote)

    class Meta:
        model = CreditNote
        fields = [*CustomerCreditSerializer.common_fields, "reason"]

    def create(self, validated_data: dict[str, Any]) -> CreditNote:
        return services.credit_note_create(actor=self.context["request"].user, **validated_data)
