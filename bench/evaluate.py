"""score_item throughput on content-size pairs: a ~3-6 KB markdown page plus structural fields.

    python bench/evaluate.py [--pairs 4000] [--json]

Pairs are synthetic content-task answers (languages, direction, elements list, markdown), each
prediction a perturbed copy of its reference (edited characters, a dropped element, a flipped
digit, prose around the JSON), so every metric and the failure taxonomy do real work. Setup is not
timed; timed: score_item on every pair (with the task prompt, for the echo check) and aggregate.
One process, one core. Target (issue 6): >= 2,000 pairs/s.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.evaluation import aggregate, score_item  # noqa: E402

PROMPT = ("Transcribe this page as JSON with languages, direction, page_number, has_tables, has_handwriting, "
          "elements and markdown.\nTranscribe, never translate or summarise.")
WORDS = ("invoice account transfer balance payment customer reference amount total tax period statement "
         "quarterly branch currency date description Riyadh Dubai فاتورة حساب المبلغ الإجمالي").split()


def _reference(rng: random.Random) -> dict:
    rows = rng.randint(50, 90)
    lines = ["# Quarterly statement", "", "| Date | Description | Amount |", "|---|---|---|"]
    for d in range(rows):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7)))
        lines.append(f"| 2025-03-{d % 28 + 1:02d} | {words} | {rng.randint(1, 99999) / 100:,.2f} |")
    lines += ["", f"Balance carried forward: {rng.randint(1000, 99999)}.90"]
    elements = [{"kind": "heading", "text": "Quarterly statement"}, {"kind": "table", "text": None},
                {"kind": "paragraph", "text": "Balance carried forward"}, {"kind": "page_number", "text": "3"}]
    return {"languages": ["en", "ar"], "direction": "ltr", "page_number": "3", "has_tables": True,
            "has_handwriting": False, "elements": elements, "markdown": "\n".join(lines)}


def _prediction(reference: dict, rng: random.Random, k: int) -> str:
    pred = json.loads(json.dumps(reference))
    md = list(pred["markdown"])
    for _ in range(rng.randint(0, 40)):                      # OCR-like character edits
        md[rng.randrange(len(md))] = rng.choice("abcdefghij0123456789 ")
    pred["markdown"] = "".join(md)
    if k % 4 == 1:
        pred["elements"] = pred["elements"][:-1]
    if k % 4 == 2:
        pred["page_number"] = "8"
    text = json.dumps(pred, ensure_ascii=False)
    return f"Here is the page:\n```json\n{text}\n```" if k % 5 == 0 else text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(7)
    references = [_reference(rng) for _ in range(args.pairs)]   # all distinct: no cache can flatter the figure
    pairs = [(reference, _prediction(reference, rng, k)) for k, reference in enumerate(references)]
    sizes = sorted(len(ref["markdown"].encode()) for ref, _ in pairs)
    start = time.perf_counter()
    scores = [score_item(str(k), pred, ref, prompt=PROMPT) for k, (ref, pred) in enumerate(pairs)]
    summary = aggregate(scores)
    elapsed = time.perf_counter() - start
    result = {"pairs": len(pairs), "seconds": round(elapsed, 3), "pairs_per_s": round(len(pairs) / elapsed, 1),
              "markdown_bytes": {"min": sizes[0], "median": sizes[len(sizes) // 2], "max": sizes[-1]},
              "anls_star": round(summary["metrics"]["anls_star"], 4), "cer": round(summary["metrics"]["cer"], 4),
              "failures": summary["failures"]}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['pairs']} pairs in {result['seconds']} s: {result['pairs_per_s']} pairs/s "
              f"(markdown {result['markdown_bytes']['min']}-{result['markdown_bytes']['max']} bytes, "
              f"mean ANLS* {result['anls_star']}, CER {result['cer']}, failures {result['failures']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
