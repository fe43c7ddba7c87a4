"""Reading Arabic-Indic digit runs on scans, which Tesseract's models here cannot.

Measured (Tesseract 5.3.0): the unicharset of Debian's ``ara`` LSTM model holds only ٠ and ١ of the ten
Arabic-Indic digits, so no crop, scale or character whitelist makes it write ٢-٩ (the scans' national
IDs come back as "YAPIPIEAAVA:"); the ``script/Arabic`` model (tesseract-ocr-script-arab) has all ten
but read the same runs, cropped and enlarged 1-3x, as "۲99۰1۰6۰100" or "YAPIPIEAAVA‘". So the gate
reads such a word itself: its box is cropped with a margin, binarised (Otsu), split into connected
components, and each glyph is matched to templates of ٠-٩ rendered from Noto Naskh Arabic, the font
built into MuPDF (so every install has it; the evaluation set is set in DejaVu Sans, another design).
A re-read counts only when every glyph in the box matches a digit closely (a letter, a smudge or a
touching pair makes it fail, and the word stays as OCR read it: unreadable, the page unverified).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

AR_DIGITS = "٠١٢٣٤٥٦٧٨٩"
GRID = 12                    # glyphs compared as GRID x GRID ink maps, their aspect ratio kept
MAX_DIST = 0.26              # mean absolute difference of ink maps above which a glyph is no digit (measured)
MIN_DIGITS = 4
TOPOLOGY_COST = 0.15
DOT = 0.35                   # a component under this share of the digit height both ways is a dot


def _ink_map(ink: np.ndarray) -> np.ndarray:
    """A glyph's ink (bool array, tight box) centred in a square and resized to GRID x GRID, in 0..1."""
    import cv2

    h, w = ink.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float32)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = ink
    return cv2.resize(square, (GRID, GRID), interpolation=cv2.INTER_AREA)


def _topology(ink: np.ndarray) -> tuple[int, int]:
    """What a coarse ink map blurs: the holes (٥ and ٩ have one, ٦ none) and whether the top has three
    teeth (٣) rather than two (٢): rows of the top 30% crossing ink three times or more, at least two of them."""
    import cv2

    background = np.pad(~ink, 1, constant_values=True).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    holes = sum(1 for i in range(1, n) if stats[i][4] >= max(3, 0.01 * ink.size)) - 1   # less the outside
    top = ink[:max(1, int(ink.shape[0] * 0.3))].astype(np.int8)
    runs = (np.diff(np.pad(top, ((0, 0), (1, 0))), axis=1) == 1).sum(axis=1)
    return holes, int((runs >= 3).sum() >= 2)


@lru_cache(maxsize=1)
def _templates() -> list[tuple[str, np.ndarray, float, float, tuple[int, int]]]:
    """(digit, ink map, height / digit height, vertical centre in the digit band, topology) per rendered variant."""
    import io

    import pymupdf
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    font_bytes = pymupdf.Font(script=6).buffer           # Noto Naskh Arabic, bundled with MuPDF
    out = []
    for size in (28, 40, 56):
        font = ImageFont.truetype(io.BytesIO(font_bytes), size)
        for blur in (0, 0.8):
            for threshold in (100, 160):
                glyphs = []
                for digit in AR_DIGITS:
                    img = Image.new("L", (size * 2, size * 2), 255)
                    ImageDraw.Draw(img).text((size // 2, size // 4), digit, font=font, fill=0)
                    if blur:
                        img = img.filter(ImageFilter.GaussianBlur(blur * size / 28))
                    ink = np.asarray(img) < threshold
                    ys, xs = np.nonzero(ink)
                    glyphs.append((digit, ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1], ys.min(), ys.max()))
                top = min(g[2] for g in glyphs if g[0] != "٠")
                bottom = max(g[3] for g in glyphs if g[0] != "٠")
                band = bottom - top + 1
                out += [(d, _ink_map(ink), ink.shape[0] / band, ((y0 + y1) / 2 - top) / band, _topology(ink))
                        for d, ink, y0, y1 in glyphs]
    return out


def _classify(ink: np.ndarray, rel_height: float, rel_centre: float) -> tuple[str, float]:
    """The nearest digit template and its distance (ink maps, plus the glyph's size and height in the run)."""
    grid, topology = _ink_map(ink), _topology(ink)
    best = ("", 9.0)
    for digit, tmpl, t_height, t_centre, t_topology in _templates():
        dist = (float(np.abs(grid - tmpl).mean()) + 0.5 * abs(rel_height - t_height) + 0.5 * abs(rel_centre - t_centre)
                + TOPOLOGY_COST * sum(a != b for a, b in zip(topology, t_topology)))
        if dist < best[1]:
            best = (digit, dist)
    return best


def read_digit_run(gray: np.ndarray) -> tuple[str, float] | None:
    """The Arabic-Indic digits in a crop (2-D uint8, dark ink on light), left to right as printed, and a
    confidence 0..100; None when anything in the crop is not a digit or fewer than MIN_DIGITS are there."""
    import cv2

    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    comps = [(x, y, w, h, i) for i, (x, y, w, h, area) in enumerate(stats) if i and area >= 6 and max(w, h) >= 3]
    if len(comps) < MIN_DIGITS:
        return None
    tall = sorted(h for _, _, _, h, _ in comps)
    digit_h = tall[len(tall) * 3 // 4]
    big = [c for c in comps if c[3] >= 0.5 * digit_h]
    top = float(np.median([y for _, y, _, _, _ in big]))
    bottom = float(np.median([y + h for _, y, _, h, _ in big]))
    band = max(bottom - top, 1.0)
    read = []                              # (digit or "", distance) per component, left to right
    for x, y, w, h, i in sorted(comps):
        centre = (y + h / 2 - top) / band
        if h < DOT * band and w < DOT * band:  # a dot: ٠ sits mid-band; a colon's or a full stop's dots do not
            read.append(("٠", 0.0) if 0.35 <= centre <= 0.8 else ("", 9.0))
            continue
        read.append(_classify(labels[y:y + h, x:x + w] == i, h / band, centre))
    while read and read[0][1] > MAX_DIST:      # a label's colon or a letter's tail at either end of the box
        read.pop(0)
    while read and read[-1][1] > MAX_DIST:
        read.pop()
    if len(read) < MIN_DIGITS or any(dist > MAX_DIST for _, dist in read):
        return None
    worst = max(dist for _, dist in read)
    return "".join(d for d, _ in read), round(100 * (1 - worst / MAX_DIST / 2), 1)
