"""Rasterising pages straight to the target size, then enhance + encode + write (worker side).

``render_job`` is what a worker process runs: it opens the document itself (documents are
never shared across processes), renders its slice of pages, writes each image atomically and
returns light ``PageRecord``s (no pixels), so memory stays flat however long the document.
Image documents (TIFF frames, PNG, JPEG, WebP) take the same path from their pixels on
(``finish_page``): the same contrast check, enhancement, hash and encoding as a PDF page.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image

from pipeline.render import imaging
from pipeline.render.config import RenderConfig
from pipeline.render.imagedoc import DEFAULT_MAX_IMAGE_PIXELS, frame_pixels, open_image
from pipeline.render.pdfio import open_pdf
from pipeline.records import PageRecord, PageStatus


@dataclass(frozen=True)
class RenderJob:
    source: Path                   # absolute path of the PDF
    doc_id: str
    page_indices: tuple[int, ...]
    run_dir: Path
    render: RenderConfig
    passwords: tuple[str, ...] = ()  # travels to the worker in memory only
    kind: str = "pdf"                # or an image kind (tiff, png, jpeg, webp): pages are frames
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS


def target_zoom(width_pt: float, height_pt: float, longest_side: int, max_pixels: int) -> float:
    """Scale factor so the longest side is ``longest_side`` px and the area stays under ``max_pixels``.

    >>> round(target_zoom(595, 842, 1536, 1536 * 1536), 4)   # A4 portrait
    1.8242
    >>> z = target_zoom(100_000, 100_000, 1536, 1_000_000)     # a giant page box is capped by area
    >>> round(100_000 * z) ** 2 <= 1_000_000
    True
    """
    if width_pt <= 0 or height_pt <= 0:
        raise ValueError(f"page box is empty ({width_pt} x {height_pt} pt)")
    zoom = longest_side / max(width_pt, height_pt)
    if width_pt * height_pt * zoom * zoom > max_pixels:
        zoom = math.sqrt(max_pixels / (width_pt * height_pt))
    return zoom


def page_image_path(doc_id: str, page_index: int, render: RenderConfig) -> str:
    """Deterministic image path (relative to the run folder) from document hash + page number.

    >>> page_image_path("ab" * 32, 0, RenderConfig())
    'images/abababababababab/p0001.jpg'
    """
    return f"images/{doc_id[:16]}/p{page_index + 1:04d}.{render.extension}"


def render_pixmap(page: pymupdf.Page, render: RenderConfig,
                  source: pymupdf.DisplayList | None = None) -> pymupdf.Pixmap:
    """Rasterise a page (with its /Rotate applied, as a viewer shows it) at the target size.

    ``source``: the page's display list, when the caller also extracts text from it (the content
    stream is then interpreted once, not twice: 0.5 ms a page saved, measured).
    """
    rect = page.rect  # already rotated: width/height as displayed
    zoom = target_zoom(rect.width, rect.height, render.longest_side, render.max_pixels)
    colorspace = pymupdf.csGRAY if render.grayscale else pymupdf.csRGB
    return (source or page).get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), colorspace=colorspace, alpha=False)


def text_chars(page: pymupdf.Page, source: pymupdf.DisplayList) -> int:
    """Size of the page's own text layer (0: image-only), read from its display list."""
    textpage = pymupdf.TextPage(source.get_textpage(flags=0))  # flags=0: a size, not layout
    textpage.parent = page
    return len(textpage.extractText().strip())


def pixmap_array(pix: pymupdf.Pixmap) -> np.ndarray:
    """A zero-copy HxW or HxWxN view of the pixmap's samples.

    The view does NOT keep the pixmap alive: hold ``pix`` for as long as the array is used
    (a freed pixmap silently yields another allocation's bytes).
    """
    array = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.h, pix.stride)[:, : pix.w * pix.n]
    return array.reshape(pix.h, pix.w) if pix.n == 1 else array.reshape(pix.h, pix.w, pix.n)


