"""Metadata cues in a page's words: reference numbers, document type, organisations, recipients, copies,
attachments, author and the laws a text cites."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_REF_LABEL = (r"(?i:invoice|inv|receipt|order|purchase\s+order|p\.?o\.?|account|acct|a/c|iban|reference|ref|"
              r"our\s+ref|your\s+ref|file|case|policy|customer|client|contract|document|doc|letter|claim|"
              r"member(?:ship)?|tax\s+id|vat(?:\s+reg(?:istration)?)?|registration|serial|transaction|txn|"
              r"statement|form|certificate|licen[cs]e|passport|id)")
_REF_RE = re.compile(
    r"(?<![\w])" + _REF_LABEL + r"(?:\s*(?i:no\.?|number|num\.?|#|id|code))?\s*[:#.\-]?\s*"
    r"((?=[A-Z0-9\-/._]*\d)[A-Z0-9][A-Z0-9\-/._]*(?: (?=[A-Z0-9]{2,5}\b)[A-Z0-9]+)*)")
_REF_AR_RE = re.compile(r"(?:(?<=\s)|^)(?:ال)?(?:رقم|مرجع|المرجع|رقم الحساب|رقم الفاتورة|رقم الملف|رقم القضية)"
                        r"\s*[:.]?\s*((?:[\u0600-\u06FF]{1,2}\s)*[^\s:،,]*\d[^\s،,]*)")
_LAW_BEFORE = re.compile(r"(law|act|decree|قانون|القانون|بالقانون|مرسوم|المرسوم|قرار|القرار|لائحة)\s*$",
                         re.IGNORECASE)


def find_reference_numbers(text: str) -> list[str]:
    """Invoice, account, file, case and letter numbers after their label, as printed.

    >>> find_reference_numbers("Invoice No: INV-2025-0042  Date: 12/03/2025")
    ['INV-2025-0042']
    >>> find_reference_numbers("Account no.: 0000 7731 52 and Customer ID: C-0082215")
    ['0000 7731 52', 'C-0082215']
    >>> find_reference_numbers("الرقم: و ت/2025/117 ; قانون رقم 8 لسنة 2022")
    ['و ت/2025/117']
    """
    found: list[tuple[int, str]] = []
    for pattern, trim in ((_REF_RE, " .-/"), (_REF_AR_RE, " .-")):
        for m in pattern.finditer(text):
            value = m.group(1).strip(trim)
            if len(value) >= 3 and not _LAW_BEFORE.search(text[:m.start()]):  # "law no. 8" is a citation
                found.append((m.start(), value))
    return list(dict.fromkeys(v for _, v in sorted(found)))


# (document type, category, cue patterns); the first patterns of each are the strongest.
_DOC_TYPES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("invoice", "financial", (r"\b(tax\s+)?invoice\b", r"فاتورة", r"\bbill\s+to\b")),
    ("receipt", "financial", (r"\breceipt\b", r"إيصال|ايصال|سند قبض", r"\bcash\s+sale\b")),
    ("bank statement", "financial", (r"\b(bank|account)\s+statement\b", r"statement\s+of\s+account", r"كشف حساب")),
    ("purchase order", "commercial", (r"\bpurchase\s+order\b", r"أمر شراء")),
    ("quotation", "commercial", (r"\bquotation\b", r"عرض سعر")),
    ("contract", "legal", (r"\bcontract\b", r"عقد\b")),
    ("agreement", "legal", (r"\bagreement\b", r"اتفاقية|اتفاق\b")),
    ("power of attorney", "legal", (r"power\s+of\s+attorney", r"توكيل|وكالة")),
    ("court ruling", "legal", (r"\b(judg(e)?ment|ruling|verdict)\b", r"محكمة|حكم")),
    ("law", "government", (r"\blaw\s+no\b|\bact\s+\d{4}\b", r"قانون رقم|القانون")),
    ("decree", "government", (r"\bdecree\b", r"مرسوم|قرار جمهوري|قرار رئيس")),
    ("insurance policy", "insurance", (r"\binsurance\s+policy\b|\bpolicy\s+(no|number)\b", r"وثيقة تأمين|بوليصة")),
    ("claim", "insurance", (r"\bclaim\s+(form|no|number)\b", r"مطالبة")),
    ("certificate", "other", (r"\bcertificate\b", r"شهادة")),
    ("medical report", "medical", (r"\b(patient|diagnosis|prescription)\b", r"المريض|تشخيص|وصفة")),
    ("research paper", "academic", (r"\babstract\b", r"\breferences\b", r"\bintroduction\b")),
    ("application form", "other", (r"\bapplication\s+form\b|\bopening\s+request\b", r"طلب فتح|استمارة")),
    ("form", "other", (r"\bform\b", r"نموذج")),
    ("memo", "correspondence", (r"\bmemo(randum)?\b", r"مذكرة")),
    ("letter", "correspondence", (r"^\s*dear\b", r"\byours\s+(sincerely|faithfully)\b|\bkind\s+regards\b",
                                  r"السيد|السادة|المحترم|تحية طيبة|وتفضلوا|الموضوع")),
    ("report", "technical", (r"\breport\b", r"تقرير")),
    ("notice", "other", (r"\bnotice\b", r"إعلان|إشعار|تعميم")),
)
_DOC_TYPE_RES = tuple((t, c, tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in ps))
                      for t, c, ps in _DOC_TYPES)


def classify_document(head: str, body: str) -> tuple[str, str]:
    """(document_type, category) from cue words; the page's top part (``head``) counts three times.

    >>> classify_document("INVOICE", "Invoice No: 1 Bill to: Acme Ltd Total 10.00")
    ('invoice', 'financial')
    >>> classify_document("قانون رقم 8 لسنة 2022", "باسم الشعب")
    ('law', 'government')
    >>> classify_document("", "Dear Sir, ... Yours sincerely")
    ('letter', 'correspondence')
    >>> classify_document("", "nothing to see")
    ('other', 'other')
    """
    best, best_score = ("other", "other"), 0
    for doc_type, category, patterns in _DOC_TYPE_RES:
        score = sum(3 * len(p.findall(head)) + len(p.findall(body)) for p in patterns)
        if score > best_score:
            best, best_score = (doc_type, category), score
    return best


_ORG_WORDS = (r"Bank|Ltd\.?|Limited|Inc\.?|LLC|PLC|GmbH|S\.A\.|AG|Company|Co\.|Corporation|Corp\.?|Group|"
              r"Ministry|Authority|University|Council|Agency|Bureau|Court|Institute|Association|Foundation|"
              r"Hospital|Insurance|Department")
_ORG_RE = re.compile(r"((?:[A-Z][\w&'.\-]*\s+){0,5}(?:" + _ORG_WORDS + r")\b(?:\s+(?:of|for)\s+(?:the\s+)?"
                     r"[A-Z][\w&'.\-]*(?:\s+[A-Z][\w&'.\-]*){0,3})?)")
_ORG_AR_RE = re.compile(r"^(?:شركة|بنك|البنك|مصرف|المصرف|وزارة|هيئة|الهيئة|مؤسسة|جامعة|محكمة|المحكمة|مجلس|"
                        r"المجلس|الجمهورية|مكتب|مستشفى|دائرة|مديرية)\b")


def find_organisation(line: str) -> str | None:
    """The organisation named on a letterhead-like line, if the line names one.

    >>> find_organisation("Larkspur Logistics Ltd (fictitious) - prepared by the Operations Office")
    'Larkspur Logistics Ltd'
    >>> find_organisation("Ministry of Finance"), find_organisation("شركة الواحة للتجارة العامة")
    ('Ministry of Finance', 'شركة الواحة للتجارة العامة')
    >>> find_organisation("Please complete in block capitals.") is None
    True
    """
    line = line.strip()
    if _ORG_AR_RE.search(line) and len(line.split()) <= 8:
        return line
    m = _ORG_RE.search(line)
    if m and len(m.group(1).split()) >= 2 or (m and m.group(1) == line):
        return m.group(1).strip(" ,-")
    return None


_RECIPIENT_RE = re.compile(r"^(?:(?i:to)\s*:|To\s+(?=[A-Z])|(?i:bill(?:ed)?\s+to|ship\s+to|sold\s+to|attn|attention|"
                           r"addressee|recipient)(?!\w)\.?|(?:إلى|الى)(?!\w))\s*[:\-/]?\s*(.*)$")
_RECIPIENT_AR_RE = re.compile(r"^(?:السادة|السيد|السيدة|حضرة|سعادة|معالي)\b")
_CC_RE = re.compile(r"^(?:cc|c\.c\.|copy\s+to|copies\s+to|نسخة\s+(?:مع\s+التحية\s+)?(?:إلى|الى|ل)|صورة\s+(?:إلى|الى|ل))"
                    r"(?!\w)\s*[:\-]?\s*(.*)$", re.IGNORECASE)
_ATTACH_RE = re.compile(r"^(?:attachments?|enclosures?|encl\.?|enc\.|annex(?:es)?|المرفقات|مرفقات|المرفق|مرفق)"
                        r"(?!\w)\s*[:\-]?\s*(.*)$", re.IGNORECASE)
_AUTHOR_RE = re.compile(r"(?:prepared|written|compiled)\s+by\s*:?\s*(?:the\s+)?([^,;()\-–]+)|^author\s*:\s*(.+)$",
                        re.IGNORECASE)


def _line_value(rows: Sequence[str], i: int, rest: str) -> str | None:
    """The value after a label: the rest of its line, else the next line."""
    rest = rest.strip(" :-")
    if rest:
        return rest
    return rows[i + 1].strip() if i + 1 < len(rows) and rows[i + 1].strip() else None


def find_recipients(rows: Sequence[str]) -> list[str]:
    """Addressees from "To:", "Bill to", "Attn:" and Arabic salutation lines, as printed.

    >>> find_recipients(["Bill to", "Halvorsen Marine Supplies Ltd", "Attn: Accounts Payable"])
    ['Halvorsen Marine Supplies Ltd', 'Accounts Payable']
    >>> find_recipients(["السادة شركة النخيل المحترمين", "to lists, requires permission", "To: Ms Reed"])
    ['السادة شركة النخيل المحترمين', 'Ms Reed']
    """
    out = []
    for i, row in enumerate(rows):
        row = row.strip()
        m = _RECIPIENT_RE.match(row)
        if m:
            value = _line_value(rows, i, m.group(1))
            if value:
                out.append(value)
        elif _RECIPIENT_AR_RE.match(row) and len(row.split()) <= 12:
            out.append(row)
    return list(dict.fromkeys(out))


def _listed_after(rows: Sequence[str], label: re.Pattern, separators: str) -> list[str]:
    """The items a label line lists (on its own line or the next), split on ``separators``."""
    out = []
    for i, row in enumerate(rows):
        m = label.match(row.strip())
        if m:
            value = _line_value(rows, i, m.group(1)) or ""
            out += [p.strip() for p in re.split(separators, value) if p.strip()]
    return list(dict.fromkeys(out))


def find_cc(rows: Sequence[str]) -> list[str]:
    """Copy recipients from "CC:" lines, split on commas and semicolons.

    >>> find_cc(["cc: Legal Dept; Finance", "Total 5"])
    ['Legal Dept', 'Finance']
    """
    return _listed_after(rows, _CC_RE, r"[;,،]")


def find_attachments(rows: Sequence[str]) -> list[str]:
    """What "Attachment(s):", "Enclosure:", "Annex" or "مرفق" lines list, split on semicolons.

    >>> find_attachments(["Enclosures: copy of contract; price list"])
    ['copy of contract', 'price list']
    """
    return _listed_after(rows, _ATTACH_RE, r"[;،]")


def find_author(rows: Sequence[str]) -> str | None:
    """A person or office named after "prepared by" / "Author:".

    >>> find_author(["Larkspur Logistics Ltd - prepared by the Operations Office - 4 April 2025"])
    'Operations Office'
    """
    for row in rows:
        m = _AUTHOR_RE.search(row)
        if m:
            value = (m.group(1) or m.group(2) or "").strip(" .")
            if value:
                return value
    return None


_LAW_RES = (
    re.compile(r"\b(?:Law|Act|Decree|Regulation|Ordinance|Directive|Resolution|Circular)\s+No\.?\s*\d+[\w/\-]*"
               r"(?:\s+of\s+\d{4})?", re.IGNORECASE),
    re.compile(r"\b(?:the\s+)?(?:[A-Z][\w\-]*\s+){1,5}Act,?\s+(?:of\s+)?\d{4}\b"),
    re.compile(r"(?:القانون|قانون|بالقانون|المرسوم|مرسوم|القرار|قرار)(?:\s+(?:بقانون|الجمهوري|الوزاري|رئيس\s+الجمهورية|"
               r"رئيس\s+مجلس\s+الوزراء))?\s+رقم\s+[\d٠-٩]+\s+(?:لسنة|لعام|سنة)\s+[\d٠-٩]{4}"),
)


def find_legal_references(text: str, exclude: Iterable[str] = ()) -> list[str]:
    """Laws, acts and decrees the text cites, as printed (minus the document's own title).

    >>> find_legal_references("as amended by Law No. 12 of 2003 and the Companies Act 2006")
    ['Law No. 12 of 2003', 'the Companies Act 2006']
    >>> find_legal_references("الصادر بالقانون رقم 43 لسنة 1979")
    ['بالقانون رقم 43 لسنة 1979']
    """
    skip = [e for e in exclude if e]
    found: list[tuple[int, str]] = []
    for pattern in _LAW_RES:
        for m in pattern.finditer(text):
            value = m.group(0).strip()
            if not any(value in e or _strip_article(value) in e for e in skip):
                found.append((m.start(), value))
    return list(dict.fromkeys(v for _, v in sorted(found)))


def _strip_article(value: str) -> str:
    return re.sub(r"^(?:بال|ال)", "", value)
