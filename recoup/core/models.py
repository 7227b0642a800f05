from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from recoup.core.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS


class AmountField(models.DecimalField):
    """A money amount column: enough digits and places for every currency's minor unit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", AMOUNT_MAX_DIGITS)
        kwargs.setdefault("decimal_places", AMOUNT_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)


class CurrencyField(models.CharField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 3)
        super().__init__(*args, **kwargs)


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Event(models.Model):
    """Append-only audit trail: who did what to which object, and what changed."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verb = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.verb} {self.target_type}:{self.target_id}"
