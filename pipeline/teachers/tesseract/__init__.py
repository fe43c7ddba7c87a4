"""The traditional-OCR teacher (``--teacher tesseract``) and the OCR that textlayer and evaluate share.

Tesseract 5 reads the rendered page image (the image the student will see: at 1536 px it gave a
lower CER on the corpus' labelled Arabic page than a 2x enlargement or the 600-DPI original,
measured); ``engine`` runs it, ``layout`` turns its words into rows in reading order (right to
left in Arabic lines and columns), ``tables`` finds tables in the word layout, and ``labels``
builds the two labels with the textlayer teacher's own rules for headings, lists, running headers,
dates and cues. Fields OCR cannot know stay null or false; the OCR's mean word confidence is kept
with each label (its detail) and in the metadata label's confidence.
"""

# Importing the package registers the teacher (pipeline.teachers imports it by this module path).
from pipeline.teachers.tesseract.engine import (DEFAULT_LANGS, OcrUnavailable, check_tesseract, ocr_page,
                                                tesseract_version)
from pipeline.teachers.tesseract.labels import OcrResult, label_for, ocr_reply, read_image
from pipeline.teachers.tesseract.teacher import PageOcr, TesseractTeacher

__all__ = ["DEFAULT_LANGS", "OcrResult", "OcrUnavailable", "PageOcr", "TesseractTeacher", "check_tesseract",
           "label_for", "ocr_page", "ocr_reply", "read_image", "tesseract_version"]
