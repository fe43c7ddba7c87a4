"""The privacy gate on its labelled evaluation set: per kind precision/recall (text layer and scans) and
the default policy's decision per document (planted pages, real corpus receipts, the sample invoice).

    PYTHONPATH=$PWD python bench/privacy.py [--scans N] [--json]

kept_back: planted items the teacher does not see (masked, or on a page not sent). The last line: OCR
seconds per scanned page, and the share of them spent reading unreadable words again as digit runs.

Deterministic (seeded pages, fixed receipt list); scans need Tesseract (ara+eng). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymupdf  # noqa: E402

from pipeline.label.privacy.gate import decide_words, ocr_too_little, unverified  # noqa: E402
from pipeline.label.privacy.pagewords import ocr_page_words, text_layer_words  # noqa: E402
from pipeline.label.privacy.policy import load_policy  # noqa: E402
from tests.support import privacy_set as ps  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
RECEIPTS = ("029", "031", "033", "046", "054", "067", "109", "131", "145", "164")   # with the vendor's contact data


def run(scans: int = 12, tmp: Path | None = None, corpus: Path = CORPUS) -> dict:
    policy = load_policy()
    tmp = Path(tmp or tempfile.mkdtemp(prefix="privacy_bench_"))
    pages = ps.planted_pages()
    text_results, scan_results, decisions = [], [], []
    ocr_s, reread_s, reread_tries = [], [], []       # per scanned page: whole OCR, the digit re-reads in it
    for page in pages:
        pdf = ps.write_pdf(page, tmp / f"{page.name}.pdf")
        with pymupdf.open(pdf) as doc:
            words = text_layer_words(doc[0], 1240, 1754)
        decision = decide_words(page.name, 0, words, policy, True)
        text_results.append((page.planted, ps.findings_of(None, words), decision.action))
        decisions.append({"doc": page.name, "set": "planted", "intended": page.intended, "decision": decision.action})
    for page in pages[:scans]:
        png = ps.scan_copy(tmp / f"{page.name}.pdf", tmp / f"{page.name}.png")
        from PIL import Image
        with Image.open(png) as img:
            size = img.size
        t0 = time.perf_counter()
        words = ocr_page_words(png.read_bytes(), *size, "ara+eng")
        ocr_s.append(time.perf_counter() - t0)
        reread_s.append(words.reread_s)
        reread_tries.append(words.reread_tries)
        why = ocr_too_little(words)        # as the label stage: a scan OCR cannot vouch for is unverified
        decision = (unverified(page.name, 0, policy, "ocr", why) if why else
                    decide_words(page.name + ".png", 0, words, policy, True))
        scan_results.append((page.planted, ps.findings_of(None, words), decision.action))
        decisions.append({"doc": page.name + " (scan)", "set": "planted-scan", "intended": page.intended,
                          "decision": decision.action + (" (unverified)" if why else "")})
    for rid in RECEIPTS:
        path = corpus / "receipts" / "box" / f"{rid}.csv"
        if path.is_file():
            decision = decide_words(rid, 0, ps.receipt_words(path), policy, True)
            decisions.append({"doc": f"receipt {rid}", "set": "vendor", "intended": "sent", "decision": decision.action,
                              "findings": decision.findings})
    sample = Path(__file__).resolve().parents[1] / "data" / "samples" / "invoice_en.pdf"
    with pymupdf.open(sample) as doc:
        decision = decide_words("invoice_en", 0, text_layer_words(doc[0], 1240, 1754), policy, True)
    decisions.append({"doc": "data/samples/invoice_en.pdf", "set": "vendor", "intended": "sent",
                      "decision": decision.action, "findings": decision.findings})
    vendor = [d for d in decisions if d["set"] == "vendor"]
    return {"text": ps.score(text_results, action=policy.action),
            "scans": ps.score(scan_results, loose=True, action=policy.action), "decisions": decisions,
            "vendor_sent": sum(d["decision"] != "block" for d in vendor), "vendor_total": len(vendor),
            "planted_right": sum(d["decision"].split()[0] == d["intended"] for d in decisions if d["set"] != "vendor"),
            "planted_total": sum(d["set"] != "vendor" for d in decisions),
            "scan_ocr_s_per_page": round(sum(ocr_s) / len(ocr_s), 3) if ocr_s else None,
            "reread_s_per_page": round(sum(reread_s) / len(reread_s), 3) if reread_s else None,
            "reread_s_max": round(max(reread_s), 3) if reread_s else None,
            "reread_boxes": sum(reread_tries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=12, help="how many of the 12 planted pages to scan and OCR")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = run(args.scans)
    if args.json:
        print(json.dumps(out, indent=1, ensure_ascii=False, default=str))
        return
    for where in ("text", "scans"):
        print(f"{where}: kind planted found false_pos recall precision class_right kept_back")
        for kind, row in out[where].items():
            print(f"  {kind:<15} {row['planted']:>3} {row['found']:>3} {row['false_pos']:>3} {row['recall']} "
                  f"{row['precision']} {row['class_right']} {row['kept_back']}")
    for d in out["decisions"]:
        print(f"  {d['doc']:<32} intended {d['intended']:<7} decision {d['decision']}")
    print(f"vendor documents sent: {out['vendor_sent']} of {out['vendor_total']}; planted pages decided as intended: "
          f"{out['planted_right']} of {out['planted_total']}")
    if out["scan_ocr_s_per_page"] is not None:
        print(f"scans: OCR {out['scan_ocr_s_per_page']} s/page, of which digit re-reads {out['reread_s_per_page']} "
              f"s/page (max {out['reread_s_max']} s; {out['reread_boxes']} boxes re-read in all)")


if __name__ == "__main__":
    main()
