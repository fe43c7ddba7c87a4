"""The ``content`` label: the page as markdown and elements."""

from __future__ import annotations

from pipeline.schemas.content import ContentLabel, Element
from pipeline.teachers.textlayer.flow import flow_items, place_floats
from pipeline.teachers.textlayer.language import guess_languages, text_direction
from pipeline.teachers.textlayer.layout import page_number_of
from pipeline.teachers.textlayer.parts import PageFacts


def content_label(facts: PageFacts) -> ContentLabel:
    """The page as markdown and elements: headers first, then the body with tables, fields, stamps and
    signatures placed where they sit, then footers and a bottom page number."""
    rows = facts.rows
    headers = [r for r in rows if r.kind == "header"]
    footers = [r for r in rows if r.kind in ("footer", "page_number")]
    body = [r for r in rows if r.kind not in ("header", "footer", "page_number")]
    top_numbers = [r for r in rows if r.kind == "page_number" and r.rect.y1 < facts.frame.height / 2]
    footers = [r for r in footers if r not in top_numbers]
    items = (flow_items(top_numbers + headers) + place_floats(flow_items(body), facts.floats)
             + flow_items(sorted(footers, key=lambda r: (r.rect.y0, r.rect.x0))))
    page_number = next((page_number_of(r.text) for r in rows if r.kind == "page_number"), None)
    text = facts.all_text + " " + " ".join(f.text or "" for f in facts.floats)
    elements = [Element(kind=it.kind, text=it.text, level=it.level if it.kind == "heading" else None)
                for it in items]
    return ContentLabel(
        languages=guess_languages(text), direction=text_direction(text), page_number=page_number,
        has_tables=bool(facts.tables),
        # Handwriting in a picture cannot be seen in a text layer: only vector ink next to a
        # signature label counts.
        has_handwriting=any(signed for _, signed in facts.signatures),
        elements=elements, markdown="\n\n".join(it.markdown for it in items))
