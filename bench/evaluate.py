"""score_item throughput on content-size pairs, the baseline code beside ours in one run.

    python bench/evaluate.py [--pairs 4000] [--rounds 3] [--baseline 5924e0d | --baseline PATH] [--profile] [--json]

Pairs are synthetic content-task answers (languages, direction, elements list, markdown of ~3-7 KB),
each prediction a perturbed copy of its reference (edited characters, a dropped element, a flipped
digit, prose around the JSON), so every metric and the failure taxonomy do real work. Setup is not
timed; timed: score_item on every pair (with the task prompt, for the echo check) and aggregate.

Each variant runs in a fresh process of one core, importing ``pipeline`` from its own tree: the
baseline is ``git archive`` of a commit (default 5924e0d, the code before issue M) unpacked in a
temporary folder, or any folder holding a ``pipeline`` package. Rounds alternate the variants, so
a busy machine slows them alike; the table gives the median and the spread of wall-clock and CPU
pairs/s. Scores are checked, not assumed: each variant prints its mean ANLS*, CER and failure
counts, and a digest of every item's field scores, metrics and tags. The baseline and ours under
``--anls-star-weighting key`` are the same settings, so their digests must match; ours under the
default leaf weighting changes the ANLS* mean on purpose (the paper's weighting).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
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


def floor(pairs: list[tuple[dict, str]]) -> None:
    """What no scorer of these pairs avoids: parse the answer, fold both pages, two edit distances
    (ANLS on the normalised page, CER on the raw one), with ours (rapidfuzz) doing the counting."""
    from pipeline.evaluation.parse import parse_output
    from pipeline.evaluation.text import edit_rates, normalise, similarity

    for reference, prediction in pairs:
        markdown = parse_output(prediction).obj["markdown"]
        similarity(normalise(markdown), normalise(reference["markdown"]))
        edit_rates(markdown, reference["markdown"])


def worker(code: Path, pairs_n: int, weighting: str | None, profile: bool) -> dict:
    """Time one variant in this process (``pipeline`` imported from ``code``)."""
    sys.path.insert(0, str(code))
    from pipeline.evaluation import aggregate, score_item

    rng = random.Random(7)
    references = [_reference(rng) for _ in range(pairs_n)]   # all distinct: no cache can flatter the figure
    pairs = [(reference, _prediction(reference, rng, k)) for k, reference in enumerate(references)]
    if weighting == "floor":
        wall, cpu = time.perf_counter(), time.process_time()
        floor(pairs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return {"pairs": pairs_n, "wall_pairs_per_s": pairs_n / wall, "cpu_pairs_per_s": pairs_n / cpu,
                "anls_star_name": "-", "anls_star": float("nan"), "cer": float("nan"), "failures": {},
                "digest": "-", "module": sys.modules["pipeline"].__file__}
    options = {} if weighting is None else {"weighting": weighting}
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    wall, cpu = time.perf_counter(), time.process_time()
    scores = [score_item(str(k), pred, ref, prompt=PROMPT, **options) for k, (ref, pred) in enumerate(pairs)]
    summary = aggregate(scores)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profiler is not None:
        import io
        import pstats
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
        print(out.getvalue(), file=sys.stderr)
    digest = hashlib.sha256(json.dumps([[s.fields, list(s.metrics.values()), s.failures] for s in scores],
                                       sort_keys=True).encode()).hexdigest()[:16]
    metrics = summary["metrics"]
    anls_name = next(name for name in metrics if name.startswith("anls_star"))
    return {"pairs": pairs_n, "wall_pairs_per_s": pairs_n / wall, "cpu_pairs_per_s": pairs_n / cpu,
            "anls_star_name": anls_name, "anls_star": metrics[anls_name], "cer": metrics["cer"],
            "failures": summary["failures"], "digest": digest, "module": sys.modules["pipeline"].__file__}


def _export(baseline: str, into: Path) -> Path:
    if (Path(baseline) / "pipeline" / "__init__.py").is_file():
        return Path(baseline)
    archive = into / "baseline.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(REPO), "archive", baseline, "pipeline"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def _run(code: Path, pairs_n: int, weighting: str | None, profile: bool) -> dict:
    command = [sys.executable, __file__, "--worker", str(code), "--pairs", str(pairs_n)]
    command += ["--weighting", weighting] if weighting else []
    command += ["--profile"] if profile else []
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=str(REPO.parent))
    if profile:
        print(done.stderr, file=sys.stderr)
    result = json.loads(done.stdout)
    assert Path(result["module"]).resolve().is_relative_to(code.resolve()), f"{code} not imported: {result['module']}"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant, alternating (default 3)")
    parser.add_argument("--baseline", default="5924e0d", help="git revision or folder with a pipeline package")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of ours (leaf) in one extra run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--weighting", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.pairs, args.weighting, args.profile)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        base = _export(args.baseline, Path(tmp))
        variants = {f"baseline {args.baseline}": (base, None), "ours, key weighting": (REPO, "key"),
                    "ours, leaf weighting (default)": (REPO, "leaf"), "floor (parse, fold, 2 distances)": (REPO, "floor")}
        runs: dict[str, list[dict]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, (code, weighting) in variants.items():
                runs[name].append(_run(code, args.pairs, weighting, False))
        if args.profile:
            _run(REPO, args.pairs, "leaf", True)
    table = {}
    for name, results in runs.items():
        wall = [r["wall_pairs_per_s"] for r in results]
        cpu = [r["cpu_pairs_per_s"] for r in results]
        first = results[0]
        assert len({r["digest"] for r in results}) == 1, f"{name}: scores differ between rounds"
        table[name] = {"wall_median": statistics.median(wall), "wall_range": [min(wall), max(wall)],
                       "cpu_median": statistics.median(cpu), "cpu_range": [min(cpu), max(cpu)],
                       **{k: first[k] for k in ("anls_star_name", "anls_star", "cer", "failures", "digest")}}
    if args.json:
        print(json.dumps({"pairs": args.pairs, "rounds": args.rounds, "variants": table}))
        return 0
    print(f"{args.pairs} pairs, {args.rounds} rounds alternating, one process per run")
    print("| variant | wall pairs/s (median, range) | CPU pairs/s (median, range) | mean ANLS* | CER | digest |")
    print("| --- | ---: | ---: | --- | ---: | --- |")
    for name, row in table.items():
        print(f"| {name} | {row['wall_median']:,.0f} ({row['wall_range'][0]:,.0f}-{row['wall_range'][1]:,.0f}) | "
              f"{row['cpu_median']:,.0f} ({row['cpu_range'][0]:,.0f}-{row['cpu_range'][1]:,.0f}) | "
              f"{row['anls_star_name']} {row['anls_star']:.4f} | {row['cer']:.4f} | {row['digest']} |".replace("- nan", "-")
              .replace("nan", "-"))
    print("failures:", {name: row["failures"] for name, row in table.items() if row["digest"] != "-"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
