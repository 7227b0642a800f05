from decimal import Decimal

import pytest

from recoup.core.money import Money, MoneyError, normalize_currency, parse_amount, quantize


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [
        ("JPY", "1234.5", "1235"),
        ("EUR", "10.005", "10.01"),
        ("KWD", "1.0005", "1.001"),
        ("usd", "-2.345", "-2.35"),
    ],
)
def test_quantize_rounds_half_up_to_the_minor_unit(currency, amount, expected):
    assert str(quantize(Decimal(amount), normalize_currency(currency))) == expected


@pytest.mark.parametrize("text", ["", "1e3", "1_000", "NaN", "Infinity", "ten", "1.234"])
def test_parse_amount_refuses_anything_but_a_plain_decimal_in_the_currency(text):
    with pytest.raises(MoneyError):
        parse_amount(text, "EUR")


def test_parse_amount_keeps_exact_decimals():
    assert parse_amount(" 12.30 ", "EUR") == Decimal("12.30")
    assert parse_amount("7", "JPY") == Decimal("7")


@pytest.mark.parametrize("code", ["US", "USDX", "éur", "12A", ""])
def test_currency_codes_are_three_ascii_letters(code):
    with pytest.raises(MoneyError):
        normalize_currency(code)


def test_money_refuses_floats_and_mixed_currencies():
    with pytest.raises(MoneyError):
        Money(1.5, "EUR")
    with pytest.raises(MoneyError, match="cannot combine EUR and USD"):
        Money(Decimal("1"), "EUR") + Money(Decimal("1"), "USD")
    assert str(Money(Decimal("1234.5"), "eur")) == "1,234.50 EUR"
