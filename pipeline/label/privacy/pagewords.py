"""A page's words with their boxes on the rendered image: from the text layer, or from OCR on scans.

Detection runs on the words joined (a space between words, a newline between lines), so every
span found maps back to the words it covers and their boxes: what redaction masks.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.label.privacy.classify import Line

Box = tuple[int, int, int, int]            # x0, y0, x1, y1 in image pixels


@dataclass
class PageWords:
    """Words of one page, the text they join into, its lines, and each word's span in it."""

    source: str                            # "text" (the PDF's text layer) | "ocr" | "none"
    width: int = 0                         # the rendered image's size, which the boxes are in
    height: int = 0
    text: str = ""
    lines: list[Line] = field(default_factory=list)
    words: list[tuple[int, int, Box]] = field(default_factory=list)   # (start, end, box)
    mean_conf: float | None = None         # OCR only: mean word confidence 0..1
    unreadable: int = 0                    # OCR only: words it could not read that may hide a number
    reread: list[tuple[int, int]] = field(default_factory=list)   # OCR only: spans read by digits.read_digit_run
    reread_tries: int = 0                  # OCR only: boxes tried, and the seconds it took
    reread_s: float = 0.0

    def boxes(self, start: int, end: int) -> list[Box]:
        """The boxes of the words a span touches, merged per line (one rectangle a line)."""
        by_line: dict[int, Box] = {}
        for w_start, w_end, box in self.words:
            if w_start < end and start < w_end:
                line = next(i for i, ln in enumerate(self.lines) if ln.start <= w_start <= ln.end)
                old = by_line.get(line)
                by_line[line] = box if old is None else (min(old[0], box[0]), min(old[1], box[1]),
                                                         max(old[2], box[2]), max(old[3], box[3]))
        return [by_line[i] for i in sorted(by_line)]


def join_words(source: str, lines: Iterable[list[tuple[str, Box]]], width: int, height: int,
               mean_conf: float | None = None) -> PageWords:
    """Build a PageWords from lines of (word, box), in reading order.

    >>> pw = join_words("ocr", [[("Tel", (0, 0, 9, 5)), ("123", (10, 0, 19, 5))], [("x", (0, 50, 5, 55))]], 20, 100)
    >>> pw.text, pw.boxes(4, 7), pw.lines[1].y_frac
    ('Tel 123\\nx\\n', [(10, 0, 19, 5)], 0.525)
    """
    out = PageWords(source, width, height, mean_conf=mean_conf)
    parts: list[str] = []
    pos = 0
    for line in lines:
        words = [(unicodedata.normalize("NFKC", w).strip(), box) for w, box in line]
        words = [(w, box) for w, box in words if w]
        if not words:
            continue
        start = pos
        for i, (word, box) in enumerate(words):
            if i:
                parts.append(" ")
                pos += 1
            out.words.append((pos, pos + len(word), box))
            parts.append(word)
            pos += len(word)
        mid = (min(b[1] for _, b in words) + max(b[3] for _, b in words)) / 2
        out.lines.append(Line(start, pos, round(mid / height, 4) if height else None))
        parts.append("\n")
        pos += 1
    out.text = "".join(parts)
    return out


def text_layer_words(pdf_page, width: int, height: int) -> PageWords:
    """The text layer's words (PyMuPDF ``get_text("words")``) with boxes scaled onto the rendered image."""
    import pymupdf

    matrix = pdf_page.rotation_matrix * pymupdf.Matrix(width / pdf_page.rect.width, height / pdf_page.rect.height)
    lines: dict[tuple[int, int], list[tuple[str, Box]]] = {}
    raw = None
    for x0, y0, x1, y1, word, block, line, _ in pdf_page.get_text("words"):
        if any(ch in _EASTERN_DIGITS for ch in word):
            raw = raw or pdf_page.get_text("rawdict")
            word = _left_to_right(word, pymupdf.Rect(x0, y0, x1, y1), raw)
        r = pymupdf.Rect(x0, y0, x1, y1) * matrix
        lines.setdefault((block, line), []).append((word, (int(r.x0), int(r.y0), int(r.x1 + 0.999),
                                                          int(r.y1 + 0.999))))
    return join_words("text", lines.values(), width, height)


_EASTERN_DIGITS = frozenset("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹")


def _left_to_right(word: str, rect, raw: dict) -> str:
    """A word with Arabic-Indic digits as it reads on the page: its glyphs left to right. MuPDF hands
    such a run of a right-to-left line back reversed ("٥١١" for a printed "١١٥")."""
    chars = [(c["bbox"][0], c["c"]) for b in raw["blocks"] for ln in b.get("lines", ()) for sp in ln["spans"]
             for c in sp["chars"] if c["c"] in _EASTERN_DIGITS and rect.contains(
                 ((c["bbox"][0] + c["bbox"][2]) / 2, (c["bbox"][1] + c["bbox"][3]) / 2))]
    digits = iter(ch for _, ch in sorted(chars))
    if len(chars) != sum(ch in _EASTERN_DIGITS for ch in word):
        return word
    return "".join(next(digits) if ch in _EASTERN_DIGITS else ch for ch in word)


