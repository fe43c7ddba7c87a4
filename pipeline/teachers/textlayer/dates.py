"""Full dates in a text, their ISO value and their kind from the words before them."""

from __future__ import annotations

import datetime as _dt
import re
from collections import Counter
from dataclasses import dataclass

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
    "يناير": 1, "فبراير": 2, "مارس": 3, "أبريل": 4, "ابريل": 4, "إبريل": 4, "مايو": 5, "يونيو": 6,
    "يونيه": 6, "يوليو": 7, "يوليه": 7, "أغسطس": 8, "اغسطس": 8, "سبتمبر": 9, "أكتوبر": 10,
    "اكتوبر": 10, "نوفمبر": 11, "ديسمبر": 12, "كانون الثاني": 1, "شباط": 2, "آذار": 3, "نيسان": 4,
    "أيار": 5, "حزيران": 6, "تموز": 7, "آب": 8, "أيلول": 9, "تشرين الأول": 10, "تشرين الثاني": 11,
    "كانون الأول": 12,
}
_MONTH_RE = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_DATE_PATTERNS = (
    ("ymd", re.compile(r"(?<![\d/.\-])(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?![\d/])")),
    ("num", re.compile(r"(?<![\d/.\-])(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})(?![\d/])")),
    ("dmy", re.compile(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?[\s\-/.]*(?:of\s+)?(" + _MONTH_RE
                       + r")\b\.?[\s\-/.,]*(?:سنة\s+|عام\s+)?(\d{4})(?!\d)", re.IGNORECASE)),
    ("mdy", re.compile(r"\b(" + _MONTH_RE + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)",
                       re.IGNORECASE)),
)


@dataclass(frozen=True)
class DateHit:
    value: str          # ISO date
    as_printed: str
    start: int
    end: int


def _iso(y: int, m: int, d: int) -> str | None:
    try:
        return _dt.date(y, m, d).isoformat()
    except ValueError:
        return None


def _year(text: str) -> int:
    y = int(text)
    return y if len(text) == 4 else (2000 + y if y <= 50 else 1900 + y)


def numeric_date_order(text: str) -> str:
    """'dmy' or 'mdy' for ambiguous numeric dates: evidence from unambiguous ones, else day first.

    >>> numeric_date_order("from 03/25/2025 to 04/02/2025"), numeric_date_order("12/03/2025")
    ('mdy', 'dmy')
    """
    votes = Counter()
    for m in _DATE_PATTERNS[1][1].finditer(text.translate(_DIGITS)):
        a, b = int(m.group(1)), int(m.group(3))
        if a > 12 >= b:
            votes["dmy"] += 1
        elif b > 12 >= a:
            votes["mdy"] += 1
    return "mdy" if votes["mdy"] > votes["dmy"] else "dmy"


def find_dates(text: str, order: str = "dmy") -> list[DateHit]:
    """Full dates (day, month and year) with their ISO value, in text order.

    >>> [h.value for h in find_dates("Date: 12/03/2025, due 2025-04-11; signed March 5, 2025; فى 6 مارس سنة 2022")]
    ['2025-03-12', '2025-04-11', '2025-03-05', '2022-03-06']
    """
    ascii_text = text.translate(_DIGITS)
    hits: list[DateHit] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(ascii_text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            g = m.groups()
            if kind == "ymd":
                iso = _iso(int(g[0]), int(g[2]), int(g[3]))
            elif kind == "num":
                a, b, y = int(g[0]), int(g[2]), _year(g[3])
                if a > 12 >= b:
                    day, month = a, b
                elif b > 12 >= a:
                    day, month = b, a
                else:  # ambiguous (both <= 12): the page's own convention, day first by default
                    day, month = (b, a) if order == "mdy" else (a, b)
                iso = _iso(y, month, day)
            elif kind == "dmy":
                iso = _iso(int(g[2]), _MONTHS[g[1].lower()], int(g[0]))
            else:
                iso = _iso(int(g[2]), _MONTHS[g[0].lower()], int(g[1]))
            if iso:
                taken.append((m.start(), m.end()))
                hits.append(DateHit(iso, text[m.start():m.end()].strip(), m.start(), m.end()))
    return sorted(hits, key=lambda h: h.start)


# Cue words -> date kind, checked in this order on the text just before a date (nearest cue wins).
_DATE_CUES: tuple[tuple[str, re.Pattern], ...] = tuple((kind, re.compile(p, re.IGNORECASE)) for kind, p in (
    ("other", r"birth|born|الميلاد|مواليد"),
    ("due", r"\bdue\b|payable\s+(by|before|on)|pay\s+(by|before)|deadline|استحقاق|آخر موعد|سداد|قبل تاريخ"),
    ("expiry", r"expir|valid\s+(until|till|thru|through|to)|انتهاء|صالح[ة]? (حتى|لغاية)"),
    ("effective", r"effective|commenc|with effect|اعتبار[اًا]* من|يعمل به|نفاذ|سريان"),
    ("period_start", r"\bfrom\s*:?$|period\s+(start|from)|start\s+date|^من\s*:?$|من تاريخ"),
    ("period_end", r"\b(to|through|until|till)\s*:?$|period\s+end|end\s+date|^(إلى|الى|حتى)\s*:?$"),
    ("received", r"receiv|ورد|الوارد|استلم|استلام"),
    ("signature", r"signed|signature|تاريخ التوقيع|التوقيع|حرر في|تحريرا"),
    ("publication", r"publish|publication|(الجريدة|اجلريدة) الرسمية|الوقائع|نشر"),
    ("issue", r"invoice\s+date|issue|date\s*:?\s*$|dated|التاريخ|تاريخ|بتاريخ|صدر"),
))


def date_cue(context: str) -> str | None:
    """The kind of a date from the words just before it (same line, after any earlier date), or None
    when those words say nothing about it.

    >>> date_cue("Due date:"), date_cue("Invoice date"), date_cue("Date of birth *"), date_cue("valid until")
    ('due', 'issue', 'other', 'expiry')
    >>> date_cue("التاريخ:"), date_cue("Tel")
    ('issue', None)
    """
    tail = context.strip()[-40:]
    for kind, pattern in _DATE_CUES:
        if pattern.search(tail):
            return kind
    return None


def date_kind(context: str) -> str:
    """Like ``date_cue``, with "other" when there is no cue.

    >>> date_kind("Tel")
    'other'
    """
    return date_cue(context) or "other"
