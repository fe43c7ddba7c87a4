"""The class of each finding: ``identifier``, ``organisational`` or ``personal`` contact data.

Identifiers (national ID, SSN, passport, card number, a labelled date of birth) are always
``identifier``. An IBAN is ``organisational`` where the page prints it for payment ("Pay to",
"Beneficiary", "Bank details", "Account name", a company name on its line or the two before) or in
the letterhead/footer, else ``identifier`` (a personal IBAN). Emails and phone numbers:

1. an allowlisted domain or number (the policy's ``allowlist``: the company's own) is organisational;
2. a personal cue on its line or the line before ("Dear", "Attn", "Mr", "Customer", "Bill to",
   "Applicant", "Mobile", "Signature", "السيد", "العميل" ...) makes it personal:
   ``Attn: Jane Roe, jane.roe@acme.com`` -> personal;
3. an email: a role mailbox (``info@``, ``contact@``, ``support@``, ``billing@`` ...) or the
   sender's own domain (the domain of a role mailbox or website printed on the page) is
   organisational (``sales@vendor.com``; ``j.smith@vendor.com`` beside ``www.vendor.com``); a
   free-mail address (gmail, yahoo ...) or a first.last mailbox at another domain is personal
   (``jane.doe@example.com``); else the letterhead/footer rule;
4. a phone number labelled Tel/Fax/Office/Switchboard/هاتف/فاكس, or on a line naming a company
   (Ltd, Inc, GmbH, SDN BHD, Bank, شركة ...), or in the letterhead/footer (the top 18% or bottom 15%
   of the page; without geometry, the first 6 or last 4 lines) is organisational:
   ``TEL : 03-8941 0243`` under a shop's name -> organisational;
5. anything else is personal (the safe side: a personal class is masked, not allowed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.label.privacy.detect import Span

IDENTIFIER, ORGANISATIONAL, PERSONAL, UNVERIFIED = "identifier", "organisational", "personal", "unverified"
CLASSES = (IDENTIFIER, ORGANISATIONAL, PERSONAL, UNVERIFIED)
CONTACT = ("email", "phone")

ROLE_MAILBOXES = frozenset("""info contact contactus contact-us support billing invoice invoices invoicing accounts
accountspayable ap ar sales office admin hello help helpdesk service services customerservice customercare care
enquiries enquiry inquiries inquiry noreply no-reply donotreply mail post team hr finance orders order press media
marketing careers jobs reception bookings booking reservations legal compliance privacy webmaster feedback""".split())
FREE_MAIL = frozenset("""gmail.com googlemail.com yahoo.com hotmail.com outlook.com live.com icloud.com me.com aol.com
proton.me protonmail.com gmx.de gmx.net web.de mail.ru yandex.ru""".split())
_PERSONAL_CUE = re.compile(r"(?i)\b(?:dear|attn|attention|mrs?|ms|miss|dr|customer(?! ?(?:service|care))|client|bill(?:ed)? to|ship to|"
                           r"sold to|applicant|patient|employee|tenant|member|cardholder|account holder|name|"
                           r"contact person|mobile|cell|signature|signed|sincerely|regards|guest|passenger)\b"
                           r"|السيد|السيدة|العميل|المواطن|الاسم|موبايل|جوال|محمول|المستأجر|المريض")
_ORG_PHONE_CUE = re.compile(r"(?i)\b(?:tel|telephone|fax|office|switchboard|hotline|head office|main line|"
                            r"customer service|helpline|toll[- ]free)\b|هاتف|فاكس|تليفون|الخط الساخن")
_COMPANY = re.compile(r"(?i)\b(?:ltd|limited|llc|inc|corp|corporation|gmbh|ag|plc|s\.?a\.?e?|sdn\.? bhd|bhd|"
                      r"co\.|company|bank|hotel|group|enterprise|trading|store|restaurant)\b|شركة|بنك|مصرف|مؤسسة")
_PAYMENT = re.compile(r"(?i)\b(?:pay(?:ment)?|remit|beneficiary|bank details|account name|bank account|"
                      r"wire|transfer to|our bank|swift|bic)\b|المستفيد|الدفع|تحويل")
_WEBSITE = re.compile(r"(?i)\b(?:www\.|https?://)([a-z0-9-]+(?:\.[a-z0-9-]+)+)")
_PERSON_MAILBOX = re.compile(r"^[a-z]+[._-][a-z]+\d*$")
_EMAIL_PARTS = re.compile(r"(?i)^([^@]+)@(.+)$")


@dataclass(frozen=True)
class Line:
    start: int
    end: int
    y_frac: float | None = None        # the line's vertical middle, 0 (top) .. 1 (bottom); None: unknown


@dataclass(frozen=True)
class Finding:
    kind: str
    cls: str
    start: int
    end: int


@dataclass(frozen=True)
class Allowlist:
    domains: frozenset = frozenset()
    numbers: frozenset = frozenset()   # digits only

    def allows(self, kind: str, value: str) -> bool:
        if kind == "email":
            domain = value.rsplit("@", 1)[-1].lower()
            return any(domain == d or domain.endswith("." + d) for d in self.domains)
        return re.sub(r"\D", "", value) in self.numbers


def _line_of(lines: list[Line], offset: int) -> int:
    for i, line in enumerate(lines):
        if line.start <= offset <= line.end:
            return i
    return max(0, len(lines) - 1)


def _in_margin(lines: list[Line], index: int) -> bool:
    y = lines[index].y_frac if lines else None
    if y is not None:
        return y <= 0.18 or y >= 0.85
    return index < 6 or index >= len(lines) - 4


def sender_domains(text: str) -> frozenset:
    """Domains the page itself speaks for: its role mailboxes' and its websites'.

    >>> sorted(sender_domains("www.northwind.example  billing@northwind.example  jane@gmail.com"))
    ['northwind.example']
    """
    found = {m.group(1).lower().removeprefix("www.") for m in _WEBSITE.finditer(text)}
    for word in text.split():
        match = _EMAIL_PARTS.match(word.strip(".,;:()<>"))
        if match and match.group(1).lower() in ROLE_MAILBOXES:
            found.add(match.group(2).lower())
    return frozenset(d for d in found if d not in FREE_MAIL)


def _classify_contact(span: Span, text: str, lines: list[Line], index: int, here: str, before: str,
                      senders: frozenset) -> str:
    value = span.value(text)
    if _PERSONAL_CUE.search(here[:max(0, span.start - lines[index].start)] if lines else here) \
            or _PERSONAL_CUE.search(before):
        return PERSONAL
    if span.kind == "email":
        local, _, domain = value.lower().rpartition("@")
        if local in ROLE_MAILBOXES or any(domain == d or domain.endswith("." + d) for d in senders):
            return ORGANISATIONAL
        if domain in FREE_MAIL or _PERSON_MAILBOX.match(local):   # jane.doe@ at another domain: a person's
            return PERSONAL
    elif _ORG_PHONE_CUE.search(here) or _COMPANY.search(here):
        return ORGANISATIONAL
    return ORGANISATIONAL if _in_margin(lines, index) else PERSONAL


def classify(text: str, spans: list[Span], lines: list[Line], allowlist: Allowlist = Allowlist()) -> list[Finding]:
    """Each span with its class, by the rules in this module's docstring.

    >>> from pipeline.label.privacy.detect import find_spans
    >>> t = "Acme Ltd\\ninfo@acme.example\\nDear Ms Roe,\\nreach me at roe@gmail.com"
    >>> ls = [Line(0, 8), Line(9, 26), Line(27, 39), Line(40, 64)]
    >>> [(f.kind, f.cls) for f in classify(t, find_spans(t), ls)]
    [('email', 'organisational'), ('email', 'personal')]
    """
    senders = sender_domains(text) | allowlist.domains
    out = []
    for span in spans:
        index = _line_of(lines, span.start)
        here = text[lines[index].start:lines[index].end] if lines else text
        before = text[lines[index - 1].start:lines[index - 1].end] if lines and index > 0 else ""
        if span.kind in CONTACT:
            cls = ORGANISATIONAL if allowlist.allows(span.kind, span.value(text)) else \
                _classify_contact(span, text, lines, index, here, before, senders)
        elif span.kind == "iban":
            context = "\n".join(text[lines[i].start:lines[i].end] for i in range(max(0, index - 2), index + 1)) \
                if lines else text
            organisational = allowlist.allows("iban", span.value(text)) or _PAYMENT.search(context) \
                or _COMPANY.search(context) or _in_margin(lines, index)
            cls = ORGANISATIONAL if organisational and not _PERSONAL_CUE.search(here) else IDENTIFIER
        else:
            cls = IDENTIFIER
        out.append(Finding(span.kind, cls, span.start, span.end))
    return out
