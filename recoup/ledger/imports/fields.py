"""The fields each import kind knows, and how one cell becomes a checked value.

A converter takes the raw cell (a string, or a `date` from a spreadsheet cell) and returns the value to stage,
or raises `BadValue` with the reason a person should read. Converters are on the hot path of a 2M-row import,
so they are plain functions with a fast path for well-formed input.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from recoup.core.money import minor_units, normalize_currency

ZERO = Decimal(0)


class BadValue(ValueError):
    """A cell that cannot be the field's value; the message says why."""


Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # text, date, amount, currency, int, bool, email, timezone, country
    required: bool = False
    max_length: int = 64
    positive: bool = False  # amounts: > 0 (documents) instead of >= 0 (credit limits)


KINDS = ("customers", "invoices", "credit-notes", "payments")

_DOCUMENT_FIELDS = (
    Field("external_id", "text", required=True),
    Field("customer", "text", required=True),
    Field("date", "date", required=True),
    Field("amount", "amount", required=True, positive=True),
    Field("currency", "currency"),
    Field("invoice", "text"),
)

# The staged columns of each kind, in order. `customer` and `invoice` hold external ids; `dunning_policy`
# holds a policy's name (DunningPolicy.name is at most 100 characters).
SCHEMAS: dict[str, tuple[Field, ...]] = {
    "customers": (
        Field("external_id", "text", required=True),
        Field("name", "text", required=True, max_length=255),
        Field("email", "email"),
        Field("currency", "currency"),
        Field("payment_terms_days", "int"),
        Field("credit_limit", "amount"),
        Field("collector", "text", max_length=150),
        Field("timezone", "timezone"),
        Field("country", "country"),
        Field("language", "text", max_length=16),
        Field("on_hold", "bool"),
        Field("do_not_dun", "bool"),
        Field("dunning_policy", "text", max_length=100),
        Field("segment", "text", max_length=64),
    ),
    "invoices": (
        Field("external_id", "text", required=True),
        Field("customer", "text", required=True),
        Field("issue_date", "date", required=True),
        Field("due_date", "date", required=True),
        Field("amount", "amount", required=True, positive=True),
        Field("currency", "currency"),
        Field("dunning_policy", "text", max_length=100),
    ),
    "credit-notes": _DOCUMENT_FIELDS,
    "payments": _DOCUMENT_FIELDS,
}


# Converters -------------------------------------------------------------------------------------------------


def text_converter(max_length: int) -> Converter:
    def convert(raw: Any) -> str | None:
        value = (raw.isoformat() if isinstance(raw, dt.date) else raw).strip()
        if not value:
            return None
        if len(value) > max_length:
            raise BadValue(f'"{value[:40]}…" is longer than {max_length} characters')
        return value

    return convert


def date_converter(fmt: str | None) -> Converter:
    """ISO 8601 by default (the fast path); with a strptime format, that format."""
    fromisoformat = dt.date.fromisoformat
    expected = f'expected "{fmt}"' if fmt else "expected YYYY-MM-DD"

    def convert(raw: Any) -> dt.date | None:
        if raw.__class__ is not str:
            if isinstance(raw, dt.datetime):
                return raw.date()
            if isinstance(raw, dt.date):
                return raw
            raw = str(raw)
        if not raw:
            return None
        try:
            if fmt is None:
                return fromisoformat(raw)
            return dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            stripped = raw.strip()
            if not stripped:
                return None
            if stripped != raw:
                return convert(stripped)
            raise BadValue(f'"{raw}" is not a date ({expected})') from None

    return convert


def amount_converter(raw: Any) -> Decimal | None:
    """A plain decimal: no exponent, no thousands separators, finite. Sign and decimals are checked later."""
    if raw.__class__ is not str:
        raw = str(raw)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        if not raw.strip():
            return None
        raise BadValue(f'"{raw}" is not a plain decimal amount') from None
    if not value.is_finite() or "e" in raw or "E" in raw or "_" in raw:
        raise BadValue(f'"{raw}" is not a plain decimal amount')
    return value


def currency_converter() -> Converter:
    known: dict[str, str] = {}

    def convert(raw: Any) -> str | None:
        code = known.get(raw)
        if code is not None:
            return code
        text = str(raw)
        if not text.strip():
            return None
        try:
            code = normalize_currency(text)
        except ValueError:
            raise BadValue(f'"{text}" is not an ISO 4217 currency code') from None
        if len(known) < 1000:
            known[text] = code
        return code

    return convert


def int_converter(raw: Any) -> int | None:
    text = str(raw).strip()
    if not text:
        return None
    if text.endswith(".0"):  # spreadsheets write whole numbers as floats
        text = text[:-2]
    if not text.isdigit():
        raise BadValue(f'"{raw}" is not a whole number of zero or more')
    return int(text)


_TRUE = {"1", "true", "yes", "y", "t", "x"}
_FALSE = {"0", "false", "no", "n", "f"}


def bool_converter(raw: Any) -> bool | None:
    text = str(raw).strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadValue(f'"{raw}" is not true or false (expected true/false, yes/no or 1/0)')


def email_converter(raw: Any) -> str | None:
    text = str(raw).strip()
    if not text:
        return None
    try:
        validate_email(text)
    except ValidationError:
        raise BadValue(f'"{text}" is not an email address') from None
    if len(text) > 254:
        raise BadValue("the email address is longer than 254 characters")
    return text


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_converter(raw: Any) -> str | None:
    text = str(raw).strip()
    if not text:
        return None
    if text not in _timezones():
        raise BadValue(f'"{text}" is not an IANA time zone (e.g. Europe/Paris)')
    return text


_COUNTRY = re.compile(r"[A-Za-z]{2}")


def country_converter(raw: Any) -> str | None:
    text = str(raw).strip()
    if not text:
        return None
    if not _COUNTRY.fullmatch(text):
        raise BadValue(f'"{text}" is not a two-letter ISO 3166 country code')
    return text.upper()


def converter_for(field: Field, date_format: str | None = None) -> Converter:
    if field.kind == "date":
        return date_converter(date_format)
    if field.kind == "text":
        return text_converter(field.max_length)
    if field.kind == "currency":
        return currency_converter()
    return {
        "amount": amount_converter,
        "int": int_converter,
        "bool": bool_converter,
        "email": email_converter,
        "timezone": timezone_converter,
        "country": country_converter,
    }[field.kind]


_minor_units = functools.cache(minor_units)  # per row on the hot path; the codes are already normalized


def check_amount(value: Decimal, currency: str | None, *, positive: bool) -> None:
    """Sign, and decimals for the currency when it is known here (else the database checks it)."""
    if positive:
        if value <= ZERO:
            raise BadValue(f"{value} is not greater than zero")
    elif value < ZERO:
        raise BadValue(f"{value} is negative")
    if currency is not None:
        places = _minor_units(currency)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places and value != round(value, places):
            raise BadValue(f"{value} has more decimals than {currency} allows ({places})")
