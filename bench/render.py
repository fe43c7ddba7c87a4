"""Render throughput, side by side on the same pages in one run.

    python bench/render.py [PDF_DIR] [--longest-side 1536] [--json]

(a) seed-style baseline: render at 200 DPI, resize with Pillow, Pillow contrast, save PNG
(b) floor: render straight at the target size + JPEG encode + write, nothing else
(c) ours: the full render stage (hashing, store, CLAHE, JPEG, text-layer size) with 1 and 2 workers

Inputs: PDF_DIR (default ../shared/corpus/pdfs with its MANIFEST passwords, else data/samples),
and, unless --no-book, a generated 352-page text book: real runs are thousands of pages, and the
corpus alone (120 mostly sparse pages, ~2 s) is dominated by fixed start-up costs.
Targets (issue A): c >= 3x a; c(1 worker) >= 2/3 b; c(2 workers) >= 1.7x c(1 worker).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pymupdf  # noqa: E402
from PIL import Image, ImageEnhance  # noqa: E402

from pipeline.render.config import RenderConfig, RenderRunConfig  # noqa: E402
from pipeline.render.discover import iter_inputs  # noqa: E402
from pipeline.render.imaging import encode  # noqa: E402
from pipeline.render.pdfio import PdfOpenError, open_pdf  # noqa: E402
from pipeline.render.rasterize import target_zoom  # noqa: E402
from pipeline.render.stage import render_folder  # noqa: E402
from pipeline.store import RunStore  # noqa: E402


def openable(pdf_dir: Path, passwords: dict[str, str]):
    for item in iter_inputs(pdf_dir):
        path = item.path
        if item.skip is not None:
            continue
        try:
            yield open_pdf(path, [passwords[path.name]] if path.name in passwords else [])
        except PdfOpenError:
            continue


def baseline_seed(pdf_dir: Path, passwords: dict, out: Path, longest: int) -> int:
    pages = 0
    for doc in openable(pdf_dir, passwords):
        for page in doc:
            pix = page.get_pixmap(dpi=200)
            img = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
            img.thumbnail((longest, longest), Image.LANCZOS)
            img = ImageEnhance.Contrast(img).enhance(1.5)
            img.save(out / f"{pages:05d}.png")
            pages += 1
        doc.close()
    return pages


def floor(pdf_dir: Path, passwords: dict, out: Path, longest: int) -> int:
    pages = 0
    for doc in openable(pdf_dir, passwords):
        for page in doc:
            zoom = target_zoom(page.rect.width, page.rect.height, longest, longest * longest)
            pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
            rgb = np.frombuffer(pix.samples_mv, np.uint8).reshape(pix.h, pix.w, pix.n)
            # The same encoder as ours, so the floor differs from (c) only by what (c) adds.
            (out / f"{pages:05d}.jpg").write_bytes(encode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), "jpeg", 90))
            pages += 1
        doc.close()
    return pages


def ours(pdf_dir: Path, passwords: dict, out: Path, longest: int, workers: int) -> int:
    cfg = RenderRunConfig(pdf_dir=pdf_dir, run_dir=out, render=RenderConfig(longest_side=longest),
                          workers=workers, passwords_by_name=passwords)
    with RunStore(out) as store:
        return render_folder(cfg, store, progress=False).pages_rendered


def make_book(path: Path, pages: int = 352) -> Path:
    """A dense, realistic book: numbered chapters, justified paragraphs, a table every 10 pages."""
    doc = pymupdf.open()
    para = ("The committee reviewed the quarterly statements, the reconciliation of accounts payable "
            "and the audit findings for the period, and resolved to adopt the recommendations. ") * 4
    for i in range(pages):
        page = doc.new_page()
        page.insert_text((72, 60), f"Annual Review - Chapter {i // 20 + 1}", fontsize=16)
        body = pymupdf.Rect(72, 80, 523, 520 if i % 10 == 0 else 780)
        page.insert_textbox(body, para * 3, fontsize=10, align=pymupdf.TEXT_ALIGN_JUSTIFY)
        if i % 10 == 0:
            for r in range(8):
                y = 540 + r * 25
                page.draw_line((72, y), (523, y))
                page.insert_text((78, y + 17), f"Item {r + 1}      {1000 + r * 37.5:>10.2f}      EUR", fontsize=10)
        page.insert_text((290, 815), str(i + 1), fontsize=9)
    doc.save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    corpus = REPO.parent / "shared" / "corpus" / "pdfs"
    parser.add_argument("pdf_dir", type=Path, nargs="?",
                        default=corpus if corpus.is_dir() else REPO / "data" / "samples")
    parser.add_argument("--longest-side", type=int, default=1536)
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant; the median is reported")
    parser.add_argument("--no-book", action="store_true", help="do not add the generated 352-page book")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    manifest = args.pdf_dir / "MANIFEST.json"
    passwords = ({e["file"]: e["password"] for e in json.loads(manifest.read_text()) if e["password"]}
                 if manifest.is_file() else {})
    with tempfile.TemporaryDirectory() as book_dir:
        inputs = [("folder", args.pdf_dir)]
        if not args.no_book:
            make_book(Path(book_dir) / "book.pdf")
            inputs.append(("352-page book", Path(book_dir)))
        report = {"inputs": [], "longest_side": args.longest_side, "repeat": args.repeat}
        for label, folder in inputs:
            rows = measure(folder, passwords, args.longest_side, args.repeat)
            report["inputs"].append({"input": f"{label}: {folder}", "rows": rows, "ratios": ratios(rows)})
    report["peak_rss_mb_main"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["peak_rss_mb_workers"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    if args.json:
        print(json.dumps(report))
        return
    for item in report["inputs"]:
        print(f"input {item['input']}  (longest side {args.longest_side}px, median of {args.repeat} runs)")
        print(f"  {'variant':<58} {'pages':>5} {'s':>7} {'pages/s':>8}")
        for r in item["rows"]:
            print(f"  {r['variant']:<58} {r['pages']:>5} {r['seconds']:>7} {r['pages_per_s']:>8}")
        print("  " + " ".join(f"{k}={v}" for k, v in item["ratios"].items()))
    print(f"peak RSS: main {report['peak_rss_mb_main']} MB, largest worker {report['peak_rss_mb_workers']} MB")


def measure(folder: Path, passwords: dict, longest: int, repeat: int) -> list[dict]:
    variants = [
        ("a: seed baseline (200 DPI, Pillow resize+contrast, PNG)", lambda o: baseline_seed(folder, passwords, o, longest)),
        ("b: floor (target-size render + JPEG)", lambda o: floor(folder, passwords, o, longest)),
        ("c: ours, 1 worker", lambda o: ours(folder, passwords, o, longest, 1)),
        ("c: ours, 2 workers", lambda o: ours(folder, passwords, o, longest, 2)),
    ]
    rows = []
    for name, fn in variants:
        timings = []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                pages = fn(Path(tmp))
                timings.append(time.perf_counter() - started)
        seconds = statistics.median(timings)
        rows.append({"variant": name, "pages": pages, "seconds": round(seconds, 2),
                     "pages_per_s": round(pages / seconds, 2)})
    return rows


def ratios(rows: list[dict]) -> dict:
    a, b, c1, c2 = (r["pages_per_s"] for r in rows)
    return {"c1_over_a": round(c1 / a, 2), "c2_over_a": round(c2 / a, 2), "c1_over_b": round(c1 / b, 2),
            "c2_over_c1": round(c2 / c1, 2)}


if __name__ == "__main__":
    main()
