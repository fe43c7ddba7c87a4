"""Typed run configuration: built once by the CLI, passed to stage functions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from pipeline.errors import ConfigError  # noqa: F401 (re-exported)
from pipeline.render.discover import Selection
from pipeline.render.imagedoc import DEFAULT_MAX_IMAGE_PIXELS

if TYPE_CHECKING:
    from pipeline.shard import Shard

ENHANCE_METHODS = ("clahe", "autocontrast", "equalize", "none")
ENHANCE_PAGES = ("low-contrast", "always")
IMAGE_FORMATS = ("jpeg", "png")  # not WebP: the LLaMA-Factory API server rejects it

# 1536 px on the longest side is an exact 2x2 grid of Gemini's 768-px tiles and keeps
# 9-pt body text legible on A4 (about 130 DPI), at a third of the pixels of a 200-DPI render.
DEFAULT_LONGEST_SIDE = 1536
# Hard ceiling on pixels per page, whatever the page box claims (a 100000x100000 pt page
# must not allocate tens of GB): 1536x1536 at most by default, 64 MP whatever the user asks.
DEFAULT_MAX_PIXELS = DEFAULT_LONGEST_SIDE * DEFAULT_LONGEST_SIDE
ABSOLUTE_MAX_PIXELS = 64_000_000


@dataclass(frozen=True)
class RenderConfig:
    longest_side: int = DEFAULT_LONGEST_SIDE
    max_pixels: int = DEFAULT_MAX_PIXELS
    enhance: str = "clahe"
    # Enhance only pages that lack contrast (scans, faded ink); "always" forces every page.
    enhance_pages: str = "low-contrast"
    clahe_clip: float = 2.0
    clahe_grid: int = 8
    grayscale: bool = False
    image_format: str = "jpeg"
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if not 64 <= self.longest_side <= 10_000:
            raise ConfigError(f"--longest-side must be between 64 and 10000 px, got {self.longest_side}")
        if not 64 * 64 <= self.max_pixels <= ABSOLUTE_MAX_PIXELS:
            raise ConfigError(f"--max-pixels must be between 4096 and {ABSOLUTE_MAX_PIXELS}, got {self.max_pixels}")
        if self.enhance not in ENHANCE_METHODS:
            raise ConfigError(f"--enhance must be one of {', '.join(ENHANCE_METHODS)}, got {self.enhance!r}")
        if self.enhance_pages not in ENHANCE_PAGES:
            raise ConfigError(f"enhance_pages must be one of {', '.join(ENHANCE_PAGES)}, got {self.enhance_pages!r}")
        if self.image_format not in IMAGE_FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(IMAGE_FORMATS)}, got {self.image_format!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"--jpeg-quality must be 1..100, got {self.jpeg_quality}")
        if self.clahe_clip <= 0 or self.clahe_grid < 1:
            raise ConfigError("CLAHE clip limit must be > 0 and grid >= 1")

    @property
    def extension(self) -> str:
        return "jpg" if self.image_format == "jpeg" else "png"

    def key(self) -> str:
        """Hash of every setting that changes the output image (16 hex chars).

        >>> RenderConfig().key() == RenderConfig().key()
        True
        >>> RenderConfig().key() != RenderConfig(enhance="none").key()
        True
        """
        canonical = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def settings(self) -> dict:
        """Every setting, as stored beside the key (the run store's meta, the dataset's manifest)."""
        return asdict(self)

    @classmethod
    def from_settings(cls, settings: dict) -> RenderConfig:
        """The config that ``settings()`` describes; unknown keys are a ConfigError.

        >>> RenderConfig.from_settings(RenderConfig(longest_side=512).settings()).key() == RenderConfig(512).key()
        True
        """
        unknown = sorted(set(settings) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"unknown render settings {', '.join(unknown)} (written by a newer docdistill?)")
        return cls(**settings)


RENDER_SETTINGS_META = "render_settings:"   # + key: the settings a render key stands for, in the run's meta


@dataclass(frozen=True)
class RenderRunConfig:
    """Everything the render stage needs. Passwords stay in memory only: never stored."""

    pdf_dir: Path
    run_dir: Path
    render: RenderConfig = field(default_factory=RenderConfig)
    workers: int = 1
    passwords: tuple[str, ...] = ()
    passwords_by_name: dict[str, str] = field(default_factory=dict)
    shard: Shard | None = None               # --shard i/N: only the documents this machine owns
    # --follow-symlinks: read link targets, even outside pdf_dir (each such record says so)
    follow_symlinks: bool = False
    selection: Selection = field(default_factory=Selection)   # --include / --exclude
    # Image frames past this are never decoded (decompression-bomb guard): skipped too_large
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS

    def __post_init__(self) -> None:
        if not self.pdf_dir.is_dir():
            raise ConfigError(f"input folder {self.pdf_dir} does not exist or is not a folder")
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
