"""An OCR'd page image -> the ``content`` and ``metadata`` labels, with the OCR's confidence.

Shared by the ``tesseract`` teacher, the textlayer teacher's OCR fallback and evaluate's
``--system NAME=tesseract`` baseline, so the three give the same answer for the same image.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
from PIL import Image

from pipeline.schemas.metadata import ColorMode, Confidence, ScanQuality
from pipeline.teachers.base import Reply, ReplyStatus
from pipeline.teachers.textlayer.content import content_label
from pipeline.teachers.textlayer.metadata import metadata_label
from pipeline.teachers.textlayer.parts import PageFacts
from pipeline.teachers.tesseract.engine import DEFAULT_LANGS, PSM_FULL_PAGE, OcrPage, ocr_page
from pipeline.teachers.tesseract.layout import ocr_facts

SUPPORTED_TASKS = ("content", "metadata")
RULES_VERSION = 1      # of the layout rules in this package: part of each label's identity


@dataclass
class OcrResult:
    ocr: OcrPage
    facts: PageFacts
    color_mode: str            # color | grayscale | black_and_white, from the pixels

    def note(self, engine: str) -> str:
        """What the label is kept with: how it was read and how sure the OCR was."""
        conf = self.ocr.mean_conf
        return (f"OCR mean word confidence {conf:.2f} over {len(self.ocr.words)} words ({engine})" if conf is not None
                else f"OCR found no words ({engine})")


def scan_quality(mean_conf: float | None) -> str:
    """good / fair / poor from the OCR's mean word confidence.

    >>> scan_quality(0.91), scan_quality(0.7), scan_quality(0.3), scan_quality(None)
    ('good', 'fair', 'poor', 'poor')
    """
    if mean_conf is None or mean_conf < 0.6:
        return "poor"
    return "good" if mean_conf >= 0.85 else "fair"


def pixel_color_mode(image: Image.Image) -> str:
    """color when over 1% of a thumbnail's pixels are clearly coloured; grayscale when over 5% are mid
    grey (photographs, shaded scans); else black_and_white."""
    thumb = image.convert("RGB")
    thumb.thumbnail((256, 256))
    rgb = np.asarray(thumb, dtype=np.int16)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    if (chroma > 40).mean() > 0.01:
        return "color"
    gray = rgb.mean(axis=2)
    return "grayscale" if ((gray > 60) & (gray < 195)).mean() > 0.05 else "black_and_white"


def read_image(image: bytes, langs: str = DEFAULT_LANGS) -> OcrResult:
    """OCR one page image (encoded bytes) and lay it out. Raises OcrUnavailable, RuntimeError."""
    with Image.open(io.BytesIO(image)) as im:
        size = im.size
        if im.format == "JPEG":
            im.draft("RGB", (256, 256))
        mode = pixel_color_mode(im)
    ocr = ocr_page(image, size, langs)
    return OcrResult(ocr, ocr_facts(ocr), mode)


def label_for(task_name: str, result: OcrResult, pdf_metadata: dict | None = None, engine: str = "tesseract"):
    """The task's label (a Pydantic model) from an OCR result; ``engine`` goes into metadata's notes."""
    if task_name == "content":
        return content_label(result.facts)
    label = metadata_label(result.facts, pdf_metadata or {})
    conf = result.ocr.mean_conf
    physical = label.physical.model_copy(update={"scan_quality": ScanQuality(scan_quality(conf)),
                                                 "color": ColorMode(result.color_mode)})
    confidence = Confidence(overall=round(conf if conf is not None else 0.0, 2),
                            notes=f"read by OCR ({engine}, psm {PSM_FULL_PAGE}); the overall score is its mean word "
                                  "confidence; visual marks (stamps, signatures, handwriting) not detected")
    return label.model_copy(update={"physical": physical, "confidence": confidence})


def ocr_reply(task, result: OcrResult, pdf_metadata: dict | None, engine: str) -> Reply:
    """A teacher's reply for one task: COMPLETE with the validated label, or why there is none."""
    if result.facts.no_text:
        return Reply(status=ReplyStatus.NO_TEXT_LAYER, detail=f"{result.facts.no_text} ({engine})")
    try:
        label = label_for(task.name, result, pdf_metadata, engine)
        data = task.model.model_validate(label.model_dump(mode="json")).model_dump(mode="json")
    except Exception as exc:  # noqa: BLE001 - a per-page failure must come back as a Reply
        return Reply(status=ReplyStatus.SERVER_ERROR, detail=f"{task.name} label cannot be built from OCR: {exc}")
    return Reply(status=ReplyStatus.COMPLETE, text=json.dumps(data, ensure_ascii=False), data=data,
                 finish_reason="STOP", detail=result.note(engine))
