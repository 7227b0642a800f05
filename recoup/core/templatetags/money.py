"""Template filters for amounts: every amount is shown at its currency's minor unit, with the currency."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from recoup.core.money import MoneyError, minor_units, quantize

register = template.Library()

EMPTY = "—"


def _format(amount: Any, currency: str) -> str | None:
    if amount is None or amount == "":
        return None
    if not isinstance(amount, Decimal):
        # Integers and strings from the database are exact; a float never reaches an amount.
        amount = Decimal(str(amount)) if isinstance(amount, int | str) else None
        if amount is None:
            return None
    try:
        places = minor_units(currency)
        value = quantize(amount, currency)
    except MoneyError:
        return None
    text = f"{abs(value):,.{places}f}"
    # A true minus sign reads better in tables than a hyphen, and lines up with the digits.
    return f"\u2212{text}" if value < 0 else text


@register.filter
def money(amount: Any, currency: str) -> str:
    """`{{ invoice.amount|money:invoice.currency }}` → "1,234.50 USD"; JPY 0 places, KWD 3; None → "—"."""
    text = _format(amount, currency)
    return EMPTY if text is None else f"{text} {currency}"


@register.filter
def amount(amount: Any, currency: str) -> str:
    """The number alone, at the currency's minor unit, for tables whose header or row names the currency."""
    text = _format(amount, currency)
    return EMPTY if text is None else text


@register.filter
def fx_rate(rate: Decimal | None) -> str:
    """An exchange rate with its significant digits only: Decimal("0.0065000000") → "0.0065"."""
    if rate is None:
        return EMPTY
    return format(rate.normalize(), "f")
