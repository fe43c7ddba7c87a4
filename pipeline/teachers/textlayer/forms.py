"""Form fields written as the page shows them: drawn tick boxes and PDF widgets attached to their
printed labels ("[x] label", "label: value")."""

from __future__ import annotations

import pymupdf

from pipeline.teachers.textlayer.flow import short_text
from pipeline.teachers.textlayer.layout import MAX_GAP, center_in
from pipeline.teachers.textlayer.normalize import clean_text
from pipeline.teachers.textlayer.parts import Float, Unit


def mark_checkboxes(units: list[Unit], drawings: list[dict], to_frame: pymupdf.Matrix) -> None:
    """Prefix "[x] " / "[ ] " to the label beside each small drawn square, ticked when ink crosses it."""
    boxes, marks = [], []
    for d in drawings:
        rect = d["rect"] * to_frame
        kinds = {item[0] for item in d["items"]}
        if kinds <= {"re", "qu"} and 6 <= rect.width <= 18 and 0.8 <= rect.width / max(rect.height, 0.1) <= 1.25 \
                and d.get("color") is not None:
            boxes.append(rect)
        elif kinds & {"l", "c"}:
            marks.append(rect)
    for box in boxes:
        if any(center_in(u.rect, box) and u.text not in ("x", "X", "✓", "✔") for u in units):
            continue  # text inside: a frame, not a checkbox
        ticked = any(m.intersects(box) and not (m.width > 3 * box.width or m.height > 3 * box.height)
                     for m in marks) or any(center_in(u.rect, box) for u in units)
        _tick(_label_beside(units, box, 3 * box.width), ticked)


def _label_beside(units: list[Unit], box: pymupdf.Rect, reach: float) -> Unit | None:
    """The text line just left or right of a box on its line (within ``reach``)."""
    cy = (box.y0 + box.y1) / 2
    near = [u for u in units if u.text and u.rect.y0 - 2 <= cy <= u.rect.y1 + 2
            and (-2 <= u.rect.x0 - box.x1 <= reach or -2 <= box.x0 - u.rect.x1 <= reach)]
    return min(near, key=lambda u: min(abs(u.rect.x0 - box.x1), abs(box.x0 - u.rect.x1)), default=None)


def _label_for_field(units: list[Unit], box: pymupdf.Rect, reach: float) -> Unit | None:
    """A field's printed label: the line ending just left of it, else the line just above it."""
    cy = (box.y0 + box.y1) / 2
    left = [u for u in units if u.text and u.rect.y0 - 2 <= cy <= u.rect.y1 + 2 and -2 <= box.x0 - u.rect.x1 <= reach]
    if left:
        return max(left, key=lambda u: u.rect.x1)
    above = [u for u in units if u.text and 0 <= box.y0 - u.rect.y1 <= max(12, box.height)
             and u.rect.x0 < box.x1 and u.rect.x1 > box.x0]
    return max(above, key=lambda u: u.rect.y1, default=None)


def _tick(label: Unit | None, ticked: bool) -> None:
    """Prefix "[x] " / "[ ] " to a box's label, unless it already starts with a bracket."""
    if label is not None and not label.text.startswith("["):
        _attach(label, f"[{'x' if ticked else ' '}]", "checkbox", prefix=True)


def _attach(unit: Unit, text: str, kind: str, prefix: bool = False) -> None:
    unit.text = f"{text} {unit.text}" if prefix else f"{unit.text}{'' if unit.text.endswith(':') else ':'} {text}"
    unit.raw = f"{text} {unit.raw}" if prefix else f"{unit.raw}{'' if unit.raw.endswith(':') else ':'} {text}"
    unit.field = unit.field if unit.field == "form_field" else kind


def widget_floats(page: pymupdf.Page, units: list[Unit], to_frame: pymupdf.Matrix,
                  frame: pymupdf.Rect) -> list[Float]:
    """Form widgets, written as the page shows them: "[x] label" beside a ticked box, "label: value"
    for a filled field (its printed label, never the internal field name, which is not on the page),
    "label: ____" for an empty one. A value without a printed label stands alone."""
    floats = []
    display_to_frame = page.derotation_matrix * to_frame
    reach = MAX_GAP * frame.width
    for w in page.widgets() or ():
        rect = pymupdf.Rect(w.rect) * display_to_frame
        value = w.field_value
        if w.field_type in (pymupdf.PDF_WIDGET_TYPE_CHECKBOX, pymupdf.PDF_WIDGET_TYPE_RADIOBUTTON):
            _tick(_label_beside(units, rect, 3 * max(rect.width, 6)), value not in (None, "", "Off", False, "false"))
        elif w.field_type in (pymupdf.PDF_WIDGET_TYPE_TEXT, pymupdf.PDF_WIDGET_TYPE_COMBOBOX,
                              pymupdf.PDF_WIDGET_TYPE_LISTBOX):
            shown = clean_text(str(value)) if value not in (None, "") else ""
            label = _label_for_field(units, rect, reach)
            if label is not None and shown and label.field == "form_field":
                label.text, label.raw = f"{label.text} {shown}", f"{label.raw} {shown}"  # a field in parts
            elif label is not None and not label.field and sum(c.isalpha() for c in label.text) >= 2:
                _attach(label, shown or "____", "form_field")
            elif shown:
                floats.append(Float("form_field", rect, shown, short_text(shown, 80)))
    return floats
