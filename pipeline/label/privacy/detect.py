"""Detectors: where personal data is in a text, as typed spans (kind, start, end), never more than asked.

Each detector checks more than a pattern (IBAN mod-97, card Luhn + issuer prefix, a real birth date
and governorate in an Egyptian national ID, SSN area rules) so that invoice numbers and dates do
not trip it. Passport numbers and dates of birth are found only where the page labels them so.
``lenient`` (OCR text: one misread digit breaks a check digit) also takes a labelled number whose
check fails ("IBAN: ...", "Card no ...", "الرقم القومي ..."): on a scan, missing one costs more.
Spans index the text as given; Arabic-Indic and Persian digits count as digits (a 1:1 mapping).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# Arabic-Indic and Persian digits read as ASCII digits (Egyptian documents use them).
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = [   # group 1: the number (labelled patterns leave their label out of the span)
    re.compile(r"(?<![\w+])(\+ ?\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d[\d .-]{5,14}\d)(?!\w)"),  # +20 10 1234 5678
    re.compile(r"(?<![\w-])(\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w-])"),                      # (555) 123-4567
    re.compile(r"(?<!\d)(01[0125][ -]?\d{4}[ -]?\d{4})(?!\d)"),                              # Egyptian mobile
    re.compile(r"(?i)(?:tel|phone|mobile|fax|هاتف|تليفون|موبايل|جوال)(?:ephone)?\.?\s*(?:no\.?)?\s*[:：]?\s*"
               r"(\+?\d[\d .()/-]{6,}\d)"),
]
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}")
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\d-])")
_EG_ID = re.compile(r"(?<!\d)[23](?: ?\d){13}(?!\d)")
_SSN = [re.compile(r"(?<![\d-])(\d{3})[- ](\d{2})[- ](\d{4})(?![\d-])"),
        re.compile(r"(?i)\bSSN\W{0,3}(\d{3})(\d{2})(\d{4})\b")]
_PASSPORT = re.compile(r"(?i)(?:passport|جواز(?: ال)?سفر)\s*(?:no\.?|number|#|رقم)?\s*[:：]?\s*([A-Z]{0,2}\d{6,9})\b")
_DATE = (r"(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}"
         r"|\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4})")
_DOB = re.compile(r"(?i)(?:date of birth|birth ?date|\bDOB\b|\bborn(?: on)?|تاريخ الميلاد)\s*\*?\s*[:：]?\s*" + _DATE)
# Labels that make a failed check digit on OCR text still count (lenient mode).
_LABELS = {"iban": re.compile(r"(?i)\bIBAN\b"), "card": re.compile(r"(?i)\b(?:card|visa|mastercard)\b"),
           "national_id_eg": re.compile(r"(?i)(?:الرقم القومي|رقم قومي|national id|\bNID\b)")}
# Egypt's governorate codes (digits 8-9 of the national ID); 88: born abroad.
_EG_GOVERNORATES = frozenset({1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28,
                              29, 31, 32, 33, 34, 35, 88})
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|6011|65|64[4-9]|35|62)")
KINDS = ("email", "phone", "iban", "card", "national_id_eg", "ssn", "passport", "dob")


@dataclass(frozen=True)
class Span:
    kind: str
    start: int
    end: int

    def value(self, text: str) -> str:
        return text[self.start:self.end]


def iban_valid(candidate: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1.

    >>> iban_valid("DE89 3704 0044 0532 0130 00"), iban_valid("DE89 3704 0044 0532 0130 01")
    (True, False)
    """
    text = candidate.replace(" ", "").upper()
    if not 15 <= len(text) <= 34 or not text.isalnum():
        return False
    digits = "".join(str(int(ch, 36)) for ch in text[4:] + text[:4])
    return int(digits) % 97 == 1


