"""Customers and their contacts. Writes go through recoup.ledger.services."""

from __future__ import annotations

import functools
from typing import Any
from zoneinfo import available_timezones

from rest_framework import serializers

from recoup.api.fields import (
    AmountField,
    CurrencyCodeField,
    ExternalIdField,
    PolicyNameField,
    check_amount_for_currency,
    external_id_field,
)
from recoup.api.serializers.base import QuantizedAmountsSerializer
from recoup.ledger import services
from recoup.ledger.models import Contact, Customer
from recoup.users.models import User


class ContactSerializer(serializers.ModelSerializer):
    customer = ExternalIdField(queryset=Customer.objects.all(), help_text="The customer's external id.")

    class Meta:
        model = Contact
        fields = [
            "id",
            "customer",
            "customer_id",
            "name",
            "email",
            "phone",
            "is_ap",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["customer_id"]
        validators: list[Any] = []  # the database check (email or phone) is the service's to explain

    def create(self, validated_data: dict[str, Any]) -> Contact:
        return services.contact_create(actor=self.context["request"].user, **validated_data)


class CustomerContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name", "email", "phone", "is_ap"]
        read_only_fields = fields


class CustomerSerializer(QuantizedAmountsSerializer):
    amount_fields = ("credit_limit",)
    external_id = external_id_field(Customer)
    currency = CurrencyCodeField(required=False, help_text="ISO 4217; the default currency of its documents.")
    credit_limit = AmountField(required=False, allow_null=True)
    collector = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Username of the assigned collector.",
    )
    dunning_policy = PolicyNameField(
        required=False,
        allow_null=True,
        help_text="The name of the customer's dunning policy (exact); null: the default policy applies.",
    )
    contacts = CustomerContactSerializer(many=True, read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "external_id",
            "name",
            "currency",
            "payment_terms_days",
            "credit_limit",
            "collector",
            "collector_id",
            "timezone",
            "country",
            "language",
            "on_hold",
            "do_not_dun",
            "segment",
            "dunning_policy",
            "contacts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["collector_id"]
        extra_kwargs = {"payment_terms_days": {"max_value": 3650}}

    def validate_timezone(self, value: str) -> str:
        if value not in _timezones():
            raise serializers.ValidationError(f"{value!r} is not an IANA time zone such as Europe/Paris.")
        return value

    def validate_country(self, value: str) -> str:
        value = value.strip().upper()
        if value and (len(value) != 2 or not value.isalpha()):
            raise serializers.ValidationError("Use a two-letter ISO 3166 code such as FR, or leave it empty.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        default = Customer._meta.get_field("currency").get_default()
        currency = attrs.get("currency") or (self.instance.currency if self.instance else default)
        check_amount_for_currency(attrs.get("credit_limit"), currency, "credit_limit")
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Customer:
        return services.customer_create(actor=self.context["request"].user, **validated_data)

    def update(self, instance: Customer, validated_data: dict[str, Any]) -> Customer:
        return services.customer_update(
            actor=self.context["request"].user, customer=instance, **validated_data
        )


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}
