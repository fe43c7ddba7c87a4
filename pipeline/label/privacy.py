"""The privacy gate: no document with personal data goes to a cloud teacher unless the user says so.

Before any page of a document is sent to a teacher that runs off this machine, the document's
text layer (every page) and its file names are scanned for personal data. Each detector checks
more than a pattern (IBAN mod-97, card Luhn + issuer prefix, a real birth date and governorate in
an Egyptian national ID, SSN area rules) so that invoice numbers and dates do not trip it. Only
the kinds found are reported and stored, never the values. Image-only pages have no text layer
to scan: the gate cannot see into them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from urllib.parse import urlparse

# Arabic-Indic and Persian digits read as ASCII digits (Egyptian documents use them).
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = [
    re.compile(r"(?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d[\d .-]{5,14}\d(?!\w)"),  # +20 10 1234 5678
    re.compile(r"(?<![\w-])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?![\w-])"),                    # (555) 123-4567
    re.compile(r"(?<!\d)01[0125][ -]?\d{4}[ -]?\d{4}(?!\d)"),                            # Egyptian mobile
    re.compile(r"(?i)(?:tel|phone|mobile|fax|هاتف|تليفون|موبايل|جوال)\.?\s*(?:no\.?)?\s*[:：]?\s*\+?\d[\d .()-]{6,}\d"),
]
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_EG_ID = re.compile(r"(?<!\d)[23]\d{13}(?!\d)")
_SSN = [re.compile(r"(?<![\d-])(\d{3})[- ](\d{2})[- ](\d{4})(?![\d-])"),
        re.compile(r"(?i)\bSSN\b\W{0,3}(\d{3})(\d{2})(\d{4})\b")]
# Egypt's governorate codes (digits 8-9 of the national ID); 88: born abroad.
_EG_GOVERNORATES = frozenset({1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23, 24, 25, 26, 27, 28,
                              29, 31, 32, 33, 34, 35, 88})
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|6011|65|64[4-9]|35|62)")
_LOCAL_SUFFIXES = (".local", ".internal", ".lan", ".localhost", ".home.arpa")


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


def _has_iban(text: str) -> bool:
    for match in _IBAN.finditer(text):
        compact = match.group().replace(" ", "")
        # The pattern may swallow a following word ("... 00 EUR"): try shorter prefixes too.
        if any(iban_valid(compact[:n]) for n in range(len(compact), 14, -1)):
            return True
    return False


def _has_card(text: str) -> bool:
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_valid(digits) \
                and not egypt_national_id_valid(digits):
            return True
    return False


def find_personal_data(text: str) -> list[str]:
    """The kinds of personal data in ``text`` (sorted, no values).

    >>> find_personal_data("Pay to IBAN DE89 3704 0044 0532 0130 00, call +49 30 1234567")
    ['iban', 'phone']
    >>> find_personal_data("الرقم القومي ٢٩٠٠١٠١١٢٣٤٥٦٧ - mail: a.b@example.com")
    ['email', 'national_id_eg']
    >>> find_personal_data("Invoice 2025-03-12 total 1,234.50 ref 4111111111111112")
    []
    """
    text = text.translate(_DIGITS)
    kinds = set()
    if _EMAIL.search(text):
        kinds.add("email")
    if any(p.search(text) for p in _PHONE):
        kinds.add("phone")
    if _has_iban(text):
        kinds.add("iban")
    if _has_card(text):
        kinds.add("card")
    if any(egypt_national_id_valid(m.group()) for m in _EG_ID.finditer(text)):
        kinds.add("national_id_eg")
    if any(ssn_valid(*m.groups()) for p in _SSN for m in p.finditer(text)):
        kinds.add("ssn")
    return sorted(kinds)


def address_is_local(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private (RFC 1918, IPv6 ULA fc00::/7) or link-local: an address that stays on this
    machine or its private network. An IPv4-mapped IPv6 address is judged by its IPv4 address.

    >>> [address_is_local(ipaddress.ip_address(a)) for a in ("127.0.0.1", "10.1.2.3", "172.16.0.9", "fd12::1",
    ...                                                     "fe80::1", "::1", "::ffff:192.168.1.2")]
    [True, True, True, True, True, True, True]
    >>> [address_is_local(ipaddress.ip_address(a)) for a in ("8.8.8.8", "::ffff:8.8.8.8", "2a00:1450::1")]
    [False, False, False]
    """
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped       # Python counts all of ::ffff:0:0/96 as private, public IPv4 included
    return ip.is_loopback or ip.is_private or ip.is_link_local


def host_is_local(base_url: str) -> bool:
    """Whether a teacher URL stays on this machine or private network (decided from the host alone).

    >>> [host_is_local(u) for u in ("http://127.0.0.1:8000/v1", "http://10.0.0.7/v1", "http://vllm:8000/v1",
    ...                              "http://gpu.internal/v1", "https://api.example.com/v1")]
    [True, True, True, True, False]
    """
    host = (urlparse(base_url).hostname or "").lower().rstrip(".")
    if not host:
        return False
    try:
        return address_is_local(ipaddress.ip_address(host))
    except ValueError:
        pass
    # "localhost", a single-label name (a container or LAN host), or a reserved private suffix.
    return host == "localhost" or "." not in host or host.endswith(_LOCAL_SUFFIXES)


def sends_off_machine(teacher) -> bool:
    """Whether pages given to ``teacher`` leave this machine: the privacy gate applies to those.

    Cloud teachers (gemini, openai) always count, whatever their base URL; a teacher marked
    local but talking to a URL (openai-compatible) counts unless that URL's host is private.
    """
    if type(teacher).is_cloud:
        return True
    base_url = getattr(getattr(teacher, "settings", None), "base_url", None)
    return bool(base_url) and not host_is_local(base_url)