# An OCR word under this confidence, of this many characters, on a line in Arabic script (or holding digits):
# Tesseract's ara model reads Arabic-Indic digit runs as such garbage ("YAPIPIEAAVA:", "١٠ع\"0117"), so
# nobody can rule out a national ID or phone number there.
UNREADABLE_CONF = 60
UNREADABLE_LEN = 4


def _unreadable(words: list, arabic_line: bool) -> int:
    return sum(1 for w in words if w.conf < UNREADABLE_CONF and len(w.text) >= UNREADABLE_LEN and (
        arabic_line or sum(ch.isdigit() for ch in w.text) >= 3))


def ocr_page_words(image: bytes, width: int, height: int, langs: str) -> PageWords:
    """Tesseract's words on the rendered image (raises TeacherConfigError when OCR is not installed); the
    words it could not read on a line are read again as an Arabic-Indic digit run (``_reread``)."""
    import time

    from pipeline.teachers import ocr_words

    page = ocr_words(image, (width, height), langs)
    lines: dict[tuple[int, int, int], list] = {}
    for w in page.words:
        lines.setdefault((w.block, w.par, w.line), []).append(w)
    started, tries, reread_words = time.perf_counter(), [0], set()
    gray = _gray(image)
    for key, line in lines.items():
        lines[key] = _reread(gray, line, _arabic(line), tries, reread_words)
    out = join_words("ocr", [[(_digit_fix(w.text), (w.left, w.top, w.left + w.width, w.top + w.height))
                              for w in line] for line in lines.values()], width, height, page.mean_conf)
    flat = [w for line in lines.values() for w in line]
    out.reread = [(start, end) for (start, end, _), w in zip(out.words, flat) if id(w) in reread_words]
    out.reread_tries, out.reread_s = tries[0], round(time.perf_counter() - started, 3)
    # A re-read word is judged by gate.unclaimed_rereads instead (its confidence is the reader's own).
    out.unreadable = sum(_unreadable([w for w in line if id(w) not in reread_words], _arabic(line))
                         for line in lines.values())
    return out


def _arabic(line: list) -> bool:
    return any("\u0600" <= ch <= "\u06ff" and not ch.isdigit() for w in line for ch in w.text)


# At most this many boxes a page are read again (each costs ~5 ms); the rest stay unreadable.
MAX_REREADS = 24
REREAD_SCALE = 2                           # crops enlarged 2x before binarising (measured on the scans)


def _reread(gray, line: list, arabic_line: bool, tries: list, reread_words: set) -> list:
    """The line's words, each run of neighbouring unreadable ones (``_unreadable``) replaced by one word
    when its box reads as Arabic-Indic digits with a better confidence than OCR's."""
    import dataclasses

    import cv2

    from pipeline.label.privacy.digits import read_digit_run

    suspicious = sorted((w for w in line if _unreadable([w], arabic_line)), key=lambda w: w.left)
    groups: list[list] = []
    for w in suspicious:               # Tesseract splits one run in two, or orders it after the label
        if groups and w.left - (groups[-1][-1].left + groups[-1][-1].width) < w.height:
            groups[-1].append(w)
        else:
            groups.append([w])
    out = list(line)
    for group in groups + [[w] for group in groups if len(group) > 1 for w in group]:
        if gray is None or tries[0] >= MAX_REREADS:
            break
        if any(w not in out for w in group):       # already replaced with its neighbours
            continue
        tries[0] += 1
        x0, y0 = min(w.left for w in group), min(w.top for w in group)
        x1, y1 = max(w.left + w.width for w in group), max(w.top + w.height for w in group)
        pad = int(0.3 * (y1 - y0)) + 4
        crop = gray[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad]
        got = read_digit_run(cv2.resize(crop, None, fx=REREAD_SCALE, fy=REREAD_SCALE,
                                        interpolation=cv2.INTER_CUBIC)) if crop.size else None
        if got is None or got[1] <= max(w.conf for w in group):
            continue
        word = dataclasses.replace(group[0], text=got[0], conf=got[1], left=x0, top=y0, width=x1 - x0, height=y1 - y0)
        reread_words.add(id(word))
        out = [word if w is group[0] else w for w in out if w is group[0] or all(w is not g for g in group)]
    return out


def _gray(image: bytes):
    """The page image as a grey numpy array (None when it cannot be decoded: nothing is read again)."""
    import cv2
    import numpy as np

    return cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_GRAYSCALE)


_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1", "S": "5", "B": "8"})


def _digit_fix(word: str) -> str:
    """OCR's letter-for-digit slips inside a mostly-digit word (a misread 0 breaks a check digit).

    >>> _digit_fix("29O0101l234567"), _digit_fix("INVOICE")
    ('29001011234567', 'INVOICE')
    """
    digits = sum(ch.isdigit() for ch in word)
    if len(word) >= 4 and digits >= 0.7 * len(word):
        return word.translate(_LOOKALIKES)
    return word
