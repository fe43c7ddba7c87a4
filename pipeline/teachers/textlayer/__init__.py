"""The offline teacher: labels ``content`` and ``metadata`` from the PDF's own text layer, by rules.

No model and no key: it reads what the PDF really says (text with positions, fonts, tables drawn with
lines, form widgets, vector drawings, the info dictionary) and fills the task schemas with what that
can tell. What text cannot tell (handwriting in a scan, stamps that are pictures, the look of a page)
stays null/empty/false, and a page without a usable text layer is answered NO_TEXT_LAYER instead of
a guess: an image-only scan needs an API teacher.

How a page is read (``page.read_page``), one module per step:

1. ``glyphs``: characters, with glyphs that have no Unicode mapping repaired from the embedded fonts'
   glyph names, become lines in logical order (``bidi`` for right-to-left lines, ``normalize`` for
   presentation forms, ligatures and private-use bullets).
2. ``layout``: lines on one baseline are joined into rows in a *reading frame*, the page turned so
   that its main text runs left to right; ``tables`` fills ruled tables from the same lines; ``marks``
   takes coloured text inside a coloured frame as a stamp and Bezier ink next to a "Signature" label
   as a signature; ``forms`` turns a small drawn square beside a word into a checkbox ("[x] Yes" when
   ink crosses it) and adds widget values to their printed labels ("Name: value", "[x] label").
3. ``rows``: rows become headings (font size against the page's body size, or bold), list items,
   paragraphs, a page number and headers/footers (in the top/bottom band: repeated on the
   neighbouring pages, or short and small on a single page), in the content stream's order, which is
   the reading order for almost every producer (columns included).
4. ``content`` (through ``flow``) and ``metadata`` (through ``dates`` and ``cues``) build the two
   labels from that; ``teacher`` answers for a page.

Only what is visible goes into a label: a widget's internal field name never does, nor the PDF
creation date (it dates the file, not the document).

Measured (2 CPU cores, PyMuPDF 2.0 / MuPDF 1.28.5): 5-120 ms for a typical page and both tasks
(the second task reuses the first one's analysis); dense forms with many ruled tables up to ~0.7 s.
``pymupdf4llm.to_markdown`` was not used: with ``pymupdf_layout`` installed it runs an ONNX layout
model on every page (0.5-1.0 s per page here).
"""

# Importing the package registers the teacher (pipeline.teachers imports it by this module path).
from pipeline.teachers.textlayer.content import content_label
from pipeline.teachers.textlayer.metadata import metadata_label
from pipeline.teachers.textlayer.page import read_page
from pipeline.teachers.textlayer.parts import PageFacts
from pipeline.teachers.textlayer.tables import table_markdown
from pipeline.teachers.textlayer.teacher import SUPPORTED_TASKS, TextLayerTeacher

__all__ = ["SUPPORTED_TASKS", "PageFacts", "TextLayerTeacher", "content_label", "metadata_label", "read_page",
           "table_markdown"]
