"""Dollars per 1,000 pages, both tasks (content + metadata), at list prices, on the corpus' own pages.

    python bench/cost.py [PDF_DIR] [--max-output-tokens N] [--json]

One run: the corpus (default ../shared/corpus/pdfs, passwords from its MANIFEST) is rendered as
``pipeline.distill`` renders it (longest side 1536 px) and labelled by the textlayer teacher, offline.
Then, for gemini-2.5-flash and gpt-4o, online and Batch, side by side on the same pages, each request
as the teachers build it (``prompt_for``, ``response_schema``; the bench sends nothing):

- today:           the layout before issue 19: one request per task, the image first (no prompt caching
                   can apply), the schema with its titles quoted in the prompt and sent as well;
- cached:          the default: one request per task, the static prompt first; every request after the
                   first of a task has its static prefix billed as cached, by the provider's documented
                   rule (``Teacher.cached_prefix_tokens``: 1,024+ tokens; OpenAI in 128-token steps);
- one/page:        ``--one-request-per-page``: one image and one combined prompt per page;
- one/page, JSON mode: the same with ``--json-mode object`` (the schema quoted, no response schema);
- N pages/request: ``--pages-per-request N``, pages grouped as distill groups them (consecutive pages,
                   their answers estimated from the text layers within half of ``--max-output-tokens``,
                   default here 16384, GPT-4o's own limit); an answer past the limit is counted as paid
                   and its pages asked again one by one;
- floor:           one image per page plus the output tokens, the prompt free;
- olmOCR's published $6.24 per 1,000 pages (GPT-4o Batch, one task) as a reference.

Token counts: images by each teacher's image rule (``gemini_image_tokens``, ``openai_image_tokens`` at
high detail) on each rendered page's size; prompts by ``text_tokens`` (4 ASCII characters or 1 other
character per token, counted high); output tokens by ``text_tokens`` of each page's real textlayer label
(its JSON); a page the text layer cannot label gets the mean of the labelled pages for that task. The
response schema a request carries is billed as input tokens in every layout, ``text_tokens`` of its
compact JSON: OpenAI documents it as a cached prefix of the prompt (``caches_schema``); Gemini documents
that it counts as input but not whether implicit caching serves it, so it is counted uncached there.
Prices: the shipped ``prices.yaml`` (cached rates: ``cached_input`` / ``batch_cached_input``). Target
(issue 19): within 1.25x of the floor on both providers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.label.combined import combined_task  # noqa: E402
from pipeline.label.cost import Price, load_prices, text_tokens  # noqa: E402
from pipeline.label.estimate import response_schema_tokens  # noqa: E402
from pipeline.label.pages import OUTPUT_SHARE, answer_tokens, pages_task  # noqa: E402
from pipeline.label.pages import chunk as chunk_pages  # noqa: E402
from pipeline.label.sources import PageSources  # noqa: E402
from pipeline.label.stage import LabelConfig, label_pages  # noqa: E402
from pipeline.render.config import RenderConfig, RenderRunConfig  # noqa: E402
from pipeline.render.stage import render_folder  # noqa: E402
from pipeline.schemas import json_schema  # noqa: E402
from pipeline.store import RunStore  # noqa: E402
from pipeline.tasks import resolve_tasks  # noqa: E402
from pipeline.teachers import TeacherSettings, make_teacher, teacher_class  # noqa: E402
from pipeline.teachers.gemini import gemini_image_tokens  # noqa: E402
from pipeline.teachers.openai_chat import openai_image_tokens  # noqa: E402

SHARED = Path(os.environ.get("DOCDISTILL_SHARED", REPO.parent / "shared"))
OLMOCR_USD_PER_1000 = 6.24        # olmOCR's published GPT-4o Batch figure (one task)
TARGET = 1.25
PROVIDERS = [  # (teacher, model, image rule)
    ("gemini", "gemini-2.5-flash", gemini_image_tokens),
    ("openai", "gpt-4o", lambda w, h: openai_image_tokens(w, h, "high")),
]


def textlayer_run(pdf_dir: Path, run_dir: Path, tasks) -> tuple[list, dict, list[int]]:
    """Render the corpus and label it with the textlayer teacher: (pages, {(doc, page, task): output tokens},
    each page's answer as estimated before asking from its text layer)."""
    manifest = pdf_dir / "MANIFEST.json"
    passwords = {e["file"]: e["password"] for e in json.loads(manifest.read_text())
                 if e.get("password")} if manifest.is_file() else {}
    cfg = RenderRunConfig(pdf_dir=pdf_dir, run_dir=run_dir, render=RenderConfig(), passwords_by_name=passwords)
    teacher = make_teacher("textlayer", TeacherSettings())
    with RunStore(run_dir) as store:
        render_folder(cfg, store, progress=False)
        with PageSources(cfg, store) as sources:
            label_pages(sources, LabelConfig(tasks=tuple(tasks)), store, teacher, progress=False)
            pages = list(store.iter_pages())
            sizes = [answer_tokens(sources.page_text(page)) for page in pages]   # what --pages-per-request groups by
        outputs = {(l.doc_id, l.page_index, l.task): text_tokens(json.dumps(l.label, ensure_ascii=False))
                   for l in store.iter_labels(outcome="ok")}
    teacher.close()
    return pages, outputs, sizes


def page_outputs(pages, outputs: dict, tasks) -> tuple[list[dict[str, int]], dict]:
    """Each page's output tokens per task (the task's mean where the text layer gave no label)."""
    means, labelled = {}, {}
    for task in tasks:
        found = [n for (_, _, t), n in outputs.items() if t == task.name]
        means[task.name] = round(sum(found) / len(found)) if found else 1000
        labelled[task.name] = len(found)
    per_page = [{t.name: outputs.get((p.doc_id, p.page_index, t.name), means[t.name]) for t in tasks} for p in pages]
    return per_page, {"mean_output_tokens": means, "labelled_pages": labelled}


PAGES_PER_REQUEST = (2, 4, 8)
MULTI_PAGE_OUTPUT_TOKENS = 16384   # --max-output-tokens for the multi-page layouts (GPT-4o's own limit)
LAYOUTS = ("today", "cached", "one_per_page", "one_per_page_json_mode",
           *(f"pages_{n}" for n in PAGES_PER_REQUEST), "floor")


def teachers(name: str, model: str) -> dict:
    """The teacher as distill builds it, by --json-mode (a placeholder key: the bench sends nothing)."""
    for var in teacher_class(name).api_key_env:
        os.environ.pop(var, None)
    os.environ[teacher_class(name).api_key_env[0]] = "bench-sends-nothing"
    return {mode: make_teacher(name, TeacherSettings(model=model, json_mode=mode)) for mode in ("schema", "object")}


def layouts(pages, per_page: list[dict], sizes: list[int], tasks, teacher: dict, image_rule, price: Price,
            discount: float, max_output: int = MULTI_PAGE_OUTPUT_TOKENS) -> dict:
    """USD for the whole corpus under each layout (and the token totals behind them); ``max_output``: the
    multi-page layouts' --max-output-tokens (pages are grouped by it, an answer past it is cut off)."""
    both = combined_task(tuple(tasks))
    every = [*tasks, both]
    enforced, loose = teacher["schema"], teacher["object"]
    # Before issue 19: the schema with its titles quoted in the prompt and sent as the response schema too.
    titled = {t.name: text_tokens(json.dumps(json_schema(t.model), separators=(",", ":"))) for t in tasks}
    legacy = {t.name: text_tokens(t.teacher_template.replace("{schema}", json.dumps(
        json_schema(t.model), ensure_ascii=False, separators=(",", ":")))) for t in tasks}
    prompts = {mode: {t.name: text_tokens(who.prompt_for(t)) for t in every} for mode, who in teacher.items()}
    schema = {mode: {t.name: response_schema_tokens(who, t) for t in every} for mode, who in teacher.items()}
    # One request per page answers {"content": ..., "metadata": ...}: the wrapper's few tokens on top.
    wrapper = text_tokens(json.dumps({t.name: None for t in tasks})) - len(tasks)
    page_wrapper = text_tokens(json.dumps({"page_1": None})) - 1        # per page of a multi-page answer
    usd = {name: 0.0 for name in LAYOUTS}
    tokens = {name: {"in": 0, "cached": 0, "out": 0} for name in usd}

    def add(layout: str, tokens_in: int, tokens_out: int, cached: int = 0) -> None:
        usd[layout] += price.cost(tokens_in, tokens_out, discount, cached)
        tokens[layout]["in"] += tokens_in
        tokens[layout]["out"] += tokens_out
        tokens[layout]["cached"] += cached

    def ask(layout: str, mode: str, task, image: int, out: int, later: bool) -> None:
        who = teacher[mode]
        if task.name not in prompts[mode]:       # a --pages-per-request task: built as distill builds it
            prompts[mode][task.name] = text_tokens(who.prompt_for(task))
            schema[mode][task.name] = response_schema_tokens(who, task)
        prefix = prompts[mode][task.name] + (schema[mode][task.name] if who.caches_schema else 0)
        add(layout, image + prompts[mode][task.name] + schema[mode][task.name], out,
            who.cached_prefix_tokens(prefix) if later else 0)

    for i, (page, outs) in enumerate(zip(pages, per_page)):
        image = image_rule(page.width, page.height)
        for task in tasks:
            add("today", image + legacy[task.name] + titled[task.name], outs[task.name])
            ask("cached", "schema", task, image, outs[task.name], i > 0)
        ask("one_per_page", "schema", both, image, sum(outs.values()) + wrapper, i > 0)
        ask("one_per_page_json_mode", "object", both, image, sum(outs.values()) + wrapper, i > 0)
        add("floor", image, sum(outs.values()))
    cut_off, requests = {}, {}
    for n in PAGES_PER_REQUEST:               # consecutive pages, up to n to a request
        asked: set[str] = set()
        cut_off[n] = 0
        requests[n] = len(chunk_pages(sizes, n, int(max_output * OUTPUT_SHARE)))
        for chunk in chunk_pages(sizes, n, int(max_output * OUTPUT_SHARE)):   # as distill groups them
            task = pages_task(both, len(chunk)) if len(chunk) > 1 else both
            image = sum(image_rule(pages[i].width, pages[i].height) for i in chunk)
            out = sum(sum(per_page[i].values()) + wrapper + (page_wrapper if len(chunk) > 1 else 0) for i in chunk)
            if out <= max_output:
                ask(f"pages_{n}", "schema", task, image, out, task.name in asked)
            else:                             # cut off at the output limit: paid, then asked page by page
                cut_off[n] += 1
                ask(f"pages_{n}", "schema", task, image, max_output, task.name in asked)
                for i in chunk:
                    ask(f"pages_{n}", "schema", both, image_rule(pages[i].width, pages[i].height),
                        sum(per_page[i].values()) + wrapper, True)
            asked.add(task.name)
    return {"usd": usd, "tokens": tokens,
            "static_prompt_tokens": {"json_mode_schema": prompts["schema"], "json_mode_object": prompts["object"]},
            "response_schema_tokens": {"json_mode_schema": schema["schema"], "before": titled},
            "quotes_schema": enforced.quotes_schema, "loose_quotes_schema": loose.quotes_schema,
            "requests_cut_off": cut_off, "requests": requests}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pdf_dir", type=Path, nargs="?", default=SHARED / "corpus" / "pdfs")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--max-output-tokens", type=int, default=MULTI_PAGE_OUTPUT_TOKENS,
                        help="the multi-page layouts' --max-output-tokens (default %(default)s: GPT-4o's limit; "
                             "distill's default is 8192)")
    args = parser.parse_args()
    if not args.pdf_dir.is_dir():
        print(f"no corpus at {args.pdf_dir}: give PDF_DIR or set DOCDISTILL_SHARED", file=sys.stderr)
        return 2
    tasks = resolve_tasks(["content", "metadata"])
    prices = load_prices()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        pages, outputs, sizes = textlayer_run(args.pdf_dir, Path(tmp) / "run", tasks)
    per_page, facts = page_outputs(pages, outputs, tasks)
    n = len(pages)
    rows = []
    for name, model, rule in PROVIDERS:
        price = prices.get(model)
        teacher = teachers(name, model)
        for mode, discount in (("online", 1.0), ("batch", prices.batch_discount)):
            result = layouts(pages, per_page, sizes, tasks, teacher, rule, price, discount, args.max_output_tokens)
            per_1000 = {k: round(v / n * 1000, 2) for k, v in result["usd"].items()}
            rows.append({"model": model, "mode": mode, "usd_per_1000_pages": per_1000,
                         "x_floor": {k: round(v / per_1000["floor"], 3) for k, v in per_1000.items()},
                         "tokens_per_page": {k: {kk: round(vv / n) for kk, vv in t.items()}
                                             for k, t in result["tokens"].items()},
                         "static_prompt_tokens": result["static_prompt_tokens"],
                         "response_schema_tokens": result["response_schema_tokens"],
                         "prompt_quotes_schema": result["quotes_schema"],
                         "requests_cut_off": result["requests_cut_off"],
                         "requests": result["requests"]})
        for who in teacher.values():
            who.close()
    out = {"pages": n, "documents": len({p.doc_id for p in pages}), **facts,
           "olmocr_usd_per_1000": OLMOCR_USD_PER_1000,
           "target_x_floor": TARGET, "multi_page_max_output_tokens": args.max_output_tokens, "seconds": round(time.perf_counter() - started, 1), "rows": rows}
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"{n} pages of {out['documents']} documents; output tokens per page from {facts['labelled_pages']} "
          f"textlayer labels (mean {facts['mean_output_tokens']}); {out['seconds']} s")
    shown = [k for k in LAYOUTS if k != "one_per_page_json_mode"]
    heads = ["today", "cached", "one/page", *(f"{n} pages/request" for n in PAGES_PER_REQUEST), "floor"]
    ratios = ["cached", "one_per_page", *(f"pages_{n}" for n in PAGES_PER_REQUEST)]
    print("| model | mode | " + " | ".join(heads) + " | "
          + " | ".join(h + " / floor" for h in ["cached", "one/page", *(f"{n} pages" for n in PAGES_PER_REQUEST)]) + " |")
    print("|---|---|" + "---:|" * (len(heads) + len(ratios)))
    for row in rows:
        d, x = row["usd_per_1000_pages"], row["x_floor"]
        print(f"| {row['model']} | {row['mode']} | " + " | ".join(f"${d[k]:.2f}" for k in shown)
              + " | " + " | ".join(f"{x[r]:.2f}x" for r in ratios) + " |")
    print(f"| olmOCR (published, GPT-4o Batch, one task) | batch | ${OLMOCR_USD_PER_1000:.2f} |"
          + " |" * (len(heads) + len(ratios) - 1))
    print("one/page with --json-mode object (schema quoted, no response schema): "
          + ", ".join(f"{r['model']} {r['mode']} ${r['usd_per_1000_pages']['one_per_page_json_mode']:.2f} "
                      f"({r['x_floor']['one_per_page_json_mode']:.2f}x)" for r in rows))
    print(f"multi-page layouts at --max-output-tokens {args.max_output_tokens}: requests {rows[0]['requests']}; "
          f"answers past the limit (paid, then asked page by page) {rows[0]['requests_cut_off']}")
    named = {"content", "metadata", "content+metadata", *(f"content+metadata x{n}" for n in PAGES_PER_REQUEST)}
    for row in rows[::2]:
        prompt, schema = (({k: v for k, v in d.items() if k in named})
                          for d in (row["static_prompt_tokens"]["json_mode_schema"],
                                    row["response_schema_tokens"]["json_mode_schema"]))
        print(f"{row['model']}: prompt tokens per request {prompt} (schema quoted: {row['prompt_quotes_schema']}); "
              f"response schema {schema} (before: {row['response_schema_tokens']['before']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
