"""Money for the spend flow: integer minor units with the ISO 4217 exponent, never floats.

Pleo's accounting-entries document gives every amount as a ``Money`` object ``{"currency": "GBP", "minors": 6580}``:
``minors`` is already an integer in the currency's smallest unit (£65.80 is 6580, 1500 ISK is 1500). So an amount
is taken as it is, after checking that ``minors`` really is an integer (not a float, text or bool) and that the
currency is an ISO 4217 code we know; anything else is an error the caller quarantines, never rounded or guessed.

Decimal text written by people (a budget of ``"5000.00"`` in the mapping file) is converted with
:func:`decimal_to_minor`: parsed as a :class:`~decimal.Decimal`, and refused when it has more decimals than the
currency's exponent allows (``"10.001"`` EUR is a mistake, not 10.00 EUR). The exponent table below is ISO 4217's
list of current codes with their minor units (no new dependency: nothing pinned carries ISO's own table).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

# ISO 4217 current codes whose minor unit is not 2 ...
_EXPONENT_NOT_2 = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
# ... and those whose minor unit is 2 (codes without a minor unit, like XAU or XDR, are not money we count).
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE "
    "CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD "
    "HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU "
    "MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG "
    "SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES "
    "WST XCD XCG YER ZAR ZMW ZWG ZWL"
).split()
ISO_4217_EXPONENT: dict[str, int] = {**dict.fromkeys(_EXPONENT_2, 2), **_EXPONENT_NOT_2}
MAX_EXPONENT = max(ISO_4217_EXPONENT.values())


class MoneyError(ValueError):
    """An amount that cannot be taken exactly; the message is the reason a quarantine record carries."""


def exponent(currency: Any) -> int:
    """The ISO 4217 minor-unit exponent of ``currency`` (``EUR`` 2, ``JPY`` 0, ``KWD`` 3)."""
    if not isinstance(currency, str) or currency not in ISO_4217_EXPONENT:
        raise MoneyError(f"currency {currency!r} is not an ISO 4217 code with a minor unit")
    return ISO_4217_EXPONENT[currency]


def parse_money(value: Any, field: str = "totalBillValue") -> tuple[str, int]:
    """``(currency, minors)`` from a Pleo ``Money`` object, or :class:`MoneyError` saying what is wrong."""
    if value is None:
        raise MoneyError(f"{field} is missing")
    if not isinstance(value, dict):
        raise MoneyError(f"{field} is {type(value).__name__}, not a Money object")
    currency, minors = value.get("currency"), value.get("minors")
    exponent(currency)
    if isinstance(minors, bool) or not isinstance(minors, int):
        raise MoneyError(f"{field}.minors is {minors!r}, not an integer number of minor units")
    return currency, minors


def decimal_to_minor(text: Any, currency: str) -> int:
    """``"5000.00"`` EUR -> 500000: exact, or :class:`MoneyError` (not text, not a decimal, too many decimals)."""
    places = exponent(currency)
    amount = parse_decimal_text(text)
    if -amount.as_tuple().exponent > places:
        raise MoneyError(f"{text!r} has more decimals than {currency} allows ({places})")
    return int(amount.scaleb(places))


def parse_decimal_text(text: Any) -> Decimal:
    """A finite decimal written as text (``"5000.00"``); floats and ints are refused so nothing is rounded."""
    if not isinstance(text, str):
        raise MoneyError(f"{text!r} is {type(text).__name__}, not a decimal written as text")
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise MoneyError(f"{text!r} is not a decimal number") from None
    if not amount.is_finite():
        raise MoneyError(f"{text!r} is not a finite decimal number")
    return amount


def minor_to_decimal(minors: int, currency: str) -> Decimal:
    """500000 EUR -> ``Decimal("5000.00")`` (exact, with the currency's number of decimals)."""
    return Decimal(minors).scaleb(-exponent(currency))


def format_minor(minors: int, currency: str) -> str:
    """500000 EUR -> ``"5000.00 EUR"``: for alert texts and Pleo metadata strings."""
    return f"{minor_to_decimal(minors, currency)} {currency}"
