"""What the ledger serializers share: amounts leave the API quantized to their row's currency."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from recoup.api.fields import money


class QuantizedAmountsSerializer(serializers.ModelSerializer):
    # Each field in `amount_fields` is returned quantized to the row's `currency`: JPY 0 decimals, EUR 2,
    # KWD 3. A comment, not a docstring: drf-spectacular would publish a docstring as each subclass's
    # description in the OpenAPI schema.

    amount_fields: tuple[str, ...] = ("amount",)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for name in self.amount_fields:
            data[name] = money(getattr(instance, name), instance.currency)
        return data
