"""Text as PDFs store it -> text as it reads: presentation forms, private-use bullets, lam-alef, garbage.

- Arabic is often stored as *presentation forms* (U+FB50-U+FDFF, U+FE70-U+FEFF: one code point per
  shaped glyph). ``normalize_text`` folds those (and Latin ligatures such as "ﬁ") to base letters with
  NFKC, applied only to those ranges so that superscripts, fractions and full-width CJK stay as printed.
- Some fonts map the lam-alef ligature to "alef, lam" (visual order) in their ToUnicode table:
  "الأولى" reads "األولى". ``fix_lam_alef`` repairs the one case that cannot be valid Arabic
  (an alef directly followed by a hamza-carrying alef); other cases ("خالل" for "خلال") are
  real words too and are left alone.
- A font without a usable ToUnicode table gives letters of several scripts mixed in one word:
  ``suspicious_share`` measures how much of a page looks like that.
"""

from __future__ import annotations

import re
import unicodedata

from pipeline.scripts import char_script

# Private-use code points that Symbol/Wingdings fonts use for list bullets.
_PUA_BULLETS = {0xF0B7: "•", 0xF0A7: "▪", 0xF076: "❖", 0xF0D8: "➢", 0xF0FC: "✓", 0xF0A8: "□", 0xF06E: "■",
                0xF0A2: "•", 0xF02D: "-"}


def _is_presentation_form(cp: int) -> bool:
    return 0xFB00 <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFF


def normalize_text(text: str) -> str:
    """Base letters for presentation forms and ligatures; drop controls, U+FFFD and private-use glyphs.

    Only presentation forms go through NFKC, so "²", "½" and full-width CJK stay as printed.

    >>> normalize_text("اﻧﻮاع اﳋﻄﻮط") == "انواع الخطوط"
    True
    >>> normalize_text("\\uf0b7 of\\ufb01ce\\x03 x²")
    '• office x²'
    """
    out = []
    for ch in text:
        cp = ord(ch)
        if _is_presentation_form(cp):
            out.append(unicodedata.normalize("NFKC", ch))
        elif cp in _PUA_BULLETS:
            out.append(_PUA_BULLETS[cp])
        elif ch in "\t\n":
            out.append(" ")
        elif cp == 0xFFFD or cp == 0xAD or unicodedata.category(ch) in ("Cc", "Co", "Cs", "Cn"):
            continue
        else:
            out.append(ch)
    return "".join(out)


_LAM_ALEF_SWAP = re.compile("ا([أإآ])ل")


def fix_lam_alef(text: str) -> str:
    """Undo a lam-alef ligature decoded in visual order where that cannot be valid Arabic.

    >>> fix_lam_alef("المادة األولى")
    'المادة الأولى'
    """
    return _LAM_ALEF_SWAP.sub(r"ال\1", text)


def clean_text(text: str) -> str:
    """Text as it reads, on one line: normalised, lam-alef repaired, white space collapsed.

    >>> clean_text(" of\\ufb01ce\\n  األولى ")
    'office الأولى'
    """
    text = fix_lam_alef(normalize_text(text))
    return re.sub(r"\s+", " ", text).strip()


def suspicious_share(text: str) -> float:
    """Share of non-space characters that look like a broken font encoding.

    Counted: control characters, U+FFFD, private-use and unassigned code points, and the letters of
    words that mix two or more scripts ("ΰԔϸЇ" mixes Greek and Cyrillic: a font without a usable
    ToUnicode table). A page mostly made of these has no readable text layer.

    >>> suspicious_share("Invoice 42")
    0.0
    >>> suspicious_share("\\x03ΰԔϸЇ Ψߙ") > 0.5
    True
    """
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    bad = sum(1 for c in chars if ord(c) == 0xFFFD or unicodedata.category(c) in ("Cc", "Co", "Cn"))
    for word in text.split():
        scripts = {s for s in map(char_script, word) if s}
        if len(scripts - {"Han", "Kana"}) >= 2 and not (scripts <= {"Latin", "Arabic", "Hebrew"}):
            bad += sum(1 for c in word if char_script(c))
    return min(1.0, bad / len(chars))


def meaningful_chars(text: str) -> int:
    """Letters and digits: what a text layer must have to be worth labelling.

    >>> meaningful_chars(" -- 12 ab \\n")
    4
    """
    return sum(1 for c in text if c.isalnum())
