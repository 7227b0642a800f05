"""Serializer fields for money, currencies and references by external id."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recoup.core.money import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_MAX_DIGITS,
    MoneyError,
    normalize_currency,
    quantize,
)
from recoup.dunning.models import DunningPolicy

EXTERNAL_ID_MAX_LENGTH = 64
POLICY_NAME_MAX_LENGTH = DunningPolicy._meta.get_field("name").max_length


class AmountField(serializers.DecimalField):
    """A money amount: a plain decimal string or JSON number, at most 4 decimals and 15 whole digits.

    Exponents, NaN, infinities and booleans are refused. The currency's own minor unit is checked by the
    serializer that knows the currency (see `check_amount_for_currency`).
    """

    default_error_messages = {"plain": "Enter a plain decimal amount such as 1250.00."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", AMOUNT_MAX_DIGITS)
        kwargs.setdefault("decimal_places", AMOUNT_DECIMAL_PLACES)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, str | int | Decimal):
            self.fail("plain")
        if isinstance(data, str) and "e" in data.lower():
            self.fail("plain")
        return super().to_internal_value(data)


class CurrencyCodeField(serializers.CharField):
    """An ISO 4217 code, upper-cased."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 3)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return normalize_currency(text)
        except MoneyError as exc:
            raise serializers.ValidationError(str(exc)) from exc


def too_many_decimals(amount: Decimal | None, currency: str) -> str | None:
    """Why `amount` cannot be in `currency` (more decimals than JPY 0, EUR 2, KWD 3), or None."""
    if amount is None or quantize(amount, currency) == amount:
        return None
    return f"{amount.normalize():f} has more decimals than {currency} allows."


def check_amount_for_currency(amount: Decimal | None, currency: str, field: str = "amount") -> None:
    if problem := too_many_decimals(amount, currency):
        raise serializers.ValidationError({field: [problem]})


def money(amount: Decimal | None, currency: str) -> str | None:
    """An amount as the string the API returns: quantized to the currency's minor unit."""
    return None if amount is None else str(quantize(amount, currency))


def is_external_id(value: str) -> bool:
    """Worth looking up: PostgreSQL refuses NUL characters in a query, and no stored id is longer than 64."""
    return 0 < len(value) <= EXTERNAL_ID_MAX_LENGTH and "\x00" not in value


class ExternalIdField(serializers.SlugRelatedField):
    """A reference to a customer, invoice, payment or credit note by its external id.

    Bulk requests resolve every reference in one query up front and put the result in the serializer context
    under `lookup_cache[model]`; single requests fall back to one query.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "external_id")
        super().__init__(**kwargs)
        self.error_messages["does_not_exist"] = "No {model} has the external id {value!r}."

    def to_internal_value(self, data: Any) -> models.Model:
        queryset = self.get_queryset()
        assert queryset is not None, "ExternalIdField needs a queryset"
        if not isinstance(data, str) or not is_external_id(data):
            self.fail("invalid")
        cache = self.context.get("lookup_cache", {}).get(queryset.model)
        found = cache.get(data) if cache is not None else queryset.filter(external_id=data).first()
        if found is None:
            self.fail("does_not_exist", model=queryset.model._meta.verbose_name, value=data)
        return found


class UniqueExternalId:
    """The external id is not taken yet (400, never an IntegrityError).

    Bulk requests look every id up in one query and list the taken ones in the context
    (`taken_external_ids`).
    """

    requires_context = True

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model

    def __call__(self, value: str, field: serializers.Field) -> None:
        if not is_external_id(value):
            return  # the field's own validators explain what is wrong with it
        instance = getattr(field.parent, "instance", None)
        taken = field.context.get("taken_external_ids")
        if taken is not None:
            clash = value in taken
        else:
            others = self.model._default_manager.filter(external_id=value)
            if isinstance(instance, self.model):
                others = others.exclude(pk=instance.pk)
            clash = others.exists()
        if clash:
            name = str(self.model._meta.verbose_name)
            article = "An" if name[0] in "aeiou" else "A"
            raise serializers.ValidationError(f"{article} {name} with external id {value!r} already exists.")


def external_id_field(model: type[models.Model]) -> serializers.CharField:
    return serializers.CharField(
        max_length=EXTERNAL_ID_MAX_LENGTH,
        validators=[UniqueExternalId(model)],
        help_text=f"Your system's id for the {model._meta.verbose_name}; unique.",
    )


@extend_schema_field(OpenApiTypes.STR)
class PolicyNameField(serializers.Field):
    """A dunning policy by its name: exact, case included, with surrounding spaces trimmed (as the imports
    match it). Each name is looked up once per request, bulk requests included (`policies_by_name` in the
    serializer context)."""

    default_error_messages = {
        "invalid": "Name a dunning policy by its name, as a string.",
        "does_not_exist": 'No dunning policy is named "{name}" (names match exactly, case included).',
    }

    def to_internal_value(self, data: Any) -> DunningPolicy:
        if not isinstance(data, str):
            self.fail("invalid")
        name = data.strip()
        context = cast(dict[str, Any], self.context)  # the root serializer's own dict: it keeps the cache
        cache: dict[str, DunningPolicy | None] = context.setdefault("policies_by_name", {})
        if name not in cache:  # (a NUL character never gets here: the parser refuses it in any body)
            cache[name] = DunningPolicy.objects.filter(name=name).first() if name else None
        policy = cache[name]
        if policy is None:
            self.fail("does_not_exist", name=name[:POLICY_NAME_MAX_LENGTH])
        return policy

    def to_representation(self, value: DunningPolicy) -> str:
        return value.name
