"""A labelled evaluation set for the privacy gate: generated pages with planted personal data (English and
Arabic, Arabic-Indic digits included), their scanned copies (rasterised, noised, read back by OCR), and
look-alikes that must not trip it. Deterministic: the same seed gives the same pages.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from pipeline.label.privacy import iban_valid, luhn_valid

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
AR_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@dataclass
class Planted:
    kind: str
    cls: str              # the class the rules should give it
    value: str


@dataclass
class TestPage:
    name: str
    lines: list[str]
    planted: list[Planted] = field(default_factory=list)
    intended: str = "allow"     # the default policy's intended decision for the page
    arabic: bool = False


def _iban(rng: random.Random, country: str = "DE", length: int = 22) -> str:
    body = "".join(rng.choice("0123456789") for _ in range(length - 4))
    for check in range(2, 99):
        candidate = f"{country}{check:02d}{body}"
        if iban_valid(candidate):
            return " ".join(candidate[i:i + 4] for i in range(0, len(candidate), 4))
    raise AssertionError("no check digits")


def _card(rng: random.Random) -> str:
    while True:
        digits = "4" + "".join(rng.choice("0123456789") for _ in range(15))
        if luhn_valid(digits):
            return " ".join(digits[i:i + 4] for i in range(0, 16, 4))


def _eg_id(rng: random.Random) -> str:
    return f"2{rng.randint(60, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" \
           f"{rng.choice([1, 2, 12, 21, 88]):02d}{rng.randint(1000, 9999)}{rng.randint(0, 9)}"


def planted_pages(n: int = 12, seed: int = 17) -> list[TestPage]:
    """``n`` pages, each a personal record or a business page with a person's details on it."""
    rng = random.Random(seed)
    pages = []
    for i in range(n):
        first = rng.choice(["amara", "jonas", "leila", "omar", "sofia", "karim"])
        last = rng.choice(["westbrook", "haddad", "berg", "nasser", "moreau"])
        email, mobile = f"{first}.{last}{i}@gmail.com", f"+44 7{rng.randint(100, 999)} {rng.randint(100000, 999999)}"
        card, iban = _card(rng), _iban(rng)
        ssn = f"{rng.randint(100, 665):03d}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
        org = [f"Northwind Trading Ltd  Tel: +44 20 7946 {rng.randint(1000, 9999)}",
               "info@northwind-trading.example   www.northwind-trading.example"]
        tail = [f"Invoice No. INV-2025-{rng.randint(10000, 99999)}   Date 2025-03-{rng.randint(10, 28)}",
                f"Total {rng.randint(100, 9999)}.{rng.randint(10, 99)} GBP  Ref 4111111111111112"]
        kind = i % 4
        if kind == 0:      # a customer's card and mailbox on a receipt: redact
            lines = org + [f"Dear {first.title()} {last.title()},", f"Customer email: {email}",
                           f"Paid by card {card}", *tail]
            planted = [Planted("email", "personal", email), Planted("card", "identifier", card)]
            intended = "redact"
        elif kind == 1:    # a direct-debit mandate: the customer's IBAN and mobile
            lines = org + [f"Bill to: {first.title()} {last.title()}", f"Mobile: {mobile}",
                           f"Customer IBAN: {iban}", *tail]
            planted = [Planted("phone", "personal", mobile), Planted("iban", "identifier", iban)]
            intended = "redact"
        elif kind == 2:    # an application form: SSN and date of birth, a personal record
            dob = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/19{rng.randint(50, 99)}"
            lines = org + [f"Applicant: {first.title()} {last.title()}", f"Date of birth: {dob}", f"SSN {ssn}",
                           f"Passport No: X{rng.randint(1000000, 9999999)}", *tail]
            planted = [Planted("dob", "identifier", dob), Planted("ssn", "identifier", ssn),
                       Planted("passport", "identifier", lines[-3].rsplit(" ", 1)[1])]
            intended = "block"
        else:              # an Egyptian form in Arabic with Arabic-Indic digits
            nid, phone = _eg_id(rng), f"010{rng.randint(10000000, 99999999)}"
            lines = ["شركة الواحة للتجارة العامة", f"الرقم القومي: {nid.translate(AR_DIGITS)}",
                     f"موبايل: {phone.translate(AR_DIGITS)}", f"Invoice INV-{rng.randint(1000, 9999)} 2025-03-12"]
            planted = [Planted("national_id_eg", "identifier", nid.translate(AR_DIGITS)),
                       Planted("phone", "personal", phone.translate(AR_DIGITS))]
            pages.append(TestPage(f"planted_{i:02d}", lines, planted, "block", arabic=True))
            continue
        organisational = [Planted("phone", "organisational", org[0].rsplit("Tel: ", 1)[1]),
                          Planted("email", "organisational", "info@northwind-trading.example")]
        pages.append(TestPage(f"planted_{i:02d}", lines, planted + organisational, intended))
    return pages


