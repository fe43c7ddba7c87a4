"""Amounts as printed on receipts, invoices and statements: a strict, locale-aware number parser.

A string is a number only when it reads as one unambiguously enough to compare by value; anything
else (dates, identifiers, malformed groupings) is compared as text, where an OCR slip costs a
little instead of everything. The rules, each with a worked example in ``parse_number``:

1. Digits: ASCII, Arabic-Indic (٠-٩) and Extended Arabic-Indic (۰-۹); bidi marks are ignored.
2. Currency: one code, symbol or abbreviation before or after the digits (``CURRENCIES``), and
   one sign (- + or −) before the digits or the currency.
3. Separators: , . ' ’ space (also no-break and narrow no-break) and the Arabic ٬ group digits;
   , . and the Arabic ٫ can be the decimal point. One decimal point at most, after every grouping
   mark, of another kind than the grouping, which is one kind throughout.
4. Grouping must be well formed: 3-digit groups after a first group of 1-3 digits (1,234,567), or
   the Indian 2-then-3 pattern (12,34,567). A grouped number never starts with 0.
5. Which mark is the decimal point: the last one, when both , and . occur; a mark that occurs
   twice is grouping; a lone , or . is the decimal point unless exactly three digits follow it and
   1-3 non-zero-led digits precede it: then it groups thousands (1.234 = 1234), except after a
   currency with three decimal places (KWD 1.234 = 1.234).
6. Identifiers are not amounts: a bare digit string with a leading zero (04080176) or of more than
   7 digits (42183017) is text.
"""

from __future__ import annotations

import re

_MAX_NUMBER_CHARS = 40     # longer strings are text, whatever digits they hold (and skip the regexes)
_MAX_BARE_DIGITS = 7       # a bare digit string longer than this is an identifier (invoice, phone, account)

# Codes and local abbreviations; the Gulf and North African ones with their Arabic forms. Matched
# case-insensitively, longest first, right before or after the digits.
_THREE_DECIMALS = ("KWD", "KD", "د.ك", "BHD", "BD", "د.ب", "OMR", "RO", "ر.ع", "JOD", "JD", "د.أ", "د.ا",
                   "TND", "DT", "د.ت", "LYD", "LD", "ل.د", "IQD", "د.ع")
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CNY", "RMB", "INR", "IDR", "MYR", "SGD", "PLN", "CHF", "AUD", "CAD",
              "HKD", "NZD", "THB", "PHP", "VND", "KRW", "TRY", "AED", "SAR", "EGP", "MAD", "QAR", "DZD", "LBP",
              "US$", "S$", "A$", "C$", "HK$", "NZ$", "RM", "Rp", "Rs.", "Rs", "SR", "QR", "Dhs", "DH", "L.E.", "LE",
              "E£", "zł", "د.إ", "ر.س", "ج.م", "د.م", "ر.ق", "د.ج", "ل.ل", "ريال", "درهم", "دينار", "جنيه",
              "$", "€", "£", "¥", "₹", "₩", "₺", "₱", "฿", "₫", "﷼") + _THREE_DECIMALS
_ARABIC_ABBREVIATION = re.compile(r"([\u0600-\u06ff])\.\s?([\u0600-\u06ff])\.?")   # "د. إ." -> "د.إ"


def _alternation(names) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


_CURRENCY = _alternation(CURRENCIES)
_SIGN = "[-+\u2212]"
_BODY_CHARS = r"[\d.,'’\s\u066b\u066c]"
_AMOUNT = re.compile(rf"(?P<sign>{_SIGN})?\s*(?:(?P<before>{_CURRENCY})\s*)?(?P<sign2>{_SIGN})?\s*"
                     rf"(?P<body>[.,\u066b]?\d(?:{_BODY_CHARS}*\d)?)\s*(?P<after>{_CURRENCY})?", re.IGNORECASE)