def luhn_valid(digits: str) -> bool:
    """The card-number check digit.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def egypt_national_id_valid(digits: str, today: dt.date | None = None) -> bool:
    """14 digits: century (2: 1900s, 3: 2000s), birth date YYMMDD, governorate, serial, check digit.

    >>> egypt_national_id_valid("29001011234567")   # born 1990-01-01 in Cairo (01)
    True
    >>> egypt_national_id_valid("29013011234567")   # month 13
    False
    >>> egypt_national_id_valid("29001019934567")   # governorate 99 does not exist
    False
    """
    if len(digits) != 14 or not digits.isdigit() or digits[0] not in "23":
        return False
    try:
        born = dt.date(1900 + 100 * (int(digits[0]) - 2) + int(digits[1:3]), int(digits[3:5]), int(digits[5:7]))
    except ValueError:
        return False
    return born <= (today or dt.date.today()) and int(digits[7:9]) in _EG_GOVERNORATES


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US SSN rules: area not 000, 666 or 9xx; group not 00; serial not 0000.

    >>> ssn_valid("123", "45", "6789"), ssn_valid("666", "45", "6789")
    (True, False)
    """
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _labelled(text: str, start: int, kind: str) -> bool:
    # Either side: in a right-to-left line the label may come after the number in reading order.
    return bool(_LABELS[kind].search(text[max(0, start - 30):start + 45]))


def _ibans(text: str, lenient: bool) -> list[Span]:
    out = []
    for match in _IBAN.finditer(text):
        raw = match.group()
        # The pattern may swallow a following word ("... 00 EUR"): try shorter prefixes too.
        for end in range(len(raw), 14, -1):
            if raw[end - 1] != " " and iban_valid(raw[:end]):
                out.append(Span("iban", match.start(), match.start() + end))
                break
        else:
            if lenient and _labelled(text, match.start(), "iban") and len(raw.replace(" ", "")) >= 15:
                out.append(Span("iban", match.start(), match.end()))
    return out


def _cards(text: str, lenient: bool) -> list[Span]:
    out = []
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and not egypt_national_id_valid(digits) and (
                luhn_valid(digits) or (lenient and _labelled(text, match.start(), "card"))):
            out.append(Span("card", match.start(), match.end()))
    return out


def _national_ids(text: str, lenient: bool) -> list[Span]:
    out = []
    for match in _EG_ID.finditer(text):
        digits = match.group().replace(" ", "")
        if egypt_national_id_valid(digits) or (lenient and _labelled(text, match.start(), "national_id_eg")):
            out.append(Span("national_id_eg", match.start(), match.end()))
    return out


def find_spans(text: str, lenient: bool = False) -> list[Span]:
    """Every personal-data span in ``text``, by position; where two overlap the longer wins.

    >>> t = "IBAN DE89 3704 0044 0532 0130 00, mail a.b@example.com"
    >>> [(s.kind, s.value(t)) for s in find_spans(t)]
    [('iban', 'DE89 3704 0044 0532 0130 00'), ('email', 'a.b@example.com')]
    """
    ascii_text = text.translate(_DIGITS)
    spans = [Span("email", m.start(), m.end()) for m in _EMAIL.finditer(ascii_text)]
    spans += [Span("phone", m.start(1), m.end(1)) for p in _PHONE for m in p.finditer(ascii_text)]
    spans += _ibans(ascii_text, lenient) + _cards(ascii_text, lenient) + _national_ids(ascii_text, lenient)
    spans += [Span("ssn", m.start(1), m.end(3)) for p in _SSN for m in p.finditer(ascii_text)
              if ssn_valid(*m.groups())]
    spans += [Span("passport", m.start(1), m.end(1)) for m in _PASSPORT.finditer(ascii_text)]
    spans += [Span("dob", m.start(1), m.end(1)) for m in _DOB.finditer(ascii_text)]
    # Identifiers before contact data: a 14-digit ID that also looks like a phone number is an ID.
    rank = {kind: i for i, kind in enumerate(("national_id_eg", "ssn", "iban", "card", "passport", "dob",
                                              "email", "phone"))}
    spans.sort(key=lambda s: (rank[s.kind], -(s.end - s.start), s.start))
    kept: list[Span] = []
    for span in spans:
        if not any(span.start < k.end and k.start < span.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def find_personal_data(text: str) -> list[str]:
    """The kinds of personal data in ``text`` (sorted, no values).

    >>> find_personal_data("Pay to IBAN DE89 3704 0044 0532 0130 00, call +49 30 1234567")
    ['iban', 'phone']
    >>> find_personal_data("الرقم القومي ٢٩٠٠١٠١١٢٣٤٥٦٧ - mail: a.b@example.com")
    ['email', 'national_id_eg']
    >>> find_personal_data("Invoice 2025-03-12 total 1,234.50 ref 4111111111111112")
    []
    """
    return sorted({span.kind for span in find_spans(text)})
