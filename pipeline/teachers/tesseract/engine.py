"""Running Tesseract 5 on a page image (through pytesseract): words with their boxes and confidences.

Tesseract is a system program, not a Python package: ``check_tesseract`` says what is missing and
the one command that installs it, before any work. Each page runs one ``tesseract`` process with
OpenMP held to one thread (``OMP_THREAD_LIMIT=1``, unless set by the user): its threads spin
while they wait, and on a busy 2-core machine one page cost 20.9 s of CPU with two threads
against 2.2 s with one (measured); pages run side by side are the faster way to use more cores.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from pipeline.errors import ConfigError

DEFAULT_LANGS = "ara+eng"
PSM_FULL_PAGE = 3   # fully automatic page segmentation without orientation detection: a whole page, any layout
INSTALL_HINT = ("install it with: apt-get install tesseract-ocr tesseract-ocr-ara tesseract-ocr-eng "
                "(Debian/Ubuntu; other languages: tesseract-ocr-<lang>), or brew install tesseract tesseract-lang")
_LANG = re.compile(r"^[A-Za-z_]+$")
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_ENV_LOCK = threading.Lock()


class OcrUnavailable(ConfigError):
    """Tesseract (or a language it is asked for) is not installed here."""


@dataclass(frozen=True)
class OcrWord:
    text: str
    left: int
    top: int
    width: int
    height: int
    conf: float                     # 0..100, Tesseract's word confidence
    block: int
    par: int
    line: int


@dataclass
class OcrPage:
    width: int
    height: int
    words: list[OcrWord] = field(default_factory=list)

    @property
    def mean_conf(self) -> float | None:
        """Mean word confidence in 0..1, weighted by word length (None without words).

        >>> OcrPage(10, 10, [OcrWord("ab", 0, 0, 1, 1, 90, 1, 1, 1), OcrWord("c", 0, 0, 1, 1, 60, 1, 1, 1)]).mean_conf
        0.8
        """
        total = sum(len(w.text) for w in self.words)
        return round(sum(w.conf * len(w.text) for w in self.words) / total / 100, 4) if total else None


def parse_langs(langs: str) -> tuple[str, ...]:
    """``--ocr-lang`` as Tesseract language codes.

    >>> parse_langs("ara+eng")
    ('ara', 'eng')
    """
    codes = tuple(code.strip() for code in (langs or "").split("+"))
    if not codes or not all(_LANG.match(code) for code in codes):
        raise ConfigError(f"--ocr-lang {langs!r} is not a list of Tesseract languages; write e.g. ara+eng")
    return codes


def _binding():
    try:
        import pytesseract
    except ImportError as exc:
        raise OcrUnavailable("OCR needs the pytesseract package: pip install pytesseract (and the Tesseract "
                             f"program: {INSTALL_HINT})") from exc
    return pytesseract


@lru_cache(maxsize=8)
def _installed() -> tuple[str, frozenset]:
    pytesseract = _binding()
    try:
        version = str(pytesseract.get_tesseract_version())
        languages = frozenset(pytesseract.get_languages())
    except (pytesseract.TesseractNotFoundError, SystemExit, OSError) as exc:
        raise OcrUnavailable(f"the Tesseract OCR program is not installed (or not on PATH); {INSTALL_HINT}") from exc
    return version, languages


def check_tesseract(langs: str = DEFAULT_LANGS) -> str:
    """Tesseract's version when it and every language in ``langs`` are installed; raises OcrUnavailable."""
    codes = parse_langs(langs)
    version, languages = _installed()
    missing = [code for code in codes if code not in languages]
    if missing:
        packages = " ".join(f"tesseract-ocr-{code.lower()}" for code in missing)
        raise OcrUnavailable(f"Tesseract {version} has no language data for {', '.join(missing)} (it has "
                             f"{', '.join(sorted(languages)) or 'none'}): apt-get install {packages}, or choose "
                             "others with --ocr-lang")
    return version


def tesseract_version() -> str | None:
    """The installed Tesseract's version, or None when it cannot be run here."""
    try:
        return _installed()[0]
    except OcrUnavailable:
        return None


@contextmanager
def _one_thread():
    """OMP_THREAD_LIMIT=1 for the tesseract process (pytesseract passes os.environ to it), unless set."""
    with _ENV_LOCK:
        if "OMP_THREAD_LIMIT" in os.environ:
            yield
            return
        os.environ["OMP_THREAD_LIMIT"] = "1"
        try:
            yield
        finally:
            os.environ.pop("OMP_THREAD_LIMIT", None)


def ocr_page(image: bytes, size: tuple[int, int], langs: str = DEFAULT_LANGS, timeout_s: float = 300) -> OcrPage:
    """Words of one page image (encoded bytes, as rendered), in Tesseract's reading order.

    The bytes go to Tesseract as they are (a temporary file), never re-encoded. Raises
    OcrUnavailable when Tesseract is missing, RuntimeError when it fails on this image.
    """
    pytesseract = _binding()
    suffix = ".png" if image[:4] == b"\x89PNG" else ".jpg"
    with tempfile.NamedTemporaryFile(prefix="docdistill_ocr_", suffix=suffix) as fh:
        fh.write(image)
        fh.flush()
        try:
            with _one_thread():
                data = pytesseract.image_to_data(fh.name, lang=langs, config=f"--psm {PSM_FULL_PAGE}",
                                                 timeout=timeout_s, output_type=pytesseract.Output.DICT)
        except pytesseract.TesseractNotFoundError as exc:
            raise OcrUnavailable(f"the Tesseract OCR program is not installed; {INSTALL_HINT}") from exc
        except (pytesseract.TesseractError, RuntimeError) as exc:
            raise RuntimeError(f"Tesseract failed on this page: {exc}") from exc
    page = OcrPage(*size)
    for i, level in enumerate(data["level"]):
        text = str(data["text"][i]).translate(_BIDI_CONTROLS).strip()
        conf = float(data["conf"][i])
        if level != 5 or not text or conf < 0:
            continue
        page.words.append(OcrWord(text, int(data["left"][i]), int(data["top"][i]), int(data["width"][i]),
                                  int(data["height"][i]), conf, int(data["block_num"][i]), int(data["par_num"][i]),
                                  int(data["line_num"][i])))
    return page
