"""The tesseract teacher's throughput on scanned pages at 1 and 2 workers, and its CER where the text is known.

    python bench/ocr.py [--pages 20] [--lang ara+eng] [--json]

Pages: every scanned page at hand, rendered by the render stage as the label stage gives them to a
teacher (../shared/corpus/arabic: TIFF and PNG book scans and the labelled craneset page;
data/samples/scan_image_only.pdf; the corpus' image-only PDFs), repeated in order up to --pages.
Each page is labelled under both tasks (one OCR per page). 1 worker: one teacher in this process;
2 workers: two processes, a teacher each, the pages dealt out in turn. Wall seconds and CPU seconds
(this process and its children: the tesseract processes) are both reported: on a shared machine the
CPU time is the steadier figure.

CER (--cer, on by default): the content label's markdown and the plain OCR words against the known
text, under each --normalize level: the craneset page (its .txt) and the sample scan (the lines
data/make_samples.py printed before degrading the page).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.evaluation.normalize import NORMALIZATIONS, normalize  # noqa: E402
from pipeline.evaluation.text import edit_rates  # noqa: E402
from pipeline.render.config import RenderRunConfig  # noqa: E402
from pipeline.render.stage import render_folder  # noqa: E402
from pipeline.store import RunStore  # noqa: E402
from pipeline.tasks import resolve_tasks  # noqa: E402
from pipeline.teachers import PageInput, TeacherSettings, make_teacher  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
SCAN_SAMPLE = REPO / "data" / "samples" / "scan_image_only.pdf"
IMAGE_ONLY_PDFS = ("naturalpdf__needs-ocr.pdf", "pdfjs__scan-bad.pdf")
# What data/make_samples.py prints on the sample scan before degrading it (scan_image_only).
SCAN_TEXT = """BRACKENFIELD TIMBER & HARDWARE CO. Unit 4, Millpond Trading Estate DELIVERY NOTE No. DN-58213
Date: 21/02/2025 Vehicle: BT-07 Deliver to: Oakridge Joinery 22 Fenwick Lane Item Description Qty ---- ------------------------------ ---
0012 Pine batten 44x22mm, 2.4m 40 0047 Plywood sheet 18mm 2440x1220 12 0103 Wood screws 4x40 (box of 200) 6
0219 PVA wood glue 1L 4 0233 Sandpaper assorted (pack) 3 Received in good condition:
Name: ____________________ Signature: ______________"""


def scanned_pages(tmp: Path) -> list[tuple[str, bytes]]:
    """(name, rendered page image) of every scanned page at hand, rendered by the render stage."""
    inputs = tmp / "in"
    inputs.mkdir()
    arabic = CORPUS / "arabic"
    for path in sorted(arabic.rglob("*")) if arabic.is_dir() else []:
        if path.suffix.lower() in (".tif", ".tiff", ".png", ".jpg"):
            (inputs / path.name).symlink_to(path)
    (inputs / SCAN_SAMPLE.name).symlink_to(SCAN_SAMPLE)
    for name in IMAGE_ONLY_PDFS:
        if (CORPUS / "pdfs" / name).is_file():
            (inputs / name).symlink_to(CORPUS / "pdfs" / name)
    cfg = RenderRunConfig(pdf_dir=inputs, run_dir=tmp / "run", follow_symlinks=True, workers=2)
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
        names = {r["doc_id"]: r["path"] for r in store.documents()}
        return [(f"{names[p.doc_id]}#{p.page_no}", (cfg.run_dir / p.image_path).read_bytes())
                for p in store.iter_pages()]


def _label(pages: list[tuple[str, bytes]], lang: str) -> int:
    teacher = make_teacher("tesseract", TeacherSettings(ocr_lang=lang))
    tasks = resolve_tasks(["content", "metadata"])
    done = 0
    for k, (_, image) in enumerate(pages):
        for task in tasks:    # the second task reuses the page's OCR, as in the label stage
            teacher.ask(PageInput(f"p{k}", k, image, "image/jpeg"), task, "")
        done += 1
    teacher.close()
    return done


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def throughput(pages: list[tuple[str, bytes]], workers: int, lang: str) -> dict:
    wall, cpu = time.perf_counter(), _cpu()
    if workers == 1:
        done = _label(pages, lang)
    else:
        shares = [pages[i::workers] for i in range(workers)]
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            done = sum(pool.starmap(_label, [(share, lang) for share in shares]))
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    return {"workers": workers, "pages": done, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
            "pages_per_s_wall": round(done / wall, 3), "pages_per_s_cpu": round(done / cpu, 3)}


def cer_rows(pages: list[tuple[str, bytes]], lang: str) -> list[dict]:
    from pipeline.teachers.tesseract import label_for, read_image

    known = {SCAN_SAMPLE.name: SCAN_TEXT}
    crane = next((CORPUS / "arabic" / "craneset_sample").glob("*.txt"), None) \
        if (CORPUS / "arabic" / "craneset_sample").is_dir() else None
    if crane is not None:
        known[crane.with_suffix(".png").name] = crane.read_text(encoding="utf-8")
    rows = []
    for name, image in pages:
        base = name.rsplit("#", 1)[0]
        if base not in known or any(r["page"] == name for r in rows):
            continue
        result = read_image(image, lang)
        outputs = {"markdown (content label)": label_for("content", result).markdown,
                   "plain OCR words": " ".join(w.text for w in result.ocr.words)}
        for what, text in outputs.items():
            rows.append({"page": name, "output": what, **{
                level: round(edit_rates(normalize(text, level), normalize(known[base], level))[0], 4)
                for level in NORMALIZATIONS}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--lang", default="ara+eng")
    parser.add_argument("--no-cer", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = scanned_pages(Path(tmp))
    pages = [found[i % len(found)] for i in range(args.pages)]
    report = {"scanned_pages_found": [name for name, _ in found], "pages": len(pages), "lang": args.lang,
              "load_before": os.getloadavg()[0],
              "runs": [throughput(pages, workers, args.lang) for workers in (1, 2)], "cpus": os.cpu_count()}
    if not args.no_cer:
        report["cer"] = cer_rows(found, args.lang)
    if args.json:
        print(json.dumps(report))
        return
    print(f"tesseract teacher, both tasks, {len(pages)} pages cycled from {len(found)} scanned pages "
          f"({args.lang}; {report['cpus']} CPUs, load average {report['load_before']:.1f} before the runs):")
    print(f"  {'workers':>7} {'pages':>6} {'wall s':>8} {'cpu s':>8} {'pages/s wall':>13} {'pages/s cpu':>12}")
    for r in report["runs"]:
        print(f"  {r['workers']:>7} {r['pages']:>6} {r['wall_s']:>8} {r['cpu_s']:>8} {r['pages_per_s_wall']:>13} "
              f"{r['pages_per_s_cpu']:>12}")
    if report.get("cer"):
        print("CER against the known text, by --normalize level:")
        print(f"  {'page':<48} {'output':<26} " + " ".join(f"{level:>7}" for level in NORMALIZATIONS))
        for r in report["cer"]:
            print(f"  {r['page'][-48:]:<48} {r['output']:<26} " + " ".join(f"{r[level]:>7}" for level in NORMALIZATIONS))


if __name__ == "__main__":
    main()
