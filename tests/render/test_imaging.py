from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.render.imaging import encode, enhance


def low_contrast_page() -> np.ndarray:
    rng = np.random.default_rng(0)
    page = np.full((120, 90, 3), 150, np.uint8)
    page[40:50, 10:80] = 110  # faint "text"
    return np.clip(page + rng.integers(-3, 4, page.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("method", ["clahe", "autocontrast", "equalize"])
def test_enhancement_raises_contrast_on_luminance(method):
    page = low_contrast_page()
    out = enhance(page, method)
    gray_in = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY)
    gray_out = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
    text_vs_paper = lambda g: float(g[:35].mean() - g[40:50, 10:80].mean())  # noqa: E731
    assert text_vs_paper(gray_out) > text_vs_paper(gray_in) * 1.3
    assert out.shape == page.shape


def test_none_only_swaps_channels_and_grayscale_stays_single_channel():
    page = low_contrast_page()
    assert np.array_equal(enhance(page, "none")[:, :, ::-1], page)
    gray = page[:, :, 0].copy()
    assert enhance(gray, "clahe").ndim == 2


def test_encode_round_trips():
    page = enhance(low_contrast_page(), "none")
    png = encode(page, "png")
    assert np.array_equal(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), page)
    assert encode(page, "jpeg", 80)[:3] == b"\xff\xd8\xff"
