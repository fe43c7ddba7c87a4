"""Characters -> lines in logical order: glyph-name repairs, clusters, bidi order.

Characters come from ``get_text("rawdict")`` without MuPDF's "CID as Unicode" fallback, so a glyph
without a Unicode mapping shows as U+FFFD. Such glyphs are repaired from the embedded font's glyph
names where it has them (``glyph_name_repairs``): MuPDF's own HTML/Story output (``insert_htmlbox``)
writes no ToUnicode entry for Arabic glyphs reached only through OpenType substitution (the contextual
lam forms and the lam-alef ligature of Noto Naskh Arabic), which would otherwise come out as the glyph
id read as a code point ("ا" + U+01C4 for "ال"). Lines with right-to-left letters are then put in
logical order from the glyph positions (``bidi.visual_to_logical``).

Right-to-left extraction, as found in the corpus:

- naturalpdf__arabic.pdf (Egyptian gazette): the letters of each Arabic run are in logical order but
  the runs of a line come in visual order, so "قانون رقم 8 لسنة 2022" reads "2022 لسنة8 قانون رقم";
  ``sort=True`` does not help (it orders blocks, not the runs inside a line). Rebuilt from positions.
  Its fonts also map lam ligatures in visual order ("األولى", "اجلريدة", "ال يجوز" for "الأولى",
  "الجريدة", "لا يجوز"): only the hamza case is repaired (``normalize.fix_lam_alef``), the others are
  valid letter sequences too. Its kashida glyphs have no Unicode at all and are dropped.
- pdfjs__ArabicCIDTrueType.pdf: presentation forms in logical order; NFKC gives base letters.
- pypdf__habibi.pdf: WeasyPrint output whose ToUnicode maps Arabic glyphs to Greek letters and
  repeats the word with zero-width glyphs: answered NO_TEXT_LAYER (unreadable), not transcribed.
- MuPDF Story (``insert_htmlbox``, data/samples/letter_ar.pdf): logical order, presentation forms,
  lam glyphs without ToUnicode (repaired from glyph names, see above). Story lays "002-0231-5550" out
  right to left in an RTL paragraph; the label transcribes what is drawn.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import pymupdf

from pipeline.teachers.textlayer.bidi import fix_mirrored_brackets, visual_to_logical
from pipeline.teachers.textlayer.language import is_rtl_char


_UNI = re.compile(r"uni((?:[0-9A-Fa-f]{4})+)")
_U = re.compile(r"u([0-9A-Fa-f]{4,6})")
_NOT_KEY = re.compile(r"[^a-z0-9]")


@lru_cache(maxsize=4096)   # a font names the same few hundred glyphs on every page
def _glyph_unicode(name: str) -> str:
    """Base text of a glyph name: uni0644.init -> ل, uniFEFB -> لا, u1F600 -> 😀, lam_alef -> "".

    >>> _glyph_unicode("uni0644.init"), _glyph_unicode("uniFE8E.rlig"), _glyph_unicode("_1008")
    ('ل', 'ا', '')
    """
    out = []
    for part in name.split(".")[0].split("_"):
        m = _UNI.fullmatch(part) or _U.fullmatch(part)
        if not m:
            continue
        hexes = m.group(1)
        step = 4 if part.startswith("uni") else len(hexes)
        out += [chr(int(hexes[i:i + step], 16)) for i in range(0, len(hexes), step)]
    return unicodedata.normalize("NFKC", "".join(out))


def _font_key(name: str) -> str:
    return _NOT_KEY.sub("", name.split("+", 1)[-1].lower())


def glyph_name_repairs(page: pymupdf.Page) -> dict[tuple[float, float], str]:
    """Text for glyphs without a Unicode mapping, from the embedded fonts' glyph names, by glyph origin.

    Glyphs sharing one origin (MuPDF Story draws lam-alef as lam + alef at the same point) are
    joined; an unnamed glyph next to a lam there is the ligature's alef.
    """
    from pymupdf import mupdf  # low-level binding: glyph names are not in the high-level API

    doc = page.parent
    fonts: dict[str, pymupdf.Font | None] = {}
    for xref, _ext, _type, basefont, _name, _enc in page.get_fonts():
        try:
            buffer = doc.extract_font(xref)[3]
            fonts[_font_key(basefont)] = pymupdf.Font(fontbuffer=buffer) if buffer else None
        except Exception:  # a broken or non-embedded font: nothing to learn from it
            fonts[_font_key(basefont)] = None
    repairs: dict[tuple[float, float], str] = {}
    for span in page.get_texttrace():
        chars = span["chars"]
        if not any(c[0] == 0xFFFD for c in chars):
            continue
        key = _font_key(span["font"])  # trace names are cut short: "Noto Naskh Arabic Regula"
        font = fonts.get(key) or next((f for k, f in fonts.items() if key and k.startswith(key)), None)
        groups: dict[tuple[float, float], list[str]] = {}
        for uni, gid, origin, _bbox in chars:
            key = (round(origin[0], 1), round(origin[1], 1))
            if uni != 0xFFFD:
                text = chr(uni)
            elif font is not None and gid >= 0:
                try:
                    text = _glyph_unicode(mupdf.fz_get_glyph_name2(font.this, gid))
                except Exception:
                    text = ""
            else:
                text = ""
            groups.setdefault(key, []).append(text)
        for key, texts in groups.items():
            if len(texts) == 2 and texts[0] == "ل" and not texts[1]:
                texts[1] = "ا"
            repairs[key] = "".join(texts)
    return repairs


def line_clusters(line: dict, repairs: dict) -> tuple[list[tuple[float, str, int]], int]:
    """(position along the line, text, stream index) per base character with its combining marks,
    and the number of glyphs without any Unicode mapping (dropped)."""
    dx, dy = line["dir"]
    out: list[list] = []
    used: set = set()
    index = lost = 0
    for span in line["spans"]:
        for ch in span["chars"]:
            c = ch["c"]
            if c == "\ufffd":
                key = (round(ch["origin"][0], 1), round(ch["origin"][1], 1))
                c = "" if key in used else repairs.get(key, "")
                lost += key not in used and not c
                used.add(key)
            if not c:
                continue
            x0, y0, x1, y1 = ch["bbox"]
            pos = (x0 + x1) / 2 * dx + (y0 + y1) / 2 * dy
            if out and unicodedata.combining(c[0]):
                out[-1][1] += c
                continue
            out.append([pos, c, index])
            index += 1
    return [tuple(o) for o in out], lost


def logical_text(clusters: list[tuple[float, str, int]]) -> tuple[str, bool]:
    """The line's text in logical order, and whether it is a right-to-left line."""
    text = "".join(c[1] for c in clusters)
    rtl_letters = sum(1 for ch in text if is_rtl_char(ch))
    if not rtl_letters:
        return text, False
    ltr_letters = sum(1 for ch in text if ch.isalpha() and not is_rtl_char(ch))
    # Visual order: by position; equal positions (ligature parts) keep stream order for LTR
    # clusters and reverse it for RTL ones, so that reversing the RTL run restores it.
    ordered = sorted(clusters, key=lambda c: (round(c[0], 2), -c[2] if is_rtl_char(c[1][0]) else c[2]))
    rtl = rtl_letters >= ltr_letters
    logical = visual_to_logical([c[1] for c in ordered], rtl_base=rtl)
    return (fix_mirrored_brackets(logical) if rtl else logical), rtl
