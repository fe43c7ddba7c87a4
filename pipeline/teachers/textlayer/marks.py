"""Marks drawn on the page: stamps (coloured text in a frame of its colour), vector signatures beside a
signature label, and the page's colour mode."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import pymupdf

from pipeline.teachers.textlayer.layout import center_in
from pipeline.teachers.textlayer.normalize import clean_text
from pipeline.teachers.textlayer.parts import Float, Row, Unit


def color_name(rgb: Sequence[float]) -> str:
    """A plain colour word for an RGB triple in 0..1.

    >>> color_name((0.8, 0.12, 0.15)), color_name((0.15, 0.25, 0.7)), color_name((0.1, 0.1, 0.1))
    ('red', 'blue', 'black')
    """
    r, g, b = (float(v) for v in rgb[:3])
    hi, lo = max(r, g, b), min(r, g, b)
    if hi - lo < 0.12:
        return "black" if hi < 0.3 else "white" if lo > 0.85 else "gray"
    if hi == r:
        hue = ((g - b) / (hi - lo)) % 6
    elif hi == g:
        hue = (b - r) / (hi - lo) + 2
    else:
        hue = (r - g) / (hi - lo) + 4
    hue *= 60
    for limit, name in ((20, "red"), (45, "orange"), (70, "yellow"), (170, "green"), (260, "blue"),
                        (330, "purple"), (361, "red")):
        if hue < limit:
            return name
    return "red"


def _is_gray(rgb) -> bool:
    return rgb is None or max(rgb) - min(rgb) < 0.1


def _closed_frames(drawings: list[dict], to_frame: pymupdf.Matrix) -> list[tuple[pymupdf.Rect, str]]:
    """Coloured outlines of stamp size (circles, boxes): (frame rect, colour name)."""
    out = []
    for d in drawings:
        color = d.get("color")
        if _is_gray(color) or d.get("fill") is not None and d.get("fill") != color and not _is_gray(d.get("fill")):
            continue
        kinds = Counter(item[0] for item in d["items"])
        rect = d["rect"] * to_frame
        if not (30 <= rect.width <= 250 and 20 <= rect.height <= 250):
            continue
        closed_lines = kinds.get("l", 0) >= 4 and d.get("closePath")
        if kinds.get("c", 0) >= 4 or kinds.get("re") or kinds.get("qu") or closed_lines:
            out.append((rect, color_name(color)))
    return out


def take_stamps(units: list[Unit], drawings: list[dict],
                to_frame: pymupdf.Matrix) -> tuple[list[Unit], list[Float], list]:
    """Coloured text inside a frame of the same colour is a stamp: its lines leave the text flow."""
    frames = _closed_frames(drawings, to_frame)
    frames.sort(key=lambda f: -f[0].get_area())
    stamps: list[tuple[pymupdf.Rect, str]] = []
    for rect, color in frames:  # nested outlines (double rings, double borders) are one stamp
        if not any(rect.intersects(s) and color == c for s, c in stamps):
            stamps.append((rect, color))
    floats, marks, taken = [], [], set()
    for rect, color in stamps:
        inside = [u for u in units if not _is_gray(u.color) and color_name(u.color) == color
                  and center_in(u.rect, rect) and u.order not in taken]
        if not inside:
            continue
        taken.update(u.order for u in inside)
        text = ""
        for u in inside:  # ring text comes one letter per line
            text += u.raw if len(u.raw) == 1 else f" {u.text} "
        text = clean_text(text)
        floats.append(Float("stamp", rect, f"[stamp: {text}]", text))
        marks.append((text, color))
    return [u for u in units if u.order not in taken], floats, marks


_SIGNATURE_RE = re.compile(r"\b(signature|signed|sign\s+here|authori[sz]ed\s+signatory)\b|توقيع|التوقيع|الإمضاء|امضاء",
                           re.IGNORECASE)
_SIGNATURE_ROLE_RE = re.compile(r"signature\s+of\s+(?:the\s+)?([A-Za-z][\w ]{1,40}?)\s*$"
                                r"|^(?:توقيع|التوقيع)\s+(.{2,40})$", re.IGNORECASE)


def is_signature_label(row: str) -> bool:
    """True for a signature line's label.

    >>> is_signature_label("Signature of applicant"), is_signature_label("التوقيع:"), is_signature_label("Total")
    (True, True, False)
    """
    return bool(_SIGNATURE_RE.search(row)) and len(row) <= 80


def signature_role(row: str) -> str | None:
    """The capacity named in a signature label ("Signature of applicant" -> "applicant").

    >>> signature_role("Signature of applicant"), signature_role("Signature:")
    ('applicant', None)
    """
    m = _SIGNATURE_ROLE_RE.search(row.strip())
    return (m.group(1) or m.group(2)).strip() if m else None


def ink_paths(drawings: list[dict], to_frame: pymupdf.Matrix) -> list[pymupdf.Rect]:
    """Stroked (unfilled) Bezier paths of handwriting size: what a vector signature is made of."""
    out = []
    for d in drawings:
        curves = sum(1 for item in d["items"] if item[0] == "c")
        rect = d["rect"] * to_frame
        if d.get("fill") is None and curves >= 6 and 20 <= rect.width <= 350 and 5 <= rect.height <= 120:
            out.append(rect)
    return out


def find_signatures(rows: list[Row], ink: list[pymupdf.Rect]) -> tuple[list[tuple[Row, bool]], list[Float]]:
    """Signature labels, and whether ink sits on or just above their line."""
    found, floats = [], []
    for row in rows:
        if not is_signature_label(row.text):
            continue
        near = [r for r in ink if r.y1 >= row.rect.y0 - 80 and r.y0 <= row.rect.y1 + 10
                and r.x1 >= row.rect.x0 - 40 and r.x0 <= row.rect.x1 + 250]
        found.append((row, bool(near)))
        if near:
            rect = pymupdf.Rect()
            for r in near:
                rect |= r
            floats.append(Float("signature", rect, "[signature]", None))
    return found, floats


def page_color_mode(page: pymupdf.Page, drawings: list[dict], rows: list[Row], images: list[dict]) -> str:
    """color if any drawing, text or sizeable colour image is not gray; else grayscale or black_and_white."""
    paints = [d.get("color") for d in drawings] + [d.get("fill") for d in drawings] + [r.color for r in rows]
    if any(p is not None and not _is_gray(p) for p in paints):
        return "color"
    area = abs(page.rect) or 1
    colour_images = [im for im in images if im.get("colorspace", 1) >= 3
                     and abs(pymupdf.Rect(im["bbox"]) & page.rect) > 0.02 * area]
    if colour_images:  # an RGB image may still be gray: look at a thumbnail of the page
        pix = page.get_pixmap(matrix=pymupdf.Matrix(0.15, 0.15), colorspace=pymupdf.csRGB, alpha=False)
        data = pix.samples
        chroma = sum(1 for i in range(0, len(data) - 2, 3)
                     if max(data[i:i + 3]) - min(data[i:i + 3]) > 40)
        if chroma > 0.01 * pix.width * pix.height:
            return "color"
    shades = [p for p in paints if p is not None and 0.15 < sum(p) / 3 < 0.85]
    return "grayscale" if shades or images else "black_and_white"