def enhance_page(pixels: np.ndarray, gray_rows: np.ndarray, render: RenderConfig) -> tuple[np.ndarray, bool]:
    """Apply the configured enhancement where it helps; returns (BGR/gray array, applied?)."""
    skip = render.enhance == "none" or (
        render.enhance_pages == "low-contrast" and imaging.has_full_contrast(gray_rows))
    if skip:
        return imaging.to_bgr(pixels), False
    return imaging.enhance(pixels, render.enhance, render.clahe_clip, render.clahe_grid), True


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file + rename, so a killed run never leaves a half image behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def finish_page(job: RenderJob, page_index: int, pixels: np.ndarray, started: float, rotation: int = 0,
                text_size=lambda: 0) -> PageRecord:
    """From a page's pixels (RGB or gray, uint8) to its written image and record.

    ``text_size`` is called after the pixels are released: the size of the page's text layer.
    """
    rel_path = page_image_path(job.doc_id, page_index, job.render)
    # One luminance pass serves the contrast check and the near-duplicate hash. The hash is of
    # the page as rendered, so it does not depend on the enhancement settings.
    gray_rows = imaging.luminance_rows(pixels)
    image_hash = imaging.page_hash(gray_rows)
    enhanced, applied = enhance_page(pixels, gray_rows, job.render)
    data = imaging.encode(enhanced, job.render.image_format, job.render.jpeg_quality)
    height, width = enhanced.shape[:2]
    del enhanced, pixels, gray_rows
    write_atomically(job.run_dir / rel_path, data)
    return PageRecord(
        doc_id=job.doc_id, page_index=page_index, status=PageStatus.RENDERED,
        render_key=job.render.key(), image_path=rel_path, image_sha256=hashlib.sha256(data).hexdigest(),
        width=width, height=height, rotation=rotation, text_chars=text_size(), enhanced=applied,
        phash=image_hash, seconds=time.perf_counter() - started)


def _failed(job: RenderJob, page_index: int, exc: Exception, started: float) -> PageRecord:
    return PageRecord(job.doc_id, page_index, PageStatus.FAILED, render_key=job.render.key(),
                      reason=f"{type(exc).__name__}: {exc}"[:500], seconds=time.perf_counter() - started)


def render_one(doc: pymupdf.Document, job: RenderJob, page_index: int) -> PageRecord:
    started = time.perf_counter()
    try:
        page = doc.load_page(page_index)
        display_list = page.get_displaylist()
        pix = render_pixmap(page, job.render, display_list)  # must outlive every array derived from it
        pixels = pixmap_array(pix)
        record = finish_page(job, page_index, pixels, started, page.rotation,
                             lambda: text_chars(page, display_list))
        del pixels, pix
        return record
    except Exception as exc:  # one bad page must not lose the document's other pages
        return _failed(job, page_index, exc, started)


def render_image_job(job: RenderJob) -> list[PageRecord]:
    """Worker entry point for an image document: its frames, upright, at the render size, never enlarged."""
    try:
        open_image(job.source, job.max_image_pixels)   # the file may have changed since it was planned
        im = Image.open(job.source)
    except Exception as exc:
        return [PageRecord(job.doc_id, i, PageStatus.FAILED, render_key=job.render.key(),
                           reason=f"cannot reopen document: {exc}") for i in job.page_indices]
    records = []
    with im:
        for index in job.page_indices:
            started = time.perf_counter()
            try:
                pixels, turn = frame_pixels(im, index, job.render.longest_side, job.render.max_pixels,
                                            job.render.grayscale)
                records.append(finish_page(job, index, pixels, started, turn))
            except Exception as exc:  # a truncated frame fails alone
                records.append(_failed(job, index, exc, started))
    return records


def render_job(job: RenderJob) -> list[PageRecord]:
    """Worker entry point: render the job's pages of one document."""
    if job.kind != "pdf":
        return render_image_job(job)
    try:
        doc = open_pdf(job.source, job.passwords)
    except Exception as exc:  # the file changed or vanished since it was planned
        return [PageRecord(job.doc_id, i, PageStatus.FAILED, render_key=job.render.key(),
                           reason=f"cannot reopen document: {exc}") for i in job.page_indices]
    try:
        return [render_one(doc, job, i) for i in job.page_indices]
    finally:
        doc.close()
