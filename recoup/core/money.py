"""Money: a Decimal amount with an ISO 4217 currency, quantized to the currency's minor unit by one helper."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units for the currencies whose exponent is not 2. Every other valid code has 2.
_MINOR_UNITS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "CLF": 4,
    "UYW": 4,
}
CURRENCIES_NOT_TWO_DECIMALS = frozenset(_MINOR_UNITS)
# Every amount column is stored with this many decimal places, enough for any currency's minor unit.
AMOUNT_DECIMAL_PLACES = 4
AMOUNT_MAX_DIGITS = 19


class MoneyError(ValueError):
    """An amount or currency that cannot be money."""


def normalize_currency(code: str) -> str:
    code = (code or "").strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise MoneyError(f"{code!r} is not an ISO 4217 currency code")
    return code


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(normalize_currency(currency), 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit (JPY 0, EUR 2, KWD 3)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def parse_amount(text: str | Decimal | int, currency: str) -> Decimal:
    """Parse a plain decimal. Reject floats' cousins: exponents, NaN, infinities and extra precision."""
    if isinstance(text, Decimal | int):
        value = Decimal(text)
    else:
        cleaned = text.strip()
        if not cleaned or "e" in cleaned.lower() or "_" in cleaned:
            raise MoneyError(f"{text!r} is not a plain decimal amount")
        try:
            value = Decimal(cleaned)
        except InvalidOperation as exc:
            raise MoneyError(f"{text!r} is not a plain decimal amount") from exc
    if not value.is_finite():
        raise MoneyError(f"{text!r} is not a finite amount")
    if quantize(value, currency) != value:
        raise MoneyError(f"{text} has more decimals than {currency} allows ({minor_units(currency)})")
    return quantize(value, currency)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise MoneyError("Money needs a Decimal amount, never a float")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def quantized(self) -> Money:
        return Money(quantize(self.amount, self.currency), self.currency)

    def _check(self, other: Money) -> None:
        if self.currency != other.currency:
            raise MoneyError(f"cannot combine {self.currency} and {other.currency}")

    def __str__(self) -> str:
        q = quantize(self.amount, self.currency)
        return f"{q:,.{minor_units(self.currency)}f} {self.currency}"
