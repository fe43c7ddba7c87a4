from __future__ import annotations

import pymupdf
import pytest

from pipeline.errors import ConfigError
from pipeline.render.config import RenderConfig
from pipeline.render.rasterize import RenderJob, pixmap_array, render_job, render_pixmap, target_zoom
from pipeline.records import PageStatus
from tests.conftest import make_pdf


def test_zoom_hits_the_longest_side_and_respects_the_pixel_cap():
    assert round(842 * target_zoom(595, 842, 1000, 10**7)) == 1000
    z = target_zoom(100_000, 100_000, 1536, 1536 * 1536)
    assert (100_000 * z) ** 2 <= 1536 * 1536 + 1
    with pytest.raises(ValueError, match="empty"):
        target_zoom(0, 100, 1536, 10**6)


def test_giant_page_box_renders_within_the_cap(tmp_path):
    path = make_pdf(tmp_path / "huge.pdf", size=(14400, 14400))  # the PDF maximum, 200 inches square
    with pymupdf.open(path) as doc:
        pixels = pixmap_array(render_pixmap(doc[0], RenderConfig(longest_side=4000, max_pixels=1_000_000)))
    assert pixels.shape[0] * pixels.shape[1] <= 1_000_000


def test_rotated_page_renders_as_displayed(tmp_path):
    path = make_pdf(tmp_path / "r.pdf", rotate=90)
    with pymupdf.open(path) as doc:
        pix = render_pixmap(doc[0], RenderConfig(longest_side=300, grayscale=True))
        pixels = pixmap_array(pix)
    assert pixels.shape == (212, 300)  # A4 portrait shown landscape


def test_render_job_writes_images_and_isolates_a_bad_page(tmp_path):
    path = make_pdf(tmp_path / "a.pdf", pages=2)
    job = RenderJob(path, "f" * 64, (0, 1, 7), tmp_path / "run", RenderConfig(longest_side=200))
    ok0, ok1, bad = render_job(job)
    assert ok0.status is PageStatus.RENDERED and (tmp_path / "run" / ok0.image_path).is_file()
    assert ok1.image_path.endswith("p0002.jpg") and ok1.text_chars > 0
    assert bad.status is PageStatus.FAILED and "page" in bad.reason.lower()


def test_bad_render_settings_fail_fast():
    with pytest.raises(ConfigError, match="--format"):
        RenderConfig(image_format="webp")
    with pytest.raises(ConfigError, match="--longest-side"):
        RenderConfig(longest_side=10)
