"""Image documents: TIFF (a page per frame), PNG, JPEG and WebP scans, opened with Pillow.

Like ``pdfio`` for PDFs: ``open_image`` checks a file once and raises ``ImageOpenError`` with a
stable reason and the fix (not an image, damaged, too many pixels to decode safely, no frames);
``frame_pixels`` is the worker side: one frame decoded upright (EXIF orientation applied) and
shrunk to the render size, never enlarged. Nothing decodes pixels before the size check: a
50,000 x 50,000 PNG of a few kilobytes (a decompression bomb) would take 2.5 GB to decode.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from pipeline.records import SkipReason
from pipeline.render.discover import NotARegularFileError, open_regular

# Pillow's own guard (about 89 MP: a 600-DPI A1 scan). Checked per frame before decoding.
DEFAULT_MAX_IMAGE_PIXELS = int(Image.MAX_IMAGE_PIXELS or 89_478_485)
_FORMATS = ("TIFF", "PNG", "JPEG", "WEBP")   # the JPEG plugin also opens phone MPO files (format MPO)
_SIGNATURES = ((b"II*\0", "TIFF"), (b"MM\0*", "TIFF"), (b"II+\0", "TIFF"), (b"MM\0+", "TIFF"),
               (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"))
# EXIF orientation -> the clockwise turn applied to show the image upright (mirrored ones by their turn)
_TURN = {1: 0, 2: 0, 3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}


class ImageOpenError(Exception):
    def __init__(self, reason: SkipReason, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ImageFacts:
    """What opening told about an image document (stored with its record)."""

    format: str                        # TIFF, PNG, JPEG, MPO, WEBP: what the content is
    frames: int                        # pages: TIFF frames; 1 otherwise (a phone's MPO preview frames are not pages)
    sizes: tuple[tuple[int, int], ...]  # per frame, as stored (before EXIF orientation)
    dpi: tuple[float, float] | None    # as the file says, None when it does not
    orientation: int = 1               # EXIF orientation tag of the first frame (1: upright)

    def to_dict(self) -> dict:
        return {"format": self.format, "frames": self.frames, "size": list(self.sizes[0]),
                "dpi": [round(v, 1) for v in self.dpi] if self.dpi else None, "orientation": self.orientation}


def image_kind(header: bytes) -> str | None:
    """The image format a file's first bytes announce, or None.

    >>> image_kind(b"II*\\0...."), image_kind(b"RIFF\\0\\0\\0\\0WEBPVP8 "), image_kind(b"%PDF-1.7")
    ('TIFF', 'WEBP', None)
    """
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return "WEBP"
    return next((kind for magic, kind in _SIGNATURES if header.startswith(magic)), None)


def _not_an_image(header: bytes, suffix: str) -> ImageOpenError:
    if not header:
        return ImageOpenError(SkipReason.NOT_AN_IMAGE, "the file is empty; remove it or copy the scan again")
    what = "a PDF" if b"%PDF-" in header else "not an image (no TIFF, PNG, JPEG or WebP signature)"
    fix = "name it .pdf" if b"%PDF-" in header else "remove it from the input folder"
    return ImageOpenError(SkipReason.NOT_AN_IMAGE, f"named {suffix} but {what}; {fix}")


def open_image(path: Path, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> ImageFacts:
    """Check an image document without decoding its pixels. Raises ImageOpenError."""
    try:
        with open_regular(path) as fh:
            header = fh.read(16)
            fh.seek(0)
            if image_kind(header) is None:
                raise _not_an_image(header + fh.read(1024), path.suffix.lower())
            try:
                with warnings.catch_warnings():   # the size check below decides, with its own message
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    with Image.open(fh, formats=_FORMATS) as im:
                        return _facts(im, max_pixels)
            except ImageOpenError:
                raise
            except Image.DecompressionBombError as exc:
                raise _too_large(str(exc), max_pixels) from exc
            except Exception as exc:  # truncated header, bad IFD, unsupported compression
                raise ImageOpenError(SkipReason.CORRUPT, f"a damaged {image_kind(header)} image ({exc}); "
                                     "re-scan or re-export the original") from exc
    except NotARegularFileError as exc:
        raise ImageOpenError(SkipReason.NOT_A_REGULAR_FILE,
                             f"{exc.strerror}; never opened: remove it from the input folder") from exc
    except OSError as exc:
        raise ImageOpenError(SkipReason.UNREADABLE, f"cannot read the file: {exc.strerror}") from exc


def _too_large(what: str, max_pixels: int) -> ImageOpenError:
    return ImageOpenError(SkipReason.TOO_LARGE, f"{what}: more than {max_pixels:,} pixels, not decoded (a "
                                                "decompression-bomb guard); downsample or split the scan")


def _facts(im: Image.Image, max_pixels: int) -> ImageFacts:
    frames = getattr(im, "n_frames", 1) if im.format == "TIFF" else 1
    if frames < 1:
        raise ImageOpenError(SkipReason.ZERO_PAGES, "the TIFF has no frames (no page images)")
    sizes = []
    for index in range(frames):
        if index:
            im.seek(index)
        w, h = im.size
        if w * h > max_pixels:
            raise _too_large(f"frame {index + 1} is {w} x {h} px" if frames > 1 else f"the image is {w} x {h} px",
                             max_pixels)
        if w < 1 or h < 1:
            raise ImageOpenError(SkipReason.CORRUPT, f"frame {index + 1} is empty ({w} x {h} px)")
        sizes.append((w, h))
    if frames > 1:
        im.seek(0)
    dpi = im.info.get("dpi")
    dpi = (float(dpi[0]), float(dpi[1])) if dpi and all(float(v) > 1 for v in dpi[:2]) else None
    orientation = int(im.getexif().get(0x0112, 1) or 1)
    return ImageFacts(im.format, frames, tuple(sizes), dpi, orientation if orientation in _TURN else 1)


def fit_scale(width: int, height: int, longest_side: int, max_pixels: int) -> float:
    """Scale so the longest side is at most ``longest_side`` and the area at most ``max_pixels``;
    never above 1 (a scan is not enlarged past the pixels it holds).

    >>> fit_scale(3494, 4855, 1536, 1536 * 1536) == 1536 / 4855, fit_scale(800, 600, 1536, 1536 * 1536)
    (True, 1.0)
    """
    scale = min(1.0, longest_side / max(width, height))
    if width * height * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / (width * height))
    return scale


def frame_pixels(im: Image.Image, index: int, longest_side: int, max_pixels: int,
                 grayscale: bool) -> tuple[np.ndarray, int]:
    """One frame, upright and at the render size: an RGB (or gray) uint8 array, and the turn applied."""
    im.seek(index)
    turn = _TURN.get(int(im.getexif().get(0x0112, 1) or 1), 0)
    w, h = im.size
    scale = fit_scale(*((h, w) if turn in (90, 270) else (w, h)), longest_side, max_pixels)
    if im.format in ("JPEG", "MPO") and scale < 1:   # decode at 1/2, 1/4 or 1/8 size straight away
        im.draft("L" if grayscale else "RGB", (math.ceil(w * scale), math.ceil(h * scale)))
    frame = ImageOps.exif_transpose(im)
    pixels = _uint8(frame, grayscale)
    if turn in (90, 270):
        target = (max(1, round(h * scale)), max(1, round(w * scale)))
    else:
        target = (max(1, round(w * scale)), max(1, round(h * scale)))
    if (pixels.shape[1], pixels.shape[0]) != target:
        pixels = cv2.resize(pixels, target, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(pixels), turn


def _uint8(frame: Image.Image, grayscale: bool) -> np.ndarray:
    """Pixels as uint8 RGB or gray: transparency flattened onto white paper, 16-bit scans scaled."""
    mode = frame.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        deep = np.asarray(frame, dtype=np.uint32)
        gray = (deep >> 8).astype(np.uint8) if deep.max(initial=0) > 255 else deep.astype(np.uint8)
        return gray if grayscale else cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        frame = Image.alpha_composite(paper, rgba)
    return np.asarray(frame.convert("L" if grayscale else "RGB"))