_THREE_DECIMALS_FOLDED = {c.casefold() for c in _THREE_DECIMALS}
_SEPARATOR = re.compile(r"([.,'\u066b\u066c ])")
_PLAIN = re.compile(r"(?:0|[1-9]\d{0,6})(?:\.\d{1,2})?")   # "9.00", "12", "0.5": the common case, no ambiguity
_DIGIT = re.compile(r"[0-9\u0660-\u0669\u06f0-\u06f9]")      # no digit, no number: skips the long alternation
_DIGITS_AND_MARKS = str.maketrans({**{chr(0x660 + i): str(i) for i in range(10)},
                                   **{chr(0x6f0 + i): str(i) for i in range(10)},
                                   **{ch: None for ch in "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e"
                                                         "\u2066\u2067\u2068\u2069"},
                                   "\u00a0": " ", "\u202f": " ", "\u2009": " ", "’": "'", "\u2212": "-"})


def parse_number(value) -> float | None:
    """The number a printed amount means, or None when it is not one (then it is compared as text).

    JSON numbers are numbers; booleans, None and long strings are not.

    >>> parse_number(7), parse_number(9.5), parse_number(True), parse_number(None), parse_number("x" * 41)
    (7.0, 9.5, None, None, None)

    Rule 1, digits: Arabic-Indic and Extended Arabic-Indic digits read as ASCII ones.

    >>> parse_number("١٢٣٫٥٠"), parse_number("۱۲۳")
    (123.5, 123.0)

    Rule 2, currency and sign: one mark before or after, one sign; Arabic abbreviations too.

    >>> [parse_number(v) for v in ("RM9.00", "9.00 MYR", "-$5", "$-5", "SGD 12.50", "zł 3", "120,00 DH")]
    [9.0, 9.0, -5.0, -5.0, 12.5, 3.0, 120.0]
    >>> [parse_number(v) for v in ("AED 1,250.00", "1,250.00 د.إ", "ر.س 75", "EGP 10", "LE 10", "QAR 4", "100 ريال")]
    [1250.0, 1250.0, 75.0, 10.0, 10.0, 4.0, 100.0]
    >>> parse_number("$5 USD") is None, parse_number("--5") is None   # two currencies, two signs
    (True, True)

    Rule 3, separators: one decimal point, after the grouping, of another kind than it.

    >>> [parse_number(v) for v in ("1,000.50", "1.234.567,89", "1 234 567,5", "1'234.50", "١٬٢٣٤٫٥")]
    [1000.5, 1234567.89, 1234567.5, 1234.5, 1234.5]
    >>> [parse_number(v) for v in ("1.2.3", "1,234.5.6", "1.000,000.5", "1,,234", "5.", "1, 234")]
    [None, None, None, None, None, None]

    Rule 4, grouping well formed: 3-digit groups, or the Indian 2-then-3; never a leading 0.

    >>> [parse_number(v) for v in ("1,234,567", "12,34,567", "1,23,45,678", "₹ 1,00,000")]
    [1234567.0, 1234567.0, 12345678.0, 100000.0]
    >>> [parse_number(v) for v in ("11.01.2019", "25.12.2018", "1,23,4", "12,345,67", "01,234", "1234,567,890")]
    [None, None, None, None, None, None]

    Rule 5, which mark is the decimal point: a lone mark before exactly three digits groups
    thousands, unless the number starts with 0 or follows a three-decimal currency.

    >>> [parse_number(v) for v in ("1.234", "€1.234", "1,234", "1.5", "12,50", "0.125", ".125")]
    [1234.0, 1234.0, 1234.0, 1.5, 12.5, 0.125, 0.125]
    >>> [parse_number(v) for v in ("KWD 1.234", "1.250 د.ك", "JOD 12,345", "OMR 1,234.500")]
    [1.234, 1.25, 12.345, 1234.5]

    Rule 6, identifiers: a bare digit string with a leading zero or of more than 7 digits is text.

    >>> [parse_number(v) for v in ("04080176", "42183017", "1234567", "0", "007", "RM 42183017", "0.50")]
    [None, None, 1234567.0, 0.0, None, 42183017.0, 0.5]
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or len(value) > _MAX_NUMBER_CHARS:
        return None
    if _PLAIN.fullmatch(value):
        return float(value)
    if not _DIGIT.search(value):
        return None
    text = value.strip()
    if not text.isascii():
        text = _ARABIC_ABBREVIATION.sub(r"\1.\2", text.translate(_DIGITS_AND_MARKS))
    match = _AMOUNT.fullmatch(text)
    if match is None or (match["sign"] and match["sign2"]) or (match["before"] and match["after"]):
        return None
    currency = match["before"] or match["after"]
    body = re.sub(r"\s+", " ", match["body"])
    if body.isdigit() and not currency and not (match["sign"] or match["sign2"]) and len(body) > _MAX_BARE_DIGITS:
        return None
    number = _body_value(body, currency is not None and currency.casefold().rstrip(".") in _THREE_DECIMALS_FOLDED)
    if number is None:
        return None
    return -number if "-" in (match["sign"] or match["sign2"] or "") else number


def _body_value(body: str, three_decimals: bool) -> float | None:
    """The value of digits and separators (rules 3-5), or None when the grouping is malformed.

    >>> _body_value("1,234", False), _body_value("1,234", True), _body_value("1,234,5", False)
    (1234.0, 1.234, None)
    """
    parts = _SEPARATOR.split(body)
    runs, marks = parts[0::2], parts[1::2]
    if not all(runs[1:]):                  # two marks in a row, or a mark at the end
        return None
    point = _decimal_point(runs, marks, three_decimals)
    whole = runs if point is None else runs[:-1]
    grouping = set(marks if point is None else marks[:-1])
    if len(grouping) > 1 or "\u066b" in grouping or (point is not None and marks[-1] in grouping):
        return None
    if not _well_grouped(whole):
        return None
    digits = "".join(whole) or "0"
    return float(f"{digits}.{runs[-1]}") if point is not None else float(digits)


def _decimal_point(runs: list[str], marks: list[str], three_decimals: bool) -> str | None:
    """The decimal mark (always the last mark) or None when every mark groups digits (rule 5).

    >>> _decimal_point(["1", "234", "50"], [",", "."], False), _decimal_point(["1", "234", "567"], [",", ","], False)
    ('.', None)
    >>> _decimal_point(["1", "234"], ["."], False), _decimal_point(["0", "234"], ["."], False)
    (None, '.')
    """
    if not marks:
        return None
    last = marks[-1]
    if last == "\u066b":
        return last
    if last not in ".," or marks.count(last) > 1:
        return None
    if len(set(marks)) > 1 or len(runs[-1]) != 3 or runs[0] in ("", "0") or runs[0].startswith("0"):
        return last
    return last if three_decimals else None


def _well_grouped(groups: list[str]) -> bool:
    """Digit groups of the integer part: one run with no leading zero, 3-digit groups, or Indian 2-then-3.

    >>> [_well_grouped(g) for g in (["1234"], ["0"], [""], ["1", "234"], ["12", "34", "567"], ["1", "2345"])]
    [True, True, True, True, True, False]
    >>> _well_grouped(["0", "234"]), _well_grouped(["1234", "567"]), _well_grouped(["12", "34"])
    (False, False, False)
    """
    first, rest = groups[0], groups[1:]
    if not rest:
        return len(first) <= 1 or first[0] != "0"
    if not first or first[0] == "0":
        return False
    if len(first) <= 3 and all(len(g) == 3 for g in rest):
        return True
    return len(first) <= 2 and len(rest) >= 2 and len(rest[-1]) == 3 and all(len(g) == 2 for g in rest[:-1])


def numbers_equal(prediction, reference) -> bool | None:
    """True/False when both sides are numbers, None when either is not (then compare as text).

    >>> numbers_equal("1,000.50", "1000.5"), numbers_equal("9.00", "9.01"), numbers_equal("9", "nine")
    (True, False, None)
    >>> numbers_equal("1,234,567", "1234567"), numbers_equal("04080176", "4080176")
    (True, None)
    """
    a, b = parse_number(prediction), parse_number(reference)
    if a is None or b is None:
        return None
    return abs(a - b) < 1e-9 * max(1.0, abs(b))