def write_pdf(page: TestPage, path: Path) -> Path:
    """One A4 page with the lines in 13 pt DejaVu Sans, which has the Arabic letters and the Arabic-Indic
    digits: an Arabic line is set whole by MuPDF's HTML layout (HarfBuzz shaping, bidi), right-aligned, its
    digit runs left to right as printed forms show them. (Drawn with ``insert_text`` instead, an Arabic
    line comes out unshaped and in logical order, i.e. mirrored on the page.)"""
    doc = pymupdf.open()
    pdf_page = doc.new_page(width=595, height=842)
    for i, line in enumerate(page.lines):
        y = 80 + 34 * i
        if any("\u0621" <= ch <= "\u064a" for ch in line):
            pdf_page.insert_htmlbox(pymupdf.Rect(60, y - 14, 535, y + 14), f'<p dir="rtl">{line}</p>',
                                    css=_CSS, archive=pymupdf.Archive(str(Path(FONT).parent)))
        else:
            pdf_page.insert_text((60, y), line, fontsize=13, fontname="dejavu", fontfile=FONT)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    doc.close()
    return path


_CSS = f"@font-face {{font-family: dv; src: url({Path(FONT).name});}} p {{font-family: dv; font-size: 14pt}}"


def scan_copy(pdf: Path, out: Path, dpi: int = 200, seed: int = 3) -> Path:
    """A scanned copy: the page rasterised at ``dpi``, a slight tilt-free blur and sensor noise, as PNG."""
    import numpy as np
    from PIL import Image, ImageFilter

    with pymupdf.open(pdf) as doc:
        pix = doc[0].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        img = Image.frombytes("L", (pix.width, pix.height), pix.samples)
    img = img.filter(ImageFilter.GaussianBlur(0.6))
    rng = np.random.default_rng(seed)
    arr = np.asarray(img, dtype=np.int16) + rng.normal(0, 12, (img.height, img.width)).astype(np.int16)
    arr[rng.random(arr.shape) < 0.001] = 0                      # specks
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(arr.clip(0, 255).astype("uint8")).save(buf, format="PNG")
    out.write_bytes(buf.getvalue())
    return out


def _norm(value: str) -> str:
    import re

    return re.sub(r"[\s\-.()]", "", value.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789"))).lower()


def _same(planted: str, found: str, loose: bool) -> bool:
    a, b = _norm(planted), _norm(found)
    if a in b or (len(b) >= 8 and b in a):
        return True
    common = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return loose and common >= 6       # OCR misread a digit further on: the same number, read badly


def score(results: list[tuple], loose: bool = False, action=None) -> dict:
    """Per kind precision and recall over (planted, found[, page action]) triples; ``found`` is (kind, class,
    value) per finding; ``action(kind, class)`` the policy's.

    A planted item is found when a finding of its kind holds its value (digits of either script, spacing
    ignored); a finding that holds no planted value is a false positive. ``kept_back`` counts the planted
    items the teacher does not get to see: found with an action other than allow, or on a page not sent
    (blocked, unverified).
    """
    from collections import Counter

    tp, fn, fp, cls_ok, kept = Counter(), Counter(), Counter(), Counter(), Counter()
    for planted, found, *page_action in results:
        used = set()
        for item in planted:
            hit = next((i for i, (k, c, v) in enumerate(found) if k == item.kind and i not in used
                        and _same(item.value, v, loose)),
                       None)
            if hit is None:
                fn[item.kind] += 1
            else:
                used.add(hit)
                tp[item.kind] += 1
                cls_ok[item.kind] += found[hit][1] == item.cls
            masked = hit is not None and action is not None and action(item.kind, found[hit][1]) != "allow"
            kept[item.kind] += masked or page_action[:1] == ["block"]
        for i, (k, _, _) in enumerate(found):
            if i not in used:
                fp[k] += 1
    kinds = sorted(set(tp) | set(fn) | set(fp))
    return {k: {"planted": tp[k] + fn[k], "found": tp[k], "false_pos": fp[k],
                "recall": round(tp[k] / (tp[k] + fn[k]), 3) if tp[k] + fn[k] else None,
                "precision": round(tp[k] / (tp[k] + fp[k]), 3) if tp[k] + fp[k] else None,
                "class_right": cls_ok[k], "kept_back": kept[k]} for k in kinds}


def findings_of(decision, words) -> list[tuple[str, str, str]]:
    """(kind, class, value) of a decision's findings, values from the words it read (in memory only)."""
    from pipeline.label.privacy import classify, find_spans

    spans = find_spans(words.text, lenient=words.source == "ocr")
    return [(f.kind, f.cls, words.text[f.start:f.end]) for f in classify(words.text, spans, words.lines)]


def receipt_words(csv_path: Path):
    """A receipt's real OCR lines (SROIE box file: 8 coordinates, then the text) as PageWords with geometry."""
    from pipeline.label.privacy.pagewords import join_words

    rows = []
    for raw in csv_path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = raw.split(",", 8)
        if len(parts) == 9 and all(p.strip().lstrip("-").isdigit() for p in parts[:8]):
            xs, ys = [int(p) for p in parts[0:8:2]], [int(p) for p in parts[1:8:2]]
            rows.append((parts[8].strip(), (min(xs), min(ys), max(xs), max(ys))))
    height = max((b[3] for _, b in rows), default=1)
    width = max((b[2] for _, b in rows), default=1)
    return join_words("text", [[(t, b)] for t, b in rows if t], width, height)
