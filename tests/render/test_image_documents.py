"""Image documents (TIFF frames, PNG, JPEG, WebP): every file an outcome, every page upright, the same
resize/enhance/encode as PDF pages, a decompression bomb refused before decoding."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.render.discover import Selection
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from tests.conftest import make_pdf

SMALL = RenderConfig(longest_side=256, max_pixels=256 * 256)


def run(pdf_dir: Path, run_dir: Path, render: RenderConfig = SMALL, **kw):
    cfg = RenderRunConfig(pdf_dir=pdf_dir, run_dir=run_dir, render=render, **kw)
    with RunStore(run_dir) as store:
        return render_folder(cfg, store, progress=False)


def documents(run_dir: Path) -> dict[str, dict]:
    with RunStore(run_dir) as store:
        return {r["path"]: dict(r) for r in store.documents()}


def page_images(run_dir: Path) -> dict[tuple[str, int], np.ndarray]:
    with RunStore(run_dir) as store:
        paths = {r["doc_id"]: r["path"] for r in store.documents()}
        return {(paths[p.doc_id], p.page_index): np.asarray(Image.open(run_dir / p.image_path).convert("L"))
                for p in store.iter_pages()}


def marked_page(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """White paper with a black block in the top-left corner: which way is up can be checked."""
    im = Image.new(mode, (width, height), "white")
    im.paste("black", (0, 0, width // 4, height // 8))
    return im


def dark_corner(page: np.ndarray) -> str:
    h, w = page.shape
    corners = {"top-left": page[: h // 10, : w // 10], "top-right": page[: h // 10, -w // 10:],
               "bottom-left": page[-h // 10:, : w // 10], "bottom-right": page[-h // 10:, -w // 10:]}
    return min(corners, key=lambda k: corners[k].mean())


def test_corpus_arabic_scans_tiff_and_png(arabic_corpus, tmp_path):
    summary = run(arabic_corpus, tmp_path / "run", RenderConfig())
    files = sorted(p.relative_to(arabic_corpus).as_posix() for p in arabic_corpus.rglob("*")
                   if p.suffix.lower() in (".tif", ".tiff", ".png"))
    assert summary.files == len(files) and summary.outcomes == {"ok": len(files)}
    assert summary.kinds["tiff"] >= 1 and summary.kinds["png"] >= 1
    assert summary.pages_rendered == len(files) and summary.pages_failed == 0
    docs = documents(tmp_path / "run")
    for rel in files:
        facts = json.loads(docs[rel]["pdf_metadata"])["image"]
        assert facts["format"] in ("TIFF", "PNG") and facts["frames"] == 1 and docs[rel]["page_count"] == 1
    tiff = next(json.loads(d["pdf_metadata"])["image"] for p, d in docs.items() if p.endswith(".tif"))
    assert tiff["dpi"] == [600.0, 600.0]          # read from the file
    for (_, _), page in page_images(tmp_path / "run").items():
        assert max(page.shape) == 1536 and page.shape[0] > page.shape[1]   # book pages: portrait, upright


def test_multipage_tiff_is_one_document_with_a_page_per_frame(tmp_path):
    frames = [marked_page(400, 600, "L"), marked_page(300, 500, "1"), marked_page(600, 400, "RGB")]
    frames[0].save(tmp_path / "fax.tiff", save_all=True, append_images=frames[1:], compression="tiff_deflate",
                   dpi=(200, 200))
    summary = run(tmp_path, tmp_path / "run")
    assert summary.outcomes == {"ok": 1} and summary.kinds == {"tiff": 1} and summary.pages_rendered == 3
    doc = documents(tmp_path / "run")["fax.tiff"]
    assert doc["page_count"] == 3 and json.loads(doc["pdf_metadata"])["image"]["dpi"] == [200.0, 200.0]
    pages = page_images(tmp_path / "run")
    assert [pages[("fax.tiff", i)].shape for i in range(3)] == [(256, 171), (256, 154), (171, 256)]
    assert all(dark_corner(pages[("fax.tiff", i)]) == "top-left" for i in range(3))


@pytest.mark.parametrize("orientation, raw_size", [(6, (600, 400)), (8, (600, 400)), (3, (400, 600))])
def test_exif_rotated_jpeg_is_rendered_upright(tmp_path, orientation, raw_size):
    upright = marked_page(400, 600)
    # What a phone stores: the sensor's pixels, plus the turn that shows them upright.
    stored = upright.transpose({6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270,
                                3: Image.Transpose.ROTATE_180}[orientation])
    assert stored.size == raw_size
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    summary = run(tmp_path, tmp_path / "run")
    assert summary.outcomes == {"ok": 1} and summary.kinds == {"jpeg": 1}
    page = page_images(tmp_path / "run")[("phone.jpg", 0)]
    assert page.shape == (256, 171) and dark_corner(page) == "top-left"
    with RunStore(tmp_path / "run") as store:
        assert next(store.iter_pages()).rotation == {6: 90, 8: 270, 3: 180}[orientation]


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    # 12,000 x 12,000 bilevel: a few kB on disk, 144 MP (432 MB as RGB) decoded: over Pillow's 89 MP guard.
    Image.new("1", (12_000, 12_000), 1).save(tmp_path / "bomb.png", optimize=True)
    assert (tmp_path / "bomb.png").stat().st_size < 200_000
    summary = run(tmp_path, tmp_path / "run")
    assert summary.outcomes == {"skipped:too_large": 1} and summary.pages_total == 0
    detail = summary.skipped_files[0]["detail"]
    assert "12000 x 12000" in detail and "decompression-bomb" in detail and "downsample" in detail


def test_every_bad_image_gets_an_outcome_and_the_run_goes_on(tmp_path):
    marked_page(300, 400).save(tmp_path / "good.png")
    (tmp_path / "empty.tif").write_bytes(b"")
    make_pdf(tmp_path / "x.pdf")
    (tmp_path / "pdf_named.png").write_bytes((tmp_path / "x.pdf").read_bytes())
    (tmp_path / "x.pdf").unlink()
    png = io.BytesIO()
    marked_page(300, 400).save(png, "PNG")
    (tmp_path / "damaged.png").write_bytes(png.getvalue()[:20])             # signature, then nothing usable
    (tmp_path / "truncated.jpg").write_bytes(_jpeg(marked_page(300, 400))[:1500])   # header fine, data cut
    (tmp_path / "notes.txt").write_text("not an input")
    summary = run(tmp_path, tmp_path / "run")
    assert summary.files == 5
    assert summary.outcomes == {"ok": 2, "skipped:not_an_image": 2, "skipped:corrupt": 1}
    detail = {s["path"]: s["detail"] for s in summary.skipped_files}
    assert "empty" in detail["empty.tif"] and "name it .pdf" in detail["pdf_named.png"]
    assert "damaged PNG" in detail["damaged.png"]
    assert summary.pages_rendered == 1 and summary.pages_failed == 1    # the truncated JPEG's one page
    assert summary.failed_pages[0]["path"] == "truncated.jpg"


def _jpeg(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_same_pipeline_as_pdf_pages_and_a_small_scan_is_not_enlarged(tmp_path):
    faded = Image.fromarray(np.full((120, 90), 150, np.uint8))
    faded.paste(110, (10, 10, 80, 20))                                    # grey ink on grey paper
    faded.save(tmp_path / "faded.png")
    Image.new("RGBA", (90, 120), (0, 0, 0, 0)).save(tmp_path / "clear.png")   # transparent: white paper
    deep = (np.arange(120 * 90, dtype=np.uint16).reshape(120, 90) * 6)   # a 16-bit scan
    Image.fromarray(deep).save(tmp_path / "deep.png")
    marked_page(90, 120).save(tmp_path / "tiny.webp", lossless=True)
    summary = run(tmp_path, tmp_path / "run", RenderConfig(longest_side=512, max_pixels=512 * 512))
    assert summary.outcomes == {"ok": 4} and summary.kinds == {"png": 3, "webp": 1}
    docs = documents(tmp_path / "run")
    assert "120 px, under --longest-side 512: kept at the size it was scanned at, not enlarged" in docs["tiny.webp"]["detail"]
    pages = page_images(tmp_path / "run")
    assert all(p.shape == (120, 90) for p in pages.values())            # not upscaled to 512
    assert pages[("clear.png", 0)].min() > 240                          # flattened onto white, not black
    assert pages[("deep.png", 0)].max() > 200                           # 16 bits scaled, not clipped to 255
    with RunStore(tmp_path / "run") as store:
        enhanced = {p.image_path: p.enhanced for p in store.iter_pages()}
        ids = {r["path"]: r["doc_id"] for r in store.documents()}
    assert enhanced[f"images/{ids['faded.png'][:16]}/p0001.jpg"] is True  # low contrast: CLAHE, as for PDF pages
    again = run(tmp_path, tmp_path / "run", RenderConfig(longest_side=512, max_pixels=512 * 512))
    assert again.pages_rendered == 0 and again.pages_up_to_date == 4


def test_include_exclude_and_kinds(tmp_path):
    root = tmp_path / "in"
    make_pdf(root / "a.pdf")
    make_pdf(root / "drafts" / "b.pdf")
    (root / "scans").mkdir()
    marked_page(100, 140).save(root / "scans" / "c.tif")
    marked_page(100, 140).save(root / "scans" / "d.PNG")
    summary = run(root, tmp_path / "run", selection=Selection(exclude=("drafts/*",)))
    assert summary.kinds == {"pdf": 1, "tiff": 1, "png": 1} and summary.excluded == 1 and summary.files == 3
    summary = run(root, tmp_path / "run2", selection=Selection(include=("*.tif", "*.png")))
    assert summary.kinds == {"tiff": 1, "png": 1} and summary.excluded == 2
    assert set(documents(tmp_path / "run2")) == {"scans/c.tif", "scans/d.PNG"}   # excluded files leave no record


def test_a_run_folder_inside_the_input_folder_is_not_searched(tmp_path):
    marked_page(100, 140).save(tmp_path / "scan.png")
    first = run(tmp_path, tmp_path / "run")
    again = run(tmp_path, tmp_path / "run")   # its own page images (run/images/*.jpg) are no inputs
    assert first.files == again.files == 1 and again.pages_rendered == 0
