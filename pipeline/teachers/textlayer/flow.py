"""Classified rows -> the items of a content label (headings, lists, paragraphs), with tables, fields,
stamps and signatures placed where they sit."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymupdf

from pipeline.teachers.textlayer.parts import Float, Row
from pipeline.teachers.textlayer.rows import BULLET


@dataclass
class FlowItem:
    """One element of the content label: its markdown, its element text, and where it sits (for placing
    tables, fields, stamps and signatures before the first text below them)."""

    kind: str
    markdown: str
    text: str | None
    rect: pymupdf.Rect
    level: int | None = None


def short_text(text: str, limit: int = 60) -> str:
    """The first words of a text, cut at a word boundary.

    >>> short_text("one two three four", 9)
    'one two'
    """
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut or text[:limit]


def _join_rows(rows: list[Row]) -> str:
    out = ""
    for r in rows:
        if not out:
            out = r.text
        elif r.wrapped and re.search(r"[a-z]-$", out) and r.text[:1].islower():
            out = out[:-1] + r.text
        else:
            out += (" " if r.wrapped else "\n") + r.text
    return out


def flow_items(rows: list[Row]) -> list[FlowItem]:
    """Consecutive rows -> headings, lists and paragraphs (in the given order)."""
    items: list[FlowItem] = []
    i = 0
    while i < len(rows):
        row = rows[i]
        group = [row]
        j = i + 1
        if row.kind == "heading":
            while j < len(rows) and rows[j].kind == "heading" and rows[j].level == row.level \
                    and (rows[j].block == row.block or rows[j].joins_prev):
                group.append(rows[j])
                j += 1
            text = " ".join(r.text for r in group)
            items.append(FlowItem("heading", "#" * row.level + " " + text, short_text(text, 120), _union(group),
                                  row.level))
        elif row.kind == "list":
            while j < len(rows) and (rows[j].kind == "list" or (rows[j].kind == "body" and rows[j].wrapped
                                                                 and rows[j].joins_prev)):
                group.append(rows[j])
                j += 1
            lines: list[str] = []
            for r in group:
                m = BULLET.match(r.text)
                if r.kind == "list":
                    lines.append(f"- {m.group(2)}" if m else r.text)
                else:
                    lines[-1] += " " + r.text
            items.append(FlowItem("list", "\n".join(lines), short_text(lines[0].lstrip("- ")), _union(group)))
        elif row.kind in ("header", "footer", "page_number", "form_field", "checkbox"):
            short = row.text if row.kind == "page_number" else short_text(row.text, 80)
            items.append(FlowItem(row.kind, row.text, short, pymupdf.Rect(row.rect)))
        else:
            while j < len(rows) and rows[j].kind == "body" and rows[j].joins_prev:
                group.append(rows[j])
                j += 1
            text = _join_rows(group)
            items.append(FlowItem("paragraph", text, short_text(text.replace("\n", " ")), _union(group)))
        i = j
    return items


def _union(rows: list[Row]) -> pymupdf.Rect:
    rect = pymupdf.Rect(rows[0].rect)
    for r in rows[1:]:
        rect |= r.rect
    return rect


def place_floats(body: list[FlowItem], floats: list[Float]) -> list[FlowItem]:
    """Insert tables, fields, stamps and signatures before the first text below them (in flow order)."""
    out = list(body)
    for f in sorted(floats, key=lambda f: (f.rect.y0, f.rect.x0)):
        item = FlowItem(f.kind, f.markdown, f.text, f.rect)
        below = [k for k, it in enumerate(out) if it.rect.y0 >= f.rect.y0 - 1
                 and min(it.rect.x1, f.rect.x1) > max(it.rect.x0, f.rect.x0)]
        below = below or [k for k, it in enumerate(out) if it.rect.y0 >= f.rect.y0 - 1]
        out.insert(below[0] if below else len(out), item)
    return out
