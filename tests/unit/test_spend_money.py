"""Money as integer minor units with the ISO 4217 exponent: exact, never float, never silently rounded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ghl_pleo.spend_money import (
    MoneyError,
    decimal_to_minor,
    exponent,
    format_minor,
    minor_to_decimal,
    parse_money,
)


@pytest.mark.parametrize(
    "currency, places", [("EUR", 2), ("GBP", 2), ("JPY", 0), ("ISK", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)]
)
def test_iso_4217_exponents(currency, places):
    assert exponent(currency) == places


@pytest.mark.parametrize("currency", ["XAU", "eur", "EURO", None, ""])
def test_codes_without_a_minor_unit_or_not_iso_are_refused(currency):
    with pytest.raises(MoneyError, match="ISO 4217"):
        exponent(currency)


def test_pleo_money_is_taken_as_minor_units_unchanged():
    assert parse_money({"currency": "GBP", "minors": 6580}) == ("GBP", 6580)
    assert parse_money({"currency": "ISK", "minors": 1500}) == ("ISK", 1500)


@pytest.mark.parametrize("value", [{"currency": "GBP", "minors": 65.8}, {"currency": "GBP", "minors": "6580"}])
def test_non_integer_minors_are_an_error(value):
    with pytest.raises(MoneyError, match="not an integer"):
        parse_money(value)


@pytest.mark.parametrize(
    "text, currency, minor",
    [
        ("5000.00", "EUR", 500000),
        ("5000", "EUR", 500000),
        ("0.1", "EUR", 10),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("0.29", "EUR", 29),
    ],
)
def test_decimal_text_converts_exactly(text, currency, minor):
    assert decimal_to_minor(text, currency) == minor


@pytest.mark.parametrize("text, currency", [("10.001", "EUR"), ("1.5", "JPY"), ("1.2345", "KWD")])
def test_more_decimals_than_the_currency_allows_is_an_error_not_a_rounding(text, currency):
    with pytest.raises(MoneyError, match="more decimals"):
        decimal_to_minor(text, currency)


@pytest.mark.parametrize("value", [5000.0, 5000, "five", "NaN", "Infinity"])
def test_floats_numbers_and_non_decimals_are_refused(value):
    with pytest.raises(MoneyError):
        decimal_to_minor(value, "EUR")


def test_back_to_decimal_is_exact():
    assert minor_to_decimal(29, "EUR") == Decimal("0.29") and str(minor_to_decimal(500000, "EUR")) == "5000.00"
    assert format_minor(-5, "EUR") == "-0.05 EUR" and format_minor(1500, "JPY") == "1500 JPY"
