"""The ``metadata`` label: what the page says about the document, by cue words and layout.

Only what is visible goes into a label: the info dictionary's title and author are used only when
the page prints them, and the PDF creation date not at all (it dates the file, not the document;
issue dates come from the page's own words).
"""

from __future__ import annotations

import re

from pipeline.schemas.metadata import (Classification, Confidence, DatedEvent, MetadataLabel, OfficialMark,
                                       Physical, Routing, Signature, Source)
from pipeline.teachers.textlayer.cues import (classify_document, find_attachments, find_author, find_cc,
                                              find_legal_references, find_organisation, find_recipients,
                                              find_reference_numbers)
from pipeline.teachers.textlayer.dates import date_cue, find_dates, numeric_date_order
from pipeline.teachers.textlayer.marks import color_name, signature_role
from pipeline.teachers.textlayer.parts import PageFacts, Row


def _cue_lines(facts: PageFacts) -> list[str]:
    """The page's text as lines in reading order, table rows and form fields included."""
    lines = [r.text for r in sorted(facts.rows, key=lambda r: r.order)]
    for table in facts.tables:
        lines += ["  ".join(c for c in row if c) for row in table]
    lines += [f.text for f in facts.floats if f.kind in ("form_field", "checkbox") and f.text]
    return lines


def _dates(lines: list[str], facts: PageFacts) -> list[DatedEvent]:
    """Every full date with its kind from the words before it (or the label line above it)."""
    order = numeric_date_order("\n".join(lines))
    events: list[DatedEvent] = []
    top_rows = {r.text for r in facts.rows if r.rect.y1 < 0.3 * facts.frame.height and r.kind != "header"}
    issued = False
    for i, line in enumerate(lines):
        prev_end = 0
        for hit in find_dates(line, order):
            context = line[prev_end:hit.start]
            if not context.strip() and i > 0 and len(lines[i - 1]) <= 40 and not find_dates(lines[i - 1]):
                context = lines[i - 1]
            cue = date_cue(context)
            kind = cue or "other"
            if cue is None and line in top_rows and not issued and not re.search(r"[:：]\s*$", context):
                kind = "issue"  # a date near the top with no cue (under a title, on a letter) dates the document
            issued = issued or kind == "issue"
            events.append(DatedEvent(kind=kind, value=hit.value, as_printed=hit.as_printed))
            prev_end = hit.end
    seen, out = set(), []
    for e in events:
        if (e.kind, e.value, e.as_printed) not in seen:
            seen.add((e.kind, e.value, e.as_printed))
            out.append(e)
    return out[:30]


def _printed(value: str | None, text: str) -> str | None:
    """The info-dictionary value only when the page itself prints it (labels describe what is visible)."""
    if not value or len(value.strip()) < 3:
        return None
    return value.strip() if _squash(value) in _squash(text) else None


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _title(rows: list[Row], issuer_row: Row | None, height: float) -> str | None:
    """The largest heading in the upper part of the page, unless it is the letterhead or a numbered
    section heading (a section title on page 5 is not the document's title)."""
    candidates = [r for r in rows if r.kind == "heading" and r is not issuer_row and r.rect.y1 <= 0.4 * height
                  and not re.match(r"^\(?\d+(\.\d+)*[.)]?\s", r.text)]
    if not candidates:
        return None
    best = max(r.size for r in candidates)
    lines = [r for r in sorted(rows, key=lambda r: r.order) if r in candidates and r.size == best]
    out = [lines[0]]
    for r in lines[1:]:  # a title set on two lines
        if r.joins_prev and r.order == out[-1].order + 1:
            out.append(r)
    return " ".join(r.text for r in out)


def metadata_label(facts: PageFacts, pdf_metadata: dict) -> MetadataLabel:
    """What the page says about the document, by cue words and layout; the rest null or empty."""
    rows = sorted(facts.rows, key=lambda r: r.order)
    h = facts.frame.height or 1
    lines = _cue_lines(facts)
    text = "\n".join(lines)
    top = [r for r in rows if r.rect.y1 <= 0.15 * h and r.kind not in ("header", "page_number", "heading")]
    head = "\n".join([r.text for r in top] + [r.text for r in rows if r.kind == "heading"])
    doc_type, category = classify_document(head, text)

    issuer_row = None
    for r in sorted((r for r in rows if r.rect.y1 <= 0.2 * h and r.kind != "footer"),
                    key=lambda r: (-r.size, r.order)):
        if find_organisation(r.text):
            issuer_row = r
            break
    issuer = find_organisation(issuer_row.text) if issuer_row else None
    title = _printed(pdf_metadata.get("title"), text) or _title(rows, issuer_row, h)
    author = _printed(pdf_metadata.get("author"), text) or find_author(lines)
    recipients = find_recipients(lines)

    dates = _dates(lines, facts)
    signatures = []
    for row, signed in facts.signatures:
        near = [r for r in rows if abs(r.rect.y0 - row.rect.y0) <= 30 and r is not row]
        date = next((d.value for r in [row] + near for d in find_dates(r.text)), None)
        if date:
            dates = [DatedEvent(kind="signature", value=d.value, as_printed=d.as_printed)
                     if d.value == date and d.kind in ("issue", "other") else d for d in dates]
        signatures.append(Signature(signer=None, role=signature_role(row.text), signed=signed, date=date))

    marks = [OfficialMark(kind="stamp", text=t, color=c) for t, c in facts.stamps]
    if issuer_row is not None and issuer_row.rect.y1 <= 0.15 * h and (
            issuer_row.size >= 1.2 * facts.body_size or issuer_row.bold):
        shade = color_name(issuer_row.color)
        marks.insert(0, OfficialMark(kind="letterhead", text=issuer_row.text,
                                     color=None if shade in ("black", "white") else shade))
    signed_any = any(s for _, s in facts.signatures)
    landscape = facts.frame.width > facts.frame.height
    return MetadataLabel(
        classification=Classification(document_type=doc_type, category=category, title=title),
        source=Source(issuer=issuer, author=author, sender=None, recipient=recipients[0] if recipients else None),
        dates=dates,
        physical=Physical(orientation="landscape" if landscape else "portrait",
                          # a text layer over a full-page picture is an OCR'd scan; how good it looks is unknown
                          scan_quality="good" if facts.image_cover >= 0.8 else "born_digital",
                          color=facts.color_mode, handwriting="some" if signed_any else "none"),
        official_marks=marks, signatures=signatures,
        routing=Routing(to=recipients, cc=find_cc(lines), reference_numbers=find_reference_numbers(text)[:20]),
        attachments=find_attachments(lines),
        references=find_legal_references(text, exclude=[title or ""])[:20],
        condition_notes=[],
        confidence=Confidence(overall=0.5, notes="derived from the PDF text layer and info dictionary by rules; "
                                                 "visual properties not inspected"))
